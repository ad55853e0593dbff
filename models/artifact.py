"""The model artifact: one versioned directory with a manifest and checksums.

Layout::

    manifest.json   format, model_version, feature spec, catalogue, fusion (w_r, t_p, the
                    branches' calibration), branch configs, training-data fingerprint,
                    metrics, sha256 per file
    resnet.pt       PurchaseResNet state_dict (loaded with ``weights_only=True``)
    forest.pkl      DeepForest (unpickled only after its sha256 matched)
    catalogue.json  user and item attributes
    report.md, metrics.json, *.png   the training report

:func:`load_artifact` refuses, with :class:`ArtifactError`, a directory whose manifest
is missing or malformed, whose feature spec differs from this code's, or any of whose
files is missing or fails its checksum. Both take a registry too (:mod:`models.registry`):
its current version is loaded. Saving writes a temporary sibling and renames
it into place, so a reader never sees half an artifact.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import torch

from models.calibration import PlattCalibrator
from models.cold_start import ColdStartPrior
from models.forest import DeepForest
from models.fusion import FusedScorer
from models.registry import served_path
from models.resnet import PurchaseResNet
from models.versions import library_versions, version_mismatch
from stream.domain.catalogue import Catalogue
from stream.domain.features import FeatureSpec

__all__ = ["ArtifactError", "LoadedModel", "save_artifact", "load_artifact", "sha256_file"]

FORMAT = "intent-model/3"  # 2: calibrated branches, our gcForest; 3: its fold models kept (paths)
REQUIRED = ("format", "model_version", "feature_spec", "fusion", "resnet", "files")


class ArtifactError(RuntimeError):
    """A model artifact that must not be served."""


@dataclass
class LoadedModel:
    scorer: FusedScorer
    catalogue: Catalogue
    spec: FeatureSpec
    manifest: dict[str, Any]
    path: Path


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_artifact(
    out_dir: Path,
    scorer: FusedScorer,
    catalogue: Catalogue,
    spec: FeatureSpec,
    extra_manifest: dict[str, Any],
    extra_files: dict[str, bytes] | None = None,
) -> Path:
    """Write the artifact to ``out_dir`` atomically; returns the directory."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    buf = io.BytesIO()
    torch.save(scorer.resnet.state_dict(), buf)
    payloads = {
        "resnet.pt": buf.getvalue(),
        "forest.pkl": pickle.dumps(scorer.forest, protocol=pickle.HIGHEST_PROTOCOL),
        "catalogue.json": catalogue.to_json(),
        **(extra_files or {}),
    }
    for name, data in payloads.items():
        (tmp / name).write_bytes(data)
    manifest = {
        "format": FORMAT,
        "model_version": scorer.model_version,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "feature_spec": spec.to_dict(),
        "catalogue": {
            "file": "catalogue.json",
            "n_users": len(catalogue.users),
            "n_items": len(catalogue.items),
            "n_candidates": scorer.n_items,
        },
        "fusion": {
            "w_r": scorer.w_r,
            "w_f": 1.0 - scorer.w_r,
            "threshold": scorer.threshold,
            "calibration": {
                "resnet": scorer.calibration[0].to_dict(),
                "forest": scorer.calibration[1].to_dict(),
            },
        },
        "cold_start": scorer.cold_start.to_dict() if scorer.cold_start is not None else None,
        "resnet": scorer.resnet.config,
        "forest": scorer.forest.params,
        "library_versions": library_versions(),
        **extra_manifest,
        "files": {name: sha256_file(tmp / name) for name in sorted(payloads)},
    }
    (tmp / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    if out_dir.exists():
        old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
        out_dir.rename(old)
        tmp.rename(out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out_dir)
    return out_dir


def read_manifest(path: Path) -> dict[str, Any]:
    mpath = Path(path) / "manifest.json"
    if not mpath.is_file():
        raise ArtifactError(f"{path}: no manifest.json (not a model artifact)")
    try:
        manifest = orjson.loads(mpath.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ArtifactError(f"{mpath}: malformed manifest: {exc}") from None
    missing = [k for k in REQUIRED if k not in manifest]
    if missing:
        raise ArtifactError(f"{mpath}: manifest lacks {', '.join(missing)}")
    if manifest["format"] != FORMAT:
        raise ArtifactError(f"{mpath}: format {manifest['format']!r}, expected {FORMAT!r}")
    return manifest


def verify_artifact(path: Path) -> dict[str, Any]:
    """Check manifest, feature spec and every checksum; returns the manifest. ``path``:
    an artifact directory, or a registry (its current version, see :mod:`models.registry`)."""
    path = served_path(path)
    manifest = read_manifest(path)
    code = FeatureSpec()
    code_spec = FeatureSpec(**{**manifest["feature_spec"], "version": code.version, "layout": code.layout})
    if FeatureSpec(**manifest["feature_spec"]) != code_spec:
        trained = manifest["feature_spec"]
        raise ArtifactError(
            f"{path}: trained with feature version {trained.get('version')} (layout "
            f"{trained.get('layout', 'not recorded')}), this code computes version {code.version} "
            f"(layout {code.layout}): retrain it"
        )
    if (mismatch := version_mismatch(manifest, str(path))) is not None:
        raise ArtifactError(mismatch)
    for name, digest in manifest["files"].items():
        fpath = path / name
        if Path(name).name != name:
            raise ArtifactError(f"{path}: manifest names a file outside the artifact: {name}")
        if not fpath.is_file():
            raise ArtifactError(f"{path}: missing file {name}")
        if sha256_file(fpath) != digest:
            raise ArtifactError(f"{path}: checksum mismatch for {name} (corrupt or altered)")
    for name in ("resnet.pt", "forest.pkl", "catalogue.json"):
        if name not in manifest["files"]:
            raise ArtifactError(f"{path}: manifest does not list {name}")
    return manifest


def load_artifact(path: Path | str) -> LoadedModel:
    """Verify, then load (``path``: as :func:`verify_artifact` takes it). Nothing is
    unpickled before its checksum matched."""
    path = served_path(path)
    manifest = verify_artifact(path)
    spec = FeatureSpec(**manifest["feature_spec"])
    try:
        resnet = PurchaseResNet(**manifest["resnet"])
        state = torch.load(path / "resnet.pt", map_location="cpu", weights_only=True)
        resnet.load_state_dict(state)
        forest = pickle.loads((path / "forest.pkl").read_bytes())
        if not isinstance(forest, DeepForest):
            raise ArtifactError(f"{path}: forest.pkl holds {type(forest).__name__}")
        catalogue = Catalogue.from_json((path / "catalogue.json").read_bytes())
    except ArtifactError:
        raise
    except Exception as exc:  # a verified but unloadable artifact is still refused
        raise ArtifactError(f"{path}: cannot load: {exc}") from exc
    fusion = manifest["fusion"]
    cold = manifest.get("cold_start")
    calibration = (
        PlattCalibrator(**fusion["calibration"]["resnet"]),
        PlattCalibrator(**fusion["calibration"]["forest"]),
    )
    scorer = FusedScorer(
        resnet,
        forest,
        float(fusion["w_r"]),
        float(fusion["threshold"]),
        manifest["model_version"],
        ColdStartPrior.from_dict(cold) if cold else None,
        calibration,
    )
    return LoadedModel(scorer, catalogue, spec, manifest, path)
