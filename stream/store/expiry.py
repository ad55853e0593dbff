"""State that ends: users and items not seen for longer than a retention are removed.

Retention is in event time (``INTENT_STATE_TTL_DAYS``): a key whose latest event is older
than the latest event the worker has processed, less the retention, is removed with a
changelog tombstone, so the removal survives a restore. A removed user who comes back
starts as a new, cold user. The age is read from the stored bytes' header
(:func:`~stream.domain.state_codec.last_seen_ms`), without decoding the state.

:func:`expired` finds candidates in chunks; the worker removes each chunk in one step of
its event loop, checking each key again (:func:`still_expired`), so a batch never sees a
user half removed, and a user a batch has just brought back is kept.

>>> from stream.domain.state import ItemStats
>>> from stream.domain.state_codec import encode_item, decode_item
>>> from stream.store.memory import MemoryStateStore
>>> from stream.store.table import StateTable
>>> store = MemoryStateStore.__new__(MemoryStateStore); store.__post_init__()
>>> items = StateTable(store, encode_item, decode_item, partitions=2)
>>> items["old"] = ItemStats(ref_ts=1_000); items["new"] = ItemStats(ref_ts=90_000)
>>> [key for chunk in expired(items, [0, 1], cutoff_ms=50_000) for _, key in chunk]
[b'old']

A chunk comes every ``chunk`` keys looked at (empty when none of them expired), so the
caller can let its event loop run between chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from stream.domain.state_codec import last_seen_ms
from stream.store.table import StateTable

__all__ = ["expired", "still_expired", "DAY_MS"]

DAY_MS = 86_400_000


def expired(
    table: StateTable,
    partitions: Iterable[int],
    cutoff_ms: int,
    chunk: int = 4096,
    last_seen: Callable[[bytes], int] = last_seen_ms,
) -> Iterator[list[tuple[int, bytes]]]:
    """``(partition, key)`` of the keys of ``partitions`` last seen before ``cutoff_ms``,
    a chunk every ``chunk`` keys looked at (act on a chunk only after
    :func:`still_expired`: the table may change between chunks)."""
    found: list[tuple[int, bytes]] = []
    seen = 0
    for partition in partitions:
        for key, raw in table.store.scan(partition):
            if last_seen(raw) < cutoff_ms:
                found.append((partition, key))
            seen += 1
            if seen >= chunk:
                yield found
                found, seen = [], 0
    if found:
        yield found


def still_expired(
    table: StateTable,
    partition: int,
    key: bytes,
    cutoff_ms: int,
    last_seen: Callable[[bytes], int] = last_seen_ms,
) -> bool:
    """Whether ``key`` is still stored and still last seen before ``cutoff_ms``."""
    raw = table.store.read(partition, key)
    return raw is not None and last_seen(raw) < cutoff_ms
