"""The live accuracy window gives River's rolling precision, recall and F1."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from river import metrics, utils

from stream.monitoring.live_accuracy import LiveAccuracy

_TRUTH = {"tp": (True, True), "fp": (False, True), "fn": (True, False)}


@settings(max_examples=100, deadline=None)
@given(window=st.integers(1, 40), outcomes=st.lists(st.sampled_from(sorted(_TRUTH)), max_size=120))
def test_matches_rivers_rolling_metrics(window: int, outcomes: list[str]) -> None:
    live = LiveAccuracy(window)
    river = {
        name: utils.Rolling(cls, window_size=window)
        for name, cls in (("precision", metrics.Precision), ("recall", metrics.Recall), ("f1", metrics.F1))
    }
    for outcome in outcomes:
        live.update(outcome)
        for metric in river.values():
            metric.update(*_TRUTH[outcome])
        got = live.get()
        for name, metric in river.items():
            assert got[name] == pytest.approx(metric.get(), abs=1e-12)


def test_unknown_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown outcome"):
        LiveAccuracy().update("tn")
