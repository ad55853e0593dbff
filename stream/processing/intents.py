"""The ``purchase-intent`` message, keyed by ``user_id``.

The contract evolves by adding fields: readers ignore fields they do not know, so a
producer may add one without breaking them. ``schema_version`` rises only with a change
that old readers cannot follow (a field removed, renamed or given another meaning); a
reader refuses a version newer than its own (:class:`InvalidIntent`,
``unsupported_version``). The JSON Schema in ``stream/schemas/purchase-intent.schema.json``
is generated from :class:`Intent` (:mod:`stream.io.contracts`).

>>> msg = Intent(user_id="u1", item_id="i9", probability=0.91, threshold=0.5,
...              model_version="v1", components={"resnet": 0.8, "forest": 0.95},
...              trigger_event_id="e1", event_ts=1, scored_at=5, latency_ms=4.0)
>>> decode_intent(encode_intent(msg)) == msg, msg.schema_version
(True, 1)
>>> newer = orjson.loads(encode_intent(msg)) | {"campaign": "spring"}  # a field added later
>>> decode_intent(orjson.dumps(newer)) == msg
True
>>> decode_intent(b'{"user_id": "u1"}')
Traceback (most recent call last):
...
stream.processing.intents.InvalidIntent: missing_field: item_id
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = [
    "Intent",
    "InvalidIntent",
    "encode_intent",
    "decode_intent",
    "INTENT_SCHEMA_VERSION",
    "COMPONENTS",
    "INTENT_INVALID_REASONS",
]

#: The version of the message's meaning; see the module docstring for when it rises.
INTENT_SCHEMA_VERSION = 1
#: The fused model's branches, each with its probability in ``components``.
COMPONENTS = ("resnet", "forest")
#: Every reason :class:`InvalidIntent` gives.
INTENT_INVALID_REASONS = ("invalid_json", "not_object", "missing_field", "bad_field", "unsupported_version")


def _doc(text: str) -> Any:
    return field(metadata={"doc": text})


@dataclass(frozen=True, slots=True)
class Intent:
    """A user-item pair whose fused purchase probability crossed the threshold."""

    user_id: str = _doc("who (the Kafka key; a pseudonym when the worker pseudonymises ids)")
    item_id: str = _doc("the item the user is likely to buy")
    probability: float = _doc("fused purchase probability, 0..1")
    threshold: float = _doc("the threshold it crossed")
    model_version: str = _doc("the model artifact that scored it")
    components: dict[str, float] = _doc("each branch's probability: resnet, forest")
    trigger_event_id: str = _doc("the event whose scoring published it")
    event_ts: int = _doc("event time of the trigger, epoch ms")
    scored_at: int = _doc("wall clock when scored, epoch ms")
    latency_ms: float = _doc("scored_at minus the trigger's ingest (Kafka) timestamp, ms")
    schema_version: int = field(
        default=INTENT_SCHEMA_VERSION,
        metadata={"doc": "version of this contract; readers refuse a newer one (a breaking change)"},
    )


class InvalidIntent(ValueError):
    """A ``purchase-intent`` message that cannot be read; ``reason`` is a short label."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


_FIELDS = dataclasses.fields(Intent)
_REQUIRED = tuple(f.name for f in _FIELDS if f.default is dataclasses.MISSING)
# What each annotation accepts in JSON (bool is an int to Python, never to this contract).
_ACCEPTS: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "dict[str, float]": (dict,),
}


def encode_intent(intent: Intent) -> bytes:
    return orjson.dumps(intent)  # orjson writes a dataclass's fields in order, natively


def decode_intent(raw: bytes) -> Intent:
    """Read one message: unknown fields are ignored, a missing or mistyped known field
    or a newer ``schema_version`` raises :class:`InvalidIntent`."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidIntent("invalid_json", str(exc)[:80]) from None
    if not isinstance(obj, dict):
        raise InvalidIntent("not_object", type(obj).__name__)
    version = obj.get("schema_version", INTENT_SCHEMA_VERSION)
    if isinstance(version, bool) or not isinstance(version, int):
        raise InvalidIntent("bad_field", "schema_version must be an integer")
    if version > INTENT_SCHEMA_VERSION:
        raise InvalidIntent("unsupported_version", f"{version} > {INTENT_SCHEMA_VERSION}")
    for name in _REQUIRED:
        if name not in obj:
            raise InvalidIntent("missing_field", name)
    values: dict[str, Any] = {}
    for f in _FIELDS:
        if f.name not in obj:
            continue
        value = obj[f.name]
        if isinstance(value, bool) or not isinstance(value, _ACCEPTS[str(f.type)]):
            raise InvalidIntent("bad_field", f"{f.name} must be {f.type}")
        values[f.name] = value
    if not 0 <= values["probability"] <= 1:
        raise InvalidIntent("bad_field", "probability must lie in 0..1")
    components = values["components"]
    for name in COMPONENTS:
        if isinstance(components.get(name), bool) or not isinstance(components.get(name), (int, float)):
            raise InvalidIntent("bad_field", f"components.{name} must be a number")
    return Intent(**values)
