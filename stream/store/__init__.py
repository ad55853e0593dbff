"""Where the worker's state lives: the tables' stores, the view the processor reads them
through, and the retention that ends state.

* :mod:`stream.store.table`: :class:`StateTable`, a table of state objects by ``str`` key
  over a store of compact bytes (:mod:`stream.domain.state_codec`), with the records
  for its changelog.
* :mod:`stream.store.memory`: :class:`MemoryStateStore`, dicts per partition (tests,
  small shops; restored from the changelogs at every start).
* :mod:`stream.store.rocksdb`: :class:`RocksStateStore`, RocksDB per partition with
  bounded memory (production; a restart reads only the changelogs' tail).
* :mod:`stream.store.expiry`: users and items not seen within the retention, removed
  with tombstones.
* :mod:`stream.store.stores`: the ``INTENT_STORE`` URL -> the Faust store class.

Both stores are Faust stores (Faust still restores them from the changelogs, keeps
standby replicas and moves partitions in a rebalance), but the worker writes them
itself, a batch at a time, and sends their changelog records itself
(:mod:`stream.runtime.worker`).
"""

from __future__ import annotations

from stream.lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "StateTable": "table",
        "MemoryStateStore": "memory",
        "RocksStateStore": "rocksdb",
        "store_url": "stores",
        "expired": "expiry",
    },
)
