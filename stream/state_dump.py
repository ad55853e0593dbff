"""``intent state``: every user's feature state, from the changelog or from a file.

Both paths write the same JSON lines (one user a line, keys sorted, users sorted), so
for the same events the two files are byte-identical: the fault tests compare exactly
these, and an operator uses the same command to look at one user.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Iterable

import orjson

from stream.config import Settings
from stream.events import Event
from stream.kafka import consumer
from stream.privacy import Pseudonymizer
from stream.state import UserState

__all__ = ["offline_states", "changelog_states", "write_dump", "dump_lines"]


def offline_states(events: Iterable[Event], pseudonymize: Pseudonymizer | None = None) -> dict[str, UserState]:
    """Replay events through the feature state, without Kafka (user ids pseudonymised
    with the worker's key when one is given, so the two dumps stay comparable)."""
    states: dict[str, UserState] = {}
    for e in events:
        if pseudonymize is not None:
            e = pseudonymize.event(e)
        states.setdefault(e.user_id, UserState()).update(e)
    return states


async def changelog_states(settings: Settings, timeout_s: float = 30.0) -> dict[str, UserState]:
    """The latest state of every user, read back from the ``users`` changelog topic."""
    from aiokafka import TopicPartition

    from stream.app import USERS_TABLE, changelog_topic

    topic = changelog_topic(settings, USERS_TABLE)
    cons = consumer(settings)
    await cons.start()
    states: dict[str, UserState] = {}
    try:
        parts = cons.partitions_for_topic(topic)
        if not parts:
            await cons.stop()
            cons = consumer(settings)
            await cons.start()
            parts = cons.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return states
        cons.assign(tps)
        await cons.seek_to_beginning(*tps)
        ends = await cons.end_offsets(tps)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining and loop.time() < deadline:
            batch = await cons.getmany(timeout_ms=500)
            for tp, records in batch.items():
                for rec in records:
                    key = rec.key.decode()
                    if rec.value is None:
                        states.pop(key, None)
                    else:
                        states[key] = UserState.from_dict(orjson.loads(rec.value))
                if records and records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
        if remaining:
            raise TimeoutError(f"changelog not read to its end within {timeout_s}s")
    finally:
        await cons.stop()
    return states


def dump_lines(states: dict[str, UserState]) -> bytes:
    lines = [
        orjson.dumps({"user_id": uid, "state": states[uid].feature_dict()}, option=orjson.OPT_SORT_KEYS)
        for uid in sorted(states)
    ]
    return b"\n".join(lines) + (b"\n" if lines else b"")


def write_dump(states: dict[str, UserState], path: Path) -> int:
    Path(path).write_bytes(dump_lines(states))
    return len(states)
