"""The budget view against a naive count, day by day, and the volume threshold."""

from __future__ import annotations

import numpy as np

from training.protocol.budget import DayPairs, budget_figures


def _case(seed: int = 0):
    rng = np.random.default_rng(seed)
    n = 600
    users = rng.integers(0, 30, n)
    items = [f"i{k}" for k in rng.integers(0, 12, n)]
    days = rng.integers(0, 3, n)
    y = (rng.random(n) < 0.08).astype(int)
    p = np.round(rng.random(n) * 0.5 + 0.4 * y, 3)
    cover = np.array([[r, k] for k, r in enumerate(np.flatnonzero(y)[:25])])
    return users, items, days, y, p, cover


def test_precision_recall_and_lift_are_the_naive_counts() -> None:
    users, items, days, y, p, cover = _case()
    pairs = DayPairs.of(users, items, days, y)
    budget = 0.2
    cut, share = pairs.cuts(p, budget)
    assert np.all(share == 1.0)  # continuous scores: no ties at a cut
    sent = hits = 0
    for d in range(3):
        rows = np.flatnonzero(days == d)
        best: dict[tuple, float] = {}
        for r in rows:
            key = (users[r], items[r])
            best[key] = max(best.get(key, -1), p[r])
        k = max(1, round(budget * len(set(users[rows]))))
        top = sorted(best.values(), reverse=True)[k - 1]
        chosen = {key for key, v in best.items() if v >= top}
        assert len(chosen) == k and cut[d] == top
        sent += len(chosen)
        hits += sum(any(y[r] and p[r] >= top and (users[r], items[r]) == key for r in rows) for key in chosen)
    purchase_user = users[cover[:, 0]]
    counts = pairs.per_user(p, (cut, share), cover, purchase_user, 30)
    fig = budget_figures(np.ones((1, 30)), counts)
    assert fig["sent"][0] == sent and fig["precision"][0] == hits / sent
    caught = sum(p[r] >= cut[days[r]] for r, _ in cover)
    assert fig["purchase_recall"][0] == caught / len(cover)
    base = pairs.pair_bought.mean()
    assert np.isclose(fig["lift"][0], (hits / sent) / base)


def test_the_volume_threshold_sends_the_budget_over_the_part() -> None:
    users, items, days, y, p, _ = _case(1)
    pairs = DayPairs.of(users, items, days, y)
    t = pairs.volume_threshold(p, 0.1)
    k = sum(max(1, round(0.1 * a)) for a in pairs.active)
    assert int(np.sum(pairs.pair_max(p) >= t)) == k
