"""The budget view: what sending the top K intents a day buys, and the volume threshold.

Marketing's question is not PR-AUC: *if we may send K intents a day, how many of the
purchases do we catch, and at what precision?* A day's candidates are its **pairs**
(user, item, day): a pair is sent when its best score of the day is among the day's top
``K = budget x the day's active users`` (users with a scored moment that day; at least
one), i.e. at or above that day's cut. Counted per pair and day:

* **precision**: the share of sent pairs that were bought within the horizon of a moment
  at which the pair scored at or above the cut (the intent would have been out);
* **purchase recall**: the share of the counted purchases with a covering row at or
  above its day's cut (as :mod:`training.protocol.metrics` counts them, every purchase
  in the denominator);
* **lift**: precision over the share of all the days' pairs that were bought (what
  sending K random pairs would give).

Pairs tied at a day's cut (a rule's scores tie often: every item scores its best at the
moment it is touched) are sent in the share that keeps the day at K, each counted by
that share: what drawing K of them at random gives on average.

Every figure is a ratio of sums over users, so the bootstrap resamples it by user (and
seed) like the others. The same machinery sets a **volume threshold**: the single cut
that sends, over a part, the budget's number of pairs; the served threshold is chosen so
on validation (:func:`volume_threshold`), for a volume marketing can plan for.

>>> import numpy as np
>>> from training.protocol.example_set import ExampleSet
>>> p = np.array([0.9, 0.1, 0.8, 0.2, 0.3, 0.05])
>>> pairs = DayPairs.of(ex_users=np.array([0, 0, 1, 1, 2, 2]), items=["a", "b", "a", "b", "a", "b"],
...                     days=np.zeros(6, dtype=np.int64), y=np.array([1, 0, 0, 0, 1, 0]))
>>> cut, share = pairs.cuts(p, budget=0.34)   # 3 active users: one pair a day
>>> cut.tolist(), share.tolist()
([0.9], [1.0])
>>> tied = np.array([0.5, 0.1, 0.5, 0.2, 0.5, 0.05])      # three pairs tied at the top
>>> pairs.cuts(tied, budget=0.34)[1].round(3).tolist()   # each sent one time in three
[0.333]
>>> pairs.volume_threshold(p, budget=0.67)   # two pairs over the part
0.8
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DayPairs", "row_days", "budget_figures", "BUDGET_METRICS"]

DAY_MS = 86_400_000
BUDGET_METRICS = ("precision", "purchase_recall", "lift")


def row_days(moment_ts: np.ndarray, day_offset_ms: int) -> np.ndarray:
    """The local day (an integer) of each time."""
    return ((np.asarray(moment_ts, dtype=np.int64) - day_offset_ms) // DAY_MS).astype(np.int64)


@dataclass(frozen=True)
class DayPairs:
    """A part's rows grouped into (user, item, day) pairs; see the module docstring."""

    row_pair: np.ndarray  # per row: its pair
    row_day: np.ndarray  # per row: its day (0..n_days-1)
    pair_user: np.ndarray  # per pair: its user (as ExampleSet.row_users indexes them)
    pair_day: np.ndarray  # per pair: its day
    pair_bought: np.ndarray  # per pair: some row of it has label 1
    active: np.ndarray  # per day: users with a scored moment that day
    y: np.ndarray  # per row: the label

    @classmethod
    def of(cls, ex_users: np.ndarray, items: list[str], days: np.ndarray, y: np.ndarray) -> DayPairs:
        """From each row's user index, item, day and label."""
        _, day = np.unique(days, return_inverse=True)
        _, item = np.unique(np.asarray(items, dtype=object).astype(str), return_inverse=True)
        key = np.stack([ex_users, item, day], axis=1)
        uniq, row_pair = np.unique(key, axis=0, return_inverse=True)
        row_pair = row_pair.reshape(-1)
        bought = np.zeros(len(uniq), dtype=bool)
        bought[row_pair[np.asarray(y) > 0]] = True
        n_days = int(day.max()) + 1 if len(day) else 0
        active = np.array([len(np.unique(ex_users[day == d])) for d in range(n_days)], dtype=np.int64)
        return cls(row_pair, day, uniq[:, 0], uniq[:, 2], bought, active, np.asarray(y))

    @classmethod
    def of_examples(cls, ex: Any, day_offset_ms: int) -> DayPairs:
        """From an :class:`~training.protocol.example_set.ExampleSet`."""
        return cls.of(ex.row_users(), ex.items, row_days(ex.moment_ts[ex.row_group()], day_offset_ms), ex.y)

    def pair_max(self, p: np.ndarray) -> np.ndarray:
        """Each pair's best score."""
        out = np.full(len(self.pair_user), -np.inf)
        np.maximum.at(out, self.row_pair, np.asarray(p, dtype=np.float64))
        return out

    def cuts(self, p: np.ndarray, budget: float) -> tuple[np.ndarray, np.ndarray]:
        """Each day's cut, the K-th best pair score of the day (K = budget x active users),
        and the share of the pairs tied at it that are sent (so that K are)."""
        best = self.pair_max(p)
        cut = np.full(len(self.active), np.inf)
        share = np.ones(len(self.active))
        for d, users in enumerate(self.active):
            day = np.sort(best[self.pair_day == d])[::-1]
            if len(day):
                k = min(len(day), max(1, int(round(budget * users))))
                cut[d] = day[k - 1]
                above, tied = int(np.sum(day > cut[d])), int(np.sum(day == cut[d]))
                share[d] = (k - above) / tied
        return cut, share

    def volume_threshold(self, p: np.ndarray, budget: float) -> float:
        """The one cut that sends the budget's pairs over the whole part (the sum over its
        days of budget x active users)."""
        best = np.sort(self.pair_max(p))[::-1]
        if not len(best):
            return 0.5
        k = min(len(best), max(1, int(sum(max(1, round(budget * a)) for a in self.active))))
        return float(best[k - 1])

    def per_user(
        self,
        p: np.ndarray,
        cuts: tuple[np.ndarray, np.ndarray],
        cover: np.ndarray,
        purchase_user: np.ndarray,
        n_users: int,
    ) -> dict[str, np.ndarray]:
        """Per user (``n_users`` long): pairs sent and sent pairs bought under the daily
        ``cuts`` (:meth:`cuts`), purchases caught, each by the share it is sent in; and
        the user's pairs and bought pairs (for the lift)."""
        cut, share = cuts
        p = np.asarray(p, dtype=np.float64)
        c = cut[self.row_day]
        send = np.where(p > c, 1.0, np.where(p == c, share[self.row_day], 0.0))  # per row
        sent = np.zeros(len(self.pair_user))
        np.maximum.at(sent, self.row_pair, send)
        hit = np.zeros(len(self.pair_user))
        np.maximum.at(hit, self.row_pair, np.where(self.y > 0, send, 0.0))
        caught = np.zeros(len(purchase_user))
        if len(cover):
            np.maximum.at(caught, cover[:, 1], send[cover[:, 0]])

        def by_user(values: np.ndarray, owner: np.ndarray) -> np.ndarray:
            return np.bincount(owner, weights=values, minlength=n_users)

        return {
            "sent": by_user(sent, self.pair_user),
            "hits": by_user(hit, self.pair_user),
            "caught": by_user(caught, purchase_user),
            "pairs": by_user(np.ones(len(self.pair_user)), self.pair_user),
            "bought": by_user(self.pair_bought.astype(float), self.pair_user),
            "purchases": by_user(np.ones(len(purchase_user)), purchase_user),
        }


def budget_figures(M: np.ndarray, counts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Precision, purchase recall and lift on each row of user weights ``M`` (resamples x
    users) from :meth:`DayPairs.per_user` counts."""
    s = {k: M @ v for k, v in counts.items()}
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(s["sent"] > 0, s["hits"] / s["sent"], np.nan)
        base = s["bought"] / s["pairs"]
        return {
            "precision": precision,
            "purchase_recall": s["caught"] / s["purchases"],
            "lift": precision / base,
            "sent": s["sent"],
        }
