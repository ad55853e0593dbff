"""The Taobao test days replayed through the worker's processor, in-process (no broker):
the intents a served model publishes, for the coupon and volume tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from models.artifact import load_artifact
from stream.config import REPO_ROOT
from stream.domain.events import Event, encode_event
from stream.domain.features import FeatureSpec
from stream.domain.readers import read_clickstream
from stream.monitoring.metrics import WorkerMetrics
from stream.processing.intents import Intent, decode_intent
from stream.processing.item_events import fold_item_activity
from stream.processing.policy import ServingPolicy
from stream.processing.processor import EventProcessor, ProcessorConfig, RawMessage, ServingModel, Sinks
from stream.processing.volume import VolumeTarget

TAOBAO = REPO_ROOT.parent / "shared" / "data" / "taobao-userbehavior"
#: The data set's last two days (China time, UTC+8): the test days of intent train.
TEST_START = 1_512_144_000_000
DAY_MS = 86_400_000


def test_days(warmup_days: int = 0) -> list[Event]:
    """The test days' events, after ``warmup_days`` days before them (China time)."""
    return [e for e in read_clickstream([TAOBAO]).events if e.ts >= TEST_START - warmup_days * DAY_MS]


def china_day(ts: int) -> int:
    return (ts - TEST_START) // DAY_MS


@dataclass
class Replay:
    intents: list[Intent] = field(default_factory=list)
    purchases: list[tuple[str, str, int]] = field(default_factory=list)


def served(path: Path, threshold: float | None = None) -> ServingModel:
    loaded = load_artifact(path)
    policy = ServingPolicy.resolve(loaded.scorer.threshold, 1_800_000, threshold)
    return ServingModel(loaded.scorer, loaded.catalogue, FeatureSpec(), policy)


def replay(
    events: list[Event],
    models: list[Path],
    volume: VolumeTarget | None = None,
    batch: int = 256,
    threshold: float | None = None,
) -> Replay:
    """``events`` in batches through one processor, serving ``models[0]`` (at ``threshold``
    when given); the served model is swapped to ``models[1]`` at the second test day
    (with the volume target's seeding, as the worker's hot swap does)."""
    out = Replay(purchases=[(e.user_id, e.item_id, e.ts) for e in events if e.type == "transaction"])
    items: dict = {}

    async def to_items(partition: int, value: bytes) -> None:
        for item_id, stats in fold_item_activity([value], items).items():
            items[item_id] = stats

    async def to_intents(key: bytes | None, value: bytes) -> None:
        out.intents.append(decode_intent(value))

    async def nowhere(key: bytes | None, value: bytes) -> None:
        return None

    async def run() -> None:
        proc = EventProcessor(
            {},
            items,
            {},
            served(models[0], threshold),
            Sinks(dlq=nowhere, item_events=to_items, intents=to_intents),
            WorkerMetrics(),
            ProcessorConfig(max_candidates=32),
            volume=volume,
        )
        swapped = len(models) < 2
        for start in range(0, len(events), batch):
            chunk = events[start : start + batch]
            if not swapped and china_day(chunk[0].ts) >= 1:
                swapped = True
                model = served(models[1], threshold)
                if volume is not None:
                    volume.prepare(model.scorer)
                proc.model = model
            await proc.process_batch(
                [RawMessage(e.user_id.encode(), encode_event(e), e.ts / 1000) for e in chunk]
            )

    asyncio.run(run())
    return out
