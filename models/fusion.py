"""The served model: P = w_r * C_r(P_resnet) + w_f * C_f(P_forest), with w_r + w_f = 1.

``C_r`` and ``C_f`` calibrate each branch (:mod:`models.calibration`, fitted on the
validation split) before the weighted average, so that ``w_r`` weighs two
probabilities on the same scale; ``w_r`` and the threshold ``t_p`` are then chosen on
validation too. Published intents carry the calibrated branch probabilities, so
``probability == w_r * resnet + w_f * forest`` (before the cold-start blend).

>>> import numpy as np
>>> fuse(np.array([0.2, 0.8]), np.array([0.6, 0.4]), w_r=0.25).round(3).tolist()
[0.5, 0.5]
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from models.calibration import PlattCalibrator
from models.cold_start import ColdStartPrior
from models.forest import DeepForest
from models.resnet import PurchaseResNet
from models.scorer import Scores

__all__ = ["fuse", "FusedScorer", "resnet_probabilities"]


def fuse(p_resnet: np.ndarray, p_forest: np.ndarray, w_r: float) -> np.ndarray:
    if not 0.0 <= w_r <= 1.0:
        raise ValueError(f"w_r must lie in [0, 1], got {w_r}")
    return (w_r * p_resnet + (1.0 - w_r) * p_forest).astype(np.float32)


def group_tensors(
    U: np.ndarray,
    I: np.ndarray,
    sizes: Sequence[int] | np.ndarray,
    n_items: int,
    u_per_group: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
    """Pad grouped rows into (g, user_dim), (g, n_items, item_dim) and a mask; ``flat[k]``
    is the padded slot (g * n_items + j) of input row ``rows[k]``. Rows past a group's
    catalogue width are not placed. ``U`` has a row per row of ``I``, or with
    ``u_per_group`` one per group."""
    g = len(sizes)
    size = np.asarray(sizes, dtype=np.int64).reshape(-1)
    placed = np.minimum(size, n_items)  # rows past the catalogue width cannot be placed
    first = np.cumsum(size) - size  # each group's first row
    group = np.repeat(np.arange(g), placed)  # per placed row: its group ...
    slot = np.arange(len(group)) - np.repeat(np.cumsum(placed) - placed, placed)  # ... and slot
    rows = first[group] + slot
    flat = group * n_items + slot
    if u_per_group:
        users = np.ascontiguousarray(U, dtype=np.float32)
    else:
        users = np.zeros((g, U.shape[1]), dtype=np.float32)
        nonempty = size > 0
        users[nonempty] = U[first[nonempty]]
    items = np.zeros((g, n_items, I.shape[1]), dtype=np.float32)
    items[group, slot] = I[rows]
    mask = np.zeros((g, n_items), dtype=bool)
    mask[group, slot] = True
    return torch.from_numpy(users), torch.from_numpy(items), torch.from_numpy(mask), flat, rows


#: Users per ResNet call: beyond about 256 the activations (16 channels of 16 x 16 per
#: user) leave the CPU's cache and a user costs half as much again (65 -> 100 us).
RESNET_CHUNK = 256


def resnet_probabilities(
    net: PurchaseResNet | _BySize,
    U: np.ndarray,
    I: np.ndarray,
    sizes: Sequence[int] | np.ndarray,
    u_per_group: bool = False,
) -> np.ndarray:
    """P_r per row. Rows beyond the catalogue width of their group score 0."""
    n_items = net.config["n_items"]
    users, items, mask, flat, rows = group_tensors(U, I, sizes, n_items, u_per_group)
    with torch.inference_mode():
        chunks = [slice(k, k + RESNET_CHUNK) for k in range(0, len(users), RESNET_CHUNK)]
        logits = [net(users[c], items[c], mask[c]) for c in chunks]
        probs = torch.sigmoid(torch.cat(logits)).numpy().reshape(-1)
    out = np.zeros(len(I), dtype=np.float32)
    out[rows] = probs[flat]
    return out


class _BySize(torch.nn.Module):
    """One of two equal graphs for a call, picked by its number of users."""

    LARGE_FROM = 4

    def __init__(self, small: torch.nn.Module, large: torch.nn.Module, config: dict[str, Any]) -> None:
        super().__init__()
        self.small, self.large, self.config = small, large, config

    def forward(self, user: torch.Tensor, items: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        net = self.large if len(user) >= self.LARGE_FROM else self.small
        return net(user, items, mask)


class FusedScorer:
    """The ResNet and Deep Forest branches, each calibrated, fused with weight ``w_r``, and
    for cold-start users blended with the :class:`~models.cold_start.ColdStartPrior`;
    implements Scorer."""

    def __init__(
        self,
        resnet: PurchaseResNet,
        forest: DeepForest,
        w_r: float,
        threshold: float,
        model_version: str = "unversioned",
        cold_start: ColdStartPrior | None = None,
        calibration: tuple[PlattCalibrator, PlattCalibrator] = (PlattCalibrator(), PlattCalibrator()),
    ) -> None:
        self.resnet = resnet.eval()
        self.calibration = calibration
        self.cold_start = cold_start
        self.forest = forest
        self.w_r = w_r
        self.threshold = threshold
        self.model_version = model_version

    @property
    def n_items(self) -> int:
        return int(self.resnet.config["n_items"])

    def inference_resnet(self) -> _BySize:
        """The ResNet traced by TorchScript and optimised for inference (built once,
        never pickled), with the same probabilities as eager mode.

        On this 2-core box, one thread: half the cost of eager mode for one user (0.6 ->
        0.3 ms) when frozen, and from about four users on, ``optimize_for_inference``
        (oneDNN's fused convolutions) costs another 40% less (300 users: 34 -> 19 ms).
        So a frozen graph serves up to three users and the optimised one the rest."""
        net = self.__dict__.get("_traced")
        if net is None:
            cfg = self.resnet.config
            n = self.n_items
            example = (
                torch.zeros(2, cfg["user_dim"]),
                torch.zeros(2, n, cfg["item_dim"]),
                torch.ones(2, n, dtype=torch.bool),
            )
            # TorchScript is deprecated in favour of torch.compile, which needs a C compiler
            # at start and minutes of compiling; the traced graph is plain and tested equal.
            with torch.inference_mode(), warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                traced = torch.jit.trace(self.resnet.eval(), example)  # type: ignore[no-untyped-call]
                small = torch.jit.freeze(traced)  # both copy the traced graph
                large = torch.jit.optimize_for_inference(traced)
            net = _BySize(small, large, cfg)
            self.__dict__["_traced"] = net
        return net

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_traced", None)
        return state

    def score(self, U: np.ndarray, I: np.ndarray, sizes: Sequence[int] | np.ndarray) -> Scores:
        if len(U) == 0:
            empty = np.zeros(0, dtype=np.float32)
            return Scores(empty, empty, empty)
        p_r = resnet_probabilities(self.inference_resnet(), U, I, sizes)
        p_f = self.forest.predict_proba(np.hstack([U, I]))
        c_r, c_f = self.calibration[0](p_r), self.calibration[1](p_f)
        return Scores(self.combine(c_r, c_f, U, I), c_r, c_f)

    def combine(self, c_r: np.ndarray, c_f: np.ndarray, U: np.ndarray, I: np.ndarray) -> np.ndarray:
        """The served probability from the two branches' calibrated probabilities (what
        evaluation uses too)."""
        p = fuse(c_r, c_f, self.w_r)
        return self.cold_start.apply(p, U, I) if self.cold_start is not None else p

    def branch_probabilities(
        self, U: np.ndarray, I: np.ndarray, sizes: Sequence[int] | np.ndarray, u_per_group: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Both branches' calibrated probabilities, in eager mode (for evaluation)."""
        p_r = resnet_probabilities(self.resnet, U, I, sizes, u_per_group)
        X = np.hstack([np.repeat(U, sizes, axis=0) if u_per_group else U, I])
        return self.calibration[0](p_r), self.calibration[1](self.forest.predict_proba(X))
