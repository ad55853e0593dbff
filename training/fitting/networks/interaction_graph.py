"""The user-item interaction graph, as it stood at any moment.

Every event before ``cutoff`` is an edge between its user and its item, stamped with
its time and type (a user who viewed an item three times has three edges to it). The
graph answers one question: *at time t, what were a node's k most recent edges?*,
counting only edges strictly before t, so a moment never sees an interaction from its
own second or after it (the labels start after the moment; the features stop at it).

Design, for the training pipeline (:mod:`training.fitting.networks.graph_attention` reads it):

* The graph holds the TRAINING period's events only (``cutoff`` = the validation
  start). A training row at time t sees the edges before t; a validation or test row
  sees the whole training graph (every edge is before it) and nothing of its own part.
  So no row sees the future, and the validation and test parts never feed the graph:
  their recent actions reach the models through the sequence branch.
* A node "exists" at t only once it has an edge before t: a user or item whose first
  interaction is at or after t is unknown then (the networks give it a learned
  "unknown" embedding), as is every node first seen after ``cutoff``.
* Cheap: two arrays of edges sorted by (node, time), one per side; a batch of queries
  is one ``searchsorted`` (no per-moment graph is ever materialised).

>>> from stream.domain.events import Event
>>> ev = [Event("1", "ann", "pen", "view", 1_000), Event("2", "bob", "pen", "view", 2_000),
...       Event("3", "ann", "ink", "transaction", 3_000), Event("4", "ann", "cap", "view", 9_000)]
>>> g = InteractionGraph.from_events(ev, cutoff=5_000)   # the event at 9 s is after the cutoff
>>> g.recent_edges("ann", at=3_000, k=5, side="user")    # the purchase at 3 s is not before 3 s
[('pen', 1000, 'view')]
>>> g.recent_edges("pen", at=10_000, k=5, side="item")
[('ann', 1000, 'view'), ('bob', 2000, 'view')]
>>> g.recent_edges("cap", at=10_000, k=5, side="item")   # after the cutoff: not in the graph
[]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from stream.domain.events import EVENT_TYPES, TYPE_INDEX, Event

__all__ = ["InteractionGraph", "Adjacency", "GRAPH_KEYS"]

Side = Literal["user", "item"]
#: The arrays :meth:`InteractionGraph.inputs` returns, one row per scored row.
GRAPH_KEYS = tuple(
    f"{side}{part}"
    for side in ("user", "item")
    for part in ("", "_nbr", "_nbr_type", "_nbr_age", "_nbr_mask")
)


@dataclass(frozen=True)
class Adjacency:
    """One side's edges, sorted by (node, time): ``nbr[p]`` is the other end of edge
    ``p``; a node's edges are ``start[node]:start[node + 1]``. ``keys`` fold (node,
    time) into one sorted int64, so "edges of ``node`` before ``t``" is one binary
    search."""

    keys: np.ndarray
    start: np.ndarray
    nbr: np.ndarray
    types: np.ndarray
    ts: np.ndarray
    t0: int
    span: int  # every edge's ts - t0 lies in [0, span)

    @classmethod
    def build(
        cls,
        node: np.ndarray,
        nbr: np.ndarray,
        types: np.ndarray,
        ts: np.ndarray,
        n_nodes: int,
        t0: int,
        span: int,
    ) -> Adjacency:
        order = np.lexsort((ts, node))  # stable: same-time edges keep their replay order
        node, nbr, types, ts = node[order], nbr[order], types[order], ts[order]
        keys = node.astype(np.int64) * (span + 1) + (ts - t0)
        start = np.searchsorted(node, np.arange(n_nodes + 1)).astype(np.int64)
        return cls(keys, start, nbr.astype(np.int32), types.astype(np.int8), ts.astype(np.int64), t0, span)

    def recent(self, nodes: np.ndarray, at: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each (node, time): positions of its ``k`` most recent edges strictly
        before the time (oldest first, left-padded), their mask, and how many edges it
        had before the time. ``nodes`` < 0 are unknown: no edges."""
        nodes = np.asarray(nodes, dtype=np.int64)
        known = nodes >= 0
        safe = np.where(known, nodes, 0)
        # edges are before the cutoff, so a later time sees them all: clip to span
        offset = np.clip(np.asarray(at, dtype=np.int64) - self.t0, 0, self.span)
        end = np.searchsorted(self.keys, safe * (self.span + 1) + offset, side="left")
        first = self.start[safe]
        count = np.where(known, end - first, 0)
        pos = end[:, None] - k + np.arange(k)[None, :]
        mask = (pos >= first[:, None]) & known[:, None]
        return np.where(mask, pos, 0), mask, count


