"""The model registry over Kafka, for a fleet that shares no filesystem
(``INTENT_MODEL_SYNC=kafka``): versions and the ``current`` pointer on one topic
(``INTENT_TOPIC_MODELS``, one partition so that its order is total, compacted: the latest
record of each key is kept).

* ``file/<version>/<name>/<chunk>/<chunks>``: a file of a version, in chunks of 512 KiB
  (under the brokers' default largest message, 1 MiB); the manifest is a file too.
* ``pointer``: the registry's ``current`` (:class:`~models.registry.Pointer`) with the
  sha256 of the served version's manifest.

A worker mirrors the topic into its own registry copy (:class:`RegistryMirror`, run from
its model poll): a version is written there only once all its chunks have arrived and
:func:`~models.artifact.verify_artifact` found every file's sha256 in the manifest, and
the pointer only once the version it names is held with the manifest it names; then
the worker follows the local ``current`` as it would on one machine. Versions pruned
from the publishing registry are tombstoned (:func:`forget_versions`).

>>> chunk_key("v1", "forest.pkl", 0, 3), parse_chunk_key(chunk_key("v1", "forest.pkl", 2, 3))
(b'file/v1/forest.pkl/0/3', ('v1', 'forest.pkl', 2, 3))
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from models.registry import ModelRegistry, Pointer, RegistryError
from stream.config import Settings

__all__ = [
    "publish_version",
    "publish_pointer",
    "forget_versions",
    "RegistryMirror",
    "chunk_key",
    "parse_chunk_key",
    "CHUNK",
]

log = logging.getLogger(__name__)

CHUNK = 512 * 1024
POINTER_KEY = b"pointer"


def chunk_key(version: str, name: str, index: int, count: int) -> bytes:
    return f"file/{version}/{name}/{index}/{count}".encode()


def parse_chunk_key(key: bytes) -> tuple[str, str, int, int]:
    _, version, name, index, count = key.decode().split("/")
    return version, name, int(index), int(count)


async def ensure_model_topic(settings: Settings) -> None:
    """The topic, with one partition and compaction, where it does not exist."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap, **settings.kafka_security())
    await admin.start()
    try:
        if settings.topic_models not in set(await admin.list_topics()):
            config = {"cleanup.policy": "compact", "max.message.bytes": str(2 * CHUNK)}
            topic = NewTopic(settings.topic_models, 1, settings.replication, topic_configs=config)
            await admin.create_topics([topic])
    finally:
        await admin.close()


async def _send(settings: Settings, records: Sequence[tuple[bytes, bytes | None]]) -> None:
    from stream.io.kafka import producer

    await ensure_model_topic(settings)
    prod = producer(settings, max_request_size=4 * CHUNK)
    await prod.start()
    try:
        sends = [
            await prod.send(settings.topic_models, value, key=key, partition=0) for key, value in records
        ]
        await asyncio.gather(*sends)
    finally:
        await prod.stop()


def _manifest_files(path: Path) -> list[str]:
    return ["manifest.json", *orjson.loads((path / "manifest.json").read_bytes())["files"]]


