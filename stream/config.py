"""One typed settings object, read from ``INTENT_*`` environment variables.

Every tunable of the system lives here, with a default that works for the embedded
setup (local Tansu broker, bundled sample data). Command-line flags override the
environment by passing keyword overrides to :meth:`Settings.from_env`.

>>> s = Settings.from_env({"INTENT_PARTITIONS": "8", "INTENT_BOOTSTRAP": "k1:9092"})
>>> s.partitions, s.bootstrap
(8, 'k1:9092')
>>> s.topics.events
'events'
>>> Settings.from_env({"INTENT_PARTITIONS": "eight"})
Traceback (most recent call last):
...
stream.config.SettingsError: INTENT_PARTITIONS: expected int, got 'eight'
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = [
    "Settings",
    "Topics",
    "SettingsError",
    "REPO_ROOT",
    "describe_env",
    "USERS_TABLE",
    "ITEMS_TABLE",
    "GATES_TABLE",
    "SOURCES_TABLE",
    "CHALLENGER_GATES_TABLE",
    "TABLES",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
# Default file locations: beside the code in a source checkout; for an installed
# package (REPO_ROOT is then site-packages) relative to the working directory.
_CHECKOUT = (REPO_ROOT / "pyproject.toml").is_file()
DEFAULT_MODEL_DIR = (REPO_ROOT if _CHECKOUT else Path()) / "artifacts" / "registry"
DEFAULT_ARCHIVE_DIR = (REPO_ROOT if _CHECKOUT else Path()) / "data" / "archive"
DEFAULT_SAMPLE_DATA = (
    (REPO_ROOT.parent if _CHECKOUT else Path("..")) / "shared" / "data" / "jdata-2016-sample"
)
PREFIX = "INTENT_"


class SettingsError(ValueError):
    """A setting has a value of the wrong type or out of range."""


#: the worker's tables; each has a changelog topic (:meth:`Settings.changelog_topic`)
USERS_TABLE, ITEMS_TABLE, GATES_TABLE, SOURCES_TABLE = "users", "items", "gates", "sources"
CHALLENGER_GATES_TABLE = "challenger-gates"  # the shadow-scored model's gates
TABLES = (USERS_TABLE, ITEMS_TABLE, GATES_TABLE, SOURCES_TABLE, CHALLENGER_GATES_TABLE)
#: the table stores INTENT_STORE may name (stream.store.stores)
STORES = ("memory://", "rocksdb://")


@dataclass(frozen=True)
class Topics:
    """Kafka topic names: the single source of truth, imported everywhere."""

    events: str = "events"
    dlq: str = "events-dlq"
    intents: str = "purchase-intent"
    item_events: str = "events-by-item"
    coupons: str = "coupons"
    shadow_intents: str = "purchase-intent-shadow"
    feature_log: str = "feature-log"

    def names(self) -> tuple[str, ...]:
        """Every topic we create (tables' changelogs are Faust's own)."""
        return dataclasses.astuple(self)


def _opt(default: Any, help: str, secret: bool = False) -> Any:
    """A setting: its default and its help text (``--help`` and the README say the same)."""
    return field(default=default, metadata={"help": help, **({"secret": 1} if secret else {})})


@dataclass(frozen=True)
class Settings:
    """Runtime configuration. Field ``x`` is read from ``INTENT_X``."""

    bootstrap: str = _opt("127.0.0.1:9092", "Kafka bootstrap servers")
    app_id: str = _opt("intent-worker", "consumer group / Faust app id")
    partitions: int = _opt(4, "partitions of topics we create")
    replication: int = _opt(1, "replication factor of created topics")
    topic_events: str = _opt("events", "input clickstream topic")
    topic_dlq: str = _opt("events-dlq", "dead-letter topic")
    topic_intents: str = _opt("purchase-intent", "output topic")
    topic_item_events: str = _opt("events-by-item", "valid events re-keyed by item")
    topic_coupons: str = _opt("coupons", "coupon decisions (intent coupons)")
    topic_shadow_intents: str = _opt("purchase-intent-shadow", "the challenger's would-be intents")
    topic_feature_log: str = _opt("feature-log", "a sample of scored pairs with their features")
    topic_models: str = _opt("model-registry", "model versions and the current pointer (sync=kafka)")
    coupon_min_p: float = _opt(0.0, "coupons: lowest intent probability")
    coupon_max_p: float = _opt(1.0, "coupons: highest intent probability (above: buys anyway)")
    coupon_cooldown_s: float = _opt(86400.0, "coupons: at most one per user per this (event time)")
    coupon_daily_budget: int = _opt(1000, "coupons: most per UTC day of processing")
    coupon_metrics_port: int = _opt(9109, "coupons: metrics/health port (0 = off)")
    coupon_pacing: str = _opt("quantile", "coupons: quantile (the day's best, paced) | fcfs (arrival order)")
    archive_dir: Path = _opt(DEFAULT_ARCHIVE_DIR, "intent archive: its directory (date=YYYY-MM-DD/*.parquet)")
    archive_roll_events: int = _opt(1_000_000, "intent archive: most events in a partition's open files")
    archive_roll_s: float = _opt(300.0, "intent archive: ... or this long after their first (then committed)")
    archive_utc_offset_h: float = _opt(0.0, "intent archive: its days' time zone, hours east of UTC (JD: 8)")
    archive_metrics_port: int = _opt(9110, "intent archive: metrics/health port (0 = off)")
    quality_expected_fields: str = _opt("category_id,price", "fields an event should carry (completeness)")
    late_grace_s: float = _opt(300.0, "events later than this are late")
    outlier_sigmas: float = _opt(3.0, "outlier bound in rolling sigmas")
    bot_min_per_minute: int = _opt(60, "events per user per minute before a user can be marked a bot")
    exclude_outliers: int = _opt(0, "1: keep price-outlier events out of the features")
    model_dir: Path = _opt(DEFAULT_MODEL_DIR, "model registry (serves its current version) or artifact")
    model_keep: int = _opt(5, "registry: versions kept (never the served one, its predecessor, a challenger)")
    train_workers: int | None = _opt(None, "intent train: processes building examples; unset = every core")
    train_cluster: str = _opt("", "intent train: a Dask scheduler (tcp://HOST:PORT) building examples")
    model_sync: str = _opt("", "registry: empty = the directory alone | kafka: mirror INTENT_TOPIC_MODELS")
    challenger: str = _opt("", "registry version shadow-scored beside the served one; empty = none")
    target_intents_per_day: float | None = _opt(None, "intents a day for the fleet: sets the threshold")
    feature_log_rate: float = _opt(0.001, "share of scored pairs logged with features (0 = off)")
    sample_data: Path = _opt(DEFAULT_SAMPLE_DATA, "clickstream the demo replays and trains on")
    metrics_host: str = _opt("127.0.0.1", "metrics/health bind address")
    metrics_port: int = _opt(9108, "metrics/health port (0 = off)")
    threshold: float | None = _opt(None, "intent threshold; unset (or empty): the served model's t_p")
    horizon_min: float | None = _opt(
        None, "minutes an intent waits for its purchase; unset: the served model's"
    )
    cooldown_s: float = _opt(3600.0, "re-publish an intent above threshold after this")
    max_intent_age_s: float = _opt(
        600.0, "no intent for an event older than this (Kafka timestamp); 0 = no limit"
    )
    batch_size: int = _opt(1024, "max events per scoring micro-batch")
    batch_ms: float = _opt(5.0, "max wait to fill a micro-batch")
    backlog_batch_size: int = _opt(8192, "max events per micro-batch while this many wait (a backlog)")
    item_window_ms: float = _opt(1000.0, "item activity gathered before the items table is written")
    backlog_linger_ms: float = _opt(250.0, "max wait to fill a backlog's micro-batch")
    max_candidates: int = _opt(32, "items scored per user: open carts, then the most recent")
    scoring: str = _opt("process", "process: the model runs in a child process (its own GIL) | thread")
    model_threads: int = _opt(1, "threads the model may use per scoring call")
    model_poll_s: float = _opt(5.0, "how often the worker looks for a new model (or registry pointer)")
    store: str = _opt("memory://", "table store: memory:// | rocksdb:// (on disk in INTENT_DATA_DIR)")
    data_dir: Path = _opt(
        Path("/tmp/intent-worker"), "worker data: RocksDB, member id; a folder per identity"
    )
    state_ttl_days: float = _opt(30.0, "users/items unseen this long (event time) are removed; 0 = never")
    state_sweep_s: float = _opt(300.0, "how often the worker looks for state past the retention")
    state_cache: int = _opt(1024, "decoded user states kept in memory (the latest touched)")
    standby_replicas: int = _opt(0, "standby copies of each table partition kept by other workers")
    rocksdb_cache_mb: int = _opt(256, "RocksDB: block cache shared by every table (memtables charged to it)")
    session_timeout_s: float = _opt(
        10.0,
        "consumer session timeout: a worker that stops heartbeating loses its partitions after this "
        "(heartbeats every tenth of it)",
    )
    instance_id: str = _opt(
        "auto",
        "the worker's identity across restarts: a worker starting under it first removes the group "
        "member its dead predecessor left behind; auto = HOSTNAME-METRICS_PORT (none when the metrics "
        "port is 0); empty = none",
    )
    fetch_max_wait_ms: int = _opt(10, "longest a fetch waits (the embedded broker never answers early)")
    fetch_max_bytes: int = _opt(
        8 * 1024 * 1024,
        "most a fetch takes from one partition (1 MiB, the clients' default, left a worker in a backlog "
        "waiting for its next batch)",
    )
    security_protocol: str = _opt("PLAINTEXT", "PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL")
    sasl_mechanism: str = _opt("", "PLAIN | SCRAM-SHA-256 | ...")
    sasl_username: str = _opt("", "SASL user")
    sasl_password: str = _opt("", "SASL password (or INTENT_SASL_PASSWORD_FILE)", secret=True)
    pseudonymize_key: str = _opt(
        "", "key for pseudonymising user ids (or INTENT_PSEUDONYMIZE_KEY_FILE); empty = off", secret=True
    )
    ssl_cafile: str = _opt("", "CA bundle for SSL")
    ssl_certfile: str = _opt("", "client certificate for SSL")
    ssl_keyfile: str = _opt("", "client key for SSL")
    log_level: str = _opt("WARNING", "worker log level")

    @property
    def topics(self) -> Topics:
        return Topics(
            events=self.topic_events,
            dlq=self.topic_dlq,
            intents=self.topic_intents,
            item_events=self.topic_item_events,
            coupons=self.topic_coupons,
            shadow_intents=self.topic_shadow_intents,
            feature_log=self.topic_feature_log,
        )

    @property
    def archive_day_offset_ms(self) -> int:
        """Where the archive's day starts, from UTC midnight (as the readers' day offsets)."""
        return -round(self.archive_utc_offset_h * 3_600_000)

    def changelog_topic(self, table: str) -> str:
        """Faust's name for a table's changelog topic."""
        return f"{self.app_id}-{table}-changelog"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``env`` (default ``os.environ``); non-None overrides win."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = PREFIX + f.name.upper()
            raw = env.get(name)
            if f.metadata.get("secret") and raw is None and env.get(name + "_FILE"):
                raw = Path(env[name + "_FILE"]).read_text().strip()
            if raw is not None:
                values[f.name] = _convert(name, f.type, raw)
        for key, value in overrides.items():
            if value is not None:
                values[key] = _convert(PREFIX + key.upper(), _type_of(key), value)
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        if self.partitions < 1:
            raise SettingsError(f"INTENT_PARTITIONS: must be >= 1, got {self.partitions}")
        if self.batch_size < 1:
            raise SettingsError(f"INTENT_BATCH_SIZE: must be >= 1, got {self.batch_size}")
        if self.fetch_max_bytes < 1024:
            raise SettingsError(f"INTENT_FETCH_MAX_BYTES: must be >= 1024, got {self.fetch_max_bytes}")
        if self.backlog_linger_ms < 0:
            raise SettingsError(f"INTENT_BACKLOG_LINGER_MS: must be >= 0, got {self.backlog_linger_ms}")
        for name in ("metrics_port", "coupon_metrics_port", "archive_metrics_port"):
            if not 0 <= getattr(self, name) <= 65535:
                raise SettingsError(f"INTENT_{name.upper()}: not a port: {getattr(self, name)}")
        if not 0 <= self.coupon_min_p <= self.coupon_max_p <= 1:
            raise SettingsError(
                "INTENT_COUPON_MIN_P/MAX_P: need 0 <= min <= max <= 1, got "
                f"{self.coupon_min_p}, {self.coupon_max_p}"
            )
        for name, allowed in (
            ("scoring", ("process", "thread")),
            ("coupon_pacing", ("quantile", "fcfs")),
            ("model_sync", ("", "kafka")),
        ):
            if getattr(self, name) not in allowed:
                raise SettingsError(f"INTENT_{name.upper()}: one of {allowed}, got {getattr(self, name)!r}")
        if not 0 <= self.feature_log_rate <= 1 or (self.target_intents_per_day or 0) < 0:
            raise SettingsError("INTENT_FEATURE_LOG_RATE in [0, 1] and INTENT_TARGET_INTENTS_PER_DAY >= 0")
        if self.max_intent_age_s < 0:
            raise SettingsError(f"INTENT_MAX_INTENT_AGE_S: must be >= 0, got {self.max_intent_age_s}")
        if self.threshold is not None and not 0 <= self.threshold <= 1:
            raise SettingsError(f"INTENT_THRESHOLD: must be in [0, 1], got {self.threshold}")
        if self.horizon_min is not None and self.horizon_min <= 0:
            raise SettingsError(f"INTENT_HORIZON_MIN: must be > 0, got {self.horizon_min}")
        if not self.store.startswith(STORES):
            raise SettingsError(f"INTENT_STORE: {' or '.join(STORES)}, got {self.store!r}")
        for name in ("state_ttl_days", "state_sweep_s", "state_cache", "standby_replicas"):
            if getattr(self, name) < 0:
                raise SettingsError(f"INTENT_{name.upper()}: must be >= 0, got {getattr(self, name)}")
        if self.archive_roll_events < 1 or self.archive_roll_s <= 0 or abs(self.archive_utc_offset_h) > 14:
            raise SettingsError(
                f"INTENT_ARCHIVE_ROLL_EVENTS >= 1, _ROLL_S > 0, _UTC_OFFSET_H in -14..14: {self!r}"
            )
        if self.rocksdb_cache_mb < 8:
            raise SettingsError(f"INTENT_ROCKSDB_CACHE_MB: must be >= 8, got {self.rocksdb_cache_mb}")

    def group_timeouts(self) -> dict[str, float]:
        """Faust's consumer-group timeouts from ``session_timeout_s``, for every Faust app
        of ours. The embedded broker answers a JoinGroup after half the session timeout,
        so the session sets how long a (re)start waits to join: 10 s (the default) joins
        in 5 s; Faust's 60 s held a new member's first join for 30 s.

        >>> Settings(session_timeout_s=6).group_timeouts()["broker_rebalance_timeout"]
        10.0
        """
        session_s = float(self.session_timeout_s)
        return dict(
            broker_session_timeout=session_s,
            broker_heartbeat_interval=max(session_s / 10, 0.3),
            broker_rebalance_timeout=max(session_s, 10.0),
        )

    def worker_data_dir(self, hostname: str | None = None) -> Path:
        """Where this worker keeps its data: a folder per worker identity, so a restarted
        worker finds its RocksDB tables (a per-process folder when it has no identity).

        >>> Settings(data_dir=Path("/data"), metrics_port=9108).worker_data_dir("box")
        PosixPath('/data/box-9108')
        """
        identity = self.worker_identity(hostname)
        if identity is None:
            import socket

            identity = f"{hostname or socket.gethostname()}-pid{os.getpid()}"
        return self.data_dir / identity.replace("/", "_")

    def worker_identity(self, hostname: str | None = None) -> str | None:
        """Who this worker is across restarts (see :mod:`stream.runtime.membership`); None when
        nothing tells it from another worker on its host.

        >>> [Settings(metrics_port=p).worker_identity("box") for p in (9108, 0)]
        ['box-9108', None]
        >>> [Settings(instance_id=i).worker_identity("box") for i in ("w-1", "")]
        ['w-1', None]
        """
        if self.instance_id != "auto":
            return self.instance_id or None
        if not self.metrics_port:  # two workers on a host cannot share a port; port 0 is any
            return None
        import socket

        return f"{hostname or socket.gethostname()}-{self.metrics_port}"

    def faust_consumer(self) -> dict[str, Any]:
        """Consumer options for every Faust app of ours: :meth:`group_timeouts` and the
        fetch size.

        >>> Settings(fetch_max_bytes=1024).faust_consumer()["consumer_max_fetch_size"]
        1024
        """
        return {**self.group_timeouts(), "consumer_max_fetch_size": self.fetch_max_bytes}

    def kafka_security(self) -> dict[str, Any]:
        """Security options in aiokafka's keyword names; empty for PLAINTEXT."""
        opts: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.sasl_mechanism:
            opts.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.sasl_username,
                sasl_plain_password=self.sasl_password,
            )
        ctx = self.ssl_context()
        if ctx is not None:
            opts["ssl_context"] = ctx
        return opts

    def ssl_context(self) -> Any:
        """An ``ssl.SSLContext`` for SSL / SASL_SSL, else None."""
        if self.security_protocol not in ("SSL", "SASL_SSL"):
            return None
        import ssl

        ctx = ssl.create_default_context(cafile=self.ssl_cafile or None)
        if self.ssl_certfile:
            ctx.load_cert_chain(self.ssl_certfile, self.ssl_keyfile or None)
        return ctx

    def __repr__(self) -> str:  # never print secrets
        shown = {
            f.name: ("***" if f.metadata.get("secret") and getattr(self, f.name) else getattr(self, f.name))
            for f in fields(self)
        }
        return f"Settings({shown})"


def _type_of(name: str) -> str:
    found = [str(f.type) for f in fields(Settings) if f.name == name]
    if not found:
        raise SettingsError(f"unknown setting {name!r}")
    return found[0]


def _convert(name: str, type_name: Any, raw: Any) -> Any:
    type_name = str(type_name)
    if type_name.endswith(" | None"):  # unset by an empty value
        if raw is None or raw == "":
            return None
        type_name = type_name[: -len(" | None")]
    try:
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            return float(raw)
        if type_name == "Path":
            return Path(raw)
        return str(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"{name}: expected {type_name}, got {raw!r}") from None


def describe_env() -> str:
    """A table of every environment variable, for ``--help`` texts."""
    rows = []
    defaults = Settings()
    for f in fields(Settings):
        default = getattr(defaults, f.name)
        if f.metadata.get("secret"):
            default = ""
        rows.append(f"  {PREFIX + f.name.upper():<28} {f.metadata.get('help', '')} [{default}]")
    return "environment (flags win over these):\n" + "\n".join(rows)


def replace(settings: Settings, **changes: Any) -> Settings:
    """A copy of ``settings`` with ``changes`` applied (None values ignored)."""
    return dataclasses.replace(settings, **{k: v for k, v in changes.items() if v is not None})
