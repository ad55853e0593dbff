"""The deep-forest branch P_f: multi-grained scanning feeding a forest cascade.

* :class:`MultiGrainedScanner` slides a window of ``window`` features with ``stride``
  over [U, I]; every window is an instance for two forests (a random forest and a
  completely-random-trees forest, ``max_features=1``), both trained on the pooled
  window instances. The transformed representation is, per window, each forest's
  P(buy): ``2 * n_windows`` numbers (the second class probability is redundant for a
  binary task, so it is dropped).
* The cascade is ``deepforest.CascadeForestClassifier`` (package ``deep-forest-py310``):
  4 forests per level (2 random, 2 extra-trees), levels added while the validation
  score improves, its input the scanned representation, as in gcForest.

The scanner is ours on scikit-learn because ``deepforest`` lacks that stage. Its trees
are trained by scikit-learn and predicted by :class:`~models.compiled_forest.CompiledForest`
(flat arrays, one compiled loop), which gives the same probabilities without
scikit-learn's per-tree, per-call overhead.

Paper settings: window 100, stride 1 (171 windows), max depth 40. Stride 1 is the
model's dominant cost, so the default stride is 20 (9 windows); the training report
plots accuracy against stride and depth.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(200, 30)).astype(np.float32); y = (X[:, 0] > 0).astype(int)
>>> f = DeepForest(window=10, stride=10, n_trees=10, cascade_trees=10, max_depth=4).fit(X, y)
>>> f.predict_proba(X[:3]).shape
(3,)
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

from models.compiled_forest import CompiledBinnedForest, CompiledForest

__all__ = ["MultiGrainedScanner", "DeepForest"]


class MultiGrainedScanner:
    """Window scanning over feature vectors with two forests; see the module doc."""

    def __init__(
        self,
        window: int = 100,
        stride: int = 20,
        n_trees: int = 30,
        max_depth: int | None = 40,
        max_instances: int = 200_000,
        n_jobs: int = 2,
        random_state: int = 0,
    ) -> None:
        self.window, self.stride = window, stride
        self.n_trees, self.max_depth = n_trees, max_depth
        self.max_instances, self.n_jobs, self.random_state = max_instances, n_jobs, random_state

    def starts(self, n_features: int) -> list[int]:
        if self.window > n_features:
            raise ValueError(f"window {self.window} is wider than the {n_features} features")
        return list(range(0, n_features - self.window + 1, self.stride))

    def _instances(self, X: np.ndarray) -> np.ndarray:
        # (n, d) -> (n * n_windows, window), rows grouped by example
        idx = np.asarray(self.starts_)[:, None] + np.arange(self.window)[None, :]
        return X[:, idx].reshape(-1, self.window)

    def fit(self, X: np.ndarray, y: np.ndarray) -> "MultiGrainedScanner":
        self.starts_ = self.starts(X.shape[1])
        inst = self._instances(X)
        labels = np.repeat(y, len(self.starts_))
        rng = np.random.default_rng(self.random_state)
        if len(inst) > self.max_instances:
            keep = rng.choice(len(inst), self.max_instances, replace=False)
            inst, labels = inst[keep], labels[keep]
        common = dict(n_estimators=self.n_trees, max_depth=self.max_depth, n_jobs=self.n_jobs,
                      random_state=self.random_state, min_samples_leaf=2)
        self.forests_ = [
            RandomForestClassifier(max_features="sqrt", **common).fit(inst, labels),
            ExtraTreesClassifier(max_features=1, **common).fit(inst, labels),
        ]
        self._compiled = None
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Per row, each forest's P(buy) on each window: (n, 2 * n_windows).

        A window is walked once for a run of consecutive rows that agree on it: a
        user's candidate pairs repeat the user's features, so the windows that lie in U
        are walked once per user (3 of the 9 default windows; a third of the trees
        walked for a user with many candidates), with the same probabilities."""
        X = np.asarray(X, dtype=np.float32)
        n, width = len(X), self.window
        differs = X[1:] != X[:-1]  # (n - 1, d); empty for one row or none
        blocks, owners = [], []
        for start in self.starts_:
            new = np.ones(n, dtype=bool)
            new[1:] = differs[:, start:start + width].any(axis=1)
            blocks.append(X[new, start:start + width])
            owners.append(np.cumsum(new) - 1)  # each row's walked row within the block
        inst = np.concatenate(blocks)  # starts_ is never empty (see starts)
        bounds = np.cumsum([0] + [len(b) for b in blocks])
        n_win = len(self.starts_)
        out = np.empty((n, len(self.forests_) * n_win), dtype=np.float32)
        for k, forest in enumerate(self.compiled()):
            p = forest.predict_proba1(inst)
            for j, owner in enumerate(owners):
                out[:, k * n_win + j] = p[bounds[j]:bounds[j + 1]][owner]
        return out

    def compiled(self) -> list[CompiledForest]:
        """The fitted forests as :class:`CompiledForest` (built once, never pickled)."""
        if getattr(self, "_compiled", None) is None:
            self._compiled = [CompiledForest(f) for f in self.forests_]
        return self._compiled

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_compiled", None)  # rebuilt from the trees after loading
        return state


