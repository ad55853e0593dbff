"""What the reference networks read, built once from the pipeline's arrays.

* ``static``: [U, I], robustly scaled (:mod:`models.scaling`) with the scaling fitted
  on the training rows, the same for every network;
* ``seq``: the user's last actions (:meth:`training.protocol.examples.ExampleSet.sequences`);
* the graph's arrays (:data:`~training.fitting.networks.interaction_graph.GRAPH_KEYS`):
  the row's user and item in the interaction graph as of the row's moment, and their
  recent neighbours (a cold replay's row: its user's edges since its state was emptied).

A part is built only for the keys asked for, so a network that reads [U, I] alone
never pays for sequences; the pipeline builds the training and validation inputs once
for every network and seed, and the test part a chunk at a time.

>>> import numpy as np
>>> from training.protocol.examples import build_examples
>>> from stream.domain.events import Event
>>> ex = build_examples([Event("1", "ann", "pen", "view", 0), Event("2", "ann", "ink", "view", 60_000),
...                      Event("3", "ann", "pen", "view", 120_000)])["all"]
>>> inputs = NetworkInputs.fit(ex.X())
>>> batch = inputs.build(ex, np.arange(ex.n), ("seq", "static"))
>>> tuple(batch["seq"].shape[1:]), batch["static"].shape[1] == ex.X().shape[1]
((20, 9), True)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from models.scaling import RobustScaling
from training.fitting.networks.interaction_graph import GRAPH_KEYS, InteractionGraph
from training.fitting.networks.loop import Inputs
from training.protocol.examples import SEQ_DIM, ExampleSet

__all__ = ["NetworkInputs", "NetworkDims"]


@dataclass(frozen=True)
class NetworkDims:
    """The sizes a network is built with."""

    seq: int
    static: int
    users: int = 0
    items: int = 0


@dataclass(frozen=True)
class NetworkInputs:
    """Builds :data:`~training.fitting.networks.loop.Inputs` for rows of an example set."""

    scaling: RobustScaling
    graph: InteractionGraph | None = None

    @classmethod
    def fit(cls, X_train: np.ndarray, graph: InteractionGraph | None = None) -> NetworkInputs:
        return cls(RobustScaling.fit(X_train), graph)

    def dims(self, ex: ExampleSet) -> NetworkDims:
        g = self.graph
        return NetworkDims(
            SEQ_DIM, ex.U.shape[1] + ex.I.shape[1], g.n_users if g else 0, g.n_items if g else 0
        )

    def build(
        self, ex: ExampleSet, rows: np.ndarray, keys: Iterable[str], X: np.ndarray | None = None
    ) -> Inputs:
        """The inputs named in ``keys`` for ``rows`` of ``ex`` (``X``: their [U, I] when
        the caller has it already)."""
        keys = set(keys)
        out: Inputs = {}
        if "static" in keys:
            out["static"] = torch.from_numpy(self.scaling.apply(ex.X(rows) if X is None else X))
        if "seq" in keys:
            out["seq"] = torch.from_numpy(ex.sequences(rows))
        if keys & set(GRAPH_KEYS):
            if self.graph is None:
                raise ValueError("a graph network needs NetworkInputs built with a graph")
            groups = ex.row_group()[rows]
            users = self.graph.index(ex.users, "user")[groups]  # per group, then per row
            items = self.graph.index((ex.items[r] for r in rows), "item")
            since = None if ex.history_start is None else ex.history_start[groups]
            arrays = self.graph.inputs(users, items, ex.moment_ts[groups], user_since=since)
            out.update({k: torch.from_numpy(arrays[k]) for k in GRAPH_KEYS})
        return out
