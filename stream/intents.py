"""The ``purchase-intent`` message, keyed by ``user_id``.

>>> msg = Intent(user_id="u1", item_id="i9", probability=0.91, threshold=0.5,
...              model_version="v1", components={"resnet": 0.8, "forest": 0.95},
...              trigger_event_id="e1", event_ts=1, scored_at=5, latency_ms=4.0)
>>> decode_intent(encode_intent(msg)) == msg
True
"""
from __future__ import annotations

from dataclasses import dataclass

import orjson

__all__ = ["Intent", "encode_intent", "decode_intent"]


@dataclass(frozen=True, slots=True)
class Intent:
    """A user-item pair whose fused purchase probability crossed the threshold."""

    user_id: str
    item_id: str
    probability: float
    threshold: float
    model_version: str
    components: dict[str, float]  # {"resnet": P_r, "forest": P_f}
    trigger_event_id: str
    event_ts: int  # event time of the trigger, epoch ms
    scored_at: int  # wall clock when scored, epoch ms
    latency_ms: float  # scored_at minus the trigger's ingest (Kafka) timestamp


def encode_intent(intent: Intent) -> bytes:
    return orjson.dumps(intent)  # orjson writes a dataclass's fields in order, natively


def decode_intent(raw: bytes) -> Intent:
    return Intent(**orjson.loads(raw))
