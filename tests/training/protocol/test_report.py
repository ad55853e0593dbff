"""The verdict reads the Holm-adjusted readings; it never claims more than they show."""

from __future__ import annotations

from training.protocol.report_tables import budget_table, cold_table, cost_table, verdict


def _paired(lo: float, hi: float) -> dict[str, object]:
    reading = "better" if lo > 0 else "worse" if hi < 0 else "cannot_tell"
    return {
        "pr_auc_diff": [lo, (lo + hi) / 2, hi],
        "point": (lo + hi) / 2,
        "p_better": 0.5,
        "p_value": 0.01,
        "p_holm": 0.02,
        "level": 0.99,
        "reading": reading,
    }


def test_the_claim_holds_only_when_every_boosting_baseline_is_beaten() -> None:
    summary = {
        "paired": {
            "xgboost": _paired(0.01, 0.05),
            "lightgbm": _paired(-0.01, 0.04),
            "deep_forest": _paired(-0.01, 0.02),
        }
    }
    text = verdict(summary)
    assert "does not hold" in text and "The fusion is better than xgboost." in text
    assert "cannot tell it apart from lightgbm (+0.0150 [-0.0100, +0.0400])" in text
    assert "the data cannot tell whether the ResNet adds anything" in text
    summary["paired"]["lightgbm"] = _paired(0.001, 0.04)
    assert "claim (the fusion beats each gradient-boosting baseline) holds" in verdict(summary)


def test_a_reading_is_what_the_adjusted_comparison_says_not_the_raw_interval() -> None:
    """An interval that leaves out 0 but did not survive Holm's adjustment reads cannot tell."""
    p = _paired(0.001, 0.04)
    p["reading"] = "cannot_tell"
    text = verdict({"paired": {"xgboost": p, "lightgbm": _paired(0.01, 0.02)}})
    assert "does not hold" in text and "cannot tell it apart from xgboost" in text


def test_a_served_model_without_the_resnet_is_said_to_serve_the_forest_alone() -> None:
    summary = {
        "paired": {"xgboost": _paired(0.01, 0.05), "deep_forest": _paired(0.001, 0.03)},
        "fusion": {
            "served_seed": 1,
            "w_r": 0.0,
            "per_seed": [{"seed": 0, "w_r": 0.35}, {"seed": 1, "w_r": 0.0}],
        },
    }
    text = verdict(summary)
    assert "the ResNet earns its weight" in text
    assert "The served model (seed 1) gives the ResNet no weight" in text and "0.35, 0.0" in text


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
    assert "It is worse than mlp, lstm." in text
    assert "**lstm beats the fused model**" in text and "serving it would take a sequence in state" in text
    assert "**mlp beats the fused model" in text and "cnn_sequence" not in text
    summary["paired"]["lstm"] = _paired(-0.03, 0.01)  # the data cannot tell: nothing said about serving
    assert "lstm beats" not in verdict(summary)


def test_the_budget_and_cold_tables_carry_every_interval() -> None:
    row = {
        "budget": 0.05,
        "sent": 59,
        "precision": 0.15,
        "purchase_recall": 0.25,
        "lift": 17.6,
        "ci": {"precision": [0.07, 0.24], "purchase_recall": [0.12, 0.42], "lift": [8.9, 27.8]},
    }
    lines = budget_table({"fused": {"5%": row}}, "5%").splitlines()
    assert lines[2] == "| fused | 59 | 0.1500 [0.0700, 0.2400] | 0.250 [0.120, 0.420] | 17.6 [8.9, 27.8] |"
    cold = {
        "models": {
            "fused": {"pr_auc": 0.02, "roc_auc": 0.71},
            "recency_rule": {"pr_auc": 0.01, "roc_auc": 0.65},
        },
        "ci": {"fused": {"pr_auc": [0.01, 0.03], "roc_auc": [0.69, 0.73]}},
        "paired": {"recency_rule": _paired(0.002, 0.02)},
    }
    text = cold_table(cold)
    assert "| recency_rule | 0.0100 | 0.6500 | +0.0110 [+0.0020, +0.0200] | fused better | — | — |" in text
    assert "| fused | 0.0200 [0.0100, 0.0300] | 0.7100 [0.6900, 0.7300] | — | — | — | — |" in text


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
