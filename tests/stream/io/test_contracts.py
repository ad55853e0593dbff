"""The JSON Schemas in stream/schemas: generated from the code's own definitions, and
agreeing with the code that reads the messages."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from stream.domain.events import EVENT_TYPES, InvalidEvent, encode_event, validate_event
from stream.io.contracts import SCHEMA_DIR, SCHEMAS, events_schema, intent_schema, render
from stream.processing.intents import (
    INTENT_SCHEMA_VERSION,
    Intent,
    InvalidIntent,
    decode_intent,
    encode_intent,
)

TS = 1_454_284_800_000
EVENTS = Draft202012Validator(events_schema())
INTENTS = Draft202012Validator(intent_schema())


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schema_files_are_generated_from_the_definitions(name: str) -> None:
    Draft202012Validator.check_schema(SCHEMAS[name]())
    assert (SCHEMA_DIR / name).read_bytes() == render(SCHEMAS[name]()), (
        f"stream/schemas/{name} is stale: run `python -m stream.io.contracts` and commit it"
    )


def test_event_types_come_from_the_validator() -> None:
    assert events_schema()["properties"]["type"]["enum"] == list(EVENT_TYPES)


def test_real_events_conform(jdata_events) -> None:
    for event in jdata_events[:: max(len(jdata_events) // 500, 1)]:
        EVENTS.validate(orjson.loads(encode_event(event)))


ids = st.one_of(
    st.text(st.characters(min_codepoint=0, max_codepoint=0x7F), max_size=6),
    st.integers(-5, 10**6),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
    st.sampled_from([2**64 - 1, 2**64, -(2**63), -(2**63) + 1, float(2**63), 5.0, -0.0]),
)
event_values = {
    "event_id": ids,
    "user_id": ids,
    "item_id": ids,
    "category_id": ids,
    "session_id": ids,
    "type": st.one_of(st.sampled_from(EVENT_TYPES), st.text(max_size=4), st.integers()),
    # up to the worker's clock only: the schema cannot know "one day after now"
    "ts": st.one_of(
        st.integers(0, TS),
        st.just(TS),
        st.just(float(TS)),
        st.floats(allow_nan=False, max_value=TS),
        st.text(max_size=3),
    ),
    "price": st.one_of(
        st.floats(allow_nan=False, allow_infinity=False),
        st.integers(-3, 10**6),
        st.booleans(),
        st.text(max_size=3),
    ),
    "extra": st.text(max_size=4),
}


@st.composite
def event_objects(draw) -> dict:
    names = draw(st.sets(st.sampled_from(sorted(event_values))))
    return {name: draw(event_values[name]) for name in names}


@settings(max_examples=300, deadline=None)
@given(event_objects())
def test_the_events_schema_accepts_what_the_worker_accepts(obj: dict) -> None:
    obj = {k: v for k, v in obj.items() if v is not None}  # JSON null: a missing field to both
    try:
        validate_event(obj, now_ms=TS)
        accepted = True
    except InvalidEvent:
        accepted = False
    assert EVENTS.is_valid(obj) == accepted, (obj, [e.message for e in EVENTS.iter_errors(obj)])


INTENT = Intent("u1", "i9", 0.91, 0.5, "v1", {"resnet": 0.8, "forest": 0.95}, "e1", TS, TS + 5, 4.0)
intent_values = {
    "user_id": st.one_of(st.text(max_size=4), st.integers(-(2**40), 2**40)),
    "probability": st.one_of(st.floats(-1, 2), st.booleans(), st.text(max_size=2)),
    "components": st.one_of(
        st.just({"resnet": 0.1, "forest": 0.2}),
        st.just({"resnet": 0.1}),
        st.just({"resnet": "x", "forest": 0.2}),
        st.just([]),
    ),
    "event_ts": st.one_of(st.integers(-(2**40), 2**40), st.floats(-1e6, 1e6)),
    "schema_version": st.one_of(st.integers(0, INTENT_SCHEMA_VERSION + 1), st.text(max_size=1)),
    "campaign": st.text(max_size=4),  # a field added after this reader was written
}


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.sampled_from(sorted(intent_values)), st.none()).flatmap(
        lambda d: st.fixed_dictionaries({k: intent_values[k] for k in d})
    ),
    st.sets(st.sampled_from(["item_id", "threshold", "latency_ms"]), max_size=1),
)
def test_the_intent_schema_accepts_what_readers_accept(changes: dict, dropped: set) -> None:
    obj = {**orjson.loads(encode_intent(INTENT)), **changes}
    for name in dropped:
        del obj[name]
    if isinstance(obj.get("event_ts"), float) and obj["event_ts"].is_integer():
        obj["event_ts"] += 0.5  # JSON Schema counts 3.0 as an integer; Python does not
    if obj.get("schema_version") == 0:
        obj["schema_version"] = 1  # version 0 never existed
    try:
        decode_intent(orjson.dumps(obj))
        accepted = True
    except InvalidIntent:
        accepted = False
    assert INTENTS.is_valid(obj) == accepted, (obj, [e.message for e in INTENTS.iter_errors(obj)])


def test_readers_ignore_unknown_fields_and_refuse_newer_versions() -> None:
    raw = orjson.loads(encode_intent(INTENT))
    assert raw["schema_version"] == INTENT_SCHEMA_VERSION
    assert decode_intent(orjson.dumps({**raw, "campaign": "spring", "nested": {"a": 1}})) == INTENT
    legacy = {k: v for k, v in raw.items() if k != "schema_version"}  # written before the field
    assert decode_intent(orjson.dumps(legacy)) == INTENT
    with pytest.raises(InvalidIntent) as err:
        decode_intent(orjson.dumps({**raw, "schema_version": INTENT_SCHEMA_VERSION + 1}))
    assert err.value.reason == "unsupported_version"
