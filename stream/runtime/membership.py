"""A restarted worker takes its partitions back at once: :class:`MemberRecord`.

A worker killed without leaving the consumer group (SIGKILL, OOM, a lost host) stays a
member until its session expires. Its replacement, joining meanwhile, waits for it: on
the embedded broker about 1.8 session timeouts (54 s at 30 s), as a follower of the dead
leader, for an assignment that never comes. So each worker records its member id in
its data directory whenever it is assigned partitions, under its identity
(``INTENT_INSTANCE_ID``: by default the host name and the metrics port), and a worker
starting under the same identity first asks the group coordinator to remove that member
(a LeaveGroup on its behalf), then joins a group that waits for no one.

The identity makes this safe: a new worker binds its metrics port before it evicts, and
two live workers cannot hold one port on one host, so the recorded member is dead.
(Static membership, KIP-345, is the broker-side way to the same end, but the embedded
broker never expires a dead static member: any other worker's join then waits forever.)

>>> import tempfile
>>> record = MemberRecord(Path(tempfile.mkdtemp()), "box-9108")
>>> record.load("intent-worker") is None
True
>>> record.save("intent-worker", "faust-0.15.3-8f1c")
>>> record.load("intent-worker"), record.load("another-group")
('faust-0.15.3-8f1c', None)
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import orjson

from stream.config import Settings

__all__ = ["MemberRecord", "evict_predecessor"]

log = logging.getLogger(__name__)


class MemberRecord:
    """The member id a worker identity last held in the group, in ``data_dir``."""

    def __init__(self, data_dir: Path, identity: str) -> None:
        self.path = Path(data_dir) / f"member-{identity}.json"

    def save(self, group: str, member_id: str) -> None:
        """Write atomically (a kill mid-write leaves the old record or the new one)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".tmp-{os.getpid()}")
        tmp.write_bytes(orjson.dumps({"group": group, "member_id": member_id}))
        os.replace(tmp, self.path)

    def load(self, group: str) -> str | None:
        try:
            record = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        if not isinstance(record, dict) or record.get("group") != group:
            return None
        member_id = record.get("member_id")
        return member_id if isinstance(member_id, str) and member_id else None

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


async def evict_predecessor(settings: Settings, timeout_s: float = 5.0) -> str | None:
    """Remove the member this worker's identity last held from the group; returns its id
    when the coordinator removed it (None: no record, or it had left already). Best
    effort: on any failure the worker joins as before and waits for the session."""
    from aiokafka.client import AIOKafkaClient, CoordinationType
    from aiokafka.errors import for_code
    from aiokafka.protocol.group import LeaveGroupRequest

    identity = settings.worker_identity()
    if identity is None:
        return None
    record = MemberRecord(settings.data_dir, identity)
    member_id = record.load(settings.app_id)
    if member_id is None:
        return None
    client = AIOKafkaClient(bootstrap_servers=settings.bootstrap, **settings.kafka_security())
    try:

        async def leave() -> int:
            await client.bootstrap()
            node = await client.coordinator_lookup(CoordinationType.GROUP, settings.app_id)
            response = await client.send(node, LeaveGroupRequest(settings.app_id, member_id))
            return int(response.error_code)

        error = await asyncio.wait_for(leave(), timeout_s)
    except Exception as exc:  # the session will expire the member anyway
        log.warning(
            "could not remove the previous member %s from group %s: %r", member_id, settings.app_id, exc
        )
        return None
    finally:
        await client.close()
    record.clear()
    if error:  # typically UNKNOWN_MEMBER_ID: it left cleanly, or its session expired
        log.debug("previous member %s: %s", member_id, for_code(error).__name__)
        return None
    return member_id
