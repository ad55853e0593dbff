"""The deep-forest branch P_f, done as gcForest: multi-grained scanning, then a cascade.

* :class:`MultiGrainedScanner` slides a window of ``window`` features with ``stride``
  over [U, I]; every window is an instance for two forests (a random forest and a
  completely-random-trees forest, ``max_features=1``), trained on the pooled window
  instances. The representation of a row is, per window, each forest's P(buy):
  ``2 * n_windows`` numbers.
* The cascade: each level has 4 forests (2 random, 2 completely random). A level's
  input is [U, I], the scanned representation and the previous level's 4 class
  probabilities; its output, the mean of its forests. Levels are added while the
  validation PR-AUC improves, and the cascade keeps the best prefix.

**Out-of-fold class vectors, as gcForest prescribes, and the same forests at prediction.**
Every forest here is grown as ``k`` fold models on user-grouped folds (each with
``n_trees // k`` trees): a training row's class vector comes from the fold model that
never saw its user, and the next stage is fitted on those. Fitting the cascade on
in-sample vectors (the scanner's training-row probabilities score ROC-AUC 0.92-0.996
against 0.57-0.81 on validation) taught it to trust them and stopped it after one level.
Folds are by user because a user's rows at nearby moments are near-copies of each other.

A row is predicted along ``k`` **paths**, one per fold: path ``f`` feeds the row through
fold model ``f`` of the scanner and of every cascade forest, so that each level reads
class vectors from forests of the size and kind it was fitted on (a training row of fold
``f`` travelled exactly that path); the prediction is the mean of the paths' outputs.
Pooling the fold models into one forest of ``k`` times the trees instead (as this module
did before) handed the next level smoother vectors than it was fitted on. The paths walk
each tree once per row, as the pooled forest did, so they cost what it cost.

Sample weights (a sampled training moment stands for several) reach every fold model's fit.

The cascade also sees [U, I] itself, as well as the scanned representation: 2 x 9
window probabilities are a lossy summary of 270 features. Forests are trained by
scikit-learn and predicted by :class:`~models.compiled_forest.CompiledForest` (flat
arrays, one compiled loop), which gives the same probabilities without
scikit-learn's per-tree, per-call overhead.

Paper settings: window 100, stride 1 (171 windows), max depth 40. Stride 1 is the
model's dominant cost, so the default stride is 20 (9 windows); depth and trees are
chosen on validation by ``intent train``.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(400, 30)).astype(np.float32); y = (X[:, 0] > 0).astype(int)
>>> users = np.arange(400) // 4
>>> from sklearn.metrics import average_precision_score
>>> f = DeepForest(window=10, stride=10, n_trees=9, cascade_trees=9, max_depth=4).fit(
...     X[:300], y[:300], users[:300], X[300:], y[300:], average_precision_score)
>>> f.predict_proba(X[:3]).shape, 1 <= f.n_levels <= f.max_layers
((3,), True)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

from models.compiled_forest import CompiledForest

#: rows walked or joined at once (a chunk's nine windows of 100 features: about 120 MB)
CHUNK_ROWS = 32_768

__all__ = ["user_folds", "KFoldForest", "MultiGrainedScanner", "DeepForest", "cascade_level", "CHUNK_ROWS"]


def user_folds(groups: np.ndarray, k: int, seed: int) -> np.ndarray:
    """A fold 0..k-1 per row, every row of a user (``groups``) in the same fold."""
    names, inverse = np.unique(np.asarray(groups), return_inverse=True)
    fold_of_user = np.random.default_rng(seed).permutation(len(names)) % k
    return fold_of_user[inverse]


def _weights(w: np.ndarray | None, rows: np.ndarray, repeat: int = 1) -> np.ndarray | None:
    """The sample weights of ``rows`` (each repeated ``repeat`` times), or None."""
    return None if w is None else np.repeat(np.asarray(w, dtype=np.float64)[rows], repeat)


class KFoldForest:
    """One forest (``kind`` ``rf``: random forest, ``crf``: completely random trees) grown
    as ``k`` user-grouped fold models; see the module docstring."""

    _compiled: list[CompiledForest] | None = None  # built on first use, never pickled

    def __init__(
        self,
        kind: str,
        n_trees: int,
        max_depth: int | None,
        k: int = 3,
        min_samples_leaf: int = 5,
        n_jobs: int = 2,
        random_state: int = 0,
    ) -> None:
        if kind not in ("rf", "crf"):
            raise ValueError(f"unknown forest kind {kind!r}")
        self.kind, self.n_trees, self.max_depth, self.k = kind, n_trees, max_depth, k
        self.min_samples_leaf, self.n_jobs, self.random_state = min_samples_leaf, n_jobs, random_state

    def estimator(self, seed: int) -> Any:
        """A fresh, unfitted fold model of this forest's kind."""
        common = dict(
            n_estimators=max(self.n_trees // self.k, 1),
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            n_jobs=self.n_jobs,
            random_state=seed,
        )
        if self.kind == "rf":
            return RandomForestClassifier(max_features="sqrt", **common)
        return ExtraTreesClassifier(max_features=1, **common)

    def fit_oof(
        self, X: np.ndarray, y: np.ndarray, folds: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> np.ndarray:
        """Fit the fold models; returns each row's P(buy) from the model without its fold."""
        oof = np.zeros(len(X), dtype=np.float32)
        self.fold_models_: list[Any] = []
        for f in range(self.k):
            held = folds == f
            if len(np.unique(y[~held])) < 2:
                raise ValueError(f"fold {f}: the other folds hold a single class; too few purchases")
            model = self.estimator(self.random_state * 1000 + f)
            model.fit(X[~held], y[~held], sample_weight=_weights(sample_weight, ~held))
            self.fold_models_.append(model)
            if held.any():
                oof[held] = CompiledForest(model).predict_proba1(X[held])
        self._compiled = None
        return oof

    def forget_compiled(self) -> None:
        """Drop the compiled fold models (after they were refitted)."""
        self._compiled = None

    def compiled(self, fold: int) -> CompiledForest:
        """Fold model ``fold``, compiled (built once, never pickled)."""
        if self._compiled is None:
            self._compiled = [CompiledForest(m) for m in self.fold_models_]
        return self._compiled[fold]

    def predict(self, X: np.ndarray, fold: int) -> np.ndarray:
        """P(buy) of each row from fold model ``fold`` (the row's path)."""
        return self.compiled(fold).predict_proba1(X).astype(np.float32)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_compiled", None)
        return state


class MultiGrainedScanner:
    """Window scanning over feature vectors with two forests; see the module doc."""

    def __init__(
        self,
        window: int = 100,
        stride: int = 20,
        n_trees: int = 30,
        max_depth: int | None = 12,
        k: int = 3,
        max_instances: int = 150_000,
        n_jobs: int = 2,
        random_state: int = 0,
    ) -> None:
        self.window, self.stride = window, stride
        self.n_trees, self.max_depth, self.k = n_trees, max_depth, k
        self.max_instances, self.n_jobs, self.random_state = max_instances, n_jobs, random_state

    def starts(self, n_features: int) -> list[int]:
        if self.window > n_features:
            raise ValueError(f"window {self.window} is wider than the {n_features} features")
        return list(range(0, n_features - self.window + 1, self.stride))

    def _instances(self, X: np.ndarray) -> np.ndarray:
        # (n, d) -> (n * n_windows, window), rows grouped by example
        idx = np.asarray(self.starts_)[:, None] + np.arange(self.window)[None, :]
        return X[:, idx].reshape(-1, self.window)

    def fit_oof(
        self, X: np.ndarray, y: np.ndarray, folds: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> np.ndarray:
        """Fit both forests fold by fold; returns the out-of-fold representation of ``X``."""
        X = np.asarray(X, dtype=np.float32)
        self.starts_ = self.starts(X.shape[1])
        n_win = len(self.starts_)
        rng = np.random.default_rng(self.random_state)
        # at most max_instances window instances in all: a sample of rows, all windows each
        keep_rows = rng.random(len(X)) < min(1.0, self.max_instances / max(len(X) * n_win, 1))
        self.forests_ = [
            KFoldForest(
                kind, self.n_trees, self.max_depth, self.k, n_jobs=self.n_jobs, random_state=self.random_state
            )
            for kind in ("rf", "crf")
        ]
        out = np.zeros((len(X), 2 * n_win), dtype=np.float32)
        for j, forest in enumerate(self.forests_):
            forest.fold_models_ = []
            for f in range(self.k):
                fit_rows = (folds != f) & keep_rows
                model = forest.estimator(self.random_state * 1000 + 10 * j + f)
                model.fit(
                    self._instances(X[fit_rows]),
                    np.repeat(y[fit_rows], n_win),
                    sample_weight=_weights(sample_weight, fit_rows, n_win),
                )
                forest.fold_models_.append(model)
                held = folds == f
                if held.any():
                    out[held, j * n_win : (j + 1) * n_win] = self._walk([CompiledForest(model)], X[held])
            forest.forget_compiled()
        return out

    def transform(self, X: np.ndarray, fold: int | None = None) -> np.ndarray:
        """Per row, each forest's P(buy) on each window, (n, 2 * n_windows), along path
        ``fold`` (None: the mean over the paths, every fold model's trees)."""
        if fold is not None:
            return self._walk([f.compiled(fold) for f in self.forests_], X)
        return np.mean(self.transform_paths(X), axis=0).astype(np.float32)

    def transform_paths(self, X: np.ndarray) -> list[np.ndarray]:
        """:meth:`transform` along every path, the windows cut once for all of them."""
        return self._walk_paths([[f.compiled(k) for f in self.forests_] for k in range(self.k)], X)

    def _walk(self, forests: list[CompiledForest], X: np.ndarray) -> np.ndarray:
        return self._walk_paths([forests], X)[0]

    def _walk_paths(self, paths: list[list[CompiledForest]], X: np.ndarray) -> list[np.ndarray]:
        """A window is walked once for a run of consecutive rows that agree on it: a
        user's candidate pairs repeat the user's features, so the windows that lie in U
        are walked once per user, with the same probabilities. The windows are cut once
        and walked by each path's forests, :data:`CHUNK_ROWS` rows at a time (the cut
        windows of all rows at once took gigabytes for a million rows; a row's output
        does not depend on the chunk it is walked in)."""
        X = np.asarray(X, dtype=np.float32)
        n_win = len(self.starts_)
        outs = [np.empty((len(X), len(forests) * n_win), dtype=np.float32) for forests in paths]
        for lo in range(0, len(X), CHUNK_ROWS):
            hi = lo + CHUNK_ROWS
            self._walk_chunk(paths, X[lo:hi], [out[lo:hi] for out in outs])
        return outs

    def _walk_chunk(self, paths: list[list[CompiledForest]], X: np.ndarray, outs: list[np.ndarray]) -> None:
        n, width = len(X), self.window
        differs = X[1:] != X[:-1]  # (n - 1, d); empty for one row
        blocks, owners = [], []
        for start in self.starts_:
            new = np.ones(n, dtype=bool)
            new[1:] = differs[:, start : start + width].any(axis=1)
            blocks.append(X[new, start : start + width])
            owners.append(np.cumsum(new) - 1)  # each row's walked row within the block
        inst = np.concatenate(blocks)  # starts_ is never empty (see starts)
        bounds = np.cumsum([0] + [len(b) for b in blocks])
        n_win = len(self.starts_)
        for forests, out in zip(paths, outs):
            for k, forest in enumerate(forests):
                p = forest.predict_proba1(inst)
                for j, owner in enumerate(owners):
                    out[:, k * n_win + j] = p[bounds[j] : bounds[j + 1]][owner]


def cascade_level(
    forests: list[KFoldForest], X: np.ndarray, scanned: np.ndarray, prev: np.ndarray | None, fold: int
) -> np.ndarray:
    """A cascade level's class vectors along path ``fold``: its forests on [X, scanned,
    prev], :data:`CHUNK_ROWS` rows at a time (the joined input is never whole in memory)."""
    out = np.empty((len(X), len(forests)), dtype=np.float32)
    for lo in range(0, len(X), CHUNK_ROWS):
        hi = lo + CHUNK_ROWS
        inp = np.hstack([X[lo:hi], scanned[lo:hi]] + ([] if prev is None else [prev[lo:hi]]))
        out[lo:hi] = np.column_stack([forest.predict(inp, fold) for forest in forests])
    return out


class DeepForest:
    """Scanner + cascade; :meth:`predict_proba` returns P(buy) per row."""

    def __init__(
        self,
        window: int = 100,
        stride: int = 20,
        n_trees: int = 30,
        cascade_trees: int = 30,
        max_depth: int | None = 12,
        max_layers: int = 4,
        k: int = 3,
        n_jobs: int = 2,
        random_state: int = 0,
    ) -> None:
        self.params = dict(
            window=window,
            stride=stride,
            n_trees=n_trees,
            cascade_trees=cascade_trees,
            max_depth=max_depth,
            max_layers=max_layers,
            k=k,
        )
        self.scanner = MultiGrainedScanner(
            window, stride, n_trees, max_depth, k, n_jobs=n_jobs, random_state=random_state
        )
        self.cascade_trees, self.max_depth, self.max_layers, self.k = cascade_trees, max_depth, max_layers, k
        self.n_jobs, self.random_state = n_jobs, random_state

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        groups: np.ndarray,
        X_val: np.ndarray,
        y_val: np.ndarray,
        val_metric: Callable[[np.ndarray, np.ndarray], float],
        sample_weight: np.ndarray | None = None,
    ) -> DeepForest:
        """Fit on ``X``/``y`` (``groups``: each row's user, for the folds; ``sample_weight``:
        each row's weight in every fold model's fit); the cascade grows while
        ``val_metric(y_val, p)`` on ``X_val`` improves (training passes its PR-AUC: the
        metric is defined once, there)."""
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y).astype(int)
        folds = user_folds(groups, self.k, self.random_state)
        Z = np.hstack([X, self.scanner.fit_oof(X, y, folds, sample_weight)])
        X_val = np.asarray(X_val, dtype=np.float32)
        scanned_val = self.scanner.transform_paths(X_val)  # [X_val, scanned] is joined a chunk at a time
        self.levels_: list[list[KFoldForest]] = []
        self.level_val_pr_auc_: list[float] = []
        best, prev = -1.0, None
        prev_val: list[np.ndarray | None] = [None] * self.k
        for level in range(self.max_layers):
            forests = [
                KFoldForest(
                    kind,
                    self.cascade_trees,
                    self.max_depth,
                    self.k,
                    n_jobs=self.n_jobs,
                    random_state=self.random_state * 100 + level * 10 + j,
                )
                for j, kind in enumerate(("rf", "rf", "crf", "crf"))
            ]
            inp = Z if prev is None else np.hstack([Z, prev])
            prev = np.column_stack([f.fit_oof(inp, y, folds, sample_weight) for f in forests])
            for f in range(self.k):  # each validation row along every path
                prev_val[f] = cascade_level(forests, X_val, scanned_val[f], prev_val[f], f)
            p_val = np.mean([v.mean(axis=1) for v in prev_val if v is not None], axis=0)
            score = val_metric(y_val, p_val) if y_val.any() else 0.0
            self.levels_.append(forests)
            self.level_val_pr_auc_.append(round(score, 5))
            if score <= best + 1e-5:
                break
            best = score
        best_levels = int(np.argmax(self.level_val_pr_auc_)) + 1
        self.levels_ = self.levels_[:best_levels]
        return self

    @property
    def n_levels(self) -> int:
        return len(self.levels_)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """P(buy) per row: the mean over the ``k`` paths (see the module docstring)."""
        if len(X) == 0:
            return np.zeros(0, dtype=np.float32)
        X = np.asarray(X, dtype=np.float32)
        out = np.zeros(len(X), dtype=np.float64)
        for f, scanned in enumerate(self.scanner.transform_paths(X)):
            prev = None
            for forests in self.levels_:
                prev = cascade_level(forests, X, scanned, prev, f)
            assert prev is not None
            out += prev.mean(axis=1)
        return (out / self.k).astype(np.float32)
