"""The report's plots, PNG bytes by file name, each drawn from the report dict.

``pr_curves.png`` (the served seed's test scores), ``resnet_curve.png`` (each seed's
validation curve, raw and smoothed), ``boosters.png`` (the boosters' validation curves
and the rounds kept), ``networks.png`` (the reference networks' curves),
``fusion_weight.png``, ``forest_sweep.png`` and ``reliability.png`` (the served model's
calibration on the test days).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from training.protocol.report_tables import model_order

__all__ = ["plots"]


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def plots(report: dict[str, Any], y_test: np.ndarray, scores: dict[str, np.ndarray]) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    files: dict[str, bytes] = {}
    fig, ax = plt.subplots(figsize=(6, 5))
    if 0 < y_test.sum() < len(y_test):
        for name in model_order(scores):
            prec, rec, _ = precision_recall_curve(y_test, scores[name])
            ax.plot(rec, prec, label=name, lw=2.5 if name == "fused" else 1.0)
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall on the test days (served seed)")
    ax.legend(fontsize=7)
    files["pr_curves.png"] = _png(fig)

    curves = report["curves"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for k, c in enumerate(curves["resnet"]):
        ax.plot(c["val_pr_auc"], marker=".", color=f"C{k}", alpha=0.5, label=f"seed {k}: raw")
        ax.plot(c.get("val_pr_auc_smoothed", []), color=f"C{k}", label="smoothed")
        ax.axvline(c.get("kept_epoch", 1) - 1, color=f"C{k}", ls=":")
    ax.set(xlabel="epoch", ylabel="validation PR-AUC", title="ResNet branch: smoothed early stopping")
    ax.legend(fontsize=7)
    files["resnet_curve.png"] = _png(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for k, (name, c) in enumerate(curves.get("boosters", {}).items()):
        x = np.arange(len(c["val_pr_auc"])) * c["every"] + 1
        ax.plot(x, c["val_pr_auc"], color=f"C{k}", label=name)
        ax.axvline(c["rounds_kept"], color=f"C{k}", ls=":")
    ax.set(xlabel="round", ylabel="validation PR-AUC", title="Boosters (first seed): rounds kept (dotted)")
    ax.legend(fontsize=7)
    files["boosters.png"] = _png(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for k, (name, c) in enumerate(curves.get("networks", {}).items()):
        ax.plot(c["val_pr_auc"], color=f"C{k}", alpha=0.4, marker=".")
        ax.plot(c["smoothed"], color=f"C{k}", label=f"{name} (kept: epoch {c['kept_epoch']})")
    ax.set(xlabel="epoch", ylabel="validation PR-AUC", title="Reference networks (first seed)")
    ax.legend(fontsize=7)
    files["networks.png"] = _png(fig)

    fig, ax = plt.subplots(figsize=(5, 3.5))
    w = curves["fusion_weight"]
    x = [r["w_r"] for r in w]
    ax.plot(x, [r["val_pr_auc"] for r in w], marker="o")
    ax.fill_between(x, [r["ci"][0] for r in w], [r["ci"][1] for r in w], alpha=0.2)
    ax.set(
        xlabel="w_r (ResNet weight)",
        ylabel="validation PR-AUC (95% CI)",
        title="Fusion of calibrated branches",
    )
    files["fusion_weight.png"] = _png(fig)

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for r in report["tuning"]["forest"]["points"]:
        ax.scatter(r["us_per_pair"], r["val_pr_auc"], marker="*" if r.get("chosen") else "o")
        ax.annotate(
            f"depth {r['max_depth']}, {r['n_trees']} trees, {r['levels']} lv",
            (r["us_per_pair"], r["val_pr_auc"]),
            fontsize=7,
        )
    ax.set(
        xlabel="µs per scored pair (validation, batch)",
        ylabel="validation PR-AUC",
        title="Deep forest: cost vs accuracy",
    )
    files["forest_sweep.png"] = _png(fig)

    bins = report.get("served", {}).get("calibration", {}).get("fused", {}).get("bins", [])
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    if bins:
        ax.plot(
            [b["p_mean"] for b in bins], [b["rate"] for b in bins], marker="o", label="served fused model"
        )
        top = max(max(b["p_mean"] for b in bins), max(b["rate"] for b in bins)) * 1.05
        ax.plot([0, top], [0, top], color="grey", ls=":", label="perfect")
    ax.set(
        xlabel="mean probability (bin)", ylabel="purchase rate (bin)", title="Reliability on the test days"
    )
    ax.legend(fontsize=7)
    files["reliability.png"] = _png(fig)
    return files
