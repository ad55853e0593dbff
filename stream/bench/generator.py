"""Synthetic clickstream for load, fitted to a real one (never used for accuracy claims).

:class:`ClickstreamGenerator` learns from real events: the empirical popularity of users
and items (their skew), the category of each item, and the funnel rates
view -> add-to-cart -> purchase per interaction. It then draws sessions: a user by
popularity, a few items by popularity, views, and carts and purchases at the fitted rates.

>>> from stream.domain.events import Event
>>> real = [Event(str(k), f"u{k % 3}", f"i{k % 5}", "view", 1_454_284_800_000 + k) for k in range(50)]
>>> gen = ClickstreamGenerator.fit(real, seed=1)
>>> events = gen.generate(200, n_users=40)
>>> len(events), len({e.user_id for e in events}) <= 40
(200, True)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from stream.domain.events import Event

__all__ = ["ClickstreamGenerator"]


@dataclass
class ClickstreamGenerator:
    item_ids: list[str]
    item_p: np.ndarray
    item_category: dict[str, str | None]
    user_weights: np.ndarray  # sorted activity shares, reused for any number of users
    cart_rate: float  # carts per view
    buy_rate: float  # purchases per cart
    mean_gap_ms: float
    seed: int = 0

    @classmethod
    def fit(cls, events: list[Event], seed: int = 0) -> ClickstreamGenerator:
        items = Counter(e.item_id for e in events)
        users = Counter(e.user_id for e in events)
        types = Counter(e.type for e in events)
        ids = sorted(items)
        counts = np.array([items[i] for i in ids], dtype=float)
        cats = {e.item_id: e.category_id for e in events}
        weights = np.sort(np.array(list(users.values()), dtype=float))[::-1]
        span = max(events[-1].ts - events[0].ts, 1) if len(events) > 1 else 1000
        return cls(
            item_ids=ids,
            item_p=counts / counts.sum(),
            item_category=cats,
            user_weights=weights / weights.sum(),
            cart_rate=types["addtocart"] / max(types["view"], 1),
            buy_rate=types["transaction"] / max(types["addtocart"], 1),
            mean_gap_ms=span / max(len(events), 1),
            seed=seed,
        )

    def generate(
        self, n: int, n_users: int = 10_000, start_ts: int = 1_700_000_000_000, prefix: str = "g"
    ) -> list[Event]:
        """``n`` events over ``n_users`` users, popularity-skewed, in time order."""
        rng = np.random.default_rng(self.seed)
        # user activity: the real skew, stretched or tiled to n_users
        shares = np.interp(
            np.linspace(0, 1, n_users), np.linspace(0, 1, len(self.user_weights)), self.user_weights
        )
        shares /= shares.sum()
        out: list[Event] = []
        ts = start_ts
        while len(out) < n:
            user = f"{prefix}u{rng.choice(n_users, p=shares)}"
            for item_idx in rng.choice(len(self.item_ids), size=rng.integers(1, 4), p=self.item_p):
                item = self.item_ids[item_idx]
                cat = self.item_category.get(item)
                kinds = ["view"] * int(rng.integers(1, 4))
                if rng.random() < min(self.cart_rate * len(kinds), 1.0):
                    kinds.append("addtocart")
                    if rng.random() < self.buy_rate:
                        kinds.append("transaction")
                for kind in kinds:
                    ts += int(rng.exponential(self.mean_gap_ms)) + 1
                    out.append(Event(f"{prefix}{len(out)}", user, item, kind, ts, cat))
                    if len(out) >= n:
                        return out
        return out
