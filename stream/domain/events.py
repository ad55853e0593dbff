"""The ``events`` message: schema, validation and serialisation.

A clickstream event is a JSON object keyed by ``user_id`` on the ``events`` topic:

=============  ========  ==========================================================
field          type      meaning
=============  ========  ==========================================================
event_id       str       unique id; duplicates (producer retries) are dropped
user_id        str       who acted (also the Kafka key)
item_id        str       on what item
type           str       one of :data:`EVENT_TYPES`: ``view``, ``addtocart``,
                         ``transaction``, ``remove_from_cart``, ``favorite``, ``click``
ts             int       event time, epoch milliseconds (a whole number; 5.0 reads as 5)
category_id    str?      item category
price          float?    item price (finite, >= 0)
session_id     str?      shop's session id
source         str?      which shop or feed sent it (data-quality metrics per source)
brand          str?      the item's brand
=============  ========  ==========================================================

An id may also be sent as a JSON integer that fits in 64 bits; it is read as its text.
Unknown fields are dropped (so personal data such as e-mail never reaches state).
Anything malformed raises :class:`InvalidEvent` whose ``reason`` is a short,
stable label used for the DLQ and the ``intent_dlq_total`` metric.

>>> e = parse_event(b'{"event_id":"e1","user_id":"u1","item_id":"i9","type":"view","ts":1454284800000}')
>>> e.user_id, e.type, e.ts
('u1', 'view', 1454284800000)
>>> parse_event(b'{"event_id":"e1","user_id":"u1","item_id":"i9","type":"like","ts":1454284800000}')
Traceback (most recent call last):
...
stream.domain.events.InvalidEvent: unknown_type: 'like'
>>> parse_event(encode_event(e)) == e
True
"""

from __future__ import annotations

import math
import time
from typing import Any, Literal, NamedTuple, overload

import orjson

__all__ = [
    "EVENT_TYPES",
    "Event",
    "InvalidEvent",
    "parse_event",
    "parse_message",
    "encode_event",
    "MAX_EVENT_BYTES",
    "DLQ_REASONS",
]

#: Event types, in the order of their index in state and features. The first three are
#: the original contract; removals and favourites carry purchase signal (open carts,
#: wish lists), and ``click`` keeps a click on an item apart from a page view of it
#: (JD.com logs both). New types are appended, so an index never changes meaning.
EVENT_TYPES: tuple[str, ...] = ("view", "addtocart", "transaction", "remove_from_cart", "favorite", "click")
TYPE_INDEX: dict[str, int] = {t: i for i, t in enumerate(EVENT_TYPES)}
MAX_EVENT_BYTES = 4096
MAX_ID_CHARS = 128
#: An id sent as a JSON integer must fit in 64 bits, signed or unsigned (what orjson reads
#: exactly); the lowest signed value is left out because longer literals round onto it.
MIN_INT_ID = -(2**63) + 1
MAX_INT_ID = 2**64 - 1
# Event time must lie between 2000-01-01 and one day after the wall clock.
MIN_TS_MS = 946_684_800_000
FUTURE_SLACK_MS = 86_400_000

#: Every reason label the validator can give (prefix before ':').
DLQ_REASONS = (
    "oversize",
    "invalid_utf8",
    "invalid_json",
    "not_object",
    "missing_field",
    "bad_field",
    "unknown_type",
    "absurd_timestamp",
    "key_mismatch",
    "scoring_failed",
)


