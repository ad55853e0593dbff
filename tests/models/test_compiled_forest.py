"""The compiled forests give scikit-learn's probabilities, and the scanner uses them."""

from __future__ import annotations

import pickle

import numpy as np
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

from models.compiled_forest import CompiledForest
from models.forest import MultiGrainedScanner, user_folds


def data(n: int = 600, d: int = 30, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    X[:, 3] = np.round(X[:, 3], 1)  # ties on thresholds: the float32 comparison must be exact
    y = ((X[:, 0] > 0) ^ (X[:, 3] > 0.2)).astype(int)
    return X, y


def test_matches_scikit_learn_for_both_forest_kinds() -> None:
    X, y = data()
    for forest in (
        RandomForestClassifier(n_estimators=15, max_depth=40, random_state=0),
        ExtraTreesClassifier(n_estimators=15, max_features=1, random_state=0),
    ):
        forest.fit(X, y)
        Xt, _ = data(seed=2)
        np.testing.assert_allclose(
            CompiledForest(forest).predict_proba1(Xt), forest.predict_proba(Xt)[:, 1], rtol=0, atol=1e-12
        )


def test_both_walks_match_scikit_learn_depth_first_layout_or_not() -> None:
    """Depth-first trees (scikit-learn's default builder) take the walk that steps to the
    next node on the left; best-first ones (``max_leaf_nodes``) the general walk."""
    X, y = data()
    Xt, _ = data(seed=2)
    depth_first = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    best_first = RandomForestClassifier(n_estimators=10, max_leaf_nodes=40, random_state=0).fit(X, y)
    compiled = CompiledForest(depth_first), CompiledForest(best_first)
    assert [c.depth_first for c in compiled] == [True, False]
    for forest, c in zip((depth_first, best_first), compiled):
        np.testing.assert_allclose(c.predict_proba1(Xt), forest.predict_proba(Xt)[:, 1], rtol=0, atol=1e-12)
    compiled[0].depth_first = False  # the general walk on the same trees: the same answer
    np.testing.assert_array_equal(
        compiled[0].predict_proba1(Xt), CompiledForest(depth_first).predict_proba1(Xt)
    )


def fitted_scanner(X: np.ndarray, y: np.ndarray) -> MultiGrainedScanner:
    scanner = MultiGrainedScanner(window=10, stride=5, n_trees=9, max_depth=12, n_jobs=1)
    scanner.fit_oof(X, y, user_folds(np.arange(len(X)) // 3, 3, 0))
    return scanner


def test_scanner_transform_equals_the_scikit_learn_path_and_survives_pickling() -> None:
    X, y = data()
    scanner = fitted_scanner(X, y)
    inst = scanner._instances(X[:50])  # noqa: SLF001
    for k in range(3):  # every path: its fold models, as scikit-learn walks them
        fast = scanner.transform(X[:50], k)
        slow = np.hstack(
            [
                f.fold_models_[k].predict_proba(inst)[:, 1].reshape(-1, len(scanner.starts_))
                for f in scanner.forests_
            ]
        ).astype(np.float32)
        np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-6)
    restored = pickle.loads(pickle.dumps(scanner))
    assert all("_compiled" not in f.__dict__ for f in restored.forests_)
    np.testing.assert_array_equal(restored.transform(X[:50]), scanner.transform(X[:50]))


def test_scanner_walks_repeated_windows_once_with_the_same_probabilities() -> None:
    X, y = data()
    scanner = fitted_scanner(X, y)
    # a user's candidate pairs: the first 15 columns (U) repeat, the rest (I) differ
    rng = np.random.default_rng(3)
    users = np.repeat(rng.normal(size=(6, 15)).astype(np.float32), [1, 4, 4, 2, 7, 1], axis=0)
    rows = np.hstack([users, rng.normal(size=(len(users), 15)).astype(np.float32)])
    walked = []
    for forest in (f.compiled(0) for f in scanner.forests_):
        real = forest.predict_proba1
        forest.predict_proba1 = lambda inst, real=real: walked.append(len(inst)) or real(inst)
    got = scanner.transform(rows, 0)
    for k in range(len(rows)):  # row by row: nothing to share
        np.testing.assert_array_equal(got[k], scanner.transform(rows[k : k + 1], 0)[0])
    # windows 0 and 5 lie in U: 6 users, not 19 rows; the others walk every row
    assert walked[0] == 2 * 6 + 3 * len(rows)
    assert scanner.transform(rows[:0]).shape == (0, 2 * len(scanner.starts_))
