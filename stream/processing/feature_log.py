"""The feature log: a sample of scored pairs, with the feature vectors they were scored
on and the model version that scored them (``INTENT_FEATURE_LOG_RATE``, to the topic
``feature-log``, key = user id), so that ``intent skew`` can recompute the same
features offline and say whether training and serving agree.

Each record names the trigger event (the user's last event of the batch: the state the
features were read from is the user's state right after it), the item's rank among the
user's candidates, and the item's statistics as the worker's ``items`` table held them
when the features were built (encoded as :mod:`stream.domain.state_codec` keeps them):
the table is fed through ``events-by-item`` and lags the stream by about a batch, an
input of the features like the catalogue, not something a replay can know.

>>> import numpy as np
>>> from stream.processing.batch import FeatureSample
>>> raw = encode_record(FeatureSample(0, "u1", "i1", 0, 3, None), np.ones(2), np.zeros(2), "v1", "e9", 5)
>>> r = decode_record(raw); r.user_id, r.U.tolist(), r.item_stats, r.trigger_event_id
('u1', [1.0, 1.0], None, 'e9')
>>> sampler(0.0) is None, len(sampler(1.0, seed=0)(4))
(True, 4)
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import orjson

from stream.processing.batch import FeatureSample, Send, StagedBatch

__all__ = ["FeatureRecord", "sampler", "encode_record", "decode_record", "log_features"]


@dataclass(frozen=True)
class FeatureRecord:
    user_id: str
    item_id: str
    rank: int
    n_candidates: int
    model_version: str
    trigger_event_id: str
    event_ts: int
    U: np.ndarray
    I: np.ndarray
    item_stats: bytes | None
    logged_at: int


def sampler(rate: float, seed: int | None = None) -> Callable[[int], np.ndarray] | None:
    """Which of a user's ``n`` pairs to log (each with probability ``rate``); None when off."""
    if rate <= 0:
        return None
    rng = np.random.default_rng(seed)

    def pick(n: int) -> np.ndarray:
        return np.flatnonzero(rng.random(n) < rate)

    return pick


def encode_record(
    sample: FeatureSample, U: np.ndarray, I: np.ndarray, version: str, trigger_event_id: str, event_ts: int
) -> bytes:
    """One record: ``U`` and ``I`` are the pair's rows (float32: JSON keeps them exactly)."""
    stats = sample.item_stats
    return orjson.dumps(
        {
            "user_id": sample.user_id,
            "item_id": sample.item_id,
            "rank": sample.rank,
            "n_candidates": sample.n_candidates,
            "model_version": version,
            "trigger_event_id": trigger_event_id,
            "event_ts": event_ts,
            "U": np.asarray(U, dtype=np.float32),
            "I": np.asarray(I, dtype=np.float32),
            "item_stats": None if stats is None else base64.b64encode(stats).decode(),
            "logged_at": int(time.time() * 1000),
        },
        option=orjson.OPT_SERIALIZE_NUMPY,
    )


def decode_record(raw: bytes) -> FeatureRecord:
    body = orjson.loads(raw)
    stats = body.get("item_stats")
    return FeatureRecord(
        body["user_id"],
        body["item_id"],
        int(body["rank"]),
        int(body["n_candidates"]),
        body["model_version"],
        body["trigger_event_id"],
        int(body["event_ts"]),
        np.asarray(body["U"], dtype=np.float32),
        np.asarray(body["I"], dtype=np.float32),
        None if stats is None else base64.b64decode(stats),
        int(body.get("logged_at", 0)),
    )


async def log_features(staged: StagedBatch, send: Send) -> int:
    """Send a staged batch's sampled pairs to the feature log; how many."""
    if staged.U is None or staged.I is None:
        return 0
    version = staged.model.scorer.model_version
    for sample in staged.samples:
        trigger = staged.triggers[sample.user_id][-1].event
        value = encode_record(
            sample, staged.U[sample.row], staged.I[sample.row], version, trigger.event_id, trigger.ts
        )
        await send(sample.user_id.encode(), value)
    return len(staged.samples)
