"""The user-item interaction graph, as it stood at any moment.

Every event (before ``cutoff``, when one is given) is an edge between its user and its item, stamped with
its time and type (a user who viewed an item three times has three edges to it). The
graph answers one question: *at time t, what were a node's k most recent edges?*,
counting only edges strictly before t, so a moment never sees an interaction from its
own second or after it (the labels start after the moment; the features stop at it).

Design, for the training pipeline (:mod:`training.fitting.networks.graph_attention` reads it):

* The graph is **grown point-in-time through validation and test, exactly as the
  features are**: it holds every event, and a row at time t reads only the edges before
  t, whatever its part. So a test row sees the validation edges and the test edges
  before its moment (its user's actions of that morning among them), as the worker's
  state would, and nothing after it.
* Node embeddings are learned, so only the nodes with an edge before ``known_until``
  (the validation start: the training period's users and items) have one; a node first
  seen later, or with no edge before the row's moment yet, is "unknown" (the networks
  give it a learned "unknown" embedding), while its edges still count as neighbours of
  the nodes it touched.
* A cold replay's row (:class:`~training.protocol.example_set.ExampleSet`'s
  ``history_start``) reads its user's edges from that start only, and its user is
  unknown: the user is new that day, as the features say.
* Cheap: two arrays of edges sorted by (node, time), one per side; a batch of queries
  is one ``searchsorted`` (no per-moment graph is ever materialised).

>>> from stream.domain.events import Event
>>> ev = [Event("1", "ann", "pen", "view", 1_000), Event("2", "bob", "pen", "view", 2_000),
...       Event("3", "ann", "ink", "transaction", 3_000), Event("4", "ann", "cap", "view", 9_000)]
>>> g = InteractionGraph.from_events(ev, known_until=5_000)   # cap is first seen at 9 s
>>> g.recent_edges("ann", at=3_000, k=5, side="user")    # the purchase at 3 s is not before 3 s
[('pen', 1000, 'view')]
>>> g.recent_edges("ann", at=10_000, k=5, side="user")   # later rows see later edges
[('pen', 1000, 'view'), ('ink', 3000, 'transaction'), ('cap', 9000, 'view')]
>>> g.n_items, g.items["cap"]    # cap has an edge, but no embedding: it is unknown as a node
(2, 2)
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

    def recent(
        self, nodes: np.ndarray, at: np.ndarray, k: int, since: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each (node, time): positions of its ``k`` most recent edges strictly
        before the time (and at or after ``since``, where given and not negative; oldest
        first, left-padded), their mask, and how many such edges it had. ``nodes`` < 0
        are unknown: no edges."""
        nodes = np.asarray(nodes, dtype=np.int64)
        known = nodes >= 0
        safe = np.where(known, nodes, 0)
        # every edge lies in [t0, t0 + span): clip a later time to the span
        offset = np.clip(np.asarray(at, dtype=np.int64) - self.t0, 0, self.span)
        end = np.searchsorted(self.keys, safe * (self.span + 1) + offset, side="left")
        first = self.start[safe]
        if since is not None:
            lo = np.clip(np.asarray(since, dtype=np.int64) - self.t0, 0, self.span)
            from_since = np.searchsorted(self.keys, safe * (self.span + 1) + lo, side="left")
            first = np.where(np.asarray(since) >= 0, np.maximum(first, from_since), first)
        count = np.where(known, np.maximum(end - first, 0), 0)
        pos = end[:, None] - k + np.arange(k)[None, :]
        mask = (pos >= first[:, None]) & known[:, None]
        return np.where(mask, pos, 0), mask, count