class InvalidEvent(ValueError):
    """An event that fails validation; ``reason`` is the DLQ label."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class Event(NamedTuple):
    """A validated clickstream event (immutable; a named tuple, as one is built per
    message: a quarter of a frozen dataclass's cost; copy with ``event._replace``)."""

    event_id: str
    user_id: str
    item_id: str
    type: str
    ts: int
    category_id: str | None = None
    price: float | None = None
    session_id: str | None = None
    source: str | None = None
    brand: str | None = None

    @property
    def type_index(self) -> int:
        return TYPE_INDEX[self.type]


_new_tuple = tuple.__new__


@overload
def _id(obj: dict[str, Any], name: str, required: Literal[True] = True) -> str: ...
@overload
def _id(obj: dict[str, Any], name: str, required: Literal[False]) -> str | None: ...
def _id(obj: dict[str, Any], name: str, required: bool = True) -> str | None:
    value = obj.get(name)
    if type(value) is str and 0 < len(value) <= MAX_ID_CHARS and value.isprintable():
        return value  # the common case, in one test (six ids an event, every event)
    if value is None:
        if required:
            raise InvalidEvent("missing_field", name)
        return None
    if type(value) is float and value.is_integer():
        value = int(value)  # JSON has one number type: 5.0 is the integer 5 (JSON Schema agrees)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidEvent("bad_field", f"{name} must be a string or integer")
    if type(value) is int and not MIN_INT_ID <= value <= MAX_INT_ID:
        # orjson reads a longer integer literal as a rounded float; its text is not the id sent
        raise InvalidEvent("bad_field", f"{name} as an integer must fit in 64 bits")
    text = str(value)
    if not text or len(text) > MAX_ID_CHARS:
        raise InvalidEvent("bad_field", f"{name} must have 1..{MAX_ID_CHARS} characters")
    if not text.isprintable():
        raise InvalidEvent("bad_field", f"{name} has control characters")
    return text


def validate_event(obj: Any, now_ms: int | None = None) -> Event:
    """Check a decoded JSON value and build an :class:`Event`."""
    if not isinstance(obj, dict):
        raise InvalidEvent("not_object", type(obj).__name__)
    event_id = _id(obj, "event_id")
    user_id = _id(obj, "user_id")
    item_id = _id(obj, "item_id")
    etype = obj.get("type")
    if etype is None:
        raise InvalidEvent("missing_field", "type")
    if etype not in TYPE_INDEX:
        raise InvalidEvent("unknown_type", repr(etype)[:40])
    ts = obj.get("ts")
    if ts is None:
        raise InvalidEvent("missing_field", "ts")
    if type(ts) is not int:
        if type(ts) is float and ts.is_integer():
            ts = int(ts)  # 1454284800000.0 is an integer in JSON, as for ids
        else:
            raise InvalidEvent("bad_field", "ts must be integer epoch milliseconds")
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if ts < MIN_TS_MS or ts > now_ms + FUTURE_SLACK_MS:
        raise InvalidEvent("absurd_timestamp", str(ts))
    price = obj.get("price")
    if price is not None:
        if isinstance(price, bool) or not isinstance(price, (int, float)):
            raise InvalidEvent("bad_field", "price must be a number")
        price = float(price)
        if not math.isfinite(price) or price < 0:
            raise InvalidEvent("bad_field", "price must be finite and >= 0")
    # tuple.__new__: what Event(...) does, without the named tuple's generated __new__
    # (a third of the cost; this runs for every event the worker takes)
    return _new_tuple(
        Event,
        (
            event_id,
            user_id,
            item_id,
            etype,
            ts,
            _id(obj, "category_id", required=False),
            price,
            _id(obj, "session_id", required=False),
            _id(obj, "source", required=False),
            _id(obj, "brand", required=False),
        ),
    )


def parse_event(raw: bytes | None, now_ms: int | None = None) -> Event:
    """Decode and validate the bytes of one ``events`` message."""
    if raw is None:
        raise InvalidEvent("invalid_json", "empty message")
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidEvent("oversize", f"{len(raw)} bytes > {MAX_EVENT_BYTES}")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        # orjson reports both bad UTF-8 and bad syntax; tell them apart for operators.
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidEvent("invalid_utf8", str(exc)[:80]) from None
        raise InvalidEvent("invalid_json", str(exc)[:80]) from None
    return validate_event(obj, now_ms)


def parse_message(raw: bytes | None, key: bytes | None, now_ms: int | None = None) -> Event:
    """An ``events`` message as the worker (and the archive) takes it: :func:`parse_event`,
    and a key, when the message has one, that is the user id (else ``key_mismatch``: the
    tables are partitioned by it).

    >>> raw = b'{"event_id":"e1","user_id":"u1","item_id":"i9","type":"view","ts":1454284800000}'
    >>> parse_message(raw, b"u1").user_id
    'u1'
    >>> parse_message(raw, b"u2")
    Traceback (most recent call last):
    ...
    stream.domain.events.InvalidEvent: key_mismatch: message key is not the event's user_id
    """
    event = parse_event(raw, now_ms)
    if key is not None and key != event.user_id.encode():
        raise InvalidEvent("key_mismatch", "message key is not the event's user_id")
    return event


def event_to_dict(event: Event) -> dict[str, Any]:
    out: dict[str, Any] = {
        "event_id": event.event_id,
        "user_id": event.user_id,
        "item_id": event.item_id,
        "type": event.type,
        "ts": event.ts,
    }
    if event.category_id is not None:
        out["category_id"] = event.category_id
    if event.price is not None:
        out["price"] = event.price
    if event.session_id is not None:
        out["session_id"] = event.session_id
    if event.source is not None:
        out["source"] = event.source
    if event.brand is not None:
        out["brand"] = event.brand
    return out


def encode_event(event: Event) -> bytes:
    """The JSON bytes of an event, as published on ``events``."""
    return orjson.dumps(event_to_dict(event))


def dlq_record(raw: bytes | None, reason: str, detail: str, key: bytes | None) -> bytes:
    """A DLQ message: the original bytes (latin-1 so any byte survives) and the reason."""
    return orjson.dumps(
        {
            "reason": reason,
            "detail": detail,
            "key": None if key is None else key.decode("latin-1"),
            "original": None if raw is None else raw.decode("latin-1"),
            "original_encoding": "latin-1",
            "dlq_at": int(time.time() * 1000),
        }
    )
