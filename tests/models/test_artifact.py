"""The artifact check: verified before anything is unpickled; corrupt or mismatched refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import orjson
import pytest

from models.artifact import ArtifactError, load_artifact
from stream.domain.features import FeatureSpec


@pytest.fixture
def artifact(quick_model, tmp_path: Path) -> Path:
    dst = tmp_path / "model"
    shutil.copytree(quick_model[0], dst)
    return dst


def test_loads_and_scores(artifact: Path) -> None:
    m = load_artifact(artifact)
    manifest = m.manifest
    assert manifest["fusion"]["w_r"] + manifest["fusion"]["w_f"] == pytest.approx(1.0)
    assert manifest["feature_spec"]["user_dim"] == 150 and manifest["feature_spec"]["item_dim"] == 120
    assert manifest["training_data"]["fingerprint"] and manifest["catalogue"]["n_items"] > 20_000
    U = np.zeros((5, 150), np.float32)
    I = np.zeros((5, 120), np.float32)
    s = m.scorer.score(U, I, [3, 2])
    assert s.probability.shape == (5,) and np.all((0 <= s.probability) & (s.probability <= 1))
    np.testing.assert_allclose(
        s.probability, m.scorer.w_r * s.resnet + (1 - m.scorer.w_r) * s.forest, rtol=1e-5
    )


@pytest.mark.parametrize("name", ["forest.pkl", "resnet.pt", "catalogue.json"])
def test_corrupt_file_is_refused(artifact: Path, name: str) -> None:
    path = artifact / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=f"checksum mismatch for {name}"):
        load_artifact(artifact)


def test_pickle_is_not_loaded_when_its_checksum_fails(artifact: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    import pickle

    (artifact / "forest.pkl").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ArtifactError):
        load_artifact(artifact)
    assert not marker.exists()


def test_missing_and_mismatched_artifacts(artifact: Path, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="no manifest.json"):
        load_artifact(tmp_path / "nothing")
    (artifact / "resnet.pt").unlink()
    with pytest.raises(ArtifactError, match="missing file resnet.pt"):
        load_artifact(artifact)
    manifest = orjson.loads((artifact / "manifest.json").read_bytes())
    manifest["feature_spec"]["version"] = "0-old"
    (artifact / "manifest.json").write_bytes(orjson.dumps(manifest))
    with pytest.raises(ArtifactError, match="feature version"):
        load_artifact(artifact)
    # the same version with features laid out otherwise (a slot moved, nobody bumped it)
    manifest["feature_spec"]["version"] = FeatureSpec().version
    manifest["feature_spec"]["layout"] = "0123456789ab-ba9876543210"
    (artifact / "manifest.json").write_bytes(orjson.dumps(manifest))
    with pytest.raises(ArtifactError, match="layout 0123456789ab"):
        load_artifact(artifact)
    del manifest["feature_spec"]["layout"]  # written before layouts were recorded: its version decides
    (artifact / "manifest.json").write_bytes(orjson.dumps(manifest))
    with pytest.raises(ArtifactError, match="resnet.pt"):  # still the missing file, not the spec
        load_artifact(artifact)
    (artifact / "manifest.json").write_bytes(b"{not json")
    with pytest.raises(ArtifactError, match="malformed manifest"):
        load_artifact(artifact)