async def publish_version(settings: Settings, registry: ModelRegistry, version: str) -> None:
    """Every file of ``version`` (the manifest last), chunked."""
    path = registry.path(version)
    records = []
    for name in [*_manifest_files(path)[1:], "manifest.json"]:
        data = (path / name).read_bytes()
        count = max((len(data) + CHUNK - 1) // CHUNK, 1)
        records += [
            (chunk_key(version, name, k, count), data[k * CHUNK : (k + 1) * CHUNK]) for k in range(count)
        ]
    await _send(settings, records)


async def publish_pointer(settings: Settings, registry: ModelRegistry) -> None:
    """The registry's ``current``, with its version's manifest digest."""
    pointer = registry.pointer()
    if pointer is None:
        return
    digest = hashlib.sha256((registry.path(pointer.version) / "manifest.json").read_bytes()).hexdigest()
    body = orjson.loads(pointer.encode()) | {"manifest_sha256": digest}
    await _send(settings, [(POINTER_KEY, orjson.dumps(body))])


async def forget_versions(settings: Settings, versions: list[str]) -> None:
    """Tombstones for every chunk key of ``versions`` (compaction then removes them); the
    keys are read from the topic itself, since the versions' files are gone."""
    from stream.io.kafka import read_topic

    await ensure_model_topic(settings)
    doomed = set(versions)
    keys = {
        rec.key
        for rec in await read_topic(settings, settings.topic_models)
        if rec.key != POINTER_KEY and rec.value is not None and parse_chunk_key(rec.key)[0] in doomed
    }
    await _send(settings, [(key, None) for key in sorted(keys)])


class RegistryMirror:
    """The topic mirrored into the registry at ``settings.model_dir`` (see the module
    docstring). :meth:`pull` reads what arrived since the last call."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.registry = ModelRegistry(settings.model_dir, keep=settings.model_keep)
        self.chunks: dict[tuple[str, str], dict[int, bytes]] = {}
        self.counts: dict[tuple[str, str], int] = {}
        self.pointer: dict[str, Any] | None = None
        self._consumer: Any = None

    async def pull(self, wait_s: float = 0.05) -> str | None:
        """Apply what arrived; the version the local pointer names afterwards."""
        from aiokafka import TopicPartition

        from stream.io.kafka import consumer

        if self._consumer is None:
            await ensure_model_topic(self.settings)
            self._consumer = consumer(self.settings, max_partition_fetch_bytes=8 * CHUNK)
            await self._consumer.start()
            tp = TopicPartition(self.settings.topic_models, 0)
            self._consumer.assign([tp])
            await self._consumer.seek_to_beginning(tp)
        records = []
        while batch := await self._consumer.getmany(timeout_ms=int(wait_s * 1000)):
            records += [rec for recs in batch.values() for rec in recs]
        if records:
            await asyncio.get_running_loop().run_in_executor(None, self._apply, records)
        return self.registry.current()

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    def _apply(self, records: list[Any]) -> None:
        for rec in records:
            if rec.key == POINTER_KEY:
                self.pointer = None if rec.value is None else orjson.loads(rec.value)
                continue
            if rec.value is None:
                continue
            version, name, index, count = parse_chunk_key(rec.key)
            self.chunks.setdefault((version, name), {})[index] = rec.value
            self.counts[(version, name)] = count
        for version in {v for v, _ in self.chunks}:
            self._assemble(version)
        self._follow()

    def _file(self, version: str, name: str) -> bytes | None:
        got = self.chunks.get((version, name), {})
        if len(got) != self.counts.get((version, name), -1):
            return None
        return b"".join(got[k] for k in range(len(got)))

    def _assemble(self, version: str) -> None:
        """Write ``version`` into the local registry once it is whole and verified."""
        from models.artifact import ArtifactError, verify_artifact

        if self.registry.has(version):
            self.chunks = {k: v for k, v in self.chunks.items() if k[0] != version}
            return
        manifest = self._file(version, "manifest.json")
        if manifest is None:
            return
        names = list(orjson.loads(manifest)["files"])
        files = {name: self._file(version, name) for name in names}
        if any(data is None for data in files.values()):
            return
        staging = self.registry.staging()
        try:
            for name, data in files.items():
                (staging / name).write_bytes(data or b"")
            (staging / "manifest.json").write_bytes(manifest)
            verify_artifact(staging)  # every file's sha256, before anything is served
            self.registry.add(staging)
            log.warning("model %s received from %s and verified", version, self.settings.topic_models)
        except (ArtifactError, RegistryError) as exc:
            log.error("model %s from %s refused: %s", version, self.settings.topic_models, exc)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            self.chunks = {k: v for k, v in self.chunks.items() if k[0] != version}

    def _follow(self) -> None:
        """The local pointer, once the version it names is held with the manifest it names."""
        p = self.pointer
        if p is None or not self.registry.has(p["version"]) or self.registry.current() == p["version"]:
            return
        manifest = (self.registry.path(p["version"]) / "manifest.json").read_bytes()
        if hashlib.sha256(manifest).hexdigest() != p.get("manifest_sha256"):
            log.error("pointer to %s refused: its manifest differs from the one held", p["version"])
            return
        self.registry.write_pointer(
            Pointer(p["version"], tuple(p.get("previous", ())), p.get("promoted_at", 0.0))
        )


async def first_model(settings: Settings, timeout_s: float = 60.0) -> str | None:
    """Mirror the topic until the local registry serves a version (a worker's start)."""
    mirror = RegistryMirror(settings)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    try:
        while (served := await mirror.pull(wait_s=0.5)) is None and loop.time() < deadline:
            pass
        return served
    finally:
        await mirror.close()
