"""The model registry: versions kept beside each other, an atomic pointer, rollback, pruning."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.registry import POINTER, ModelRegistry, RegistryError, served_path


def add(reg: ModelRegistry, version: str) -> str:
    def write(out: Path) -> None:
        out.mkdir()
        (out / "manifest.json").write_text(f'{{"model_version": "{version}"}}')

    return reg.add_written(write)[0]


def test_rollback_walks_back_the_versions_served_and_a_version_is_never_written_over(tmp_path) -> None:
    reg = ModelRegistry(tmp_path)
    for v in ("v1", "v2", "v3"):
        add(reg, v)
    assert reg.current() == "v1"  # the first version added serves
    reg.promote("v2")
    reg.promote("v3")
    assert reg.rollback() == ("v3", "v2") and reg.rollback() == ("v2", "v1")
    with pytest.raises(RegistryError, match="no earlier version"):
        reg.rollback()
    with pytest.raises(RegistryError, match="already"):
        add(reg, "v2")
    with pytest.raises(RegistryError, match="no version v9"):
        reg.promote("v9")
    assert served_path(tmp_path) == tmp_path / "versions" / "v1"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no pointer left half-written
    assert (tmp_path / POINTER).is_file()


def test_prune_keeps_the_newest_the_served_its_predecessor_and_the_challenger(tmp_path) -> None:
    reg = ModelRegistry(tmp_path, keep=2)
    for k in range(6):
        add(reg, f"v{k}")
    reg.promote("v1")  # served: v1, a rollback serves v0
    removed = reg.prune(protect=("v2",))
    assert sorted(removed) == ["v3"]
    assert [i.version for i in reg.versions()] == ["v0", "v1", "v2", "v4", "v5"]


def test_a_plain_artifact_directory_is_served_as_it_is(tmp_path) -> None:
    assert served_path(tmp_path) == tmp_path
