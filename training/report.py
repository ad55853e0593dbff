"""The training report: ``report.md``, ``metrics.json`` and PNG plots in the artifact."""
from __future__ import annotations

import io
from typing import Any

import numpy as np
import orjson

__all__ = ["render_report", "metrics_table"]

PAPER_ORDER = ("linear_svm", "random_forest", "xgboost", "lightgbm", "logistic_regression",
               "lstm_attention", "resnet", "deep_forest", "fused_no_prior", "fused")


def metrics_table(models: dict[str, dict[str, float]]) -> str:
    """The paper's table layout, with ROC-AUC and PR-AUC added."""
    lines = ["| model | precision | recall | F1 | ROC-AUC | PR-AUC |", "|---|---|---|---|---|---|"]
    names = [n for n in PAPER_ORDER if n in models] + [n for n in models if n not in PAPER_ORDER]
    for n in names:
        m = models[n]
        lines.append(f"| {n} | {m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} | "
                     f"{m['roc_auc']:.4f} | {m['pr_auc']:.4f} |")
    return "\n".join(lines)


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _cost_accuracy_png(rows: list[dict[str, Any]], knob: str, title: str, log_cost: bool = False) -> bytes:
    """One point per setting of ``knob``: its cost per scored pair against validation PR-AUC."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot([r["us_per_pair"] for r in rows], [r["val_pr_auc"] for r in rows], marker="o")
    for r in rows:
        ax.annotate(f"{knob} {r[knob]}", (r["us_per_pair"], r["val_pr_auc"]), fontsize=7)
    ax.set(xlabel="µs per scored pair (batch)", ylabel="validation PR-AUC", title=title)
    if log_cost:
        ax.set_xscale("log")
    return _png(fig)


def render_report(report: dict[str, Any], y_test: np.ndarray, scores: dict[str, np.ndarray]) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    files: dict[str, bytes] = {}
    fig, ax = plt.subplots(figsize=(6, 5))
    if 0 < y_test.sum() < len(y_test):
        for name, p in scores.items():
            prec, rec, _ = precision_recall_curve(y_test, p)
            ax.plot(rec, prec, label=name, lw=2.5 if name == "fused" else 1.2)
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall on the test split")
    ax.legend(fontsize=7)
    files["pr_curves.png"] = _png(fig)

    curves = report["curves"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(curves["resnet_loss"], lw=0.8)
    ax.set(xlabel="step", ylabel="BCE loss", title="ResNet training loss")
    files["resnet_loss.png"] = _png(fig)

    fig, ax = plt.subplots(figsize=(5, 3.5))
    d = curves["forest_depth"]
    ax.plot([r["max_depth"] for r in d], [r["val_f1"] for r in d], marker="o")
    ax.set(xlabel="max tree depth", ylabel="validation F1", title="Deep forest: F1 vs max depth")
    files["forest_depth.png"] = _png(fig)

    fig, ax = plt.subplots(figsize=(5, 3.5))
    w = curves["fusion_weight"]
    ax.plot([r["w_r"] for r in w], [r["val_f1"] for r in w], marker=".")
    ax.set(xlabel="w_r (ResNet weight)", ylabel="validation F1", title="Fusion weight sweep")
    files["fusion_weight.png"] = _png(fig)

    s = curves["forest_stride"]
    files["forest_stride.png"] = _cost_accuracy_png(s, "stride", "Scanning cost vs accuracy", log_cost=True)
    files["forest_trees.png"] = _cost_accuracy_png(curves.get("forest_trees", []), "n_trees",
                                                   "Trees per forest: cost vs accuracy")

    models = report["models"]
    fused = models["fused"]
    rivals = {n: m for n, m in models.items() if n not in ("fused", "fused_no_prior")}
    beaten = [n for n, m in rivals.items() if fused["f1"] > m["f1"]]
    not_beaten = [n for n in rivals if n not in beaten]
    verdict = (
        "The fusion beats every other model on test F1."
        if not not_beaten
        else f"The paper's claim does NOT hold here: the fusion's test F1 ({fused['f1']:.4f}) does not "
        f"beat {', '.join('%s (%.4f)' % (n, rivals[n]['f1']) for n in not_beaten)}."
    )
    split = report["split"]
    md = [
        f"# Training report — model {report['model_version']}",
        "",
        f"Data: {', '.join(report['data']['files'])}; {report['data']['n_events']:,} events, "
        f"{report['data']['users']:,} users (skipped rows: {report['data']['skipped']}).",
        f"Examples (user, moment, candidate item): train {split['train']:,} ({split['train_pos']} positive; "
        f"{split['train_sampled']:,} after negative sampling), validation {split['val']:,} "
        f"({split['val_pos']} positive), test {split['test']:,} ({split['test_pos']} positive, "
        f"rate {report['positive_rate']:.4%}, untouched).",
        f"Candidate recall on test purchases: {report['candidate_recall']} (caps every model's recall).",
        f"Fusion: w_r = {report['fusion']['w_r']}, w_f = {report['fusion']['w_f']}, "
        f"t_p = {report['fusion']['threshold']:.4f} (chosen on validation).",
        "",
        "## Test split (thresholds chosen on validation)",
        "",
        metrics_table(models),
        "",
        verdict,
        "",
        "## Validation split",
        "",
        metrics_table(report["validation"]),
        "",
        "## Deep forest: scanning stride vs cost (validation)",
        "",
        "| stride | windows | fit s | µs/pair | F1 | PR-AUC |",
        "|---|---|---|---|---|---|",
        *[f"| {r['stride']} | {r['windows']} | {r['fit_s']} | {r['us_per_pair']} | {r['val_f1']} | "
          f"{r['val_pr_auc']} |" for r in s],
        "",
        "## By user activity (test split; cold start = fewer than 5 events)",
        "",
        f"Cold start: the fusion blends a prior from item and session signals into cold users' "
        f"probability with weight {report['fusion'].get('cold_start_weight', 0.0)} (chosen on the "
        f"validation split's cold users; `models/cold_start.py`). `fused_no_prior` is the fusion without it.",
        "",
        "| bucket | model | rows | positives | precision | recall | F1 | PR-AUC |",
        "|---|---|---|---|---|---|---|---|",
        *[f"| {r['bucket']} | {r['model']} | {r['rows']:,} | {r['positives']} | {r['precision']:.4f} | "
          f"{r['recall']:.4f} | {r['f1']:.4f} | {r['pr_auc']:.4f} |" for r in report.get("by_activity", [])],
        "",
        "## Deep forest: trees per forest vs cost (validation; served stride)",
        "",
        "| trees | fit s | µs/pair | F1 | PR-AUC |",
        "|---|---|---|---|---|",
        *[f"| {r['n_trees']} | {r['fit_s']} | {r['us_per_pair']} | {r['val_f1']} | {r['val_pr_auc']} |"
          for r in curves.get("forest_trees", [])],
        "",
        "## Deep forest: max depth (validation F1)",
        "",
        " ".join(f"depth {r['max_depth']}: {r['val_f1']};" for r in d),
        "",
        "Plots: pr_curves.png, resnet_loss.png, forest_depth.png, fusion_weight.png, forest_stride.png, "
        "forest_trees.png.",
        "",
        f"Timings (s): {report['timings_s']}",
    ]
    files["report.md"] = "\n".join(md).encode()
    files["metrics.json"] = orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
    return files
