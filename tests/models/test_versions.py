"""The library versions an artifact records: written by training, checked on loading."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import orjson
import pytest

from models.artifact import ArtifactError, load_artifact
from models.versions import LIBRARIES, library_versions


@pytest.fixture
def artifact(quick_model, tmp_path: Path) -> Path:
    dst = tmp_path / "model"
    shutil.copytree(quick_model[0], dst)
    return dst


def edit_manifest(artifact: Path, edit) -> None:
    path = artifact / "manifest.json"
    manifest = orjson.loads(path.read_bytes())
    edit(manifest)
    path.write_bytes(orjson.dumps(manifest))


def test_the_manifest_records_the_versions_of_torch_sklearn_and_numpy(artifact: Path) -> None:
    recorded = load_artifact(artifact).manifest["library_versions"]
    assert set(recorded) == {"torch", "scikit-learn", "numpy"} == set(LIBRARIES)
    assert recorded == library_versions() and "none" not in recorded.values()


def test_an_artifact_written_with_another_scikit_learn_is_refused_with_the_versions(artifact: Path) -> None:
    edit_manifest(artifact, lambda m: m["library_versions"].update({"scikit-learn": "1.4.0"}))
    with pytest.raises(ArtifactError) as err:
        load_artifact(artifact)
    installed = library_versions()["scikit-learn"]
    assert str(err.value) == (
        f"{artifact}: written with scikit-learn 1.4.0, but this environment has "
        f"scikit-learn {installed}: install scikit-learn==1.4.0 or retrain"
    )


def test_a_local_build_label_is_not_a_mismatch(artifact: Path) -> None:
    torch = library_versions()["torch"]
    edit_manifest(artifact, lambda m: m["library_versions"].update({"torch": f"{torch}+cu121"}))
    assert load_artifact(artifact).scorer is not None


def test_an_older_artifact_without_the_record_loads_with_a_warning(artifact: Path, caplog) -> None:
    edit_manifest(artifact, lambda m: m.pop("library_versions"))
    with caplog.at_level(logging.WARNING, logger="models.versions"):
        assert load_artifact(artifact).scorer is not None
    assert any(
        "does not record the library versions" in r.getMessage() and str(artifact) in r.getMessage()
        for r in caplog.records
    )
