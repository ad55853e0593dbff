"""Generated users with realistic histories, for load and scale (never for accuracy claims).

:class:`HistoryShape` holds what makes a history look like the main real data set's
(Taobao UserBehavior): the action mix and how often a user's next event touches an item
they have not touched before (:meth:`HistoryShape.fit` measures both from real events). Its
:meth:`~HistoryShape.generate` draws users whose numbers of events follow a long-tailed
(log-normal) law, each user's history in time order, sessions of minutes apart by days,
and items from a catalogue whose popularity is skewed (Zipf): a few items are touched by
many users, most by few, as in a shop.

Users come out one after another (a backfill of history, as a shop loading its past into
the system would stream it), in chunks of encoded ``events`` records, so that millions of
users need no more memory than a chunk.

>>> shape = HistoryShape.fit([Event("a", "u", "i", "view", 0), Event("b", "u", "j", "view", 60_000)])
>>> shape.new_item_rate, shape.in_session_gap_s, shape.type_mix
(1.0, 60.0, {'view': 1.0})
>>> chunk = next(shape.generate(200, seed=1, chunk_users=200))
>>> len(chunk.users), chunk.n_events > 200 * 5, chunk.records[0][0] == chunk.users[0].encode()
(200, True, True)
>>> import orjson; sorted(orjson.loads(chunk.records[0][1]))
['category_id', 'event_id', 'item_id', 'ts', 'type', 'user_id']
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

from stream.config import REPO_ROOT
from stream.domain.events import EVENT_TYPES, Event

__all__ = ["HistoryShape", "HistoryChunk", "taobao_shape", "TAOBAO"]

#: The main real data set, which shapes are measured from when it is there.
TAOBAO = REPO_ROOT.parent / "shared" / "data" / "taobao-userbehavior"

DAY_MS = 86_400_000
SESSION_MS = 30 * 60_000
T0 = 1_764_547_200_000  # 2025-12-01 UTC: histories are a month before it at most


@dataclass(frozen=True)
class HistoryChunk:
    """Consecutive users' events: ``records`` are ``(key, value, kafka timestamp ms)``."""

    users: list[str]
    records: list[tuple[bytes, bytes, int]]

    @property
    def n_events(self) -> int:
        return len(self.records)

    def events(self) -> list[Event]:
        """The chunk's events, decoded (for an offline replay of a sample)."""
        out = []
        for _, value, _ in self.records:
            d = orjson.loads(value)
            out.append(Event(d["event_id"], d["user_id"], d["item_id"], d["type"], d["ts"], d["category_id"]))
        return out


