"""Quick end-to-end train and evaluate on the real JD.com sample."""
from __future__ import annotations

from pathlib import Path

import orjson

from stream.cli import main
from training.scoring import evaluate_artifact

MODELS = {"logistic_regression", "linear_svm", "random_forest", "xgboost", "lightgbm",
          "lstm_attention", "resnet", "deep_forest", "fused_no_prior", "fused"}
KEYS = {"precision", "recall", "f1", "roc_auc", "pr_auc"}


def test_quick_train_writes_artifact_and_report(quick_model) -> None:
    out, report = quick_model
    assert set(report["models"]) == MODELS
    assert all(KEYS <= set(m) for m in report["models"].values())
    assert 0 < report["positive_rate"] < 0.1 and 0.5 < report["candidate_recall"] <= 1
    for name in ("report.md", "metrics.json", "pr_curves.png", "resnet_loss.png", "forest_depth.png",
                 "fusion_weight.png", "forest_stride.png", "forest_trees.png", "manifest.json"):
        assert (out / name).stat().st_size > 0, name
    assert "| fused |" in (out / "report.md").read_text()
    assert report["split"]["train_pos"] > 0 and report["split"]["test_pos"] > 0
    # the per-activity table: every test row in exactly one bucket, cold start included
    fused = [r for r in report["by_activity"] if r["model"] == "fused"]
    assert [r["bucket"] for r in fused] == ["cold", "warm", "heavy"]
    assert sum(r["rows"] for r in fused) == report["split"]["test"]
    assert "| cold | fused |" in (out / "report.md").read_text()


def test_artifact_serves_the_cold_start_blend_it_was_trained_with(quick_model) -> None:
    import numpy as np

    from models.artifact import load_artifact
    from models.cold_start import N_EVENTS_COLUMN

    out, report = quick_model
    scorer = load_artifact(out).scorer
    assert scorer.cold_start is not None
    assert scorer.cold_start.weight == report["fusion"]["cold_start_weight"]
    U = np.zeros((2, 150), dtype=np.float32)
    U[1, N_EVENTS_COLUMN] = np.log1p(50)  # a heavy user: the prior never touches it
    I = np.zeros((2, 120), dtype=np.float32)
    s = scorer.score(U, I, [2])
    expected = scorer.cold_start.apply(scorer.w_r * s.resnet + (1 - scorer.w_r) * s.forest, U, I)
    np.testing.assert_allclose(s.probability, expected, rtol=1e-6)


def test_evaluate_json(quick_model, jdata_dir: Path, capsys) -> None:
    out, _ = quick_model
    assert main(["evaluate", "--model", str(out), str(jdata_dir / "JData_Action_201604.csv.gz"), "--json"]) == 0
    result = orjson.loads(capsys.readouterr().out)
    assert set(result) == {"models", "n_examples", "positive_rate", "candidate_recall"}
    assert {"resnet", "deep_forest", "fused"} <= set(result["models"])
    assert KEYS <= set(result["models"]["fused"]) and result["n_examples"] > 1000


def test_evaluate_is_deterministic(quick_model, jdata_dir: Path) -> None:
    out, _ = quick_model
    data = [jdata_dir / "JData_Action_201604.csv.gz"]
    assert evaluate_artifact(out, data) == evaluate_artifact(out, data)
