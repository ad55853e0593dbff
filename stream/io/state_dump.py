"""``intent state``: every user's feature state, from the changelog or from a file.

Both paths write the same JSON lines (one user a line, keys sorted, users sorted), so
for the same events the two files are byte-identical: the fault tests compare exactly
these, and an operator uses the same command to look at one user.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import orjson

from stream.config import USERS_TABLE, Settings
from stream.domain.events import Event
from stream.domain.state import UserState
from stream.domain.state_codec import decode_user
from stream.io.kafka import read_topic
from stream.processing.privacy import Pseudonymizer

__all__ = ["offline_states", "changelog_states", "write_dump", "dump_lines"]


def offline_states(
    events: Iterable[Event], pseudonymize: Pseudonymizer | None = None
) -> dict[str, UserState]:
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
    states: dict[str, UserState] = {}
    # a user's records all sit in one partition, in order: the last one wins
    for rec in await read_topic(settings, settings.changelog_topic(USERS_TABLE), timeout_s):
        key = rec.key.decode()
        if rec.value is None:
            states.pop(key, None)
        else:
            states[key] = decode_user(rec.value)
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
