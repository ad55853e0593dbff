"""Model cost: microseconds per scored pair for each branch and the fusion, on the
(user, item) pairs the worker builds from real events.

The pairs come from the worker's own processor and feature code (:func:`served_pairs`),
because the ResNet's cost is per user: a random full set of 16 candidates per user made
it look four times cheaper than it is on real users.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from stream.config import Settings
from stream.domain.events import Event, encode_event

__all__ = ["served_pairs", "model_cost"]


def served_pairs(
    model_dir: Path,
    events: list[Event],
    batch_events: int = 1024,
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """The (U, I, sizes) the worker would score for ``events``: the same processor and
    feature code, batches of ``batch_events``, each batch's item statistics folded in
    after it (as the ``events-by-item`` topic brings them), the model call recorded
    instead of made."""
    from models.artifact import load_artifact
    from models.scorer import Scores
    from stream.domain.state import ItemStats
    from stream.monitoring.metrics import WorkerMetrics
    from stream.processing.processor import (
        EventProcessor,
        ProcessorConfig,
        RawMessage,
        ServingModel,
        Sinks,
    )
    from stream.runtime.serving import serving_policy

    loaded = load_artifact(model_dir)
    calls: list[tuple[np.ndarray, np.ndarray, list[int]]] = []

    class Recorder:
        model_version = loaded.scorer.model_version

        def score(self, U: np.ndarray, I: np.ndarray, sizes: Sequence[int]) -> Scores:
            calls.append((U, I, list(sizes)))
            p = np.zeros(len(U), dtype=np.float32)
            return Scores(p, p, p)

    async def nowhere(*args: Any) -> None:
        return None

    items: dict[str, ItemStats] = {}
    defaults = Settings()  # the worker's: its threshold, cool-down and candidates
    model = ServingModel(Recorder(), loaded.catalogue, loaded.spec, serving_policy(loaded, defaults))
    processor = EventProcessor(
        {},
        items,
        {},
        model,
        Sinks(nowhere, nowhere, nowhere),
        WorkerMetrics(),
        ProcessorConfig.from_settings(defaults),
    )
    now_s = time.time()

    async def replay() -> None:
        for start in range(0, len(events), batch_events):
            batch = events[start : start + batch_events]
            await processor.process_batch(
                [
                    RawMessage(e.user_id.encode(), encode_event(e), now_s, start + k)
                    for k, e in enumerate(batch)
                ]
            )
            for e in batch:
                items.setdefault(e.item_id, ItemStats()).update(e)

    asyncio.run(replay())
    if not calls:
        raise ValueError("these events give the model no pair to score")
    return (
        np.concatenate([c[0] for c in calls]),
        np.concatenate([c[1] for c in calls]),
        [size for c in calls for size in c[2]],
    )


def _rows(
    pairs: tuple[np.ndarray, np.ndarray, list[int]],
    start_user: int,
    n: int,
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """``n`` consecutive pairs from user ``start_user`` on (the last user's cut to fit)."""
    U, I, sizes = pairs
    start_user = min(start_user, len(sizes) - 1)
    first = sum(sizes[:start_user])
    if first + n > len(U):  # near the end: start earlier
        first, start_user = 0, 0
    taken: list[int] = []
    k = start_user
    while sum(taken) < n and k < len(sizes):
        taken.append(sizes[k])
        k += 1
    taken[-1] -= sum(taken) - min(n, len(U) - first)
    m = sum(taken)
    return U[first : first + m], I[first : first + m], taken


def model_cost(
    model_dir: Path, pairs: tuple[np.ndarray, np.ndarray, list[int]], reps_s: float = 0.5, spots: int = 16
) -> dict[str, dict[str, float]]:
    """Microseconds per scored pair on pairs the worker builds from real events (see
    :func:`served_pairs`): batches of 1, 64 and 1,024 pairs taken at ``spots`` places
    spread over the sample, scored in turn. The ResNet's cost is per user (16 candidate
    slots, padded), so it is spread over a real user's candidates, which grow through
    the sample, not over a full set of 16."""
    from models.artifact import load_artifact
    from models.fusion import resnet_probabilities

    scorer = load_artifact(model_dir).scorer
    n_users = len(pairs[2])
    out: dict[str, dict[str, float]] = {"resnet": {}, "forest": {}, "fused": {}}
    for b in (1, 64, 1024):
        batches = [_rows(pairs, n_users * (2 * j + 1) // (2 * spots), b) for j in range(spots)]
        for name in out:

            def call(U: np.ndarray, I: np.ndarray, sizes: list[int], name: str = name) -> None:
                if name == "resnet":
                    resnet_probabilities(scorer.inference_resnet(), U, I, sizes)  # as served
                elif name == "forest":
                    scorer.forest.predict_proba(np.hstack([U, I]))
                else:
                    scorer.score(U, I, sizes)

            call(*batches[0])
            scored, t = 0, time.perf_counter()
            while time.perf_counter() - t < reps_s or scored < b * spots:
                for batch in batches:
                    call(*batch)
                    scored += len(batch[0])
            out[name][str(b)] = round((time.perf_counter() - t) / scored * 1e6, 1)
    return out
