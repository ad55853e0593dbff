"""The model registry: every trained version kept beside the others, one of them served.

Layout (one directory)::

    versions/<model_version>/   an artifact each (models.artifact), never written over
    current                     the served version, and the versions served before it
                                (JSON, replaced atomically: written beside, then renamed)

Training adds a version (:meth:`ModelRegistry.add`, an atomic rename into ``versions/``);
nothing serves it until it is promoted. :meth:`ModelRegistry.promote` and
:meth:`ModelRegistry.rollback` replace ``current`` in one rename, so a worker that polls
it reads either the old pointer or the new one, never half of one. ``current`` keeps the
versions served before (most recent first): a rollback serves the one before, again and
again. :meth:`ModelRegistry.prune` keeps the newest ``keep`` versions and never removes
the served one, the one a rollback would serve, or any ``protect``-ed version (a worker's
challenger).

A path that holds ``versions/`` is a registry; :func:`served_path` turns either a registry
or a plain artifact directory into the directory of the artifact served, which is what
every loader of an artifact takes.

>>> import tempfile
>>> root = Path(tempfile.mkdtemp())
>>> reg = ModelRegistry(root)
>>> def writer(version):
...     body = f'{{"model_version": "{version}"}}'
...     return lambda out: out.mkdir() or (out / "manifest.json").write_text(body)
>>> for v in ("v1", "v2"):
...     _ = reg.add_written(writer(v))
>>> reg.current(), [i.version for i in reg.versions()]  # the first version added is served
('v1', ['v1', 'v2'])
>>> reg.promote("v2"), reg.current()
(('v1', 'v2'), 'v2')
>>> served_path(root) == root / "versions" / "v2"
True
>>> reg.rollback(), reg.current()
(('v2', 'v1'), 'v1')
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ModelRegistry",
    "RegistryError",
    "Pointer",
    "VersionInfo",
    "served_path",
    "is_registry",
    "POINTER",
    "VERSIONS",
]

VERSIONS = "versions"
POINTER = "current"
#: Versions a pointer remembers as served before the current one (rollback targets).
HISTORY = 20


class RegistryError(RuntimeError):
    """A registry operation that cannot be done (unknown version, nothing to roll back to)."""


@dataclass(frozen=True)
class Pointer:
    """What ``current`` says: the served version, the versions served before it (most
    recent first), and when it was written (Unix seconds)."""

    version: str
    previous: tuple[str, ...] = ()
    promoted_at: float = 0.0

    def encode(self) -> bytes:
        body = {"version": self.version, "previous": list(self.previous), "promoted_at": self.promoted_at}
        return json.dumps(body, indent=1).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Pointer:
        body = json.loads(raw)
        if not isinstance(body, dict) or not isinstance(body.get("version"), str):
            raise RegistryError(f"malformed pointer: {raw[:80]!r}")
        return cls(body["version"], tuple(body.get("previous", ())), float(body.get("promoted_at", 0.0)))


@dataclass(frozen=True)
class VersionInfo:
    version: str
    path: Path
    created: float  # when it was added (the directory's modification time)
    roles: tuple[str, ...] = field(default=())


def is_registry(path: Path | str) -> bool:
    """A registry is a directory with ``versions/`` in it."""
    return (Path(path) / VERSIONS).is_dir()


def served_path(path: Path | str) -> Path:
    """The artifact directory served from ``path``: a registry's current version, or
    ``path`` itself (a plain artifact directory). A registry with nothing promoted gives
    its ``current`` path, which holds no artifact (loading it fails with that reason)."""
    path = Path(path)
    if not is_registry(path):
        return path
    pointer = ModelRegistry(path).pointer()
    return path / POINTER if pointer is None else path / VERSIONS / pointer.version


class ModelRegistry:
    """A registry directory (see the module docstring); ``keep``: versions :meth:`prune`
    leaves (``INTENT_MODEL_KEEP``)."""

    def __init__(self, root: Path | str, keep: int = 5) -> None:
        self.root = Path(root)
        self.keep = keep

    # -- reading ------------------------------------------------------------------
    def path(self, version: str) -> Path:
        if not version or "/" in version or version.startswith("."):
            raise RegistryError(f"not a version name: {version!r}")
        return self.root / VERSIONS / version

    def has(self, version: str) -> bool:
        return (self.path(version) / "manifest.json").is_file()

    def pointer(self) -> Pointer | None:
        try:
            return Pointer.decode((self.root / POINTER).read_bytes())
        except FileNotFoundError:
            return None

    def current(self) -> str | None:
        pointer = self.pointer()
        return None if pointer is None else pointer.version

    def versions(self) -> list[VersionInfo]:
        """Every version held, oldest first."""
        folder = self.root / VERSIONS
        if not folder.is_dir():
            return []
        found = [
            VersionInfo(p.name, p, p.stat().st_mtime)
            for p in folder.iterdir()
            if not p.name.startswith(".") and (p / "manifest.json").is_file()
        ]
        return sorted(found, key=lambda i: (i.created, i.version))

    # -- writing ------------------------------------------------------------------
    def staging(self) -> Path:
        """An empty folder inside the registry (same filesystem) to write an artifact
        into before :meth:`add` renames it into ``versions/``."""
        folder = self.root / VERSIONS / f".staging-{os.getpid()}-{time.monotonic_ns()}"
        folder.mkdir(parents=True)
        return folder

    def add(self, artifact: Path) -> str:
        """Move the artifact directory ``artifact`` in as a new version (its manifest's
        ``model_version``), in one rename; a version is never written over."""
        artifact = Path(artifact)
        version = json.loads((artifact / "manifest.json").read_bytes())["model_version"]
        target = self.path(version)
        if target.exists():
            raise RegistryError(f"version {version} is already in {self.root}")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            artifact.rename(target)
        except OSError:  # another filesystem: copy beside, then rename
            tmp = target.parent / f".{version}.tmp-{os.getpid()}"
            shutil.copytree(artifact, tmp)
            tmp.rename(target)
            shutil.rmtree(artifact, ignore_errors=True)
        return str(version)

    def add_written(self, write: Callable[[Path], Any], promote: bool = False) -> tuple[str, Any]:
        """A version written by ``write(directory)`` (``intent train``), added; promoted when
        asked or when nothing is served yet. Returns (the version, what ``write`` returned)."""
        staging = self.staging()
        try:
            written = write(staging / "model")
            version = self.add(staging / "model")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        if promote or self.current() is None:
            self.promote(version)
        return version, written

    def write_pointer(self, pointer: Pointer) -> None:
        """Replace ``current`` atomically (a reader sees the old or the new pointer)."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{POINTER}.tmp-{os.getpid()}"
        with tmp.open("wb") as fh:
            fh.write(pointer.encode())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.root / POINTER)

    def promote(self, version: str) -> tuple[str | None, str]:
        """Serve ``version``; returns (the version served before, ``version``)."""
        if not self.has(version):
            raise RegistryError(f"no version {version} in {self.root} (intent models list)")
        old = self.pointer()
        if old is not None and old.version == version:
            return version, version
        previous = () if old is None else (old.version, *old.previous)
        self.write_pointer(Pointer(version, previous[:HISTORY], time.time()))
        return (None if old is None else old.version), version

    def rollback(self) -> tuple[str, str]:
        """Serve the version served before the current one (the first still held);
        returns (the version served until now, the one served from now)."""
        old = self.pointer()
        if old is None:
            raise RegistryError(f"nothing is served from {self.root}: nothing to roll back")
        rest = list(old.previous)
        while rest and not self.has(rest[0]):
            rest.pop(0)
        if not rest:
            raise RegistryError(f"no earlier version of {old.version} left in {self.root} to roll back to")
        self.write_pointer(Pointer(rest[0], tuple(rest[1:]), time.time()))
        return old.version, rest[0]

    def prune(self, protect: tuple[str, ...] = ()) -> list[str]:
        """Remove all but the newest ``keep`` versions, never the served one, the one a
        rollback would serve, nor ``protect``; returns the versions removed."""
        pointer = self.pointer()
        kept = {v for v in protect if v}
        if pointer is not None:
            kept.add(pointer.version)
            kept.update(v for v in pointer.previous[:1])
        held = self.versions()
        newest = {i.version for i in held[-self.keep :]} if self.keep > 0 else set()
        removed = []
        for info in held:
            if info.version in kept or info.version in newest:
                continue
            trash = info.path.parent / f".{info.version}.removing-{os.getpid()}"
            info.path.rename(trash)  # gone from versions/ at once; deleted after
            shutil.rmtree(trash, ignore_errors=True)
            removed.append(info.version)
        return removed
