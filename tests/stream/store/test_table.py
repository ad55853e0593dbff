"""The table view: decoded objects cached only while the stored bytes are theirs, one
changelog record a key changed, partitions as Kafka's default partitioner gives them."""

from __future__ import annotations

from types import SimpleNamespace

from aiokafka.partitioner import DefaultPartitioner
from faust.types import TP

from stream.domain.events import Event
from stream.domain.state import UserState
from stream.domain.state_codec import decode_user, encode_user
from stream.store.memory import MemoryStateStore
from stream.store.table import StateTable


def memory_store() -> MemoryStateStore:
    store = MemoryStateStore.__new__(MemoryStateStore)
    store.__post_init__()
    return store


def users_table(cache: int = 16) -> StateTable:
    return StateTable(memory_store(), encode_user, decode_user, partitions=4, cache_size=cache)


def state(*events: tuple[str, int]) -> UserState:
    s = UserState()
    for k, (item, ts) in enumerate(events):
        s.update(Event(f"e{k}{item}", "u", item, "view", ts))
    return s


def test_keys_go_where_kafka_sends_them() -> None:
    users = users_table()
    for k in range(40):
        users[f"user-{k}"] = state(("i", 1000))
    want = {DefaultPartitioner()(f"user-{k}".encode(), [0, 1, 2, 3], [0, 1, 2, 3]) for k in range(40)}
    assert set(users.store.partitions) == want
    for partition, key, _ in users.raw_items():
        assert DefaultPartitioner()(key, [0, 1, 2, 3], [0, 1, 2, 3]) == partition


def test_a_cached_object_is_used_only_while_its_bytes_are_stored() -> None:
    users = users_table()
    s = state(("i", 1000))
    users["u"] = s
    assert users.get("u") is s  # written last: no decoding
    # a restore (or another worker's record) replaces the bytes under the cache
    newer = state(("i", 1000), ("j", 2000))
    [(partition, _, _)] = users.take_dirty()
    users.store.write(partition, b"u", encode_user(newer))
    got = users.get("u")
    assert got is not s and got == newer


def test_the_cache_is_bounded_and_keeps_the_latest() -> None:
    users = users_table(cache=3)
    for k in range(10):
        users[f"u{k}"] = state(("i", k))
    assert list(users._cache) == [b"u7", b"u8", b"u9"]
    assert users.get("u0") == state(("i", 0))  # decoded from its bytes


def test_one_record_a_key_changed_and_a_tombstone_for_a_removal() -> None:
    users = users_table()
    users["a"] = state(("i", 1))
    users["a"] = state(("i", 1), ("j", 2))
    users["b"] = state(("i", 1))
    del users["b"]
    records = {key: raw for _, key, raw in users.take_dirty()}
    assert decode_user(records[b"a"]) == state(("i", 1), ("j", 2)) and records[b"b"] is None
    assert users.take_dirty() == [] and "b" not in users and len(users) == 1


async def test_the_memory_store_restores_bytes_and_drops_partitions_it_lost() -> None:
    store = memory_store()
    store.table = SimpleNamespace(
        is_global=False, changelog_topic=SimpleNamespace(get_topic_name=lambda: "app-users-changelog")
    )

    def record(partition: int, key: bytes, value: bytes | None) -> SimpleNamespace:
        return SimpleNamespace(message=SimpleNamespace(partition=partition, key=key, value=value))

    store.apply_changelog_batch(
        [record(0, b"a", b"1"), record(1, b"b", b"2"), record(0, b"a", b"3"), record(1, b"b", None)],
        None,
        None,
    )
    assert store.read(0, b"a") == b"3" and store.read(1, b"b") is None
    tp = TP("app-users-changelog", 1)
    await store.on_recovery_completed({tp}, set())  # partition 0 moved to another worker
    assert store.partitions == {1: {}}
