"""Comparisons with the fused model: the seeds' variance in every interval, Holm's adjustment
over the family, and readings that never say more than the adjusted interval."""

from __future__ import annotations

import numpy as np

from training.protocol.bootstrap import UserBootstrap
from training.protocol.comparisons import holm


def _case(seed: int = 0, n: int = 4000, users: int = 100) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.random(n) < 0.05).astype(int), rng.integers(0, users, n)


def test_the_interval_holds_the_seeds_variance() -> None:
    """Two seeds far apart: the interval over users and seeds spans both, while either seed's
    own interval (users alone) is narrow and leaves the other out."""
    y, users = _case()
    rng = np.random.default_rng(1)
    good = y + rng.normal(0, 0.5, len(y))
    bad = y + rng.normal(0, 3.0, len(y))
    boot = UserBootstrap(y, users, n_boot=400, seed=2)
    both = boot.run({"m": [good, bad]}, {"m": [0.5, 0.5]})["m"]
    alone = boot.run({"g": [good]}, {"g": [0.5]})["g"]
    lo, hi = both["ci"]["pr_auc"]
    g, b = both["seeds"]["pr_auc"]
    assert lo < b < g < hi
    assert alone["ci"]["pr_auc"][0] > b  # users alone: the bad seed is outside
    assert both["point"]["pr_auc"] == round((g + b) / 2, 4)


def test_models_of_one_seed_are_paired_seed_by_seed() -> None:
    """A branch of the fused model shares its seed draws: fused minus an identical copy of it is
    exactly 0 on every resample, although its seeds differ."""
    y, users = _case(seed=3)
    rng = np.random.default_rng(4)
    s0, s1 = y + rng.normal(0, 1, len(y)), y + rng.normal(0, 2, len(y))
    boot = UserBootstrap(y, users, n_boot=200, seed=0, linked={"fused_no_prior": "fused"})
    res = boot.run(
        {"fused": [s0, s1], "fused_no_prior": [s0, s1], "other": [s0, s1]},
        {k: [0.5, 0.5] for k in ("fused", "fused_no_prior", "other")},
    )
    assert np.all(boot.differences(res, "fused", "fused_no_prior") == 0)
    assert np.any(boot.differences(res, "fused", "other") != 0)  # an unrelated model draws its own seeds


def test_holm_keeps_only_the_differences_that_survive_the_family() -> None:
    rng = np.random.default_rng(5)
    # 15 comparisons; one whose raw 95% interval leaves out 0 but not its Holm-adjusted one
    diffs = {f"m{k}": rng.normal(0.0, 0.01, 3000) for k in range(13)}
    diffs["clear"] = rng.normal(0.05, 0.01, 3000)
    diffs["marginal"] = rng.normal(0.021, 0.01, 3000)
    raw_lo = np.percentile(diffs["marginal"], 2.5)
    assert raw_lo > 0  # "better" at the unadjusted 95% level
    out = holm(diffs, {k: float(np.mean(v)) for k, v in diffs.items()})
    assert out["clear"]["reading"] == "better" and out["clear"]["pr_auc_diff"][0] > 0
    assert out["marginal"]["reading"] == "cannot_tell" and out["marginal"]["pr_auc_diff"][0] <= 0
    for name, c in out.items():  # a reading always agrees with its own interval
        lo, _, hi = c["pr_auc_diff"]
        assert (c["reading"] == "better") <= (lo > 0) and (c["reading"] == "worse") <= (hi < 0), name
        assert c["p_holm"] >= c["p_value"]
    worse = holm({"w": rng.normal(-0.05, 0.01, 3000)}, {"w": -0.05})["w"]
    assert worse["reading"] == "worse" and worse["level"] == 0.95
