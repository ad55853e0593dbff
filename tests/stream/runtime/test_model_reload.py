"""A new artifact dropped into the model directory is hot-swapped; a corrupt one is refused."""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from pathlib import Path

import orjson
import pytest

from stream.io.kafka import read_topic
from stream.io.replay import replay_events
from stream.processing.intents import decode_intent
from tests.conftest import WorkerProcess, settings_for, wait_for

pytestmark = pytest.mark.integration


def publish(src: Path, model_dir: Path, version: str, corrupt: bool = False) -> None:
    """Write a copy of ``src`` under a new version beside ``model_dir``, then rename it in."""
    staging = model_dir.parent / f".staging-{version}"
    shutil.copytree(src, staging)
    manifest = orjson.loads((staging / "manifest.json").read_bytes())
    manifest["model_version"] = version
    (staging / "manifest.json").write_bytes(orjson.dumps(manifest))
    if corrupt:
        with (staging / "forest.pkl").open("r+b") as f:
            f.seek(100)
            f.write(b"\x00" * 16)
    old = model_dir.parent / f".old-{version}"
    model_dir.rename(old)
    staging.rename(model_dir)
    shutil.rmtree(old)


def versions(settings) -> list[str]:
    return [
        decode_intent(r.value).model_version
        for r in asyncio.run(read_topic(settings, settings.topic_intents))
    ]


def test_hot_swap_and_refusal(broker, quick_model, jdata_events, tmp_path: Path) -> None:
    s = settings_for(broker)
    model_dir = tmp_path / "model"
    shutil.copytree(quick_model[0], model_dir)
    v1 = orjson.loads((model_dir / "manifest.json").read_bytes())["model_version"]
    w = WorkerProcess(
        broker.bootstrap,
        model_dir,
        tmp_path / "w",
        tmp_path / "w.log",
        INTENT_MODEL_POLL_S="0.3",
        INTENT_THRESHOLD="0",
    )
    try:
        w.wait_ready()
        chunks = [jdata_events[k * 200 : (k + 1) * 200] for k in range(3)]
        seen = 0

        def replay_and_collect(chunk) -> list[str]:
            nonlocal seen
            asyncio.run(replay_events(chunk, s))
            target = seen + len(chunk)
            wait_for(lambda: w.metrics().get("intent_events_total", 0) >= target, what="chunk processed")
            seen = target
            got = wait_for(
                lambda: (v := versions(s)) and len(v) == w.metrics()["intent_intents_published_total"] and v,
                what="intents readable",
            )
            return got

        first = replay_and_collect(chunks[0])
        assert set(first) == {v1}
        publish(quick_model[0], model_dir, "v2-hot")
        wait_for(lambda: w.metrics().get("intent_model_reloads_total") == 1, what="hot swap")
        second = replay_and_collect(chunks[1])
        # records come back partition by partition, so compare counts, not positions
        assert Counter(second) == Counter({v1: len(first), "v2-hot": len(second) - len(first)})
        assert len(second) > len(first)
        publish(quick_model[0], model_dir, "v3-corrupt", corrupt=True)
        wait_for(lambda: w.metrics().get("intent_model_reload_failures_total") == 1, what="refusal")
        third = replay_and_collect(chunks[2])
        assert len(third) > len(second) and "v3-corrupt" not in third  # the old model kept serving
        assert Counter(third)[v1] == len(first)
        assert "checksum mismatch for forest.pkl" in w.log.read_text()
    finally:
        w.stop()
