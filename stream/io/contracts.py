"""The JSON Schemas of our Kafka contracts, generated from their one definition.

The schema files in ``stream/schemas/`` (shipped in the wheel, for producers and
consumers outside this code base) are written by this module from the definitions the
code itself uses: :class:`stream.domain.events.Event` and its validator's limits
(``EVENT_TYPES``, id length, earliest timestamp) for ``events``, and
:class:`stream.processing.intents.Intent` for ``purchase-intent``. A test regenerates them and
compares, so they never drift; after changing a definition, rewrite them with::

    python -m stream.io.contracts

Both contracts allow fields they do not name (``additionalProperties``): the worker
drops unknown event fields, and intent readers ignore unknown intent fields, so either
message can grow a field without breaking a reader.

>>> schema = events_schema()
>>> schema["properties"]["type"]["enum"] == list(EVENT_TYPES)
True
>>> sorted(intent_schema()["required"])[:3]
['components', 'event_ts', 'item_id']
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args, get_type_hints

import orjson

from stream.domain import events as events_module
from stream.domain.events import (
    EVENT_TYPES,
    MAX_EVENT_BYTES,
    MAX_ID_CHARS,
    MAX_INT_ID,
    MIN_INT_ID,
    MIN_TS_MS,
    Event,
)
from stream.processing.intents import COMPONENTS, INTENT_SCHEMA_VERSION, Intent

__all__ = ["events_schema", "intent_schema", "SCHEMAS", "SCHEMA_DIR", "render", "write_schemas"]

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
# No control characters (the validator asks for printable ids: this is its ASCII part).
PRINTABLE = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"


def _event_field_docs() -> dict[str, str]:
    """Each field's meaning, read from the table in :mod:`stream.domain.events`' docstring."""
    docs: dict[str, str] = {}
    rules = 0
    for line in (events_module.__doc__ or "").splitlines():
        if line.startswith("====="):
            rules += 1
            continue
        if rules == 2 and line.strip():
            name, _type, meaning = (line.split(None, 2) + ["", ""])[:3]
            docs[name] = meaning.strip()
    return docs


def events_schema() -> dict[str, Any]:
    """The ``events`` message as :func:`stream.domain.events.parse_event` accepts it."""
    docs = _event_field_docs()
    optional = set(Event._field_defaults)
    hints = get_type_hints(Event)
    properties: dict[str, Any] = {}
    for name in Event._fields:
        hint = hints[name]
        if name == "type":
            prop: dict[str, Any] = {"type": "string", "enum": list(EVENT_TYPES)}
        elif name == "ts":
            prop = {"type": "integer", "minimum": MIN_TS_MS}
        elif hint is float or float in get_args(hint):
            prop = {"type": "number", "minimum": 0}
        else:  # ids and labels: a string or an integer, read as text
            prop = {
                "type": ["string", "integer"],
                "minLength": 1,
                "maxLength": MAX_ID_CHARS,
                "pattern": PRINTABLE,
                "minimum": MIN_INT_ID,
                "maximum": MAX_INT_ID,
            }
        description = docs.get(name, "")
        if name == "type":
            description = "what the user did: " + " | ".join(EVENT_TYPES)
        elif name == "ts":
            description += "; from 2000-01-01 to one day after the worker's clock"
        properties[name] = {"description": description, **prop}
    return {
        "$schema": DRAFT,
        "$id": "urn:intent:events",
        "title": "events",
        "description": (
            f"A clickstream event, JSON, at most {MAX_EVENT_BYTES} bytes, keyed by user_id. "
            "Unknown fields are dropped by the worker; a message that does not "
            "conform goes to events-dlq with its reason."
        ),
        "x-kafka-key": "user_id",
        "type": "object",
        "required": [name for name in Event._fields if name not in optional],
        "properties": properties,
        "additionalProperties": True,
    }


_JSON_TYPES = {"str": {"type": "string"}, "int": {"type": "integer"}, "float": {"type": "number"}}


def intent_schema() -> dict[str, Any]:
    """The ``purchase-intent`` message as :func:`stream.processing.intents.encode_intent` writes it."""
    properties: dict[str, Any] = {}
    required = []
    for f in dataclasses.fields(Intent):
        if f.name == "components":
            prop: dict[str, Any] = {
                "type": "object",
                "properties": {c: {"type": "number"} for c in COMPONENTS},
                "required": list(COMPONENTS),
                "additionalProperties": {"type": "number"},
            }
        elif f.name == "schema_version":
            prop = {"type": "integer", "const": INTENT_SCHEMA_VERSION, "default": INTENT_SCHEMA_VERSION}
        else:
            prop = dict(_JSON_TYPES[str(f.type)])
        if f.name == "probability":
            prop.update(minimum=0, maximum=1)
        properties[f.name] = {"description": f.metadata.get("doc", ""), **prop}
        if f.default is dataclasses.MISSING:
            required.append(f.name)
    return {
        "$schema": DRAFT,
        "$id": f"urn:intent:purchase-intent:{INTENT_SCHEMA_VERSION}",
        "title": "purchase-intent",
        "description": (
            "A user-item pair whose purchase probability crossed the threshold, JSON, "
            "keyed by user_id. Readers ignore fields they do not know; schema_version "
            "rises only with a change old readers cannot follow."
        ),
        "x-kafka-key": "user_id",
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": True,
    }


#: file name -> generator
SCHEMAS: dict[str, Callable[[], dict[str, Any]]] = {
    "events.schema.json": events_schema,
    "purchase-intent.schema.json": intent_schema,
}


def render(schema: dict[str, Any]) -> bytes:
    """The bytes of a schema file (indented, keys in the generator's order)."""
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2) + b"\n"


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in SCHEMAS.items():
        path = directory / name
        path.write_bytes(render(make()))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_schemas(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_DIR):
        print(f"wrote {path}")
