"""What a training run is configured by: :class:`TrainConfig` (``intent train``'s flags set a few).

>>> cfg = TrainConfig(quick=True).scaled()
>>> cfg.seeds, cfg.network_epochs, cfg.budgets
((0,), 3, (0.01, 0.05, 0.1))
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from stream.domain.labels import DEFAULT_HORIZON_MS

__all__ = ["TrainConfig"]


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
    # Whether every model's loss weighs a sampled moment as the moments it stands for
    # (training.fitting.weights): "on", "off", or "auto" (decided on validation).
    sample_weights: str = "auto"
    seeds: tuple[int, ...] = (0, 1, 2)
    # resamples of users and seeds: Holm's first step over 15 comparisons needs p < 0.0033,
    # which 1,000 resamples can show (the smallest p they give is 0.002)
    n_boot: int = 1000
    # The budgets of the budget view: intents a day, as shares of the day's active users.
    budgets: tuple[float, ...] = (0.01, 0.05, 0.10)
    # The served threshold's purpose: on validation, send about this share of the day's
    # active users a day (a volume marketing can plan for).
    intent_budget: float = 0.05
    window: int = 100
    stride: int = 20
    forest_depths: tuple[int | None, ...] = (8, 16)
    # one starting value: the walk tries 15 and 40 trees around it anyway, and the starting
    # grid's 40-tree corner at depth 16 cost a third of the Taobao run's grid (91 s of 248)
    forest_trees: tuple[int, ...] = (20,)
    forest_layers: int = 3
    # seconds the first seed's grid searches may take beyond their starting grid
    forest_budget_s: float = 270.0
    baseline_budget_s: float = 120.0
    resnet_epochs: int = 30
    resnet_patience: int = 4
    # every reference network (training/fitting/networks): stopped after
    # ``network_patience`` epochs without a better smoothed validation PR-AUC, at most
    # ``network_epochs`` (a bound on time only; the report says when one is reached)
    network_epochs: int = 20
    network_patience: int = 2
    progress: bool = True
    # validation and test judged on about this many users (a hash of the id), every moment
    # of each: None, every user (the research protocol); ``intent train --serve``: 1,000
    judged_users: int | None = None
    # training moments kept of about this many users: None, every user (the research
    # protocol); ``intent train --serve``: training.refresh.SERVE_TRAINED_USERS
    trained_users: int | None = None
    # example building in parallel by user partition (training.protocol.partitioned):
    # processes (None: every core), or the Dask scheduler at ``cluster``
    workers: int | None = None
    cluster: str | None = None

    def scaled(self) -> TrainConfig:
        """Quick mode: one seed, small grids and budgets (for tests and a first look)."""
        if self.quick:
            self.seeds, self.n_boot = self.seeds[:1], min(self.n_boot, 100)
            self.forest_depths, self.forest_trees, self.forest_layers = (8,), (15,), 2
            self.resnet_epochs, self.network_epochs, self.network_patience = 4, 3, 2
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)
        }
