"""Example building in parallel by user partition: every partition's moments built in its
own process (or on a Dask cluster), merged into exactly what one serial build gives.

A moment's rows depend on its user's state and on the items' statistics, and the items'
statistics are every user's: so each partition replays every event through the state
(about a tenth of the build's cost) and builds the moments and purchases of its own users
only (the features, labels and sequences: the rest). The merge puts the groups back in
event order (a moment is one event: its index is unique) and the purchases in replay
order, and renumbers the rows the purchases are covered by. The sampled training moments
are drawn per moment (:func:`~training.protocol.examples.moment_draw`), not from one
stream of random numbers, so a partition draws what the serial build draws.

Workers: ``workers`` processes (``None``: every core), forked so that they share the events
already read rather than receiving a pickled copy (events read from an archive on every
pass: fresh processes from a fork server, which read the archive themselves); with
``cluster`` (a Dask scheduler's address, ``INTENT_TRAIN_CLUSTER``) the partitions are Dask
tasks instead (the optional ``dask`` extra): the events are scattered to the workers once,
or, for an archive read from disk (:class:`~stream.domain.archive_reader.ArchiveEvents`),
each task reads the archive's files itself (a path every worker can read).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from stream.domain.archive_reader import ArchiveEvents
from stream.domain.events import Event
from training.protocol.example_set import ExampleSet, Purchases
from training.protocol.examples import build_examples

__all__ = ["build_examples_partitioned", "merge_partitions", "default_workers"]

_EVENTS: Sequence[Event] = ()  # the events a forked worker reads (set before forking)


def default_workers() -> int:
    """Every core this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _build_forked(partition: tuple[int, int], kwargs: dict[str, Any]) -> dict[str, ExampleSet]:
    return build_examples(_EVENTS, partition=partition, **kwargs)


def _build_shipped(events: Sequence[Event], partition: tuple[int, int], kwargs: dict[str, Any]) -> Any:
    return build_examples(events, partition=partition, **kwargs)


def build_examples_partitioned(
    events: Sequence[Event],
    workers: int | None = None,
    cluster: str | None = None,
    **kwargs: Any,
) -> dict[str, ExampleSet]:
    """:func:`~training.protocol.examples.build_examples` (``kwargs``) over ``workers`` user
    partitions in parallel (one: the serial build, in this process), or on the Dask
    scheduler at ``cluster``; the same result either way."""
    n = default_workers() if workers is None else max(1, workers)
    if cluster:
        return _on_dask(events, cluster, n, kwargs)
    if n == 1:
        return build_examples(events, **kwargs)
    kwargs.pop("progress", None)  # a callback does not cross processes
    if isinstance(events, ArchiveEvents):
        # an archive read from disk (ArchiveEvents) travels as its paths: fresh processes
        # (forkserver) read it themselves and inherit none of this process's memory (a
        # fork shares, and RSS counts in every child, the examples this run holds already)
        with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("forkserver")) as pool:
            parts = [(i, n) for i in range(n)]
            return merge_partitions(list(pool.map(_build_shipped, [events] * n, parts, [kwargs] * n)))
    global _EVENTS
    _EVENTS = events
    try:
        with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork")) as pool:
            results = list(pool.map(_build_forked, [(i, n) for i in range(n)], [kwargs] * n))
    finally:
        _EVENTS = ()
    return merge_partitions(results)


def _on_dask(events: Sequence[Event], cluster: str, n: int, kwargs: dict[str, Any]) -> dict[str, ExampleSet]:
    from distributed import Client

    kwargs.pop("progress", None)
    with Client(cluster) as client:
        n = max(n, len(client.scheduler_info().get("workers", {})))
        # events held in memory are scattered once; an archive read from disk
        # (ArchiveEvents) travels as its paths, and each task reads the files
        shared = events if isinstance(events, ArchiveEvents) else client.scatter(list(events), broadcast=True)
        futures = [client.submit(_build_shipped, shared, (i, n), kwargs, pure=False) for i in range(n)]
        return merge_partitions(client.gather(futures))


def merge_partitions(results: list[dict[str, ExampleSet]]) -> dict[str, ExampleSet]:
    """Each part's partitions merged into one :class:`ExampleSet`, in replay order."""
    return {name: _merge([r[name] for r in results]) for name in results[0]}


def _merge(sets: list[ExampleSet]) -> ExampleSet:
    if len(sets) == 1:
        return sets[0]
    cat = np.concatenate
    moment_index = cat([s.moment_index for s in sets])
    order = np.argsort(moment_index, kind="stable")  # groups in event order
    sizes = cat([s.sizes for s in sets])
    starts = np.cumsum(sizes) - sizes
    rows = (
        cat([np.arange(starts[g], starts[g] + sizes[g]) for g in order]) if len(order) else np.zeros(0, int)
    )
    new_row = np.empty(len(rows), dtype=np.int64)
    new_row[rows] = np.arange(len(rows))
    # purchases in replay order (their ids), then each cover pair renumbered
    ids = [i for s in sets for i in s.purchases.ids]
    p_order = np.argsort(ids, kind="stable")
    new_purchase = np.empty(len(ids), dtype=np.int64)
    new_purchase[p_order] = np.arange(len(ids))
    covers, row0, p0 = [], 0, 0
    for s in sets:
        if len(s.cover):
            covers.append(np.c_[new_row[s.cover[:, 0] + row0], new_purchase[s.cover[:, 1] + p0]])
        row0, p0 = row0 + s.n, p0 + len(s.purchases)
    cover = cat(covers) if covers else np.zeros((0, 2), dtype=np.int64)
    cover = cover[np.lexsort((cover[:, 1], cover[:, 0]))] if len(cover) else cover
    purchases = Purchases(
        **{f: [v for s in sets for v in getattr(s.purchases, f)] for f in Purchases.__dataclass_fields__}
    )
    purchases = Purchases(
        **{f: [getattr(purchases, f)[k] for k in p_order] for f in Purchases.__dataclass_fields__}
    )
    users = [u for s in sets for u in s.users]
    items = [i for s in sets for i in s.items]
    weights = [s.group_weight for s in sets if s.group_weight is not None]
    starts_hist = [s.history_start for s in sets if s.history_start is not None]
    return ExampleSet(
        cat([s.U for s in sets])[order],
        cat([s.I for s in sets])[rows],
        cat([s.y for s in sets])[rows],
        sizes[order],
        cat([s.moment_ts for s in sets])[order],
        moment_index[order],
        [users[g] for g in order],
        [items[r] for r in rows],
        cat([s.seq_types for s in sets])[order],
        cat([s.seq_ages for s in sets])[order],
        cat([s.seq_same_item for s in sets])[rows],
        cat([s.seq_same_cat for s in sets])[rows],
        purchases,
        cover,
        cat(weights)[order] if len(weights) == len(sets) else None,
        cat(starts_hist)[order] if len(starts_hist) == len(sets) else None,
    )
