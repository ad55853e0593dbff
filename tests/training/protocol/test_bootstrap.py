"""Bootstrap by user: the same figures a naive resampling gives, and intervals that behave."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from training.protocol.bootstrap import UserBootstrap
from training.protocol.metrics import caught, classification_metrics, purchase_recall


def case(seed: int = 0, n: int = 3000, users: int = 60):
    rng = np.random.default_rng(seed)
    row_user = rng.integers(0, users, n)
    y = (rng.random(n) < 0.05).astype(int)
    p = np.round(y * 0.4 + rng.random(n), 2)  # rounded: ties between scores
    cover = np.array([[r, k] for k, r in enumerate(np.flatnonzero(y)[:40])])
    purchase_user = np.r_[row_user[cover[:, 0]], users, users]  # and two by a user with no rows
    return y, p, row_user, cover, purchase_user


def test_every_resample_equals_the_naive_computation() -> None:
    y, p, row_user, cover, purchase_user = case()
    boot = UserBootstrap(y, row_user, cover, purchase_user, n_boot=25, seed=7)
    got = boot.resample_metrics([p], [0.9])
    got_purchase = caught(p, cover, len(purchase_user), 0.9)
    for b in range(boot.n_boot + 1):
        weights = boot.M[b]  # how often each user (and the orphan purchase's own unit) was drawn
        w = weights[row_user]
        m = classification_metrics(y, p, 0.9, w)
        assert got["pr_auc"][b] == pytest.approx(average_precision_score(y, p, sample_weight=w), abs=1e-9)
        assert got["roc_auc"][b] == pytest.approx(roc_auc_score(y, p, sample_weight=w), abs=1e-9)
        for name in ("precision", "recall", "f1"):
            assert got[name][b] == pytest.approx(m[name], abs=6e-5)  # m is rounded to 4 places
        pw = weights[boot.purchase_user]
        assert got["purchase_recall"][b] == pytest.approx(pw[got_purchase].sum() / pw.sum(), abs=1e-12)
    assert got["purchase_recall"][0] == pytest.approx(
        purchase_recall(p, cover, len(purchase_user), 0.9), abs=1e-4
    )


def test_identical_users_give_an_interval_of_width_zero() -> None:
    # every user has the same rows: any resample is the data again
    y = np.tile([0, 0, 1, 0, 1], 40)
    p = np.tile([0.1, 0.2, 0.9, 0.4, 0.3], 40)
    users = np.repeat(np.arange(40), 5)
    res = UserBootstrap(y, users, n_boot=100, seed=1).run({"m": [p]}, {"m": [0.35]})["m"]
    assert res["ci"]["pr_auc"][0] == res["ci"]["pr_auc"][1] == res["point"]["pr_auc"]
    assert res["ci"]["roc_auc"] == [res["point"]["roc_auc"]] * 2


def test_a_model_paired_with_itself_differs_by_exactly_zero() -> None:
    y, p, row_user, cover, purchase_user = case(seed=2)
    boot = UserBootstrap(y, row_user, cover, purchase_user, n_boot=100, seed=3)
    res = boot.run({"a": [p], "b": [p.copy()]}, {"a": [0.9], "b": [0.9]})
    d = boot.paired(res, "a", "b")
    assert d["pr_auc_diff"] == [0.0, 0.0, 0.0] and d["p_better"] == 0.0


def test_interval_covers_the_truth_about_95_percent_of_the_time() -> None:
    """Draw many data sets from one population of users; the interval of the mean recall
    (a known quantity here) should hold the true value in about 95% of them."""
    true_rate, hits, trials = 0.3, 0, 60
    for t in range(trials):
        rng = np.random.default_rng(100 + t)
        users = np.repeat(np.arange(80), 5)
        y = np.ones(len(users), dtype=int)
        hit_rate = np.clip(rng.normal(true_rate, 0.1, 80), 0, 1)[users]  # users differ
        p = (rng.random(len(users)) < hit_rate).astype(float)
        res = UserBootstrap(y, users, n_boot=300, seed=t).run({"m": [p]}, {"m": [0.5]})["m"]
        lo, hi = res["ci"]["recall"]
        hits += lo <= true_rate <= hi
    assert 0.85 <= hits / trials <= 1.0


def test_seeds_are_averaged_and_their_spread_kept() -> None:
    y, p, row_user, cover, purchase_user = case(seed=4)
    q = np.round(p + np.random.default_rng(9).normal(0, 0.3, len(p)), 2)
    boot = UserBootstrap(y, row_user, cover, purchase_user, n_boot=20, seed=0)
    res = boot.run({"m": [p, q]}, {"m": [0.9, 0.9]})["m"]
    one, two = (boot.run({"m": [s]}, {"m": [0.9]})["m"]["point"]["pr_auc"] for s in (p, q))
    assert res["seeds"]["pr_auc"] == [one, two]
    assert res["point"]["pr_auc"] == pytest.approx((one + two) / 2, abs=1e-4)
