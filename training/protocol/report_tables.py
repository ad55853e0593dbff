"""The report's tables and its verdict, each read from a summary (:mod:`training.protocol.evaluation`).

The verdict never claims more than the Holm-adjusted paired intervals show: a model is
"better" or "worse" than the fused one only when its adjusted interval leaves out 0;
otherwise the data cannot tell them apart, and the interval is given.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "MODEL_ORDER",
    "model_order",
    "metrics_table",
    "results_table",
    "paired_table",
    "reading_of",
    "verdict",
    "budget_table",
    "calibration_table",
    "cold_table",
    "cost_table",
    "served_table",
]

MODEL_ORDER = (
    "cart_rule",
    "recency_rule",
    "logistic_regression",
    "linear_svm",
    "random_forest",
    "xgboost",
    "lightgbm",
    "mlp",
    "cnn_sequence",
    "lstm",
    "lstm_attention",
    "lstm_attention_gat",
    "resnet",
    "deep_forest",
    "fused_no_prior",
    "fused",
)
GBDT = ("xgboost", "lightgbm")
#: how a reading is written
READING_TEXT = {"better": "fused better", "worse": "fused worse", "cannot_tell": "cannot tell"}
NOTHING_MEASURABLE = "the data cannot tell whether the ResNet adds anything"


def model_order(names: Any) -> list[str]:
    names = list(names)
    return [n for n in MODEL_ORDER if n in names] + [n for n in names if n not in MODEL_ORDER]


def _ci(ci: dict[str, list[float]] | None, metric: str, fmt: str = ".4f") -> str:
    if not ci or metric not in ci:
        return ""
    lo, hi = ci[metric]
    return f" [{lo:{fmt}}, {hi:{fmt}}]"


def reading_of(paired: dict[str, Any]) -> str:
    """A paired comparison's reading, as written (``fused better``, ``fused worse``,
    ``cannot tell``)."""
    return READING_TEXT[paired.get("reading", "cannot_tell")]


def _diff(p: dict[str, Any], metric: str = "pr_auc") -> str:
    lo, _, hi = p[f"{metric}_diff"]
    return f"{p['point']:+.4f} [{lo:+.4f}, {hi:+.4f}]"


def metrics_table(models: dict[str, dict[str, float]]) -> str:
    """The paper's table layout, with ROC-AUC and PR-AUC added (point values)."""
    lines = ["| model | precision | recall | F1 | ROC-AUC | PR-AUC |", "|---|---|---|---|---|---|"]
    for n in model_order(models):
        m = models[n]
        lines.append(
            f"| {n} | {m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} | "
            f"{m['roc_auc']:.4f} | {m['pr_auc']:.4f} |"
        )
    return "\n".join(lines)


