"""The event archive read back: the same events as the file readers give, day by day, in
the same order, and a time window applied as it is to files."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream.archive.flush import Flush, archive_events
from stream.domain.archive_layout import DAY_MS, day_start_ms, event_day
from stream.domain.archive_reader import ArchiveEvents, ArchiveReader, is_archive
from stream.domain.events import Event
from stream.domain.readers import ClickstreamError, read_clickstream
from stream.domain.window import TimeWindow, WindowedPaths

CHINA = -8 * 3_600_000
DAY0 = 1454284800000  # 2016-02-01 00:00 UTC


def archive_like_a_replay(root: Path, events: list[Event], day_offset_ms: int, partitions: int = 4) -> None:
    """``events`` archived as a replay onto ``partitions`` partitions would leave them: each
    partition's events in replay order, offsets counting per partition, rolled every
    5,000 events of a partition, row groups of 1,000."""
    by_partition: dict[int, list[Event]] = {}
    for e in events:
        by_partition.setdefault(zlib.crc32(e.user_id.encode()) % partitions, []).append(e)
    for partition, mine in by_partition.items():
        for start in range(0, len(mine), 5_000):
            flush = Flush(root, partition, start, day_offset_ms, row_group_rows=1_000)
            for k, e in enumerate(mine[start : start + 5_000], start):
                flush.add(e, 1_764_400_000_000, k)
            flush.seal()


@pytest.fixture(scope="module")
def jd_archive(tmp_path_factory: pytest.TempPathFactory, jdata_events: list[Event]) -> Path:
    root = tmp_path_factory.mktemp("jd-archive")
    archive_like_a_replay(root, jdata_events, CHINA)
    return root


def test_the_archive_of_the_jd_sample_gives_the_file_readers_events_in_their_order(
    jd_archive: Path, jdata_dir: Path, jdata_events: list[Event]
) -> None:
    read = read_clickstream([jd_archive])
    assert read.events == jdata_events  # the same ids and fields, in the same order
    assert read.day_offset_ms == read_clickstream([jdata_dir]).day_offset_ms == CHINA
    assert read.formats == ["parquet"] * len(read.files) and not read.skipped
    assert [p.parent.name for p in read.files] == sorted(p.parent.name for p in read.files)


def test_a_window_reads_the_same_events_from_the_archive_as_from_the_files(
    jd_archive: Path, jdata_dir: Path
) -> None:
    for since, until in [("2016-03-01", "2016-04-01"), ("2016-02-01T10:00", None), (None, "2016-02-02")]:
        window = TimeWindow.parse(since, until)
        from_files = read_clickstream([jdata_dir], window=window).events
        from_archive = read_clickstream(WindowedPaths([jd_archive], window))
        assert from_archive.events == from_files and from_files, (since, until)
        lo, hi = window.bounds(CHINA)  # only the days that meet the window are opened
        days = {d.name[5:] for d in jd_archive.iterdir()}
        meet = {d for d in days if lo < day_start_ms(d, CHINA) + DAY_MS and day_start_ms(d, CHINA) < hi}
        assert {event_day(e.ts, CHINA) for e in from_files} <= meet < days
        assert {p.parent.name[5:] for p in from_archive.files} == meet


def test_quality_order_is_each_days_files_in_offset_order(jd_archive: Path) -> None:
    unsorted = read_clickstream([jd_archive], sort=False).events
    assert sorted(unsorted, key=lambda e: e.event_id) == sorted(
        read_clickstream([jd_archive]).events, key=lambda e: e.event_id
    )
    assert unsorted != read_clickstream([jd_archive]).events


def events_over_days(draw: st.DrawFn) -> list[Event]:
    n = draw(st.integers(1, 120))
    times = draw(st.lists(st.integers(0, 4 * DAY_MS), min_size=n, max_size=n))
    return [Event(f"f:{k}", f"u{k % 7}", "i1", "view", DAY0 + t) for k, t in enumerate(sorted(times))]


bounds = st.one_of(
    st.none(),
    st.integers(-1, 5).map(
        lambda d: f"2016-0{2 if d < 29 else 3}-{1 + d % 29:02d}" if d >= 0 else "2016-01-31"
    ),
    st.integers(0, 4 * 24).map(lambda h: f"2016-02-{1 + h // 24:02d}T{h % 24:02d}:00"),
    st.integers(0, 4 * 24).map(lambda h: f"2016-02-{1 + h // 24:02d}T{h % 24:02d}:30+05:00"),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.composite(events_over_days)(), since=bounds, until=bounds, offset_h=st.sampled_from([0, 8, -5])
)
def test_a_window_keeps_exactly_the_events_inside_it(
    tmp_path_factory: pytest.TempPathFactory,
    events: list[Event],
    since: str | None,
    until: str | None,
    offset_h: int,
) -> None:
    day_offset = -offset_h * 3_600_000
    try:
        window = TimeWindow.parse(since, until)
    except ValueError:
        return  # until before since: refused
    root = tmp_path_factory.mktemp("archive")
    flush = Flush(root, 0, 0, day_offset, row_group_rows=7)  # row groups skipped by their times
    for k, e in enumerate(events):
        flush.add(e, e.ts, k)
    flush.seal()
    got = list(ArchiveReader([root], window))
    if window is None:
        assert got == events
        return
    lo, hi = window.bounds(day_offset)
    assert got == [e for e in events if lo <= e.ts < hi]


def test_a_day_directory_or_a_file_of_the_archive_reads_alone(tmp_path: Path) -> None:
    events = [Event(f"f:{d}", "u", "i", "view", DAY0 + d * DAY_MS) for d in range(3)]
    files = archive_events(tmp_path, events)
    assert is_archive(tmp_path) and all(is_archive(f) for f in files)
    assert [e.event_id for e in read_clickstream([tmp_path / "date=2016-02-02"]).events] == ["f:1"]
    assert [e.event_id for e in read_clickstream([files[2]], "parquet").events] == ["f:2"]


def test_an_archive_is_never_read_together_with_clickstream_files(tmp_path: Path, jdata_dir: Path) -> None:
    archive_events(tmp_path / "a", [Event("f:0", "u", "i", "view", DAY0)])
    with pytest.raises(ClickstreamError, match="cannot be read together"):
        read_clickstream([tmp_path / "a", jdata_dir])
    with pytest.raises(ClickstreamError, match="not an event archive"):
        read_clickstream([tmp_path / "missing"], "parquet")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ClickstreamError, match="no archive files"):
        read_clickstream([tmp_path / "empty"], "parquet")


def test_files_of_two_time_zones_are_refused(tmp_path: Path) -> None:
    archive_events(tmp_path, [Event("f:0", "u", "i", "view", DAY0)], day_offset_ms=0, partition=0)
    archive_events(tmp_path, [Event("f:1", "u", "i", "view", DAY0)], day_offset_ms=CHINA, partition=1)
    with pytest.raises(ClickstreamError, match="another day offset"):
        read_clickstream([tmp_path])


def test_an_archive_read_for_training_streams_its_events_on_every_pass(jd_archive: Path) -> None:
    held = read_clickstream([jd_archive]).events
    streamed = read_clickstream([jd_archive], stream=True).events
    assert isinstance(streamed, ArchiveEvents) and isinstance(held, list)
    assert len(streamed) == len(held)
    assert list(streamed) == held and list(streamed) == held  # read again, the same
    with pytest.raises(TypeError, match="read in order"):
        streamed[0]
