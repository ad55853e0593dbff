"""``--since`` / ``--until``: dates and times in the data's own calendar, instants with an
offset, half-open, refused when empty or unreadable."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stream.domain.window import NO_END, NO_START, TimeWindow, WindowedPaths

HOUR = 3_600_000
FEB1_UTC = 1454284800000


def test_a_date_is_its_days_start_in_the_datas_calendar_and_an_offset_is_an_instant() -> None:
    w = TimeWindow.parse("2016-02-01", "2016-02-01T12:30")
    assert w.bounds(0) == (FEB1_UTC, FEB1_UTC + 12 * HOUR + 30 * 60_000)
    assert w.bounds(-8 * HOUR) == (FEB1_UTC - 8 * HOUR, FEB1_UTC + 4 * HOUR + 30 * 60_000)  # China time
    instant = TimeWindow.parse("2016-02-01T00:00:00Z", "2016-02-01T09:00+08:00")
    assert instant.bounds(0) == instant.bounds(-8 * HOUR) == (FEB1_UTC, FEB1_UTC + HOUR)
    assert TimeWindow.parse(None, "2016-02-01").bounds(0) == (NO_START, FEB1_UTC)
    assert TimeWindow.parse("2016-02-01", None).bounds(0) == (FEB1_UTC, NO_END)
    assert TimeWindow.parse(None, None) is None


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("2016-02-02", "2016-02-01", "is not after"),
        ("2016-02-01", "2016-02-01", "is not after"),
        ("last week", None, "--since: not a date"),
        (None, "2016-13-01", "--until: not a date"),
    ],
)
def test_an_empty_or_unreadable_window_is_refused_in_one_line(
    since: str | None, until: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        TimeWindow.parse(since, until)


@given(st.integers(0, 10 * 24), st.integers(0, 10 * 24), st.integers(-12, 14))
def test_consecutive_windows_share_no_instant_and_miss_none(a: int, b: int, offset_h: int) -> None:
    lo, mid = sorted((a, b))
    if lo == mid:
        return
    stamp = lambda h: f"2016-02-{1 + h // 24:02d}T{h % 24:02d}:00"  # noqa: E731
    first = TimeWindow.parse(stamp(lo), stamp(mid)).bounds(-offset_h * HOUR)
    second = TimeWindow.parse(stamp(mid), None).bounds(-offset_h * HOUR)
    assert first[1] == second[0] and first[0] < first[1]


def test_windowed_paths_are_the_paths() -> None:
    data = WindowedPaths(["a", "b"], TimeWindow.parse("2016-02-01", None))
    assert data == ["a", "b"] and data.window is not None and str(data.window) == "[2016-02-01, the end)"
