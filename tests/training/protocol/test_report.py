"""The verdict reads the paired intervals; it never claims more than they show."""

from __future__ import annotations

from training.protocol.report import cost_table, verdict


def _paired(lo: float, hi: float) -> dict[str, object]:
    return {"pr_auc_diff": [lo, (lo + hi) / 2, hi], "point": (lo + hi) / 2, "p_better": 0.5}


def test_the_claim_holds_only_when_every_boosting_baseline_is_beaten_outside_the_noise() -> None:
    summary = {
        "paired": {
            "xgboost": _paired(0.01, 0.05),
            "lightgbm": _paired(-0.01, 0.04),
            "deep_forest": _paired(-0.01, 0.02),
        }
    }
    text = verdict(summary)
    assert "does not hold" in text and "better, outside the noise, than xgboost" in text
    assert "not distinguishable from lightgbm" in text and "adds nothing measurable" in text
    summary["paired"]["lightgbm"] = _paired(0.001, 0.04)
    assert "claim (the fusion beats each gradient-boosting baseline) holds" in verdict(summary)


def test_a_served_model_without_the_resnet_is_said_to_serve_the_forest_alone() -> None:
    summary = {
        "paired": {"xgboost": _paired(0.01, 0.05), "deep_forest": _paired(0.001, 0.03)},
        "fusion": {"per_seed": [{"seed": 0, "w_r": 0.0}, {"seed": 1, "w_r": 0.35}]},
    }
    text = verdict(summary)
    assert "the ResNet earns its weight" in text
    assert "serves the forest branch alone" in text and "0.0, 0.35" in text


def test_a_reference_network_that_beats_the_fusion_is_said_to_and_what_serving_it_takes() -> None:
    summary = {
        "paired": {
            "xgboost": _paired(0.01, 0.05),
            "lstm": _paired(-0.03, -0.001),
            "mlp": _paired(-0.04, -0.002),
        },
        "serving": {"lstm": "a sequence in state", "mlp": "its weights", "cnn_sequence": "x"},
    }
    text = verdict(summary)
    assert "It is worse than lstm, mlp." in text
    assert (
        "**lstm beats the fused model outside the noise**" in text
        and "serving it would take a sequence in state" in text
    )
    assert "**mlp beats the fused model" in text and "cnn_sequence" not in text
    # inside the noise: nothing said about serving
    summary["paired"]["lstm"] = _paired(-0.03, 0.01)
    assert "lstm beats" not in verdict(summary)


def test_the_cost_table_has_a_row_per_trained_model_and_is_empty_for_older_runs() -> None:
    summary = {
        "cost": {
            "test_rows": 10,
            "models": {
                "fused": {"train_s": [10.0, 12.0], "us_per_pair": [3.0, 5.0]},
                "mlp": {"train_s": [2.5, 2.0], "us_per_pair": [1.0, 1.5]},
            },
        }
    }
    lines = cost_table(summary).splitlines()
    assert lines[2] == "| mlp | 2.5, 2 | 1, 1.5 | 1.25 |"  # the report's model order: mlp before fused
    assert lines[3] == "| fused | 10, 12 | 3, 5 | 4.00 |"
    assert cost_table({}) == ""
