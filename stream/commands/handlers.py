"""What each ``intent`` command does, once :mod:`stream.commands.cli` has parsed it: one
function per command, taking the parsed arguments and returning the exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from stream.config import Settings

__all__ = [
    "CommandError",
    "windowed_data",
    "run_worker",
    "cmd_broker",
    "cmd_worker",
    "cmd_replay",
    "cmd_state",
    "cmd_bench",
    "cmd_coupons",
    "cmd_report",
    "cmd_quality",
    "cmd_demo",
    "cmd_archive",
]


class CommandError(RuntimeError):
    """A user-facing failure: printed as one line, exit status 1."""


def windowed_data(paths: list[str], args: argparse.Namespace) -> Any:
    """The data paths with the ``--since`` / ``--until`` window, for any reader entry point
    (:class:`~stream.domain.window.WindowedPaths`)."""
    from stream.domain.window import TimeWindow, WindowedPaths

    return WindowedPaths(paths, TimeWindow.parse(args.since, args.until))


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
    from stream.io.kafka import check_partitions, check_reachable, ensure_topics

    settings = _settings(args, partitions=args.partitions)
    if settings.model_sync == "kafka":  # this worker's registry copy, from the topic
        from stream.io.model_topic import first_model

        asyncio.run(first_model(settings))
    try:
        verify_artifact(settings.model_dir)
        from stream.runtime.model_loading import challenger_path

        if (challenger := challenger_path(settings)) is not None:
            verify_artifact(challenger)
    except ArtifactError as exc:
        raise CommandError(
            f"{exc} (train one with: intent train DATA --registry {settings.model_dir})"
        ) from None
    asyncio.run(check_reachable(settings))
    asyncio.run(check_partitions(settings))
    asyncio.run(ensure_topics(settings))
    run_worker(settings)
    return 0


def run_worker(settings: Settings) -> None:
    from stream.monitoring.metrics_server import MetricsServer
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


def cmd_state(args: argparse.Namespace) -> int:
    from stream.io.state_dump import changelog_states, offline_states, write_dump

    if bool(args.offline) == bool(args.bootstrap):
        raise CommandError("give exactly one of --bootstrap HOST:PORT or --offline DATA")
    if args.offline:
        from stream.domain.readers import read_clickstream
        from stream.processing.privacy import Pseudonymizer

        key = Settings.from_env().pseudonymize_key
        read = read_clickstream(windowed_data(args.offline, args), args.format, stream=True)
        states = offline_states(read.events, Pseudonymizer(key))
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
    if args.train_scale:
        from stream.bench.train_scale import render_train_scale, run_train_scale

        result = run_train_scale(args.train_scale, quick=args.quick, log=log)
        print(orjson.dumps(result).decode() if args.json else render_train_scale(result))
        if args.json:
            log(render_train_scale(result))
        return 0
    if args.state_scale:
        from stream.bench.state_scale import StateScaleConfig, run_state_scale

        result = run_state_scale(
            StateScaleConfig(users=args.state_scale, store=args.store), settings, log=log
        )
        print(
            orjson.dumps(result).decode()
            if args.json
            else orjson.dumps(result, option=orjson.OPT_INDENT_2).decode()
        )
        return 0
    if args.soak:
        from stream.bench.soak import run_soak

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

    # lateness in the files' own order (an archive's: each day's files in offset order)
    read = read_clickstream(windowed_data(args.data, args), args.format, sort=False, stream=True)
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


def cmd_archive(args: argparse.Namespace) -> int:
    from stream.archive.archiver import ArchiveError, check_archive_dir
    from stream.io.kafka import check_reachable, ensure_topics

    settings = _settings(
        args,
        archive_dir=args.archive_dir,
        archive_roll_events=args.archive_roll_events,
        archive_roll_s=args.archive_roll_s,
        archive_metrics_port=args.archive_metrics_port,
    )
    try:
        check_archive_dir(settings)
    except ArchiveError as exc:
        raise CommandError(str(exc)) from None
    asyncio.run(check_reachable(settings))
    asyncio.run(ensure_topics(settings))
    counts = asyncio.run(_archive_until_stopped(settings, args.until_idle))
    print(
        f"archived {counts.events:,} events of {settings.topic_events} in {counts.files:,} files "
        f"({counts.bytes / 1e6:,.1f} MB) under {settings.archive_dir}; skipped {counts.skipped}"
    )
    return 0


async def _archive_until_stopped(settings: Settings, idle_exit_s: float | None) -> Any:
    """The archive until SIGTERM or Ctrl-C, which close its open files first."""
    import signal

    from stream.archive.archiver import run_archive

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return await run_archive(settings, idle_exit_s=idle_exit_s, stop=stop)
