"""The worker's table views: BatchedTable writes the records Faust's codecs would write."""

from __future__ import annotations

import orjson
from faust.serializers import codecs

from stream.domain.events import Event
from stream.domain.state import ItemStats, UserState
from stream.runtime.app import TABLE_CODECS  # registers the tables' codecs too
from stream.runtime.tables import BatchedTable, Deliveries


class FakeTable:
    def __init__(self) -> None:
        self.data = type("Store", (), {"data": {}})()


def test_changelog_records_are_the_bytes_faust_writes_and_recovery_reads() -> None:
    state = UserState()
    state.update(Event("e1", "u1", "i1", "addtocart", 1_454_284_800_000, category_id="c", price=2.5), 7)
    stats = ItemStats()
    stats.add(1_454_284_800_000, 1, 2.5)
    for codec, value, cls in (("user_state", state, UserState), ("item_stats", stats, ItemStats)):
        table = BatchedTable(FakeTable(), cls, encode=TABLE_CODECS[codec].dumps)
        table["k"] = value
        [(key, raw)] = table.take_dirty()
        assert key == b"k" and raw == codecs.dumps(codec, value)
        # recovery hands the store plain JSON; the view turns it back into state
        table.table.data.data[b"k"] = orjson.loads(raw)
        assert table["k"].to_dict() == value.to_dict()
    gates = BatchedTable(FakeTable(), encode=TABLE_CODECS["orjson"].dumps)
    gates["u"] = {"i1": [1, 5, 1]}
    assert gates.take_dirty() == [(b"u", codecs.dumps("orjson", {"i1": [1, 5, 1]}))]


def test_a_key_written_twice_between_flushes_is_sent_once_as_it_is_now() -> None:
    table = BatchedTable(FakeTable(), encode=orjson.dumps)
    table["u"] = {"a": 1}
    table["u"]["a"] = 2  # changed in place after the write
    table["v"] = {}
    del table["v"]
    assert table.take_dirty() == [(b"u", b'{"a":2}'), (b"v", None)]
    assert table.take_dirty() == []
    assert dict(table.items()) == {"u": {"a": 2}}


async def test_deliveries_wait_for_records_sent_while_waiting() -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    deliveries, first, second = Deliveries(), loop.create_future(), loop.create_future()
    deliveries.add(first)

    def later() -> None:
        deliveries.add(second)  # sent while the batch waits: it must be waited for too
        first.set_result(None)
        loop.call_soon(second.set_result, None)

    loop.call_soon(later)
    await deliveries.wait()
    assert first.done() and second.done() and not deliveries.pending
