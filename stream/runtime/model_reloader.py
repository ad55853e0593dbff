"""Hot swap of the served model when a new artifact lands in the model directory, or a
registry's ``current`` pointer names another version (a promotion or a rollback).

The worker polls the served ``manifest.json`` (in a registry: of the version ``current``
names, see :mod:`models.registry`); when its model version changes, the new artifact is
loaded and verified (manifest, feature version, every checksum) off the event loop, and
only then swapped in, whole, between two batches. A corrupt or mismatched artifact is
refused with its reason logged once and counted, and the old model keeps serving.
Publish a new model by writing it beside the directory and renaming it into place
(``intent train --out`` does exactly that).

>>> r = ModelReloader(Path("/nonexistent"), current_version="v1")
>>> r.changed_version() is None
True
"""

from __future__ import annotations

import logging
from pathlib import Path

import orjson

from models.artifact import ArtifactError, LoadedModel, load_artifact
from models.registry import RegistryError, served_path

__all__ = ["ModelReloader"]

log = logging.getLogger(__name__)


class ModelReloader:
    def __init__(self, model_dir: Path, current_version: str) -> None:
        self.model_dir = Path(model_dir)
        self.current_version = current_version
        self.refused: set[str] = set()  # versions already refused (logged once)

    def changed_version(self) -> str | None:
        """The version in the directory's manifest if it differs from the served one."""
        try:
            manifest = served_path(self.model_dir) / "manifest.json"
            version = orjson.loads(manifest.read_bytes())["model_version"]
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError, RegistryError):
            return None
        if version == self.current_version or version in self.refused:
            return None
        return str(version)

    def try_load(self) -> tuple[LoadedModel | None, str | None]:
        """(new model, None) on success, (None, reason) if refused, (None, None) if unchanged."""
        version = self.changed_version()
        if version is None:
            return None, None
        try:
            loaded = load_artifact(self.model_dir)
        except ArtifactError as exc:
            self.refused.add(version)
            log.error("refused model %s: %s; still serving %s", version, exc, self.current_version)
            return None, str(exc)
        self.current_version = loaded.scorer.model_version
        return loaded, None
