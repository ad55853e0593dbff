"""A challenger proves itself on live traffic: shadow scoring and rollback on the embedded
broker, judged by ``intent compare`` (the issue's acceptance)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from models.registry import ModelRegistry
from stream.commands.cli import main
from stream.io.kafka import read_topic
from stream.io.replay import replay_events
from stream.io.worker_process import scrape
from stream.processing.intents import decode_intent
from tests.conftest import REPLAY_THRESHOLD, WorkerProcess, add_variant, settings_for, wait_for

pytestmark = pytest.mark.integration


def intents(settings, topic: str) -> list:
    return [decode_intent(r.value) for r in asyncio.run(read_topic(settings, topic))]


def all_published(settings, worker) -> list:
    """The intents topic, once it holds every intent the worker counted."""
    return wait_for(
        lambda: (
            (v := intents(settings, settings.topic_intents))
            and len(v) == worker.metrics()["intent_intents_published_total"]
            and v
        ),
        what="intents readable",
    )


def samples(url: str, name: str) -> list[dict[str, str]]:
    """The label sets of every sample of ``name`` on a /metrics page."""
    import urllib.request

    out = []
    for line in urllib.request.urlopen(url, timeout=5).read().decode().splitlines():
        if line.startswith(name + "{"):
            labels = line[len(name) + 1 : line.index("}")]
            out.append(dict(kv.split("=", 1) for kv in labels.replace('"', "").split(",")))
    return out


def test_challenger_shadow_scored_then_rollback_serves_the_previous_version(
    broker, quick_model, jdata_events, tmp_path: Path, capsys
) -> None:
    registry = tmp_path / "registry"
    old = add_variant(quick_model[0], registry, "v0-old")
    champion = add_variant(quick_model[0], registry, "v1-champion")
    challenger = add_variant(quick_model[0], registry, "v2-challenger", forest_shift=1.0)
    reg = ModelRegistry(registry)
    assert reg.promote(champion) == (old, champion)
    s = settings_for(broker)
    april = [e for e in jdata_events if e.source.endswith("201604")]  # the test slice
    first, second = april[: len(april) // 2], april[len(april) // 2 :]
    w = WorkerProcess(
        broker.bootstrap,
        registry,
        tmp_path / "w",
        tmp_path / "w.log",
        INTENT_CHALLENGER=challenger,
        INTENT_MODEL_POLL_S="0.3",
        INTENT_MAX_INTENT_AGE_S="0",
        INTENT_THRESHOLD=REPLAY_THRESHOLD,
    )
    try:
        w.wait_ready(90)
        asyncio.run(replay_events(first, s))
        w.wait(lambda m: m.get("intent_events_total", 0) >= len(first), 120)
        served = all_published(s, w)
        shadow = wait_for(lambda: intents(s, s.topic_shadow_intents), what="shadow intents")
        assert served and {i.model_version for i in served} == {champion}
        assert {i.model_version for i in shadow} == {challenger}
        assert len(shadow) > len(served)  # another calibration, the same threshold: more would-be intents
        # live accuracy of both models, apart
        wait_for(
            lambda: (
                {
                    (x["model_version"], x["role"])
                    for x in samples(w.url + "/metrics", "intent_outcomes_total")
                }
                >= {(champion, "champion"), (challenger, "challenger")}
            ),
            what="outcomes of both roles",
        )
        precision = samples(w.url + "/metrics", "intent_live_metric")
        assert {(x["model_version"], x["role"]) for x in precision if x["metric"] == "precision"} >= {
            (champion, "champion"),
            (challenger, "challenger"),
        }
        assert scrape(w.url + "/metrics").get("intent_shadow_scoring_seconds_count", 0) > 0

        assert main(["models", "rollback", "--registry", str(registry)]) == 0
        assert f"rolled back from {champion} to {old}" in capsys.readouterr().out
        wait_for(lambda: w.metrics().get("intent_model_reloads_total") == 1, timeout=90, what="rollback")
        assert f"now serving model {old} (was {champion}" in w.log.read_text()
        asyncio.run(replay_events(second, s))
        m = w.wait(lambda m: m.get("intent_events_total", 0) >= len(april), 120)
        assert m["intent_events_total"] == len(april)  # none lost ...
        assert m.get("intent_events_duplicate_total", 0) == 0 and m.get("intent_dlq_total", 0) == 0
        after = all_published(s, w)
        later = {e.event_id for e in second}
        by_half = {(i.trigger_event_id in later, i.model_version) for i in after}
        assert by_half == {(False, champion), (True, old)}  # every event after the rollback: the old model
        # ... and none scored twice: one intent per trigger and item at most
        assert max(Counter((i.trigger_event_id, i.item_id) for i in after).values()) == 1
        assert {i.model_version for i in intents(s, s.topic_shadow_intents)} == {challenger}

        assert main(["compare", "--bootstrap", broker.bootstrap, "--horizon-min", "8"]) == 0
        out = capsys.readouterr().out
        assert "champion" in out and "challenger" in out and "verdict:" in out
        assert out.count("precision") >= 2 and out.count("[") >= 4  # both models' figures, with intervals
        print(out)
    finally:
        w.stop()
