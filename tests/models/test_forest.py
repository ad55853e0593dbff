"""gcForest done right: class vectors out of fold, by user; the cascade never sees in-sample ones."""

from __future__ import annotations

import numpy as np
import pytest

from models.forest import DeepForest, KFoldForest, MultiGrainedScanner, user_folds
from training.protocol.metrics import pr_auc, roc_auc


def noisy(n: int = 900, d: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of 150 users (6 rows each); the label is a weak function of two features plus noise,
    so deep trees can learn the training rows by heart."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = ((X[:, 0] + X[:, 12] + rng.normal(0, 2.0, n)) > 2.0).astype(int)
    return X, y, np.arange(n) // 6


def test_user_folds_keep_each_user_in_one_fold() -> None:
    users = np.repeat(np.arange(50), 7)
    folds = user_folds(users, 3, seed=1)
    assert set(folds) == {0, 1, 2}
    for u in range(50):
        assert len(set(folds[users == u])) == 1


def test_out_of_fold_scanner_vectors_differ_from_in_sample_ones() -> None:
    X, y, users = noisy()
    scanner = MultiGrainedScanner(window=10, stride=10, n_trees=15, max_depth=None, n_jobs=1)
    oof = scanner.fit_oof(X, y, user_folds(users, 3, 0))
    in_sample = scanner.transform(X)  # every fold model's trees: most saw each training row
    assert oof.shape == in_sample.shape == (len(X), 2 * 3)
    assert np.mean(np.abs(oof - in_sample)) > 0.05
    # in-sample vectors flatter the training rows; out-of-fold ones do not
    assert roc_auc(y, in_sample[:, 0]) > roc_auc(y, oof[:, 0]) + 0.1


def test_a_fold_model_never_scores_the_users_it_was_fitted_on() -> None:
    X, y, users = noisy()
    folds = user_folds(users, 3, 0)
    f = KFoldForest("rf", n_trees=12, max_depth=None, k=3, n_jobs=1)
    oof = f.fit_oof(X, y, folds)
    for k, model in enumerate(f.fold_models_):
        held = folds == k
        np.testing.assert_allclose(oof[held], model.predict_proba(X[held])[:, 1], atol=1e-6)
    assert sum(len(m.estimators_) for m in f.fold_models_) == 12
    for k in range(3):  # the path of fold k predicts with fold model k
        np.testing.assert_allclose(f.predict(X, k), f.fold_models_[k].predict_proba(X)[:, 1], atol=1e-6)


def test_a_training_row_travels_at_prediction_the_path_its_class_vectors_came_from() -> None:
    """The cascade is applied with the forests it was fitted with: along path k, a training
    row of fold k gets exactly the out-of-fold vectors the next level was fitted on."""
    X, y, users = noisy()
    folds = user_folds(users, 3, 0)
    scanner = MultiGrainedScanner(window=10, stride=10, n_trees=9, max_depth=None, n_jobs=1)
    oof = scanner.fit_oof(X, y, folds)
    for k in range(3):
        held = folds == k
        np.testing.assert_allclose(scanner.transform(X[held], k), oof[held], atol=1e-6)


def test_the_cascade_is_fitted_on_out_of_fold_vectors_only(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y, users = noisy()
    Xv, yv, _ = noisy(seed=1)
    scanned: list[np.ndarray] = []
    cascade_inputs: list[np.ndarray] = []
    cascade_outputs: list[np.ndarray] = []
    real_scan, real_fit = MultiGrainedScanner.fit_oof, KFoldForest.fit_oof

    def spy_scan(self, X_, y_, folds, w=None):
        out = real_scan(self, X_, y_, folds, w)
        scanned.append(out)
        return out

    def spy_fit(self, X_, y_, folds, w=None):
        out = real_fit(self, X_, y_, folds, w)
        cascade_inputs.append(X_)
        cascade_outputs.append(out)
        return out

    monkeypatch.setattr(MultiGrainedScanner, "fit_oof", spy_scan)
    monkeypatch.setattr(KFoldForest, "fit_oof", spy_fit)
    df = DeepForest(
        window=10, stride=10, n_trees=9, cascade_trees=9, max_depth=None, max_layers=3, n_jobs=1
    ).fit(X, y, users, Xv, yv, pr_auc)
    (oof,) = scanned
    in_sample = df.scanner.transform(X)
    d = X.shape[1]
    assert len(cascade_inputs) >= 4  # at least one level of 4 forests
    for k, inp in enumerate(cascade_inputs):
        np.testing.assert_array_equal(inp[:, :d], X)  # [U, I] itself ...
        np.testing.assert_array_equal(inp[:, d : d + oof.shape[1]], oof)  # ... and the OOF scan ...
        assert not np.allclose(inp[:, d : d + oof.shape[1]], in_sample)  # ... never the in-sample one
        level = k // 4
        if level:  # ... and the previous level's OOF class vectors
            prev = np.column_stack(cascade_outputs[4 * (level - 1) : 4 * level])
            np.testing.assert_array_equal(inp[:, d + oof.shape[1] :], prev)


def test_levels_grow_while_validation_improves_and_the_best_prefix_is_kept() -> None:
    X, y, users = noisy()
    Xv, yv, _ = noisy(seed=1)
    df = DeepForest(
        window=10, stride=10, n_trees=9, cascade_trees=9, max_depth=6, max_layers=4, n_jobs=1
    ).fit(X, y, users, Xv, yv, pr_auc)
    curve = df.level_val_pr_auc_
    assert df.n_levels == int(np.argmax(curve)) + 1
    assert all(b > a for a, b in zip(curve[: len(curve) - 1], curve[1 : len(curve) - 1]))  # grew while better
    assert df.predict_proba(Xv).shape == (len(Xv),)


def test_a_forest_walked_a_few_rows_at_a_time_fits_and_predicts_exactly_as_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import models.forest as forest_module

    X, y, users = noisy()
    Xv, yv, _ = noisy(seed=1)
    Xv = np.repeat(Xv, 2, axis=0)  # runs of equal rows, as a user's candidates repeat U
    yv = np.repeat(yv, 2)

    def fitted() -> tuple[list[float], np.ndarray]:
        df = DeepForest(window=10, stride=10, n_trees=9, cascade_trees=9, max_depth=6, max_layers=3, n_jobs=1)
        df.fit(X, y, users, Xv, yv, pr_auc)
        return df.level_val_pr_auc_, df.predict_proba(Xv)

    whole = fitted()
    monkeypatch.setattr(forest_module, "CHUNK_ROWS", 7)  # chunks that cut runs of equal rows
    chunked = fitted()
    assert chunked[0] == whole[0]
    assert np.array_equal(chunked[1], whole[1])
