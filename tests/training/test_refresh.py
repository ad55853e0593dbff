"""``intent train --serve`` on the real JD.com sample, twice into one registry: the second
version's manifest holds its test figures and the paired comparison with the first."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from models.registry import ModelRegistry
from stream.commands.cli import main
from training.refresh import SERVE_STAGES


def _serve(capsys: pytest.CaptureFixture[str], jdata_dir: Path, registry: Path, *extra: str) -> dict:
    assert (
        main(["train", str(jdata_dir), "--serve", "--quick", "--registry", str(registry), "--json", *extra])
        == 0
    )
    return orjson.loads(capsys.readouterr().out)


def test_train_serve_twice_compares_with_the_served_version(
    capsys: pytest.CaptureFixture[str], jdata_dir: Path, tmp_path: Path
) -> None:
    registry = tmp_path / "registry"
    first = _serve(capsys, jdata_dir, registry)
    assert first["serve_run"]["compared_with"] is None  # nothing served yet
    assert ModelRegistry(registry).current() == first["model_version"]  # the first version is served
    assert set(first["served"]["models"]) == {"resnet", "deep_forest", "fused"}
    lo, hi = first["served"]["ci"]["fused"]["pr_auc"]
    assert lo <= first["served"]["models"]["fused"]["pr_auc"] <= hi
    assert [s["name"] for s in first["stages"]] == [s for s in SERVE_STAGES if s != "compare"]

    second = _serve(capsys, jdata_dir, registry)
    reg = ModelRegistry(registry)
    assert reg.current() == first["model_version"]  # added, not promoted
    manifest = orjson.loads((reg.path(second["model_version"]) / "manifest.json").read_bytes())
    run = manifest["serve_run"]
    assert run["test"]["models"]["fused"] == second["served"]["models"]["fused"]
    compared = run["compared_with"]
    assert compared["model_version"] == first["model_version"]
    # the first model scored on the second's test rows gives the first's own test figures
    assert compared["served_figures"]["point"]["pr_auc"] == pytest.approx(
        first["served"]["models"]["fused"]["pr_auc"], abs=1e-4
    )
    for metric in ("pr_auc", "roc_auc"):
        p = compared["paired"][metric]
        assert p["reading"] in ("better", "worse", "cannot_tell")
        assert p[f"{metric}_diff"][0] <= p[f"{metric}_diff"][2]
    assert run["config"]["source"].startswith("the served artifact's")
    # same data, same configuration, same draws (the served one's sample seed): the same model
    assert run["config"]["sample_seed"] == manifest["evaluation"]["seed"] == 0
    assert second["served"]["models"]["fused"] == first["served"]["models"]["fused"]
    assert compared["paired"]["pr_auc"]["point"] == pytest.approx(0.0, abs=1e-9)
    assert "compare" in [s["name"] for s in second["stages"]]
