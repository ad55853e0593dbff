"""The shared domain: what an event is, how a clickstream is read, what is remembered
about a user and an item, the features built from it (and where each sits), the
catalogue of attributes, and what a label is.

It imports nothing from the rest of ``stream``, nor from ``models`` or ``training``, and
all three import it: the worker and the training replay run this same code, so a
feature means the same thing in both. It is a subpackage of ``stream`` rather than a
package of its own because the product's top level is fixed (``stream/``, ``models/``,
``training/``); ``stream/__init__.py`` imports nothing, so ``models`` and ``training``
load only this layer.

>>> from stream import domain
>>> s = domain.UserState()
>>> s.update(domain.Event("e1", "u1", "i1", "addtocart", 0, "c1"))
True
>>> s.candidates(8)
['i1']
"""

from stream.domain.catalogue import Catalogue
from stream.domain.events import (
    EVENT_TYPES,
    Event,
    InvalidEvent,
    encode_event,
    event_to_dict,
    parse_event,
    parse_message,
    validate_event,
)
from stream.domain.features import (
    ITEM_LAYOUT,
    USER_LAYOUT,
    FeatureSpec,
    item_vector,
    pair_features,
    user_vector,
)
from stream.domain.labels import ACTIVITY_BUCKETS, DEFAULT_HORIZON_MS, activity_bucket
from stream.domain.layout import Layout
from stream.domain.readers import ClickstreamError, ReadResult, read_clickstream
from stream.domain.state import ItemStats, UserState

__all__ = [
    "ACTIVITY_BUCKETS",
    "DEFAULT_HORIZON_MS",
    "EVENT_TYPES",
    "ITEM_LAYOUT",
    "USER_LAYOUT",
    "Catalogue",
    "ClickstreamError",
    "Event",
    "FeatureSpec",
    "InvalidEvent",
    "ItemStats",
    "Layout",
    "ReadResult",
    "UserState",
    "activity_bucket",
    "encode_event",
    "event_to_dict",
    "item_vector",
    "pair_features",
    "parse_event",
    "parse_message",
    "read_clickstream",
    "user_vector",
    "validate_event",
]
