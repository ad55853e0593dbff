"""``intent skew`` on the JD.com sample: the features the worker scored, recomputed offline
from the same file, agree exactly."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from stream.commands.cli import main
from stream.commands.demo import consumed
from stream.io.replay import replay_events
from tests.conftest import settings_for

pytestmark = pytest.mark.integration


def test_live_features_equal_the_offline_replay(
    start_worker, broker, quick_model, jdata_dir, jdata_events, capsys
) -> None:
    w = start_worker(INTENT_FEATURE_LOG_RATE="0.01", INTENT_MAX_INTENT_AGE_S="0")
    w.wait_ready(90)
    asyncio.run(replay_events(jdata_events, settings_for(broker)))
    m = w.wait(lambda m: consumed(m) >= len(jdata_events), 300)
    logged = w.wait(lambda m: m.get("intent_feature_log_total", 0) > 0, 30)["intent_feature_log_total"]
    w.stop()
    assert (
        main(
            [
                "skew",
                str(jdata_dir),
                "--bootstrap",
                broker.bootstrap,
                "--model",
                str(quick_model[0]),
                "--json",
            ]
        )
        == 0
    )
    report = orjson.loads(capsys.readouterr().out)
    print(m.get("intent_events_total"), report)
    assert report["records"] >= logged and report["pairs"] >= 0.9 * report["records"] > 50
    assert report["differing_pairs"] == 0 and report["differing_value_share"] == 0.0
