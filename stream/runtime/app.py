"""The Faust application: topics, tables, and the :class:`~stream.runtime.worker.Worker`
whose tasks, agent and timers run the processor (:func:`create_worker`).

Tables (each backed by a compacted changelog topic, restored on restart), stored as the
compact bytes of :mod:`stream.domain.state_codec` in our stores (:mod:`stream.store`):

* ``users``  user_id -> :class:`~stream.domain.state.UserState` (partitioned like ``events``)
* ``items``  item_id -> :class:`~stream.domain.state.ItemStats`, a *global* table: every worker
  holds all items, so scoring a user on any partition can read any item's popularity.
  It is fed by an agent on ``events-by-item`` (each micro-batch's item activity, one
  record per partition; see :mod:`stream.processing.item_events`).
* ``gates``  user_id -> intent gate state (see :mod:`stream.processing.gate`).
* ``sources`` events partition -> its :class:`~stream.processing.source_log.SourceLog`
  (kept in the changelog partition of the same number).
* ``challenger-gates`` user_id -> the challenger's gate state (shadow scoring, see
  :mod:`stream.processing.role_gates`): the champion's and the challenger's never mix.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from typing import Any

import faust
import orjson

from stream.config import (
    CHALLENGER_GATES_TABLE,
    GATES_TABLE,
    ITEMS_TABLE,
    SOURCES_TABLE,
    USERS_TABLE,
    Settings,
)
from stream.domain.state_codec import decode_item, decode_user, encode_item, encode_user
from stream.io.kafka import read_end_offsets
from stream.monitoring.metrics import WorkerMetrics
from stream.processing.source_log import SourceLog
from stream.runtime.faust_patches import AppHooks, apply_faust_patches, set_app_hooks
from stream.runtime.intake import MessageBatches, RawTopic, subscribe_batches
from stream.runtime.lifecycle import Lifecycle
from stream.runtime.lifecycle import log as lifecycle_log
from stream.runtime.tables import Deliveries, WorkerTables
from stream.runtime.worker import Worker
from stream.store.rocksdb import RocksLimits, configure_rocksdb
from stream.store.stores import store_url
from stream.store.table import StateTable

__all__ = [
    "create_app",
    "create_worker",
    "build_app",
    "io_options",
    "build_tables",
    "faust_worker",
]


# aiokafka holds ONE batch per partition and makes a send wait while a full one is in
# flight: at Faust's 16 KB default a busy worker waited on broker round trips (p99 at
# 5,000 events/s of intents: 1.7 s -> 1.0 s with 256 KB).
PRODUCER_MAX_BATCH_BYTES = 256 * 1024


apply_faust_patches()


#: Our topics carry bytes both ways: the key is the id, the value JSON we parse ourselves.
RAW: dict[str, Any] = dict(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")


def _broker_credentials(settings: Settings) -> Any:
    if settings.security_protocol == "PLAINTEXT":
        return None
    ctx = settings.ssl_context()
    if settings.sasl_mechanism.startswith("SCRAM"):
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=settings.sasl_password,
            mechanism=settings.sasl_mechanism,
            ssl_context=ctx,
        )
    if settings.sasl_mechanism:
        return faust.SASLCredentials(
            username=settings.sasl_username, password=settings.sasl_password, ssl_context=ctx
        )
    return faust.SSLCredentials(ctx)


def create_app(settings: Settings) -> faust.App:
    """Build the worker app; start it with ``app.main()`` or ``faust.Worker(app)``. The
    app's tasks keep its :class:`~stream.runtime.worker.Worker`; :func:`create_worker`
    returns that too (its metrics, its lifecycle, its model load), as the command needs."""
    return create_worker(settings).app


def subscribe_events(app: faust.App, settings: Settings, drop_on_revoke: bool = True) -> MessageBatches:
    """The events topic taken in the worker's batches (sizes and lingers from ``settings``):
    the worker's intake, and the bench's Faust floor, which must take events the same way."""
    topic = RawTopic(app, topics=[settings.topic_events], partitions=settings.partitions, **RAW)
    return subscribe_batches(
        app,
        topic,
        settings.batch_size,
        settings.batch_ms / 1000,
        backlog_batch=settings.backlog_batch_size,
        backlog_linger_s=settings.backlog_linger_ms / 1000,
        drop_on_revoke=drop_on_revoke,
    )


def create_worker(settings: Settings) -> Worker:
    """Build the Faust app, its topics and tables, and the :class:`~stream.runtime.worker.Worker`
    registered on it; start it with ``faust_worker(worker.app, settings, worker.lifecycle)``."""
    life = Lifecycle(settings.app_id, settings.worker_identity(), settings.session_timeout_s)
    app = build_app(settings)
    incoming = subscribe_events(app, settings, drop_on_revoke=False)  # the worker does (on revocation)
    item_topic = app.topic(settings.topics.item_events, partitions=settings.partitions, **RAW)
    worker = Worker(settings, app, life, incoming, item_topic, build_tables(app, settings), Deliveries())
    worker.register()
    return worker


def io_options(settings: Settings) -> dict[str, Any]:
    """The worker's broker, consumer and producer options for ``faust.App``. The bench's
    pass-through app (:mod:`stream.bench.passthrough_agent`) takes them too, so that what
    it sustains is this worker's I/O limit."""
    return {
        "broker": [f"kafka://{b}" for b in settings.bootstrap.split(",")],
        "broker_credentials": _broker_credentials(settings),
        "topic_partitions": settings.partitions,
        "topic_replication_factor": settings.replication,
        "web_enabled": False,
        "consumer_auto_offset_reset": "earliest",
        **settings.faust_consumer(),
        "stream_wait_empty": False,
        "producer_linger": 0.001,
        "producer_max_batch_size": PRODUCER_MAX_BATCH_BYTES,
    }