@dataclass(frozen=True)
class InteractionGraph:
    """Users and items (``users[name]``, ``items[name]``: node indices, the known ones
    first) and their edges from both sides; see the module docstring."""

    users: dict[str, int]
    items: dict[str, int]
    by_user: Adjacency  # node = user, neighbour = item
    by_item: Adjacency  # node = item, neighbour = user
    known_until: int
    n_users: int  # users with an embedding: first seen before known_until (indices below)
    n_items: int

    @classmethod
    def from_events(
        cls, events: Iterable[Event], known_until: int, cutoff: int | None = None
    ) -> InteractionGraph:
        """The graph of every event (strictly before ``cutoff``, when given; epoch ms);
        nodes first seen before ``known_until`` are the known ones."""
        events = [e for e in events if cutoff is None or e.ts < cutoff]
        first_user: dict[str, int] = {}
        first_item: dict[str, int] = {}
        for e in events:
            first_user.setdefault(e.user_id, e.ts)
            first_item.setdefault(e.item_id, e.ts)
        users, n_users = _index(first_user, known_until)
        items, n_items = _index(first_item, known_until)
        U = np.fromiter((users[e.user_id] for e in events), dtype=np.int64, count=len(events))
        I = np.fromiter((items[e.item_id] for e in events), dtype=np.int64, count=len(events))
        T = np.fromiter((TYPE_INDEX[e.type] for e in events), dtype=np.int8, count=len(events))
        TS = np.fromiter((e.ts for e in events), dtype=np.int64, count=len(events))
        t0 = int(TS.min()) if len(TS) else int(known_until)
        span = max(int(TS.max()) + 1 - t0 if len(TS) else 1, 1)
        return cls(
            users,
            items,
            Adjacency.build(U, I, T, TS, len(users), t0, span),
            Adjacency.build(I, U, T, TS, len(items), t0, span),
            int(known_until),
            n_users,
            n_items,
        )

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
        self,
        users: np.ndarray,
        items: np.ndarray,
        at: np.ndarray,
        k_user: int = 16,
        k_item: int = 8,
        user_since: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """What a graph attention layer reads for each (user node, item node, time):
        the node (``n_users`` / ``n_items``: unknown, no embedding or no edge before the
        time), its recent neighbours (an unknown one, and the padding: the unknown
        index; padding masked), their edge types and ages (log1p minutes before the
        time), per side; keys :data:`GRAPH_KEYS`. ``user_since`` (per row, -1: none):
        the user's state was emptied then (a cold replay), so only its edges since count
        and the user is unknown."""
        at = np.asarray(at, dtype=np.int64)
        out: dict[str, np.ndarray] = {}
        for side, nodes, adj, k, n_self, n_other in (
            ("user", users, self.by_user, k_user, self.n_users, self.n_items),
            ("item", items, self.by_item, k_item, self.n_items, self.n_users),
        ):
            since = user_since if side == "user" else None
            pos, mask, count = adj.recent(nodes, at, k, since)
            known = (count > 0) & (np.asarray(nodes) < n_self)
            if since is not None:
                known &= np.asarray(since) < 0
            out[side] = np.where(known, nodes, n_self).astype(np.int32)
            nbr = _gather(adj.nbr, pos, mask, n_other)
            out[f"{side}_nbr"] = np.minimum(nbr, n_other).astype(np.int32)
            out[f"{side}_nbr_type"] = _gather(adj.types, pos, mask, 0).astype(np.int32)
            age_min = np.maximum(at[:, None] - _gather(adj.ts, pos, mask, 0), 0) / 60_000.0
            out[f"{side}_nbr_age"] = np.where(mask, np.log1p(age_min), 0.0).astype(np.float32)
            out[f"{side}_nbr_mask"] = mask
        return out


def _index(first_seen: dict[str, int], known_until: int) -> tuple[dict[str, int], int]:
    """Node indices: the nodes first seen before ``known_until`` first (in order of first
    sight), then the others; and how many are known."""
    known = [n for n, t in first_seen.items() if t < known_until]
    later = [n for n, t in first_seen.items() if t >= known_until]
    return {n: k for k, n in enumerate(known + later)}, len(known)


def _gather(values: np.ndarray, pos: np.ndarray, mask: np.ndarray, fill: int) -> np.ndarray:
    """``values[pos]`` where ``mask``, else ``fill`` (an empty graph has no values)."""
    if not len(values):
        return np.full(pos.shape, fill, dtype=np.int64)
    return np.where(mask, values[pos], fill)
