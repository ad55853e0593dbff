"""``intent``: the command line of the purchase-intent system.

Each command exits non-zero with a one-line reason on bad arguments, a missing file or
an unreachable broker.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stream.config import Settings, SettingsError, describe_env
from stream.domain.readers import FORMATS

__all__ = ["main"]


class CommandError(RuntimeError):
    """A user-facing failure: printed as one line, exit status 1."""


def _speed(text: str) -> float | None:
    if text == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--speed takes a number or 'max', not {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("--speed must be > 0")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    return Settings.from_env(
        bootstrap=getattr(args, "bootstrap", None),
        model_dir=getattr(args, "model", None),
        metrics_port=getattr(args, "metrics_port", None),
        **extra,
    )


def cmd_broker(args: argparse.Namespace) -> int:
    import signal
    import time

    from stream.io.broker import EmbeddedBroker

    broker = EmbeddedBroker(port=args.port).start()
    print(f"embedded broker (Tansu, in memory) listening on {broker.bootstrap}; Ctrl-C stops it", flush=True)
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stop and broker.proc and broker.proc.poll() is None:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        broker.stop()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from models.artifact import ArtifactError, verify_artifact
    from stream.io.kafka import check_reachable, ensure_topics

    settings = _settings(args, partitions=args.partitions)
    try:
        verify_artifact(settings.model_dir)
    except ArtifactError as exc:
        raise CommandError(f"{exc} (train one with: intent train DATA --out {settings.model_dir})") from None
    asyncio.run(check_reachable(settings))
    asyncio.run(ensure_topics(settings))
    run_worker(settings)
    return 0


def run_worker(settings: Settings) -> None:
    from stream.monitoring.metrics import MetricsServer
    from stream.runtime.app import create_worker, faust_worker
    from stream.runtime.membership import evict_predecessor

    worker = create_worker(settings)
    worker.start_loading()  # the model loads while Faust starts and joins the group
    if settings.metrics_port:
        server = MetricsServer(worker.metrics, settings.metrics_host, settings.metrics_port).start()
        print(
            f"metrics on http://{settings.metrics_host}:{server.port}/metrics (health: /healthz)", flush=True
        )
        # The port is ours, so a worker that recorded this identity before is dead: remove
        # the member it left behind rather than wait for its session (stream.runtime.membership).
        worker.lifecycle.evicted = asyncio.run(evict_predecessor(settings))
    faust_worker(worker.app, settings, worker.lifecycle).execute_from_commandline()


def cmd_replay(args: argparse.Namespace) -> int:
    from stream.domain.readers import read_clickstream
    from stream.io.kafka import check_reachable
    from stream.io.replay import replay_events

    settings = _settings(args)
    read = read_clickstream([args.file], args.format)
    events = read.events[: args.limit] if args.limit else read.events
    asyncio.run(check_reachable(settings))
    kafka_ts = (lambda e: e.ts) if args.timestamps == "event" else None
    stats = asyncio.run(
        replay_events(
            events, settings, speed=args.speed, rate=args.rate, progress=not args.quiet, kafka_ts=kafka_ts
        )
    )
    skipped = f"; skipped rows: {dict(read.skipped)}" if read.skipped else ""
    print(
        f"published {stats.sent:,} events to {settings.topic_events} in {stats.seconds:.1f}s "
        f"({stats.events_per_s:,.0f}/s){skipped}"
    )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    import orjson

    from training.pipeline import TrainConfig, train

    cfg = TrainConfig(quick=args.quick, progress=not args.json)
    if args.horizon_min is not None:
        cfg.horizon_ms = int(args.horizon_min * 60_000)
    if args.seeds:
        cfg.seeds = tuple(range(args.seeds))
    log = (lambda m: print(m, file=sys.stderr)) if args.json else print
    report = train(args.data, Path(args.out), args.format, cfg, log=log)
    if args.json:
        keys = (
            "models",
            "n_examples",
            "positive_rate",
            "candidate_recall",
            "touched_share",
            "ci",
            "purchase_recall",
            "n_purchases",
            "paired",
            "seeds",
            "seed_figures",
            "fusion",
            "cost",
            "total_s",
            "peak_rss_mb",
        )
        print(orjson.dumps({k: report[k] for k in keys if k in report}).decode())
    else:
        print((Path(args.out) / "report.md").read_text())
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import orjson

    from training.report import results_table
    from training.scoring import evaluate_artifact

    summary = evaluate_artifact(Path(args.model), args.data, args.format, progress=not args.json)
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


def cmd_state(args: argparse.Namespace) -> int:
    from stream.io.state_dump import changelog_states, offline_states, write_dump

    if bool(args.offline) == bool(args.bootstrap):
        raise CommandError("give exactly one of --bootstrap HOST:PORT or --offline DATA")
    if args.offline:
        from stream.domain.readers import read_clickstream
        from stream.processing.privacy import Pseudonymizer

        key = Settings.from_env().pseudonymize_key
        states = offline_states(read_clickstream(args.offline, args.format).events, Pseudonymizer(key))
    else:
        from stream.io.kafka import check_reachable

        settings = _settings(args)
        asyncio.run(check_reachable(settings))
        states = asyncio.run(changelog_states(settings))
    n = write_dump(states, Path(args.dump))
    print(f"wrote {n:,} users to {args.dump}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    import orjson

    from stream.bench.throughput import BenchConfig, render_table, run_bench

    if args.bootstrap:
        os.environ["INTENT_BENCH_BOOTSTRAP"] = args.bootstrap
    settings = _settings(args)
    log = (lambda m: print(m, file=sys.stderr)) if args.json else print
    if args.failover:
        from stream.bench.failover import run_failover

        result = run_failover(settings, rounds=args.failover, log=log)
        print(
            orjson.dumps(result).decode()
            if args.json
            else f"failover (SIGKILL, restart at once, {result['events']:,} events): ready after "
            f"{result['ready_s']} s, caught up after {result['caught_up_s']} s (worst of "
            f"{len(result['runs'])}); state equals an offline replay: {result['state_matches_offline']}"
        )
        return 0
    if args.soak:
        from stream.bench.throughput import run_soak

        print(orjson.dumps(run_soak(settings, args.soak, log=log)).decode())
        return 0
    result = run_bench(BenchConfig(quick=args.quick), settings, log=log)
    print(orjson.dumps(result).decode() if args.json else render_table(result))
    return 0


def cmd_coupons(args: argparse.Namespace) -> int:
    from stream.commands.coupons import CouponPolicy, run_coupons
    from stream.io.kafka import check_reachable

    settings = _settings(
        args,
        coupon_min_p=args.min_p,
        coupon_max_p=args.max_p,
        coupon_cooldown_s=args.cooldown_s,
        coupon_daily_budget=args.daily_budget,
        coupon_metrics_port=args.coupon_metrics_port,
    )
    asyncio.run(check_reachable(settings))
    counts = asyncio.run(
        run_coupons(
            settings, CouponPolicy.from_settings(settings), Path(args.csv), idle_exit_s=args.until_idle
        )
    )
    granted = counts.get("granted", 0)
    print(
        f"coupons: {sum(counts.values()):,} intents read, {granted:,} coupons granted; by reason "
        f"{dict(sorted(counts.items()))}; decisions in {settings.topic_coupons} and {args.csv}"
    )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    import math
    import urllib.error

    from stream.commands.report import render_run_report

    try:
        summary = render_run_report(args.prometheus, Path(args.out), args.minutes)
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        # only network errors: a missing dashboard file is not Prometheus's fault
        raise CommandError(f"cannot query Prometheus at {args.prometheus}: {exc}") from None

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return "nan" if math.isnan(v) else f"{v:.4g}"
        return str(v)

    print(f"wrote {args.out}: the dashboard's {len(summary)} panels over the last {args.minutes:g} min")
    for title, series in summary.items():
        shown = "; ".join(f"{name}: {fmt(v)}" for name, v in series.items()) or "no data"
        print(f"  {title}: {shown}")
    return 0


def cmd_quality(args: argparse.Namespace) -> int:
    import orjson

    from stream.domain.readers import read_clickstream
    from stream.monitoring.quality import QualityConfig, assess_events

    read = read_clickstream(args.data, args.format, sort=False)  # lateness in the files' own order
    # every skipped row is a defect of the file: unreadable, an unknown type, a bad price, or a
    # time outside the data set's published range
    invalid = sum(read.skipped.values())
    report = assess_events(read.events, invalid, QualityConfig.from_settings(Settings.from_env()))
    report["skipped_rows"] = dict(read.skipped)
    if args.json:
        print(orjson.dumps(report).decode())
        return 0
    print(f"{report['events']:,} events from {len(read.files)} file(s); skipped rows {dict(read.skipped)}")
    for key in (
        "completeness",
        "missing_share",
        "validity",
        "duplicate_share",
        "late_share",
        "future_share",
        "lateness_s",
        "outliers",
        "bot_users",
        "by_source",
        "targets",
    ):
        print(f"  {key}: {report[key]}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from stream.commands.demo import run_demo

    return run_demo(_settings(args), follow=args.follow, speed=args.speed, limit=args.limit)


def build_parser() -> argparse.ArgumentParser:
    env_help = describe_env()
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="intent",
        description="Streaming purchase-intent prediction on Kafka.",
        epilog=env_help,
        formatter_class=fmt,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "broker", help="run the embedded Kafka-compatible broker", epilog=env_help, formatter_class=fmt
    )
    p.add_argument("--port", type=_positive_int, default=9092, help="listen port [9092]")
    p.set_defaults(func=cmd_broker)

    p = sub.add_parser(
        "worker",
        help="run a stream worker (many may share the partitions)",
        epilog=env_help,
        formatter_class=fmt,
    )
    p.add_argument("--bootstrap", help="Kafka bootstrap HOST:PORT [INTENT_BOOTSTRAP]")
    p.add_argument("--model", help="model artifact directory [INTENT_MODEL_DIR]")
    p.add_argument("--metrics-port", type=_positive_int, help="metrics port, 0 = off [INTENT_METRICS_PORT]")
    p.add_argument(
        "--partitions", type=_positive_int, help="partitions of created topics [INTENT_PARTITIONS]"
    )
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser(
        "replay", help="publish a clickstream file to the events topic", epilog=env_help, formatter_class=fmt
    )
    p.add_argument("file", help="clickstream file or directory (plain or gzipped)")
    p.add_argument("--bootstrap", help="Kafka bootstrap HOST:PORT [INTENT_BOOTSTRAP]")
    p.add_argument("--format", choices=FORMATS, help="file format (detected from the header if omitted)")
    p.add_argument("--limit", type=_positive_int, help="publish at most N events")
    p.add_argument(
        "--speed", type=_speed, default=None, help="'max' (default) or X: keep the original gaps divided by X"
    )
    p.add_argument("--rate", type=float, help="fixed events per second instead of --speed")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--timestamps",
        choices=("now", "event"),
        default="now",
        help="Kafka timestamps: when written (now, default) or each event's own time "
        "(event: the file as a topic's history, e.g. to rehearse a first deployment)",
    )
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("train", help="train the fused model and the baselines; write an artifact")
    p.add_argument("data", nargs="+", help="clickstream files or directories")
    p.add_argument("--out", required=True, help="artifact directory to write")
    p.add_argument("--format", choices=FORMATS)
    p.add_argument("--quick", action="store_true", help="a small model in about a minute")
    p.add_argument("--horizon-min", type=float, help="label horizon H in minutes [30]")
    p.add_argument("--seeds", type=_positive_int, help="seeds per model [3; 1 with --quick]")
    p.add_argument("--json", action="store_true", help="print the test-split metrics as JSON")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="score a data set with a trained artifact")
    p.add_argument("data", nargs="+", help="clickstream files or directories")
    p.add_argument("--model", required=True, help="artifact directory")
    p.add_argument("--format", choices=FORMATS)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("state", help="dump every user's feature state (changelog or offline)")
    p.add_argument("--bootstrap", help="read the users changelog at HOST:PORT")
    p.add_argument("--offline", nargs="+", metavar="DATA", help="replay clickstream files instead")
    p.add_argument("--format", choices=FORMATS)
    p.add_argument("--dump", required=True, help="JSON-lines file to write")
    p.set_defaults(func=cmd_state)

    p = sub.add_parser("bench", help="measure throughput, latency, model cost and memory")
    p.add_argument("--bootstrap", help="use this broker instead of the embedded one")
    p.add_argument("--model", help="model artifact directory [INTENT_MODEL_DIR]")
    p.add_argument("--quick", action="store_true", help="a tiny run in seconds (for tests)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--failover",
        type=_positive_int,
        nargs="?",
        const=1,
        default=0,
        metavar="ROUNDS",
        help="failover instead: SIGKILL a worker half-way through the April slice, restart "
        "it, time ready and caught up (ROUNDS times, default 1)",
    )
    p.add_argument(
        "--soak",
        type=float,
        metavar="MINUTES",
        help="soak instead: real data then generated traffic at full speed for MINUTES",
    )
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser(
        "coupons",
        help="marketing consumer: intents -> coupon decisions (topic + CSV)",
        epilog=env_help,
        formatter_class=fmt,
    )
    p.add_argument("--bootstrap", help="Kafka bootstrap HOST:PORT [INTENT_BOOTSTRAP]")
    p.add_argument("--csv", default="coupons.csv", help="CSV file of decisions [coupons.csv]")
    p.add_argument("--min-p", type=float, help="lowest probability that earns a coupon [INTENT_COUPON_MIN_P]")
    p.add_argument("--max-p", type=float, help="highest probability that earns one [INTENT_COUPON_MAX_P]")
    p.add_argument("--cooldown-s", type=float, help="one coupon per user per this [INTENT_COUPON_COOLDOWN_S]")
    p.add_argument(
        "--daily-budget",
        type=_positive_int,
        help="coupons per UTC day of processing [INTENT_COUPON_DAILY_BUDGET]",
    )
    p.add_argument(
        "--metrics-port",
        type=_positive_int,
        dest="coupon_metrics_port",
        help="metrics/health port, 0 = off [INTENT_COUPON_METRICS_PORT]",
    )
    p.add_argument(
        "--until-idle",
        type=float,
        metavar="SECONDS",
        help="exit after this long without a new intent (default: run until stopped)",
    )
    p.set_defaults(func=cmd_coupons)

    p = sub.add_parser("report", help="render the Grafana dashboard's panels to a PNG from Prometheus")
    p.add_argument(
        "--prometheus", default="http://127.0.0.1:9090", help="Prometheus URL [http://127.0.0.1:9090]"
    )
    p.add_argument("--out", default="intent-report.png", help="PNG to write [intent-report.png]")
    p.add_argument("--minutes", type=float, default=15.0, help="time range, minutes back from now [15]")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "quality",
        help="data-quality figures of a clickstream file (before replay or training)",
        epilog=env_help,
        formatter_class=fmt,
    )
    p.add_argument("data", nargs="+", help="clickstream files or directories")
    p.add_argument("--format", choices=FORMATS)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_quality)

    p = sub.add_parser(
        "demo",
        help="broker + model + worker + replay of the sample, intents printed",
        epilog=env_help,
        formatter_class=fmt,
    )
    p.add_argument("--follow", action="store_true", help="keep running after the replay")
    p.add_argument("--speed", type=_speed, default=None, help="replay pacing ('max' default)")
    p.add_argument("--limit", type=_positive_int, help="replay at most N events")
    p.add_argument("--metrics-port", type=_positive_int, help="worker metrics port [INTENT_METRICS_PORT]")
    p.add_argument("--model", help="model artifact directory [INTENT_MODEL_DIR]")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("INTENT_LOG_LEVEL", "WARNING"))
    from models.artifact import ArtifactError
    from stream.domain.readers import ClickstreamError
    from stream.io.broker import BrokerError
    from stream.io.kafka import KafkaUnreachable
    from stream.runtime.faust_version import FaustVersionError

    try:
        return int(args.func(args) or 0)
    except (
        CommandError,
        SettingsError,
        ArtifactError,
        BrokerError,
        KafkaUnreachable,
        ClickstreamError,
        FaustVersionError,
        FileNotFoundError,
        ValueError,
    ) as exc:
        print(f"intent {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