@dataclass
class HistoryShape:
    """What a generated history looks like; the defaults are Taobao's (see :meth:`fit`)."""

    #: share of each event type (view, addtocart, favorite, transaction: Taobao's mix)
    type_mix: dict[str, float] = field(
        default_factory=lambda: {"view": 0.898, "addtocart": 0.053, "favorite": 0.028, "transaction": 0.021}
    )
    #: chance that a user's event touches an item they have not touched before
    new_item_rate: float = 0.757
    #: events a user: log-normal, median and spread (median 12, sigma 1.1: mean 22)
    median_events: float = 12.0
    sigma_events: float = 1.1
    max_events: int = 1000
    #: catalogue: items a user (catalogue = users x this, at least 10,000) and Zipf skew
    items_per_user: float = 0.25
    zipf: float = 1.1
    items_per_category: int = 19
    #: history span and session gaps
    span_days: float = 30.0
    in_session_gap_s: float = 139.0
    session_gap_days: float = 0.47
    new_session_rate: float = 0.16
    #: purchases: the share that buys an item the user touched before (None: a purchase's
    #: item is drawn as any event's), and the share that buys again an item already bought
    buy_touched_rate: float | None = None
    repeat_purchase_rate: float = 0.0
    #: every user's history inside the span, ending by ``T0`` (squeezed when longer),
    #: rather than starting at a random day of it and cut at ``T0``
    within_span: bool = False

    @classmethod
    def fit(cls, events: Sequence[Event]) -> HistoryShape:
        """The action mix, the new-item rate and the sessions (gaps under 30 minutes: their
        mean; longer ones: how often, and their mean) of real ``events``; the rest are the
        defaults (the number of events a user, the catalogue)."""
        counts = {t: 0 for t in EVENT_TYPES}
        seen: set[tuple[str, str]] = set()
        last: dict[str, int] = {}
        short: list[int] = []
        long: list[int] = []
        new = 0
        for e in sorted(events, key=lambda e: (e.user_id, e.ts)):
            counts[e.type] += 1
            if (e.user_id, e.item_id) not in seen:
                seen.add((e.user_id, e.item_id))
                new += 1
            if e.user_id in last:
                gap = e.ts - last[e.user_id]
                (short if gap < SESSION_MS else long).append(gap)
            last[e.user_id] = e.ts
        total = max(sum(counts.values()), 1)
        gaps = max(len(short) + len(long), 1)
        return cls(
            type_mix={t: n / total for t, n in counts.items() if n},
            new_item_rate=new / max(len(events), 1),
            in_session_gap_s=float(np.mean(short)) / 1000 if short else cls.in_session_gap_s,
            new_session_rate=len(long) / gaps,
            session_gap_days=float(np.mean(long)) / DAY_MS if long else cls.session_gap_days,
        )

    @property
    def mean_events(self) -> float:
        return float(self.median_events * np.exp(self.sigma_events**2 / 2))

    def generate(
        self, n_users: int, seed: int = 0, chunk_users: int = 20_000, prefix: str = "s"
    ) -> Iterator[HistoryChunk]:
        """``n_users`` users' histories, ``chunk_users`` users a chunk, users in order."""
        rng = np.random.default_rng(seed)
        n_items = max(10_000, int(n_users * self.items_per_user))
        # Zipf popularity over the catalogue, drawn by inverse CDF
        weights = 1.0 / np.arange(1, n_items + 1) ** self.zipf
        cdf = np.cumsum(weights / weights.sum())
        types = np.array(list(self.type_mix), dtype=object)
        mix = np.array(list(self.type_mix.values()))
        mix = mix / mix.sum()
        for first in range(0, n_users, chunk_users):
            users = range(first, min(first + chunk_users, n_users))
            yield self._chunk(rng, users, cdf, types, mix, prefix)

    def _chunk(
        self,
        rng: np.random.Generator,
        users: range,
        cdf: np.ndarray,
        types: np.ndarray,
        mix: np.ndarray,
        prefix: str,
    ) -> HistoryChunk:
        n = rng.lognormal(np.log(self.median_events), self.sigma_events, len(users))
        per_user = np.clip(np.rint(n), 1, self.max_events).astype(np.int64)
        total = int(per_user.sum())
        starts = np.concatenate(([0], np.cumsum(per_user)[:-1]))
        owner = np.repeat(np.arange(len(users)), per_user)
        position = np.arange(total) - starts[owner]
        # items: a new one from the catalogue, or one of the user's own earlier events'
        fresh = (position == 0) | (rng.random(total) < self.new_item_rate)
        drawn = np.searchsorted(cdf, rng.random(total))
        earlier = starts[owner] + (rng.random(total) * np.maximum(position, 1)).astype(np.int64)
        root = np.where(fresh, np.arange(total), earlier)
        while True:  # an earlier event may itself be a revisit: follow to the first touch
            nxt = root[root]
            if np.array_equal(nxt, root):
                break
            root = nxt
        item = drawn[root]
        # time: sessions of minutes, days apart, within the span
        gaps = np.where(
            rng.random(total) < self.new_session_rate,
            rng.exponential(self.session_gap_days * DAY_MS, total),
            rng.exponential(self.in_session_gap_s * 1000, total),
        ).astype(np.int64)
        gaps[starts] = 0
        elapsed = np.cumsum(gaps)
        elapsed -= np.repeat(elapsed[starts], per_user)
        span = int(self.span_days * DAY_MS)
        begin = T0 - rng.integers(0, span, len(users))
        if self.within_span:
            last = np.maximum(elapsed[starts + per_user - 1], 1)
            squeeze = np.minimum(1.0, span / last)
            elapsed = (elapsed * squeeze[owner]).astype(np.int64)
            begin = T0 - span + (rng.random(len(users)) * (span - last * squeeze)).astype(np.int64)
        ts = np.minimum(begin[owner] + elapsed, T0)
        kinds = types[
            np.searchsorted(np.cumsum(mix), rng.random(total), side="right").clip(0, len(types) - 1)
        ]
        if self.buy_touched_rate is not None:
            item = self._purchased_items(rng, item, kinds, owner, starts, position, cdf)
        ids = [f"{prefix}u{u}" for u in users]
        records = []
        dumps = orjson.dumps
        for k in range(total):
            uid = ids[owner[k]]
            it = int(item[k])
            t = int(ts[k])
            value = dumps(
                {
                    "event_id": f"{uid}:{position[k]}",
                    "user_id": uid,
                    "item_id": f"i{it}",
                    "type": kinds[k],
                    "ts": t,
                    "category_id": f"c{it // self.items_per_category}",
                }
            )
            records.append((uid.encode(), value, t))
        return HistoryChunk(ids, records)

    def _purchased_items(
        self,
        rng: np.random.Generator,
        item: np.ndarray,
        kinds: np.ndarray,
        owner: np.ndarray,
        starts: np.ndarray,
        position: np.ndarray,
        cdf: np.ndarray,
    ) -> np.ndarray:
        """Each purchase's item: one the user bought before (``repeat_purchase_rate``), else
        one of the user's earlier events' (``buy_touched_rate``), else a new draw."""
        item = item.copy()
        bought: dict[int, list[int]] = {}
        assert self.buy_touched_rate is not None
        for k in np.flatnonzero(kinds == "transaction"):
            u, before = int(owner[k]), bought.setdefault(int(owner[k]), [])
            if before and rng.random() < self.repeat_purchase_rate:
                item[k] = before[int(rng.integers(len(before)))]
            elif position[k] and rng.random() < self.buy_touched_rate:
                item[k] = item[starts[u] + int(rng.integers(position[k]))]
            else:
                item[k] = int(np.searchsorted(cdf, rng.random()))
            before.append(int(item[k]))
        return item


def taobao_shape(path: Path = TAOBAO, log: Callable[[str], None] = print) -> HistoryShape:
    """:meth:`HistoryShape.fit` on the Taobao data set; its measured defaults if absent."""
    from stream.domain.readers import read_clickstream

    if not path.exists():
        log(f"   {path} not found: Taobao's shape as measured on it before (HistoryShape's defaults)")
        return HistoryShape()
    return HistoryShape.fit(read_clickstream([path]).events)
