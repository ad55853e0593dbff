"""``intent train`` and ``intent evaluate``, once :mod:`stream.commands.cli` has parsed
them: the research protocol or the production refresh (``--serve``), into a registry or a
plain artifact; and an artifact judged on a data set.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from stream.commands.handlers import windowed_data
from stream.config import Settings

__all__ = ["cmd_train", "cmd_evaluate"]


#: what ``intent train --json`` prints of the run's report
TRAIN_JSON_KEYS = (
    "models n_examples positive_rate candidate_recall touched_share ci purchase_recall n_purchases "
    "paired at_budget calibration served cold_replay thresholds sample_weights warnings seeds "
    "seed_figures fusion split cost total_s peak_rss_mb"
).split()


def _trainer(args: argparse.Namespace, data: Any, cfg: Any, log: Any, served: Path | None) -> Any:
    """``intent train``'s run as a function of the directory it writes: the research
    protocol, or with ``--serve`` the production refresh (compared with ``served``)."""
    if args.serve:
        from training.refresh import train_serve

        return lambda out: train_serve(data, out, args.format, cfg, log=log, served=served)
    from training.pipeline import train

    return lambda out: train(data, out, args.format, cfg, log=log)


def cmd_train(args: argparse.Namespace) -> int:
    import orjson

    from models.registry import ModelRegistry, is_registry
    from stream.commands.model_commands import train_into_registry
    from training.pipeline import TrainConfig

    settings = Settings.from_env()
    cfg = TrainConfig(quick=args.quick, progress=not args.json)
    cfg.workers, cfg.cluster = settings.train_workers, settings.train_cluster or None
    if args.horizon_min is not None:
        cfg.horizon_ms = int(args.horizon_min * 60_000)
    if args.seeds:
        cfg.seeds = tuple(range(args.seeds))
    log = (lambda m: print(m, file=sys.stderr)) if args.json else print
    data = windowed_data(args.data, args)
    out = Path(args.out) if args.out else None
    if args.compare_with and not args.serve:
        raise SystemExit("intent train: --compare-with goes with --serve")
    served = Path(args.compare_with) if args.compare_with else None
    if out is None or is_registry(out):  # a new version beside the others, never over the served one
        root = out or Path(args.registry or settings.model_dir)
        if served is None and is_registry(root) and ModelRegistry(root).current() is not None:
            served = root  # the registry's current version
        report = train_into_registry(root, _trainer(args, data, cfg, log, served), args.promote, log)
        args.out = str(root / "versions" / report["model_version"])
    else:
        report = _trainer(args, data, cfg, log, served)(out)
    if args.serve:
        print(orjson.dumps(report).decode() if args.json else (Path(args.out) / "report.md").read_text())
        return 0
    if args.json:
        print(orjson.dumps({k: report[k] for k in TRAIN_JSON_KEYS if k in report}).decode())
    else:
        print((Path(args.out) / "report.md").read_text())
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import orjson

    from training.protocol.report import results_table
    from training.protocol.served import evaluate_artifact

    summary = evaluate_artifact(
        Path(args.model),
        windowed_data(args.data, args),
        args.format,
        progress=not args.json,
        part=getattr(args, "part", "all"),
    )
    if args.json:
        print(orjson.dumps(summary).decode())
    else:
        print(results_table(summary))
        print(
            f"\n{summary['n_examples']:,} examples, positive rate {summary['positive_rate']:.4%}; "
            f"{summary['n_purchases']} purchases, candidate recall {summary['candidate_recall']} "
            f"(ceiling: touched before {summary['touched_share']})"
        )
    return 0