def results_table(summary: dict[str, Any]) -> str:
    """Every model with its 95% intervals (users and seeds resampled), its seeds' PR-AUC
    and how its fits ended (rounds or epochs per seed)."""
    ci = summary.get("ci", {})
    seeds = summary.get("seed_figures", {})
    lines = [
        "| model | PR-AUC [95% CI] | ROC-AUC [95% CI] | F1 [95% CI] | precision | recall | "
        "purchase recall [95% CI] | PR-AUC per seed | rounds / epochs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n in model_order(summary["models"]):
        m, c = summary["models"][n], ci.get(n)
        per_seed = ", ".join(f"{v:.4f}" for v in seeds.get(n, {}).get("pr_auc", [])) or "—"
        fits = m.get("rounds") or m.get("epochs")
        fit = (f"{'rounds' if 'rounds' in m else 'epochs'} " + ", ".join(map(str, fits))) if fits else "—"
        lines.append(
            f"| {n} | {m['pr_auc']:.4f}{_ci(c, 'pr_auc')} | {m['roc_auc']:.4f}{_ci(c, 'roc_auc')} | "
            f"{m['f1']:.4f}{_ci(c, 'f1')} | {m['precision']:.4f} | {m['recall']:.4f} | "
            f"{m['purchase_recall']:.4f}{_ci(c, 'purchase_recall')} | {per_seed} | {fit} |"
        )
    return "\n".join(lines)


def served_table(served: dict[str, Any]) -> str:
    """The served model's own figures (one seed), each with its interval over users."""
    ci = served.get("ci", {})
    lines = [
        "| model | PR-AUC | ROC-AUC | precision | recall | F1 | purchase recall |",
        "|---|---|---|---|---|---|---|",
    ]
    for n in model_order(served["models"]):
        m, c = served["models"][n], ci.get(n)
        lines.append(
            f"| {n} | {m['pr_auc']:.4f}{_ci(c, 'pr_auc')} | {m['roc_auc']:.4f}{_ci(c, 'roc_auc')} | "
            f"{m['precision']:.4f}{_ci(c, 'precision')} | {m['recall']:.4f}{_ci(c, 'recall')} | "
            f"{m['f1']:.4f}{_ci(c, 'f1')} | {m['purchase_recall']:.4f}{_ci(c, 'purchase_recall')} |"
        )
    return "\n".join(lines)


def paired_table(summary: dict[str, Any]) -> str:
    """Fused minus each model, paired on the same resamples, Holm-adjusted."""
    lines = [
        "| fused minus | PR-AUC difference [adjusted interval] | level | p (raw, Holm) | P(fused better) "
        "| reading |",
        "|---|---|---|---|---|---|",
    ]
    for n in model_order(summary.get("paired", {})):
        p = summary["paired"][n]
        lo, _, hi = p["pr_auc_diff"]
        if p["point"] == lo == hi == 0:  # the same scores (fused_no_prior when the prior's weight is 0)
            lines.append(f"| {n} | 0 on every resample | — | — | — | identical |")
            continue
        lines.append(
            f"| {n} | {_diff(p)} | {p['level']:.2%} | {p['p_value']:.4f}, {p['p_holm']:.4f} | "
            f"{p['p_better']:.3f} | {reading_of(p)} |"
        )
    return "\n".join(lines)


def verdict(summary: dict[str, Any]) -> str:
    """Whether the paper's claim (the fusion beats each gradient-boosting baseline) holds,
    and how the fusion stands against every model, read from the Holm-adjusted readings."""
    paired = summary.get("paired", {})
    if not paired:
        return "No paired comparison (no bootstrap was run)."
    rivals = [n for n in model_order(paired) if n not in ("fused_no_prior", "resnet", "deep_forest")]
    better = [n for n in rivals if paired[n]["reading"] == "better"]
    worse = [n for n in rivals if paired[n]["reading"] == "worse"]
    same = [n for n in rivals if paired[n]["reading"] == "cannot_tell"]
    gbdt = [n for n in GBDT if n in paired]
    holds = bool(gbdt) and all(paired[n]["reading"] == "better" for n in gbdt)
    parts = [
        f"**The paper's claim (the fusion beats each gradient-boosting baseline) "
        f"{'holds' if holds else 'does not hold'} here** on test PR-AUC, paired by user, with the seeds' "
        f"variance and Holm's adjustment over {len(paired)} comparisons."
    ]
    if better:
        parts.append(f"The fusion is better than {', '.join(better)}.")
    if same:
        parts.append(
            "The data cannot tell it apart from " + ", ".join(f"{n} ({_diff(paired[n])})" for n in same) + "."
        )
    if worse:
        parts.append(f"It is worse than {', '.join(worse)}.")
    serving = summary.get("serving", {})
    for n in (n for n in worse if n in serving):  # a reference network the fusion loses to
        parts.append(
            f"**{n} beats the fused model** (fused minus {n}: {_diff(paired[n])}). It is not served; "
            f"serving it would take {serving[n]}."
        )
    if "deep_forest" in paired:
        d = paired["deep_forest"]
        says = {
            "better": "the ResNet earns its weight",
            "worse": "the ResNet costs accuracy",
            "cannot_tell": NOTHING_MEASURABLE,
        }[d["reading"]]
        parts.append(
            f"Against its own forest branch alone (the fusion without the ResNet): {_diff(d)}, {says}."
        )
        weights = [r["w_r"] for r in summary.get("fusion", {}).get("per_seed", [])]
        served = summary.get("fusion", {}).get("served_seed")
        w_served = summary.get("fusion", {}).get("w_r")
        if weights and w_served == 0 and any(weights):
            parts.append(
                f"The served model (seed {served}) gives the ResNet no weight (w_r per seed: "
                f"{', '.join(str(w) for w in weights)}): it serves the forest branch alone."
            )
    return " ".join(parts)


def budget_table(at_budget: dict[str, Any], budget: str) -> str:
    """Every model at one budget: precision, purchase recall and lift with intervals."""
    lines = [
        "| model | pairs sent | precision [95% CI] | purchase recall [95% CI] | lift [95% CI] |",
        "|---|---|---|---|---|",
    ]
    for n in model_order(at_budget):
        r = at_budget[n].get(budget)
        if r is None:
            continue
        c = r["ci"]
        lines.append(
            f"| {n} | {r['sent']:,} | {r['precision']:.4f}{_ci(c, 'precision')} | "
            f"{r['purchase_recall']:.3f}{_ci(c, 'purchase_recall', '.3f')} | "
            f"{r['lift']:.1f}{_ci(c, 'lift', '.1f')} |"
        )
    return "\n".join(lines)


def calibration_table(cal: dict[str, Any]) -> str:
    """Brier score and ECE per probabilistic model (mean over seeds, then per seed)."""
    lines = ["| model | Brier | ECE | ECE per seed |", "|---|---|---|---|"]
    for n in model_order(cal):
        c = cal[n]
        per = ", ".join(f"{v:.5f}" for v in c.get("per_seed", {}).get("ece", []))
        lines.append(f"| {n} | {c['brier']:.6f} | {c['ece']:.5f} | {per} |")
    return "\n".join(lines)


def reliability_table(bins: list[dict[str, Any]]) -> str:
    lines = ["| bin | rows | mean probability | purchase rate |", "|---|---|---|---|"]
    lines += [
        f"| {k + 1} | {b['rows']:,} | {b['p_mean']:.5f} | {b['rate']:.5f} |" for k, b in enumerate(bins)
    ]
    return "\n".join(lines)


def cold_table(cold: dict[str, Any], skip: tuple[str, ...] = ()) -> str:
    """Every model on the test days' cold replay: PR-AUC and ROC-AUC with intervals, and
    the Holm-adjusted comparisons with the fused model on each (``skip``: models left out)."""
    ci = cold.get("ci", {})
    by = {"pr_auc": cold.get("paired", {}), "roc_auc": cold.get("paired_roc_auc", {})}
    lines = [
        "| model | PR-AUC [95% CI] | ROC-AUC [95% CI] | fused minus it, PR-AUC [adjusted] | reading | "
        "fused minus it, ROC-AUC [adjusted] | reading |",
        "|---|---|---|---|---|---|---|",
    ]
    for n in model_order(cold.get("models", {})):
        if n in skip:
            continue
        m, c = cold["models"][n], ci.get(n)
        cells = []
        for metric, paired in by.items():
            p = paired.get(n)
            cells.append(f"{_diff(p, metric) if p else '—'} | {reading_of(p) if p else '—'}")
        lines.append(
            f"| {n} | {m['pr_auc']:.4f}{_ci(c, 'pr_auc')} | {m['roc_auc']:.4f}{_ci(c, 'roc_auc')} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def cost_table(summary: dict[str, Any]) -> str:
    """Each trained model's training seconds and scoring microseconds per test pair, per
    seed ("" when the run recorded none)."""
    cost = summary.get("cost", {}).get("models", {})
    if not cost:
        return ""
    lines = [
        "| model | training s per seed | µs per pair per seed (test rows, in batches) | mean µs per pair |",
        "|---|---|---|---|",
    ]
    for n in model_order(cost):
        c = cost[n]
        lines.append(
            f"| {n} | {', '.join(f'{v:g}' for v in c['train_s'])} | "
            f"{', '.join(f'{v:g}' for v in c['us_per_pair'])} | {np.mean(c['us_per_pair']):.2f} |"
        )
    return "\n".join(lines)
