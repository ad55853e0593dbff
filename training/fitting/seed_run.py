"""What one seed's fitting works on and what it holds: :class:`TrainingData` (the parts and
the rows every model trains on, built once) and :class:`SeedRun` (each model's scores on
validation and on every judged part, its cost and its notes), and the row helpers every
model's fitting uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.fusion import FusedScorer
from training.fitting.networks.fit import NetworkData
from training.protocol.budget import DayPairs
from training.protocol.example_set import ExampleSet

__all__ = ["TrainingData", "SeedRun", "chunked", "us_per_pair", "JUDGED"]

#: the parts every model scores besides validation: the test days and their cold replay
JUDGED = ("test", "cold_test")


@dataclass
class TrainingData:
    """The replayed parts and what every model of every seed is fitted on."""

    tr: ExampleSet
    va: ExampleSet
    te: ExampleSet
    rows: np.ndarray  # the training rows the row models take (indices into tr)
    Xtr: np.ndarray  # their [U, I]
    w: np.ndarray | None  # their sample weights, when the run uses them
    nets: NetworkData | None  # the reference networks' inputs (None: no network is fitted)
    val_pairs: DayPairs  # validation's (user, item, day) pairs: the served threshold's volume
    # the cold replay (every user's state emptied at each day's start): its training
    # part fits the cold-start prior, validation chooses its weight, test is judged
    cold: dict[str, ExampleSet] = field(default_factory=dict)

    def judged(self) -> dict[str, ExampleSet]:
        """The parts every model is scored on besides validation, by name (:data:`JUDGED`)."""
        out = {"test": self.te}
        if "test" in self.cold:
            out["cold_test"] = self.cold["test"]
        return out

    def group_weights(self) -> np.ndarray | None:
        """The training part's rows' weights (every row, not just ``rows``), when used."""
        return None if self.w is None else self.tr.weights()


def chunked(ex: ExampleSet, fn: Callable[[ExampleSet, slice, slice], np.ndarray]) -> np.ndarray:
    """``fn`` over consecutive groups of ``ex`` (so [U, I] is never built for all rows)."""
    out = np.zeros(ex.n, dtype=np.float32)
    for gs, rs in ex.group_chunks():
        out[rs] = fn(ex, gs, rs)
    return out


def us_per_pair(seconds: float, n: int) -> float:
    return round(seconds / max(n, 1) * 1e6, 2)


@dataclass
class SeedRun:
    """One seed's models and their scores: ``val`` (validation), ``judged[part]`` (the test
    days, their cold replay)."""

    seed: int
    val: dict[str, np.ndarray] = field(default_factory=dict)
    judged: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    scorer: FusedScorer | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def test(self) -> dict[str, np.ndarray]:
        return self.judged.setdefault("test", {})

    def scored(self, name: str, val: np.ndarray, judged: dict[str, np.ndarray]) -> None:
        """Record a model's validation scores and its scores on each judged part."""
        self.val[name] = val
        for part, scores in judged.items():
            self.judged.setdefault(part, {})[name] = scores

    def cost(self, name: str, train_s: float, test_s: float, n_test: int) -> None:
        """Record a model's training seconds (tuning and validation passes included) and
        its scoring cost per test pair (inputs built and scored in batches)."""
        self.notes.setdefault("cost", {})[name] = {
            "train_s": round(train_s, 1),
            "us_per_pair": us_per_pair(test_s, n_test),
        }

    def fitted(self, name: str, **how: Any) -> None:
        """Record how a model's fit ended (``rounds``, ``epochs``, the kept epoch...)."""
        self.notes.setdefault("fit", {})[name] = how
