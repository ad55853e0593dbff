"""The compact state bytes: lossless for any state, smaller than JSON, older values read."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.domain.state import ItemStats, UserState
from stream.domain.state_codec import (
    StateCodecError,
    decode_item,
    decode_user,
    encode_item,
    encode_user,
    last_seen_ms,
)
from tests.stream.domain.test_state import events_strategy, make


@settings(max_examples=200, deadline=None)
@given(events_strategy, st.integers(-1, 2**40), st.integers(0, 3))
def test_a_user_state_comes_back_identical(evts, offset, epoch) -> None:
    s = UserState()
    for k, e in enumerate(make(evts)):
        s.update(e, offset + k if offset >= 0 else -1, epoch=epoch)
    back = decode_user(encode_user(s))
    assert back == s
    # identical down to the dump (dict order, float bits, ints stay ints)
    assert orjson.dumps(back.to_dict()) == orjson.dumps(s.to_dict())
    assert last_seen_ms(encode_user(s)) == s.ref_ts


@settings(max_examples=200, deadline=None)
@given(events_strategy, st.one_of(st.none(), st.floats(0, 1e6)), st.one_of(st.none(), st.text(max_size=8)))
def test_an_item_state_comes_back_identical(evts, price, brand) -> None:
    s = ItemStats()
    for e in make(evts):
        s.update(e._replace(price=price, brand=brand))
    back = decode_item(encode_item(s))
    assert back == s and all(type(c) is float for c in back.counts)
    assert orjson.dumps(back.to_dict()) == orjson.dumps(s.to_dict())


def test_values_written_before_compact_states_are_read() -> None:
    s = UserState()
    for e in make([(1000, "view", 1, 1), (5000, "addtocart", 1, 1)]):
        s.update(e, 3)
    old = s.to_dict()
    del old["source_epoch"]  # not written then
    assert decode_user(orjson.dumps(old)) == s
    item = ItemStats()
    item.add(1000, 0, 9.5)
    assert decode_item(orjson.dumps(item.to_dict())) == item


def test_a_user_with_history_takes_a_fraction_of_its_json() -> None:
    s = UserState()
    for e in make([(k * 60_000, "view", k % 17, k % 5) for k in range(20)]):
        s.update(e, 0)
    assert len(encode_user(s)) < len(orjson.dumps(s.to_dict())) / 2


def test_unknown_bytes_are_refused_with_a_reason() -> None:
    with pytest.raises(StateCodecError, match="unknown state encoding"):
        decode_user(b"\x09" + bytes(8) + b"\x90")
