"""``INTENT_STORE`` -> the Faust store class of our tables, registered with Faust by name.

``memory://`` is :class:`~stream.store.memory.MemoryStateStore`, ``rocksdb://``
:class:`~stream.store.rocksdb.RocksStateStore` (its databases under the worker's data
directory). Faust builds a table's store from a URL; the names registered here
(``intent-memory``, ``intent-rocksdb``) leave Faust's own ``memory`` and ``rocksdb``
as they are for any other Faust app in the process.

>>> store_url("rocksdb://"), store_url("memory://")
('intent-rocksdb://', 'intent-memory://')
>>> store_url("redis://")
Traceback (most recent call last):
...
ValueError: INTENT_STORE: memory:// or rocksdb://, got 'redis://'
"""

from __future__ import annotations

from faust.stores import STORES

__all__ = ["store_url", "STORE_SCHEMES"]

#: INTENT_STORE scheme -> the class Faust builds for it.
STORE_SCHEMES = {
    "memory": "stream.store.memory:MemoryStateStore",
    "rocksdb": "stream.store.rocksdb:RocksStateStore",
}


def store_url(setting: str) -> str:
    """The Faust store URL of our tables for the ``INTENT_STORE`` value ``setting``."""
    scheme, sep, rest = setting.partition("://")
    if not sep or scheme not in STORE_SCHEMES:
        raise ValueError(f"INTENT_STORE: memory:// or rocksdb://, got {setting!r}")
    name = f"intent-{scheme}"
    STORES.aliases.setdefault(name, STORE_SCHEMES[scheme])
    return f"{name}://{rest}"
