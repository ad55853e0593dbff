"""The cold-start prior is weighed by how the served model ranks everyone, cold and warm together."""

from __future__ import annotations

import numpy as np

from models.cold_start import N_EVENTS_COLUMN, fit_cold_start, is_cold


def _rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    U = np.zeros((n, 150), dtype=np.float32)
    U[:, N_EVENTS_COLUMN] = np.log1p(np.where(rng.random(n) < 0.5, 2, 40))  # half cold
    I = rng.normal(size=(n, 120)).astype(np.float32)
    cold = is_cold(U)
    # warm rows buy often; cold rows rarely, and then as one item feature says
    y = np.where(cold, rng.random(n) < 0.02 * (1 + 3 * (I[:, 0] > 1)), rng.random(n) < 0.2).astype(int)
    return U, I, y


def test_the_weight_is_chosen_on_every_row_and_the_prior_is_a_probability() -> None:
    U, I, y = _rows(20_000, 0)
    Uv, Iv, yv = _rows(20_000, 1)
    warm_signal = np.where(is_cold(Uv), 0.03, 0.2).astype(
        np.float32
    )  # the fused model knows warm rows buy more
    prior, curve = fit_cold_start(U, I, y, Uv, Iv, yv, warm_signal)
    cold = is_cold(Uv)
    assert {"weight", "val_pr_auc", "cold_val_pr_auc"} <= set(curve[0])
    # the prior's probabilities are on the cold rows' own scale, not lifted to balance the classes
    assert abs(float(prior.prior(Uv[cold], Iv[cold]).mean()) - float(yv[cold].mean())) < 0.01
    chosen = next(r for r in curve if r["weight"] == prior.weight)
    assert chosen["val_pr_auc"] == max(r["val_pr_auc"] for r in curve)  # all rows, not the cold ones
