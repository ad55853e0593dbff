"""``intent``: the command line of the purchase-intent system.

Each command exits non-zero with a one-line reason on bad arguments, a missing file or
an unreachable broker.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from stream.commands.handlers import (
    CommandError,
    cmd_archive,
    cmd_bench,
    cmd_broker,
    cmd_coupons,
    cmd_demo,
    cmd_quality,
    cmd_replay,
    cmd_report,
    cmd_state,
    cmd_worker,
)
from stream.commands.model_commands import cmd_compare, cmd_models, cmd_skew
from stream.commands.train_commands import cmd_evaluate, cmd_train
from stream.config import SettingsError, describe_env
from stream.domain.readers import FORMATS

__all__ = ["main"]


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


def _window(p: argparse.ArgumentParser) -> None:
    """``--since`` / ``--until``: the events of a time range only."""
    p.add_argument("--since", help="events at or after this date or ISO time (no offset: the data's own day)")
    p.add_argument("--until", help="events before this date or ISO time (a date: that day's start)")


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
    where = p.add_mutually_exclusive_group()
    where.add_argument("--out", help="a plain artifact directory to write (a registry: a new version in it)")
    where.add_argument("--registry", help="a new version in this registry [INTENT_MODEL_DIR]")
    p.add_argument("--promote", action="store_true", help="serve the new version at once (registry)")
    p.add_argument("--format", choices=FORMATS, help="detected unless given (parquet: an event archive)")
    _window(p)
    p.add_argument("--quick", action="store_true", help="a small model in about a minute")
    p.add_argument("--horizon-min", type=float, help="label horizon H in minutes [30]")
    p.add_argument("--seeds", type=_positive_int, help="seeds per model [3; 1 with --quick]")
    p.add_argument("--json", action="store_true", help="print the test-split metrics as JSON")
    p.add_argument(
        "--serve",
        action="store_true",
        help="the production refresh: fit only the served model (one seed, the served one's configuration), "
        "judge it on the test days and compare it with the artifact served now, paired by user",
    )
    p.add_argument(
        "--compare-with",
        help="with --serve: the artifact or registry to compare with [the registry's current version]",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="score a data set with a trained artifact")
    p.add_argument("data", nargs="+", help="clickstream files or directories")
    p.add_argument("--model", required=True, help="artifact directory")
    p.add_argument("--format", choices=FORMATS, help="detected unless given (parquet: an event archive)")
    _window(p)
    p.add_argument(
        "--part",
        choices=("all", "test"),
        default="all",
        help="judge all of the data (default) or only the artifact's own test days (its training run's "
        "split: on its training data, the run's 'served' figures)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("models", help="the model registry: list, promote, rollback, prune", epilog=env_help)
    p.add_argument("action", choices=("list", "promote", "rollback", "prune"))
    p.add_argument("version", nargs="?", help="the version to promote")
    p.add_argument("--registry", help="registry directory [INTENT_MODEL_DIR]")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("compare", help="champion vs challenger on the same live window, with intervals")
    p.add_argument("--bootstrap", help="read the topics at HOST:PORT [INTENT_BOOTSTRAP]")
    p.add_argument("--prometheus", help="from Prometheus at URL instead (outcomes by role and version)")
    p.add_argument("--window", default="1h", help="Prometheus range of the outcomes [1h]")
    p.add_argument("--horizon-min", type=float, help="label horizon [the served model's]")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("skew", help="logged live features against the same features recomputed offline")
    p.add_argument("data", nargs="+", help="the clickstream the logged pairs came from")
    p.add_argument("--bootstrap", help="read the feature log at HOST:PORT [INTENT_BOOTSTRAP]")
    p.add_argument("--model", help="registry or artifact (catalogue) [INTENT_MODEL_DIR]")
    p.add_argument("--format", choices=FORMATS)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_skew)

    p = sub.add_parser("state", help="dump every user's feature state (changelog or offline)")
    p.add_argument("--bootstrap", help="read the users changelog at HOST:PORT")
    p.add_argument("--offline", nargs="+", metavar="DATA", help="replay clickstream files instead")
    p.add_argument("--format", choices=FORMATS, help="of --offline DATA (parquet: an event archive)")
    _window(p)
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
    p.add_argument(
        "--train-scale",
        type=_positive_int,
        metavar="EVENTS",
        help="training at scale instead: EVENTS generated events of Taobao's shape into an archive, then "
        "intent train --serve timed per stage with peak RSS (seconds per million events)",
    )
    p.add_argument(
        "--state-scale",
        type=_positive_int,
        metavar="USERS",
        help="state at scale instead: USERS generated users with realistic histories through "
        "the worker, then SIGKILL and restart (events/s, RSS a user, restore rate)",
    )
    p.add_argument(
        "--store",
        choices=("memory", "rocksdb"),
        default="memory",
        help="the worker's table store for --state-scale (default memory)",
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

    p = sub.add_parser(
        "archive",
        help="keep the events topic as Parquet files by event day (training reads them back)",
        epilog=env_help,
        formatter_class=fmt,
    )
    p.add_argument("--bootstrap", help="Kafka bootstrap HOST:PORT [INTENT_BOOTSTRAP]")
    p.add_argument("--dir", dest="archive_dir", help="archive directory [INTENT_ARCHIVE_DIR]")
    p.add_argument(
        "--roll-events",
        type=_positive_int,
        dest="archive_roll_events",
        help="close a partition's files at this many events [INTENT_ARCHIVE_ROLL_EVENTS]",
    )
    p.add_argument(
        "--roll-s",
        type=float,
        dest="archive_roll_s",
        help="... or this many seconds after their first event [INTENT_ARCHIVE_ROLL_S]",
    )
    p.add_argument(
        "--metrics-port",
        type=_positive_int,
        dest="archive_metrics_port",
        help="metrics/health port, 0 = off [INTENT_ARCHIVE_METRICS_PORT]",
    )
    p.add_argument(
        "--until-idle",
        type=float,
        metavar="SECONDS",
        help="close every file and exit after this long without a message (default: run until stopped)",
    )
    p.set_defaults(func=cmd_archive)

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
    p.add_argument("--format", choices=FORMATS, help="detected unless given (parquet: an event archive)")
    _window(p)
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
    from models.registry import RegistryError
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
        RegistryError,
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
