"""What a training run is configured by, and what one seed of it holds: :class:`TrainConfig`,
:class:`SeedRun`, and the row helpers every model's fitting uses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from models.artifact import sha256_file
from models.fusion import FusedScorer
from stream.domain.labels import DEFAULT_HORIZON_MS
from training.protocol.examples import ExampleSet

__all__ = ["TrainConfig", "SeedRun", "fingerprint", "tabular_rows", "chunked", "us_per_pair"]


@dataclass
class TrainConfig:
    quick: bool = False
    horizon_ms: int = DEFAULT_HORIZON_MS  # shortened when validation or test is too short for it
    n_candidates: int = 32
    val_days: int | None = None  # default: 1/9 of the active days (at least 1)
    test_days: int | None = None  # default: 2/9 of them (at least 1)
    # Training moments without a purchase that are kept. Few are better than many on
    # Taobao's validation day (hard negatives, the other candidates of a buying moment,
    # teach more than random idle moments), and cheaper: 0.02-0.05 beat 0.1 and 0.5.
    neg_group_rate: float = 0.03
    neg_ratio: int | None = None  # negatives per positive in the row models' rows (None: all)
    seeds: tuple[int, ...] = (0, 1, 2)
    n_boot: int = 300
    window: int = 100
    stride: int = 20
    forest_depths: tuple[int, ...] = (8, 16)
    forest_trees: tuple[int, ...] = (20, 40)
    forest_layers: int = 3
    resnet_epochs: int = 25
    # every reference network (training/networks.py): at most this many epochs, stopped
    # after ``network_patience`` without a better validation PR-AUC. Sized so that the
    # five networks of three seeds fit the full Taobao run in its 20 minutes on 2 cores
    # (an epoch of LSTM-attention: ~5 s, half of it the validation pass); on Taobao the
    # validation curves are flat within the noise after the first epochs.
    network_epochs: int = 6
    network_patience: int = 2
    progress: bool = True

    def scaled(self) -> TrainConfig:
        """Quick mode: one seed, small grids and budgets (for tests and a first look)."""
        if self.quick:
            self.seeds, self.n_boot = self.seeds[:1], min(self.n_boot, 50)
            self.forest_depths, self.forest_trees, self.forest_layers = (8,), (15,), 2
            self.resnet_epochs, self.network_epochs = 4, 2
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)
        }


def fingerprint(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(sha256_file(f).encode())
    return h.hexdigest()


def tabular_rows(y: np.ndarray, ratio: int | None, seed: int) -> np.ndarray:
    """Every positive row and ``ratio`` negatives per positive, at least 2,000 (all when
    fewer, or when ``ratio`` is None), sorted."""
    if ratio is None:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    keep = min(len(neg), max(ratio * len(pos), 2000))
    return np.sort(np.concatenate([pos, rng.choice(neg, keep, replace=False)]))


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
    """One seed's models and their scores on validation and test."""

    seed: int
    val: dict[str, np.ndarray] = field(default_factory=dict)
    test: dict[str, np.ndarray] = field(default_factory=dict)
    scorer: FusedScorer | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    def cost(self, name: str, train_s: float, test_s: float, n_test: int) -> None:
        """Record a model's training seconds (tuning and validation passes included) and
        its scoring cost per test pair (inputs built and scored in batches)."""
        self.notes.setdefault("cost", {})[name] = {
            "train_s": round(train_s, 1),
            "us_per_pair": us_per_pair(test_s, n_test),
        }