@dataclass(frozen=True)
class InteractionGraph:
    """Users and items (``users[name]``, ``items[name]``: node indices) and their edges
    from both sides; see the module docstring."""

    users: dict[str, int]
    items: dict[str, int]
    by_user: Adjacency  # node = user, neighbour = item
    by_item: Adjacency  # node = item, neighbour = user
    cutoff: int

    @classmethod
    def from_events(cls, events: Iterable[Event], cutoff: int) -> InteractionGraph:
        """The graph of every event strictly before ``cutoff`` (epoch ms)."""
        users: dict[str, int] = {}
        items: dict[str, int] = {}
        u, i, t, ts = [], [], [], []
        for e in events:
            if e.ts >= cutoff:
                continue
            u.append(users.setdefault(e.user_id, len(users)))
            i.append(items.setdefault(e.item_id, len(items)))
            t.append(TYPE_INDEX[e.type])
            ts.append(e.ts)
        U, I = np.asarray(u, dtype=np.int64), np.asarray(i, dtype=np.int64)
        T, TS = np.asarray(t, dtype=np.int8), np.asarray(ts, dtype=np.int64)
        t0 = int(TS.min()) if len(TS) else int(cutoff)
        span = max(int(cutoff) - t0, 1)
        return cls(
            users,
            items,
            Adjacency.build(U, I, T, TS, len(users), t0, span),
            Adjacency.build(I, U, T, TS, len(items), t0, span),
            int(cutoff),
        )

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def index(self, names: Iterable[str], side: Side) -> np.ndarray:
        """Node index of each name (-1: not in the graph)."""
        table = self.users if side == "user" else self.items
        return np.fromiter((table.get(n, -1) for n in names), dtype=np.int64)

    def recent_edges(self, name: str, at: int, k: int, side: Side) -> list[tuple[str, int, str]]:
        """The node's ``k`` most recent edges before ``at``: (other end, time, type),
        oldest first. For reading and tests; the networks use :meth:`inputs`."""
        adj, other = (self.by_user, self.items) if side == "user" else (self.by_item, self.users)
        names = {v: n for n, v in other.items()}
        pos, mask, _ = adj.recent(self.index([name], side), np.asarray([at]), k)
        return [
            (names[int(adj.nbr[p])], int(adj.ts[p]), EVENT_TYPES[adj.types[p]])
            for p, m in zip(pos[0], mask[0])
            if m
        ]

    def inputs(
        self, users: np.ndarray, items: np.ndarray, at: np.ndarray, k_user: int = 16, k_item: int = 8
    ) -> dict[str, np.ndarray]:
        """What a graph attention layer reads for each (user node, item node, time):
        the node (``n_users`` / ``n_items``: unknown at that time), its recent
        neighbours (padding: the unknown index, masked), their edge types and ages
        (log1p minutes before the time), per side; keys :data:`GRAPH_KEYS`."""
        at = np.asarray(at, dtype=np.int64)
        out: dict[str, np.ndarray] = {}
        for side, nodes, adj, k, n_self, n_other in (
            ("user", users, self.by_user, k_user, self.n_users, self.n_items),
            ("item", items, self.by_item, k_item, self.n_items, self.n_users),
        ):
            pos, mask, count = adj.recent(nodes, at, k)
            out[side] = np.where(count > 0, nodes, n_self).astype(np.int32)
            out[f"{side}_nbr"] = _gather(adj.nbr, pos, mask, n_other).astype(np.int32)
            out[f"{side}_nbr_type"] = _gather(adj.types, pos, mask, 0).astype(np.int32)
            age_min = np.maximum(at[:, None] - _gather(adj.ts, pos, mask, 0), 0) / 60_000.0
            out[f"{side}_nbr_age"] = np.where(mask, np.log1p(age_min), 0.0).astype(np.float32)
            out[f"{side}_nbr_mask"] = mask
        return out


def _gather(values: np.ndarray, pos: np.ndarray, mask: np.ndarray, fill: int) -> np.ndarray:
    """``values[pos]`` where ``mask``, else ``fill`` (an empty graph has no values)."""
    if not len(values):
        return np.full(pos.shape, fill, dtype=np.int64)
    return np.where(mask, values[pos], fill)
