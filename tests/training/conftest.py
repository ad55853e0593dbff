"""A tiny synthetic clickstream with a learnable signal, split and built into examples,
for the reference networks' tests (seconds, not minutes)."""

from __future__ import annotations

import numpy as np
import pytest

from stream.domain.events import Event
from training.fitting.networks.fit import NetworkData
from training.fitting.networks.interaction_graph import InteractionGraph
from training.protocol.examples import ExampleSet, build_examples
from training.protocol.splits import CalendarSplit

MIN = 60_000
SPLIT = CalendarSplit(start=0, val_start=400 * MIN, test_start=500 * MIN, end=600 * MIN, embargo_ms=10 * MIN)


def synthetic_events(n_users: int = 40, n_items: int = 30, seed: int = 0) -> list[Event]:
    """Users view items every few minutes; a cart is followed by its purchase 3
    minutes later 70% of the time (the signal: open carts, the last actions)."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[int, str, str, str]] = []
    for u in range(n_users):
        t = int(rng.integers(0, 20)) * MIN
        while t < 590 * MIN:
            item = f"i{rng.integers(0, n_items)}"
            rows.append((t, f"u{u}", item, "view"))
            if rng.random() < 0.3:
                rows.append((t + MIN, f"u{u}", item, "addtocart"))
                if rng.random() < 0.7:
                    rows.append((t + 3 * MIN, f"u{u}", item, "transaction"))
            t += int(rng.integers(5, 40)) * MIN
    rows.sort(key=lambda r: r[0])
    return [Event(str(k), u, i, kind, ts, f"c{int(i[1:]) % 5}") for k, (ts, u, i, kind) in enumerate(rows)]


@pytest.fixture(scope="session")
def synthetic_events_list() -> list[Event]:
    return synthetic_events()


@pytest.fixture(scope="session")
def synthetic_parts(synthetic_events_list: list[Event]) -> dict[str, ExampleSet]:
    return build_examples(synthetic_events_list, n_candidates=8, horizon_ms=10 * MIN, split=SPLIT)


@pytest.fixture(scope="session")
def synthetic_graph(synthetic_events_list: list[Event]) -> InteractionGraph:
    return InteractionGraph.from_events(synthetic_events_list, known_until=SPLIT.val_start)


@pytest.fixture(scope="session")
def network_data(synthetic_parts: dict[str, ExampleSet], synthetic_graph: InteractionGraph) -> NetworkData:
    """Every reference network's inputs on the synthetic parts, built once."""
    tr = synthetic_parts["train"]
    rows = np.arange(tr.n)
    return NetworkData.build(tr, rows, tr.X(rows), synthetic_parts["val"], synthetic_graph)