class DeepForest:
    """Scanner + cascade; :meth:`predict_proba` returns P(buy) per row."""

    def __init__(
        self,
        window: int = 100,
        stride: int = 20,
        n_trees: int = 30,
        cascade_trees: int = 50,
        max_depth: int | None = 40,
        max_layers: int = 4,
        n_jobs: int = 2,
        random_state: int = 0,
    ) -> None:
        self.params = dict(window=window, stride=stride, n_trees=n_trees,
                           cascade_trees=cascade_trees, max_depth=max_depth,
                           max_layers=max_layers)
        self.scanner = MultiGrainedScanner(window, stride, n_trees, max_depth,
                                           n_jobs=n_jobs, random_state=random_state)
        self.cascade_trees, self.max_depth, self.max_layers = cascade_trees, max_depth, max_layers
        self.n_jobs, self.random_state = n_jobs, random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> "DeepForest":
        from deepforest import CascadeForestClassifier

        y = np.asarray(y).astype(int)
        Z = self.scanner.fit(X, y).transform(X)
        self.cascade_ = CascadeForestClassifier(
            n_estimators=2, n_trees=self.cascade_trees, max_depth=self.max_depth,
            max_layers=self.max_layers, n_jobs=self.n_jobs, random_state=self.random_state,
            verbose=0,
        )
        with warnings.catch_warnings():
            # deepforest warns about rows without out-of-bag votes on small data
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            self.cascade_.fit(Z, y)
        self.set_inference_jobs(1)
        return self

    def set_inference_jobs(self, n_jobs: int) -> None:
        """Threads per prediction call. 1 by default: joblib's dispatch costs milliseconds
        per call (93 ms -> 6 ms for one row, 149 -> 61 us per row at 1024 on 2 cores), and
        the worker already overlaps scoring with consumption. With one, the cascade's
        forests are compiled (:class:`~models.compiled_forest.CompiledBinnedForest`)."""
        for forest in self.scanner.forests_:
            forest.n_jobs = n_jobs
        self.cascade_.n_jobs = n_jobs
        for layer in getattr(self.cascade_, "layers_", {}).values():
            for wrapper in getattr(layer, "estimators_", {}).values():
                inner = getattr(wrapper, "estimator_", None)
                if isinstance(inner, CompiledBinnedForest):
                    inner = wrapper.estimator_ = inner.forest
                if inner is not None and hasattr(inner, "n_jobs"):
                    inner.n_jobs = n_jobs
                if n_jobs == 1 and hasattr(inner, "childrens"):
                    wrapper.estimator_ = CompiledBinnedForest(inner)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        if len(X) == 0:
            return np.zeros(0, dtype=np.float32)
        Z = self.scanner.transform(X)
        return self.cascade_.predict_proba(Z)[:, 1].astype(np.float32)
