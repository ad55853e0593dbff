"""INTENT_TARGET_INTENTS_PER_DAY holds the planned volume across a hot swap to a model
with another calibration (the Taobao test days, replayed through the processor)."""

from __future__ import annotations

from collections import Counter

from tests.stream.taobao_replay import china_day


def test_the_planned_volume_holds_across_a_swap_to_another_calibration(taobao_swap_replay) -> None:
    per_day = Counter(china_day(i.event_ts) for i in taobao_swap_replay.intents)
    versions = {china_day(i.event_ts): i.model_version for i in taobao_swap_replay.intents}
    assert versions[0] == "A" and versions[1] == "B-recalibrated"
    for day in (0, 1):  # the two test days, each within 20% of 1,000
        assert 800 <= per_day[day] <= 1200, per_day
    # the other calibration moved the threshold, not the volume
    thresholds = {
        i.model_version: i.threshold for i in taobao_swap_replay.intents if china_day(i.event_ts) >= 0
    }
    assert thresholds["B-recalibrated"] > 1.5 * thresholds["A"]
