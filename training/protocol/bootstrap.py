"""Bootstrap intervals by user, for every metric, and paired differences between models.

Rows of one user are not independent (the same user's moments share history), so the
resampling unit is the user: a resample draws the evaluated users with replacement
and weighs each row, and each purchase, by how often its user was drawn. Every model
is scored on the SAME resamples, so the difference of two models on a resample is a
paired difference, and its spread is much narrower than the two intervals suggest.

**Seeds are resampled too.** With several seeds per model, each resample also draws
one of the model's seeds (independently per model: seed ``k`` of one model and seed
``k`` of another share nothing), and the resample's figure is that seed's. So an
interval says where a model trained once more and judged on other users would land: it
holds the seeds' variance as well as the users'. The point figure is the mean over the
seeds on the data itself; the seeds' own figures are reported beside it. The paired
difference of two models on a resample is that of their drawn seeds on the same users.
Models that are parts of one seed's fit (the fused model's branches and ablations) are
``linked``: they draw the seed their whole draws, so they are compared seed by seed.

>>> rng = np.random.default_rng(0)
>>> y = (rng.random(4000) < 0.1).astype(int); users = rng.integers(0, 200, 4000)
>>> good = y + rng.normal(0, 0.5, 4000); bad = y + rng.normal(0, 2.0, 4000)
>>> boot = UserBootstrap(y, users, n_boot=200, seed=1)
>>> res = boot.run({"good": [good], "bad": [bad]}, {"good": [0.5], "bad": [0.5]})
>>> lo, hi = res["good"]["ci"]["pr_auc"]
>>> lo < res["good"]["point"]["pr_auc"] < hi
True
>>> d = boot.paired(res, "good", "bad")["pr_auc_diff"]
>>> d[0] > 0   # good beats bad outside the noise
True
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from training.protocol.metrics import caught

__all__ = ["UserBootstrap", "METRICS", "p_value"]

METRICS = ("pr_auc", "roc_auc", "precision", "recall", "f1", "purchase_recall")


class _Scored:
    """One score vector reduced to what any user-resample of its metrics needs.

    Every metric here is a sum over users of (user's weight) x (a count of that user's
    rows up to some position of the ranking): PR-AUC and ROC-AUC only need those counts
    at the ends of the runs of equal scores that hold a positive, F1 at the threshold's
    position, purchase recall per user. So the counts per user are taken once at those
    few positions, and all resamples are then a matrix product: exact, and about a
    hundred times faster than re-sorting weighted rows.
    """

    def __init__(
        self,
        y: np.ndarray,
        p: np.ndarray,
        threshold: float,
        row_user: np.ndarray,
        n_users: int,
        row_weight: np.ndarray | None = None,
    ) -> None:
        p = np.asarray(p, dtype=np.float64)
        order = np.argsort(-p, kind="stable")
        ys = np.asarray(y)[order] > 0
        users = row_user[order]
        w = np.ones(len(p)) if row_weight is None else np.asarray(row_weight, dtype=np.float64)[order]
        ps = p[order]
        ends = np.flatnonzero(np.r_[ps[1:] != ps[:-1], True]) if len(p) else np.zeros(0, dtype=np.int64)
        starts = np.r_[0, ends[:-1] + 1] if len(ends) else ends
        pos_in_run = np.add.reduceat(ys.astype(np.int64), starts) if len(ends) else ends
        runs = np.flatnonzero(pos_in_run > 0)
        n_pred = int(np.sum(ps >= threshold))
        # checkpoints: the end of each positive run, the end of the run before it, the
        # threshold's cut and the last row
        prev_end = np.where(runs > 0, ends[np.maximum(runs - 1, 0)], -1)
        points = np.unique(np.r_[ends[runs], prev_end, n_pred - 1, len(p) - 1])
        self.index = {int(k): i for i, k in enumerate(points)}
        self.run_end = np.asarray([self.index[int(k)] for k in ends[runs]], dtype=np.int64)
        self.run_prev = np.asarray([self.index[int(k)] for k in prev_end], dtype=np.int64)
        self.cut = self.index[n_pred - 1]
        self.last = self.index[len(p) - 1]
        # all[c, u] / pos[c, u]: weight of user u's rows (positive rows) ranked at or above point
        # c: each row counted at the first checkpoint at or after its rank, then summed down
        at = np.searchsorted(points, np.arange(len(p)), side="left") * n_users + users
        size = len(points) * n_users
        self.all = np.bincount(at, weights=w, minlength=size).reshape(len(points), n_users).cumsum(axis=0)
        self.pos = (
            np.bincount(at, weights=w * ys, minlength=size).reshape(len(points), n_users).cumsum(axis=0)
        )

    def resample(self, M: np.ndarray, caught_w: np.ndarray, purchase_w: np.ndarray) -> dict[str, np.ndarray]:
        """Every metric for each row of user weights ``M`` (resamples x users)."""
        A = self.all @ M.T  # (points, resamples)
        P = self.pos @ M.T
        TP, TN = P[self.last], A[self.last] - P[self.last]
        tp_end, tp_prev = P[self.run_end], P[self.run_prev]
        all_end, all_prev = A[self.run_end], A[self.run_prev]
        with np.errstate(invalid="ignore", divide="ignore"):
            d_tp = tp_end - tp_prev
            pr_auc = np.sum(d_tp * tp_end / np.maximum(all_end, 1e-300), axis=0) / TP
            neg_end, neg_prev = all_end - tp_end, all_prev - tp_prev
            roc_auc = np.sum(d_tp * ((TN - neg_end) + 0.5 * (neg_end - neg_prev)), axis=0) / (TP * TN)
            pred, tp_at = A[self.cut], P[self.cut]
            precision = np.where(pred > 0, tp_at / pred, 0.0)
            recall = np.where(TP > 0, tp_at / TP, 0.0)
            f1 = np.where(tp_at > 0, 2 * precision * recall / (precision + recall), 0.0)
            purchase_recall = caught_w / purchase_w
        return {
            "pr_auc": np.where(TP > 0, pr_auc, np.nan),
            "roc_auc": np.where((TP > 0) & (TN > 0), roc_auc, np.nan),
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "purchase_recall": purchase_recall,
        }


class UserBootstrap:
    """Resamples of the users of one evaluated part; see the module docstring.

    ``row_user`` and ``purchase_user`` index users 0..n-1 (a user may have purchases and
    no scored row); ``cover`` pairs rows with the purchases they can catch
    (:func:`training.protocol.metrics.caught`); ``row_weight`` weighs sampled rows.
    """

    def __init__(
        self,
        y: np.ndarray,
        row_user: np.ndarray,
        cover: np.ndarray | None = None,
        purchase_user: np.ndarray | None = None,
        n_boot: int = 300,
        seed: int = 0,
        row_weight: np.ndarray | None = None,
        linked: dict[str, str] | None = None,
    ) -> None:
        self.linked = dict(linked or {})
        self.y = np.asarray(y).astype(int)
        self.row_user = np.asarray(row_user, dtype=np.int64)
        self.cover = np.zeros((0, 2), dtype=np.int64) if cover is None else np.asarray(cover)
        self.purchase_user = (
            np.zeros(0, dtype=np.int64) if purchase_user is None else np.asarray(purchase_user)
        )
        self.n_users = int(max(self.row_user.max(initial=-1), self.purchase_user.max(initial=-1))) + 1
        self.n_boot, self.seed = n_boot, seed
        self.row_weight = row_weight
        rng = np.random.default_rng(seed)
        # row 0 is the data itself (the point estimate); then n_boot draws
        draws = rng.integers(0, self.n_users, (n_boot, self.n_users))
        counts = np.zeros((n_boot + 1, self.n_users))
        counts[0] = 1.0
        for b in range(n_boot):
            counts[b + 1] = np.bincount(draws[b], minlength=self.n_users)
        self.M = counts
        self.purchase_w = (
            self.M @ np.bincount(self.purchase_user, minlength=self.n_users).astype(float)
            if len(self.purchase_user)
            else np.full(n_boot + 1, np.nan)
        )

    def seed_draws(self, model: str, n_seeds: int) -> np.ndarray:
        """The seed each resample draws for ``model`` (one per resample, index 0 the data
        itself, which averages the seeds and draws none: -1); the same for a model name
        in every call, independent between models."""
        key = self.linked.get(model, model)
        rng = np.random.default_rng([self.seed, zlib.crc32(key.encode())])
        return np.r_[-1, rng.integers(0, n_seeds, self.n_boot)]

    def combine(self, model: str, per_seed: list[np.ndarray]) -> np.ndarray:
        """One figure per resample from each seed's (resamples,) figures: the mean over
        the seeds on the data itself (index 0), the drawn seed's on each resample."""
        stacked = np.asarray(per_seed)
        draws = self.seed_draws(model, len(per_seed))
        out = stacked[np.maximum(draws, 0), np.arange(stacked.shape[1])]
        out[0] = np.mean(stacked[:, 0])
        return out

    def resample_metrics(
        self, scores: list[np.ndarray], thresholds: list[float], mask: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Each metric per resample (index 0: the data itself), averaged over the score
        vectors given (one seed's: a list of one); ``mask`` restricts to some rows
        (purchase recall then is nan)."""
        y, users, weight = self.y, self.row_user, self.row_weight
        if mask is not None:
            keep = np.flatnonzero(mask)
            y, users = y[keep], users[keep]
            scores = [s[keep] for s in scores]
            weight = None if weight is None else np.asarray(weight)[keep]
        out = {m: np.zeros(self.n_boot + 1) for m in METRICS}
        for p, thr in zip(scores, thresholds):
            sc = _Scored(y, p, thr, users, self.n_users, weight)
            if mask is None and len(self.purchase_user):
                got = caught(p, self.cover, len(self.purchase_user), thr)
                caught_w = self.M @ np.bincount(self.purchase_user[got], minlength=self.n_users).astype(float)
                purchase_w = self.purchase_w
            else:
                caught_w = purchase_w = np.full(self.n_boot + 1, np.nan)
            for name, values in sc.resample(self.M, caught_w, purchase_w).items():
                out[name] += values / len(scores)
        return out

    def run(
        self,
        scores: dict[str, list[np.ndarray]],
        thresholds: dict[str, list[float]],
        mask: np.ndarray | None = None,
        metrics: tuple[str, ...] = METRICS,
    ) -> dict[str, Any]:
        """Point value (mean over seeds), 95% interval over users and seeds, and the seeds'
        own figures of each metric, per model; the per-resample values are kept for
        :meth:`paired`. A model's seeds that share one score vector (a deterministic
        model) are scored once."""
        result: dict[str, Any] = {}
        for name, runs in scores.items():
            seeds: list[dict[str, np.ndarray]] = []
            for k, (s, t) in enumerate(zip(runs, thresholds[name])):
                same = next((j for j in range(k) if runs[j] is s and thresholds[name][j] == t), None)
                seeds.append(seeds[same] if same is not None else self.resample_metrics([s], [t], mask))
            per = {m: self.combine(name, [s[m] for s in seeds]) for m in metrics}
            result[name] = {
                "point": {m: _round(per[m][0]) for m in metrics},
                "ci": {m: _interval(per[m][1:]) for m in metrics},
                "seeds": {m: [_round(s[m][0]) for s in seeds] for m in metrics} if len(seeds) > 1 else {},
                "_resamples": {m: per[m][1:] for m in metrics},
            }
        return result

    @staticmethod
    def differences(result: dict[str, Any], model: str, baseline: str, metric: str = "pr_auc") -> np.ndarray:
        """``model`` minus ``baseline`` on each resample (finite ones)."""
        diff = result[model]["_resamples"][metric] - result[baseline]["_resamples"][metric]
        return np.asarray(diff[np.isfinite(diff)])

    @staticmethod
    def paired(
        result: dict[str, Any], model: str, baseline: str, metric: str = "pr_auc", level: float = 0.95
    ) -> dict[str, Any]:
        """``model`` minus ``baseline`` on the same resamples: the interval at ``level``
        with its median ([lo, 50%, hi]), the share of resamples where ``model`` is better,
        and the two-sided bootstrap p-value of "no difference"."""
        diff = UserBootstrap.differences(result, model, baseline, metric)
        point = result[model]["point"][metric] - result[baseline]["point"][metric]
        tail = (1 - level) / 2 * 100
        return {
            f"{metric}_diff": [_round(v) for v in np.percentile(diff, [tail, 50, 100 - tail])]
            if len(diff)
            else [float("nan")] * 3,
            "point": _round(point),
            "p_better": round(float(np.mean(diff > 0)), 4) if len(diff) else float("nan"),
            "p_value": p_value(diff),
        }


def p_value(diff: np.ndarray) -> float:
    """Two-sided bootstrap p-value that the difference is 0: twice the smaller share of
    resamples on either side of 0 (each counted with the data itself, so never 0), at most 1.

    >>> p_value(np.r_[np.ones(98), -1.0])   # 1 of 99 resamples (and the data) at or below 0
    0.04
    """
    if not len(diff):
        return 1.0
    n = len(diff) + 1
    below, above = (np.sum(diff <= 0) + 1) / n, (np.sum(diff >= 0) + 1) / n
    return round(float(min(1.0, 2 * min(below, above))), 6)


def _interval(values: np.ndarray) -> list[float]:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return [float("nan"), float("nan")]
    return [_round(v) for v in np.percentile(finite, [2.5, 97.5])]


def _round(x: float) -> float:
    return round(float(x), 4) if np.isfinite(x) else float("nan")
