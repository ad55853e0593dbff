"""The events-by-item record: routing by Kafka's partitioner and a lossless round trip."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from stream.domain.events import EVENT_TYPES, Event
from stream.domain.state import ItemStats
from stream.processing.item_events import ItemActivity, decode_item_activity, partition_for

TS = 1_454_284_800_000


def test_partition_matches_kafkas_default_partitioner() -> None:
    from aiokafka.partitioner import DefaultPartitioner

    for key in (b"1", b"266079", b"sku-42", "é".encode()):
        assert partition_for(key, 4) == DefaultPartitioner()(key, [0, 1, 2, 3], [0, 1, 2, 3])


events = st.lists(
    st.builds(
        lambda k, item, t, price: Event(f"e{k}", "u", f"i{item}", t, TS + k, price=price),
        st.integers(0, 10_000),
        st.integers(0, 20),
        st.sampled_from(EVENT_TYPES),
        st.one_of(st.none(), st.floats(0, 1e6)),
    ),
    max_size=60,
)


@given(events)
def test_batched_item_activity_gives_the_same_item_stats_as_event_by_event(evs) -> None:
    direct: dict[str, ItemStats] = {}
    for e in evs:
        direct.setdefault(e.item_id, ItemStats()).update(e)
    activity = ItemActivity(partitions=4)
    for e in evs:
        activity.add(e)
    batched: dict[str, ItemStats] = {}
    seen_partition: dict[str, int] = {}
    for part, value in activity.messages():
        for item, rows in decode_item_activity(value).items():
            assert seen_partition.setdefault(item, part) == part == partition_for(item.encode(), 4)
            for ts, t, price in rows:
                batched.setdefault(item, ItemStats()).add(ts, t, price)
    assert {k: v.to_dict() for k, v in batched.items()} == {k: v.to_dict() for k, v in direct.items()}
