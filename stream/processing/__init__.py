"""The pure steps of the event's path, in order: validate (``stream.domain.events``),
fold into state, build features, score, gate, and publish the intent; plus the
pseudonymisation of user ids and the item activity that feeds item statistics.

:class:`EventProcessor` runs a batch through them; it knows nothing of Faust or Kafka
(its sinks are callables), which is what lets tests and the bench drive it directly.
"""

from stream.processing.gate import IntentGate
from stream.processing.intents import Intent, InvalidIntent, decode_intent, encode_intent
from stream.processing.item_events import ItemActivity, decode_item_activity
from stream.processing.privacy import Pseudonymizer
from stream.processing.processor import BatchResult, EventProcessor, RawMessage, ServingModel, Sinks

__all__ = [
    "BatchResult",
    "EventProcessor",
    "Intent",
    "IntentGate",
    "InvalidIntent",
    "ItemActivity",
    "Pseudonymizer",
    "RawMessage",
    "ServingModel",
    "Sinks",
    "decode_intent",
    "decode_item_activity",
    "encode_intent",
]
