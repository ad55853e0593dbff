"""Example building by user partition, in parallel processes and on a Dask local cluster,
gives exactly the serial build: every array, list and purchase, in the same order."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from stream.archive.flush import archive_events
from stream.domain.archive_reader import ArchiveEvents, ArchiveReader
from training.protocol.example_set import ExampleSet
from training.protocol.examples import build_examples, judged_user, trained_user, user_partition
from training.protocol.partitioned import build_examples_partitioned
from training.protocol.splits import CalendarSplit

from ..conftest import MIN, SPLIT, synthetic_events

KWARGS = dict(n_candidates=8, horizon_ms=10 * MIN, split=SPLIT, neg_group_rate=0.2, seed=3)


def assert_same(a: dict[str, ExampleSet], b: dict[str, ExampleSet]) -> None:
    assert set(a) == set(b)
    for name in a:
        for f in dataclasses.fields(ExampleSet):
            x, y = getattr(a[name], f.name), getattr(b[name], f.name)
            if isinstance(x, np.ndarray) or x is None:
                assert (x is None and y is None) or np.array_equal(x, y), (name, f.name)
            elif f.name == "purchases":
                assert dataclasses.asdict(x) == dataclasses.asdict(y), name
            else:
                assert x == y, (name, f.name)


@pytest.fixture(scope="module")
def events() -> list:
    return synthetic_events(n_users=60, seed=5)


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"reset_at": [200 * MIN, 400 * MIN, 500 * MIN]},
        {"judged_user_share": 0.5},
        {"trained_user_share": 0.5},
    ],
)
def test_partitioned_build_equals_serial(events, extra) -> None:
    serial = build_examples(events, **KWARGS, **extra)
    assert serial["train"].n and serial["test"].n and len(serial["test"].purchases)
    assert_same(build_examples_partitioned(events, workers=3, **KWARGS, **extra), serial)


def test_partitioned_on_real_data(jdata_events) -> None:
    times = [e.ts for e in jdata_events]
    split = CalendarSplit.from_times(times, 30 * MIN, -8 * 3_600_000)
    kw = dict(split=split, neg_group_rate=0.03, horizon_ms=split.embargo_ms)
    some = jdata_events[:20_000]
    assert_same(build_examples_partitioned(some, workers=2, **kw), build_examples(some, **kw))


def test_partitioned_on_a_dask_local_cluster(events) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as c:
        got = build_examples_partitioned(events, workers=2, cluster=c.scheduler_address, **KWARGS)
    assert_same(got, build_examples(events, **KWARGS))


def test_a_trained_share_keeps_the_training_moments_of_those_users_only(events) -> None:
    every = build_examples(events, **KWARGS)
    some = build_examples(events, **KWARGS, trained_user_share=0.5)
    users = {u for u in every["train"].users}
    kept = {u for u in some["train"].users}
    assert kept == {u for u in users if trained_user(u, 0.5)} and 0 < len(kept) < len(users)
    assert set(some["train"].purchases.users) <= kept
    # the judged parts do not change, nor does anyone's state (items see every user)
    assert_same({k: some[k] for k in ("val", "test")}, {k: every[k] for k in ("val", "test")})
    assert {u for u in users if trained_user(u, 0.5)} != {u for u in users if judged_user(u, 0.5)}


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory, events) -> ArchiveReader:
    root = tmp_path_factory.mktemp("archive")
    archive_events(root, events)
    return ArchiveReader([root])


def test_an_archive_read_from_disk_on_every_pass_builds_what_its_events_in_memory_build(archived) -> None:
    held = list(archived)
    streamed = ArchiveEvents(archived)
    serial = build_examples(held, **KWARGS)
    assert_same(build_examples(streamed, **KWARGS), serial)
    assert_same(build_examples_partitioned(streamed, workers=2, **KWARGS), serial)
    assert len(streamed) == len(held)


def test_an_archive_read_from_disk_on_a_dask_local_cluster(archived) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as c:
        got = build_examples_partitioned(
            ArchiveEvents(archived), workers=2, cluster=c.scheduler_address, **KWARGS
        )
    assert_same(got, build_examples(list(archived), **KWARGS))


def test_the_jd_sample_archived_builds_the_files_examples_in_fresh_processes(jdata_events, tmp_path) -> None:
    """``intent train --format parquet ARCHIVE`` builds what training on the file builds: the
    archive streamed from disk by builders that start from a fork server."""
    some = [e for e in jdata_events if user_partition(e.user_id, 4) == 0]  # a quarter of the users
    archive_events(tmp_path, some, day_offset_ms=-8 * 3_600_000)
    split = CalendarSplit.from_times([e.ts for e in jdata_events], 30 * MIN, -8 * 3_600_000)
    kw = dict(split=split, neg_group_rate=0.03, horizon_ms=split.embargo_ms)
    streamed = ArchiveEvents(ArchiveReader([tmp_path]))
    from_file = build_examples(some, **kw)
    assert from_file["train"].n and from_file["val"].n and from_file["test"].n
    assert_same(build_examples_partitioned(streamed, workers=2, **kw), from_file)
