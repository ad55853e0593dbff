"""Validation of the ``events`` message: hostile input always ends in a reason, never a crash."""

from __future__ import annotations

import math

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.domain.events import DLQ_REASONS, Event, InvalidEvent, encode_event, parse_event

TS = 1_454_284_800_000  # 2016-02-01
GOOD = {"event_id": "e1", "user_id": "u1", "item_id": "i1", "type": "view", "ts": TS}


def reason(raw: bytes) -> str:
    with pytest.raises(InvalidEvent) as info:
        parse_event(raw)
    return info.value.reason


def test_valid_event_parses_and_round_trips() -> None:
    e = parse_event(orjson.dumps({**GOOD, "category_id": 8, "price": 9.5, "session_id": "s"}))
    assert e == Event("e1", "u1", "i1", "view", TS, "8", 9.5, "s")
    assert parse_event(encode_event(e)) == e


def test_unknown_fields_are_dropped() -> None:
    e = parse_event(orjson.dumps({**GOOD, "email": "a@b.c", "phone": "+100"}))
    assert "a@b.c" not in encode_event(e).decode()


@pytest.mark.parametrize(
    "raw, expected",
    [
        (b"\xff\xfe{", "invalid_utf8"),
        (b'{"event_id": ', "invalid_json"),
        (b"[1, 2]", "not_object"),
        (orjson.dumps({k: v for k, v in GOOD.items() if k != "user_id"}), "missing_field"),
        (orjson.dumps({**GOOD, "type": "like"}), "unknown_type"),
        (orjson.dumps({**GOOD, "ts": -5}), "absurd_timestamp"),
        (orjson.dumps({**GOOD, "ts": 99_999_999_999_999}), "absurd_timestamp"),
        (orjson.dumps({**GOOD, "ts": "yesterday"}), "bad_field"),
        (orjson.dumps({**GOOD, "ts": 1.5e12 + 0.5}), "bad_field"),
        (orjson.dumps({**GOOD, "user_id": "a\x00b"}), "bad_field"),
        (orjson.dumps({**GOOD, "user_id": ""}), "bad_field"),
        (orjson.dumps({**GOOD, "item_id": {"nested": [1]}}), "bad_field"),
        (orjson.dumps({**GOOD, "price": -1}), "bad_field"),
        (
            b'{"event_id":"e","user_id":"u","item_id":"i","type":"view","ts":1454284800000,"price":NaN}',
            "invalid_json",
        ),
        (orjson.dumps({**GOOD, "pad": "x" * 5000}), "oversize"),
        (b"[" * 3000 + b"]" * 3000, "oversize"),
        (b"[" * 1100 + b"]" * 1100, "invalid_json"),  # deeper than orjson's limit
        (None, "invalid_json"),
    ],
)
def test_malformed_events_get_a_reason(raw: bytes, expected: str) -> None:
    assert reason(raw) == expected


def test_whole_numbers_read_as_integers() -> None:
    """JSON has one number type: a producer that writes 1454284800000.0 or an id 7.0
    sent an integer, as JSON Schema (and our events schema) reads it."""
    e = parse_event(orjson.dumps({**GOOD, "ts": float(TS), "item_id": 7.0, "category_id": -0.0}))
    assert (e.ts, e.item_id, e.category_id) == (TS, "7", "0")
    assert type(e.ts) is int


@pytest.mark.parametrize(
    "literal",
    [
        b"123456789012345678901234567890",  # orjson reads it as a rounded float
        b"18446744073709551616",  # 2**64: read as a float
        b"-9223372036854775809",  # rounds onto -2**63
        b"7.5",
        b"1e300",
    ],
)
def test_an_integer_id_that_cannot_be_read_exactly_is_refused(literal: bytes) -> None:
    raw = b'{"event_id":"e","user_id":"u","item_id":' + literal + b',"type":"view","ts":1454284800000}'
    with pytest.raises(InvalidEvent, match="item_id"):
        parse_event(raw)


def test_64_bit_integer_ids_are_read_exactly() -> None:
    for value in (2**64 - 1, -(2**63) + 1, 0):
        assert parse_event(orjson.dumps({**GOOD, "user_id": value})).user_id == str(value)


def test_infinite_price_is_refused() -> None:
    with pytest.raises(InvalidEvent):
        from stream.domain.events import validate_event

        validate_event({**GOOD, "price": math.inf})


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_crash(raw: bytes) -> None:
    try:
        parse_event(raw)
    except InvalidEvent as exc:
        assert exc.reason in DLQ_REASONS


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(list(GOOD) + ["price", "category_id", "x"]), json_values))
def test_arbitrary_objects_either_parse_or_get_a_reason(obj: dict) -> None:
    try:
        e = parse_event(orjson.dumps(obj))
    except InvalidEvent as exc:
        assert exc.reason in DLQ_REASONS
    else:
        assert e.type in ("view", "addtocart", "transaction")
        assert e.user_id.isprintable() and 0 < len(e.user_id) <= 128


def test_events_are_built_whole() -> None:
    """validate_event builds an Event with tuple.__new__ (no defaults filled in): a
    field added to Event must be added there too."""
    raw = b'{"event_id":"e","user_id":"u","item_id":"i","type":"view","ts":1700000000000,"brand":"b"}'
    event = parse_event(raw)
    assert len(event) == len(Event._fields) == 10 and event.brand == "b" and event.price is None
