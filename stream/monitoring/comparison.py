"""Champion against challenger on the same live window, with bootstrap intervals by user.

Both models are judged on the same users and the same purchases: the champion by its
published intents, the challenger by its would-be intents (shadow scoring). Per user and
role we count tp (an intent followed by a purchase of its item within the horizon), fp
(an intent with none) and fn (a purchase no intent of that role announced). Intervals
resample users (a user's outcomes travel together, as in training's bootstrap), the
same resample for both roles, so the difference is paired.

The figures: intents (tp + fp), precision tp / (tp + fp), purchase recall tp / (tp + fn);
and the challenger minus the champion for precision and recall with 95% intervals. The
verdict: ``challenger better`` when an interval of the difference lies above 0 and none
below, ``challenger worse`` the other way round, ``mixed`` when one lies above and one
below, else ``cannot tell yet``. The worker exports the same comparison of its live
window (``intent_challenger_difference``, see :class:`ShadowComparison`); ``intent
compare`` computes it from the topics.

>>> champion = {f"u{k}": [(1, 1, 0), (0, 1, 1), (1, 0, 0)][k % 3] for k in range(30)}
>>> challenger = {f"u{k}": (1, 0, 0) for k in range(30)}
>>> c = compare(champion, challenger, n_boot=200)
>>> c.champion.intents, round(c.champion.precision, 3), c.challenger.precision, c.challenger.recall
(40, 0.5, 1.0, 1.0)
>>> c.difference["precision"][0], c.verdict
(0.5, 'challenger better')
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["RoleFigures", "Comparison", "compare", "user_counts", "ShadowComparison", "METRICS"]

METRICS = ("precision", "recall")
TP, FP, FN = range(3)
Counts = Mapping[str, tuple[int, int, int]]


@dataclass(frozen=True)
class RoleFigures:
    """One role's figures: intents resolved, precision and recall with 95% intervals."""

    intents: int
    purchases: int
    users: int
    precision: float
    precision_ci: tuple[float, float]
    recall: float
    recall_ci: tuple[float, float]


@dataclass(frozen=True)
class Comparison:
    champion: RoleFigures
    challenger: RoleFigures
    difference: dict[str, tuple[float, float, float]]  # metric -> (estimate, low, high)
    verdict: str


def user_counts(outcomes: Iterable[tuple[str, str]]) -> dict[str, tuple[int, int, int]]:
    """(user, outcome) pairs -> per user (tp, fp, fn).

    >>> user_counts([("u1", "tp"), ("u1", "fp"), ("u2", "fn")])
    {'u1': (1, 1, 0), 'u2': (0, 0, 1)}
    """
    out: dict[str, list[int]] = {}
    index = {"tp": TP, "fp": FP, "fn": FN}
    for user, outcome in outcomes:
        out.setdefault(user, [0, 0, 0])[index[outcome]] += 1
    return {u: (c[0], c[1], c[2]) for u, c in out.items()}


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.maximum(den, 1e-12), np.nan)


def _interval(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return float("nan"), float("nan")
    low, high = np.percentile(finite, [2.5, 97.5])
    return float(low), float(high)


def _figures(c: np.ndarray, boot: np.ndarray) -> tuple[RoleFigures, dict[str, np.ndarray]]:
    tp, fp, fn = c.sum(axis=0)
    point = {"precision": float(_ratio(tp, tp + fp)), "recall": float(_ratio(tp, tp + fn))}
    resampled = {
        "precision": _ratio(boot[:, TP], boot[:, TP] + boot[:, FP]),
        "recall": _ratio(boot[:, TP], boot[:, TP] + boot[:, FN]),
    }
    figures = RoleFigures(
        int(tp + fp),
        int(tp + fn),
        int((c.sum(axis=1) > 0).sum()),
        point["precision"],
        _interval(resampled["precision"]),
        point["recall"],
        _interval(resampled["recall"]),
    )
    return figures, resampled


def compare(champion: Counts, challenger: Counts, n_boot: int = 500, seed: int = 0) -> Comparison:
    """The comparison of two roles' per-user (tp, fp, fn) counts (see the module docstring)."""
    users = sorted(set(champion) | set(challenger))
    none = (0, 0, 0)
    a = np.array([champion.get(u, none) for u in users], dtype=np.float64).reshape(-1, 3)
    b = np.array([challenger.get(u, none) for u in users], dtype=np.float64).reshape(-1, 3)
    rng = np.random.default_rng(seed)
    n = len(users)
    weights = rng.multinomial(n, np.full(n, 1 / n), size=n_boot).astype(np.float64) if n else np.zeros((0, 0))
    boot_a = weights @ a if n else np.zeros((n_boot, 3))
    boot_b = weights @ b if n else np.zeros((n_boot, 3))
    fig_a, res_a = _figures(a, boot_a)
    fig_b, res_b = _figures(b, boot_b)
    difference: dict[str, tuple[float, float, float]] = {}
    for metric in METRICS:
        estimate = getattr(fig_b, metric) - getattr(fig_a, metric)
        difference[metric] = (estimate, *_interval(res_b[metric] - res_a[metric]))
    return Comparison(fig_a, fig_b, difference, verdict(difference))


def verdict(difference: Mapping[str, tuple[float, float, float]]) -> str:
    """What the intervals of the differences say (see the module docstring)."""
    above = any(low > 0 for _, low, _ in difference.values())
    below = any(high < 0 for _, _, high in difference.values())
    if above and below:
        return "mixed"
    if above:
        return "challenger better"
    if below:
        return "challenger worse"
    return "cannot tell yet"


class ShadowComparison:
    """The worker's live window for the comparison: the latest ``window`` outcomes of
    each role, with their users; :meth:`result` compares the current versions."""

    def __init__(self, window: int = 2000, n_boot: int = 200) -> None:
        self.n_boot = n_boot
        self.outcomes: dict[str, deque[tuple[str, str]]] = {
            "champion": deque(maxlen=window),
            "challenger": deque(maxlen=window),
        }

    def update(self, role: str, user: str, outcome: str) -> None:
        self.outcomes[role].append((user, outcome))

    def result(self) -> Comparison | None:
        """None until both roles have outcomes."""
        if not all(self.outcomes.values()):
            return None
        return compare(
            user_counts(self.outcomes["champion"]), user_counts(self.outcomes["challenger"]), self.n_boot
        )