def build_app(settings: Settings) -> faust.App:
    """The Faust app of the worker, with the hooks its patches read (see
    :mod:`stream.runtime.faust_patches`)."""
    # One folder per worker identity, not per process: a restarted worker finds its
    # RocksDB tables there and reads only the changelogs' tail.
    datadir = settings.worker_data_dir()
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        store=store_url(settings.store),
        datadir=str(datadir),
        **io_options(settings),
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        table_standby_replicas=settings.standby_replicas,
        # The check guards a persistent (RocksDB) store against a truncated changelog. With
        # the memory store the "persisted" offset is this process's own latest write, which
        # can run ahead of the broker's reported end offset for a moment during a
        # rebalance (seen with a global table when a peer was killed): not an error.
        recovery_consistency_check=not settings.store.startswith("memory"),
    )
    set_app_hooks(
        app,
        AppHooks(
            fetch_max_wait_ms=settings.fetch_max_wait_ms,
            end_offsets=lambda tps: read_end_offsets(settings, tps),
        ),
    )
    return app


#: Decoded item states kept (about 600 bytes each): the items scored recently.
ITEMS_CACHED = 65_536


def _source_partition(key: bytes) -> int:
    """A ``sources`` key is ``events/<partition>``: it lives in that changelog partition."""
    return int(key.rpartition(b"/")[2])


