"""Short histories are split by hours (with the same embargo), and only data that cannot be
split at all is refused, saying how much is needed; the cold replay empties users, not items."""

from __future__ import annotations

import numpy as np
import pytest

from stream.domain.events import Event
from training.protocol.examples import build_examples
from training.protocol.splits import HOUR_MS, CalendarSplit, SplitError

MIN = 60_000


def test_a_day_of_data_is_split_by_hours_with_the_same_embargo() -> None:
    times = [h * HOUR_MS + m * MIN for h in range(10) for m in (5, 30)]
    s = CalendarSplit.from_times(times, horizon_ms=15 * MIN)
    assert s.unit == "hour" and s.days == (7, 1, 2)
    assert s.val_start == 7 * HOUR_MS and s.test_start == 8 * HOUR_MS
    assert s.part(7 * HOUR_MS + 10 * MIN) is None  # validation's embargo
    assert s.part(7 * HOUR_MS + 20 * MIN) == "val" and s.part(9 * HOUR_MS) == "test"


def test_days_win_over_hours_when_there_are_enough() -> None:
    times = [d * 86_400_000 + h * HOUR_MS for d in range(3) for h in range(4)]
    assert CalendarSplit.from_times(times, horizon_ms=MIN).unit == "day"


def test_what_cannot_be_split_is_refused_with_how_much_is_needed() -> None:
    with pytest.raises(SplitError, match="at least 3 active hours"):
        CalendarSplit.from_times([0, MIN, 2 * MIN, HOUR_MS + MIN], horizon_ms=MIN)


def test_the_cold_replay_empties_every_user_at_each_reset_and_keeps_the_items() -> None:
    ev = [
        Event("1", "ann", "pen", "view", 0),
        Event("2", "ann", "pen", "addtocart", 1 * MIN),
        Event("3", "bob", "pen", "view", 2 * MIN),
        Event("4", "ann", "ink", "view", 61 * MIN),  # after the reset at 60 minutes
        Event("5", "ann", "ink", "view", 62 * MIN),
    ]
    warm = build_examples(ev, horizon_ms=5 * MIN)["all"]
    cold = build_examples(ev, horizon_ms=5 * MIN, reset_at=[60 * MIN])["all"]
    assert warm.history_start is None and cold.history_start is not None
    k_warm = int(np.flatnonzero(warm.moment_index == 3)[0])
    k_cold = int(np.flatnonzero(cold.moment_index == 3)[0])
    # after the reset ann is new: one candidate (ink), not two; her state starts at the reset
    assert warm.sizes[k_warm] == 2 and cold.sizes[k_cold] == 1 and cold.history_start[k_cold] == 60 * MIN
    assert cold.history_start[0] == -1  # before any reset: the whole history
    # the items' state is kept: ink's popularity is the same in both replays
    from stream.domain.features import ITEM_LAYOUT

    cols = ITEM_LAYOUT.columns("item_counts", "item_totals")
    r_warm = warm.group_starts()[k_warm] + warm.items[warm.group_starts()[k_warm] :].index("ink")
    r_cold = cold.group_starts()[k_cold]
    assert cold.items[r_cold] == "ink"
    np.testing.assert_array_equal(warm.I[r_warm, cols], cold.I[r_cold, cols])