def build_tables(app: faust.App, settings: Settings) -> WorkerTables:
    """The ``users``, ``items`` (global), ``gates`` and ``sources`` tables of ``app``, in
    our store (``INTENT_STORE``). Faust restores them from their changelogs (bytes as
    they are: raw serializers); the worker writes them and sends their changelogs."""
    url = store_url(settings.store)
    if settings.store.startswith("rocksdb"):
        configure_rocksdb(RocksLimits(cache_mb=settings.rocksdb_cache_mb))
    batched: list[tuple[str, StateTable]] = []

    def table(factory: Any, name: str, encode: Any, decode: Any, **options: Any) -> StateTable:
        # Keys are the raw id bytes and a changelog record goes to the murmur2 partition of
        # its key: the same bytes and hash the producers use for the source topics, so a
        # user's changelog partition is its events partition. key_type=bytes matters:
        # recovery decodes changelog keys by key_type (json otherwise).
        schema = faust.Schema(key_type=bytes, key_serializer="raw", value_serializer="raw")
        t = factory(
            name,
            schema=schema,
            key_type=bytes,
            value_type=bytes,
            partitions=settings.partitions,
            use_partitioner=True,
            store=url,
        )
        topic = settings.changelog_topic(name)
        view = StateTable(t.data, encode, decode, settings.partitions, changelog=topic, **options)
        batched.append((topic, view))
        return view

    users = table(app.Table, USERS_TABLE, encode_user, decode_user, cache_size=settings.state_cache)
    # Items are few beside users, shared by them, and read for every candidate scored.
    items = table(app.GlobalTable, ITEMS_TABLE, encode_item, decode_item, cache_size=ITEMS_CACHED)
    gates = table(app.Table, GATES_TABLE, orjson.dumps, orjson.loads)
    sources = table(
        app.Table, SOURCES_TABLE, lambda log: log.encode(), SourceLog.decode, partition_of=_source_partition
    )
    challenger_gates = table(app.Table, CHALLENGER_GATES_TABLE, orjson.dumps, orjson.loads)
    return WorkerTables(users, items, gates, sources, batched, challenger_gates)


def run_reference_agent(create: Callable[[Settings], tuple[faust.App, WorkerMetrics]]) -> None:
    """Run one of the bench's reference agents (naive, pass-through) from the ``INTENT_*``
    environment, as the worker runs: the same Faust worker and a /metrics endpoint."""
    from stream.monitoring.metrics_server import MetricsServer

    settings = Settings.from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app, metrics = create(settings)
    MetricsServer(metrics, settings.metrics_host, settings.metrics_port).start()
    faust_worker(app, settings).execute_from_commandline()


class _Worker(faust.Worker):
    """Faust's worker: the process's services around any of our apps (not to be confused
    with :class:`~stream.runtime.worker.Worker`, which runs inside the intent app)."""

    def __init__(self, app: faust.App, *args: Any, lifecycle: Lifecycle | None = None, **kwargs: Any) -> None:
        self.lifecycle = lifecycle
        super().__init__(app, *args, **kwargs)

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        # The worker's way to serving (joining, assigned, recovering, ready) is logged at
        # the default level too (WARNING): an operator must tell joining from recovering
        # from stuck. Only that logger gets louder; the others keep the root's level.
        if level <= logging.WARNING:
            lifecycle_log.setLevel(logging.INFO)
            for handler in logger.handlers:
                if handler.level > logging.INFO:
                    handler.setLevel(logging.INFO)
        if self.lifecycle is not None:
            self.lifecycle.starting()


def faust_worker(app: faust.App, settings: Settings, lifecycle: Lifecycle | None = None) -> faust.Worker:
    """A quiet Faust worker for ``app``, tuned for a small box (the worker and the bench's
    naive agent both run this way, so they are compared on equal terms). ``lifecycle``:
    the worker's (see :func:`create_worker`), which then logs its start."""
    import torch

    # One intra-op thread: the event loop needs the other core (and the broker shares
    # the box); two torch threads on two cores only fight the loop for the CPU.
    torch.set_num_threads(settings.model_threads)
    # Young collections every 700 net allocations ran several times per batch; full
    # ones follow from these and walk every table object (see Worker.load_model).
    gc.set_threshold(50_000, 20, 10)
    worker = _Worker(app, loglevel=settings.log_level, quiet=True, lifecycle=lifecycle)
    # Faust's terminal spinner lowers the root logger to DEBUG so that every log call
    # spins it: each Kafka send then builds a debug LogRecord (about 10% of the loop).
    worker.spinner = None
    return worker
