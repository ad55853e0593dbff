"""Per-user and per-item state, updated one event at a time (pure, deterministic).

This is the half of the feature module that the worker keeps in Faust tables and that
training replays offline: the same ``update`` functions run in both places, so a user's
state after a stream of events is identical however it was computed.

Rolling windows are event-time, exponentially decayed counts: for half-life ``h`` the
count at reference time ``T`` is ``sum(2 ** (-(T - t_i) / h))`` over past events ``t_i``.
They need O(1) memory per window and absorb out-of-order events exactly (a late event
is added already decayed). Counts are kept per event type (:data:`~stream.domain.events.EVENT_TYPES`)
and half-life, laid out half-life major: ``counts[h * N_TYPES + t]``.

State is bounded: at most ``MAX_ITEMS`` items and ``MAX_CATEGORIES`` categories per
user, and the last ``DEDUPE_IDS`` event ids. When an item must go, the least recently
touched item without an open cart goes first: an open cart (carted, not removed, not
bought) is the strongest purchase signal there is, so it is the last thing forgotten.

>>> from stream.domain.events import Event
>>> s = UserState()
>>> s.update(Event("e1", "u", "i1", "view", 0, "c1"))
True
>>> s.update(Event("e1", "u", "i1", "view", 0, "c1"))  # a retry: ignored
False
>>> s.update(Event("e2", "u", "i1", "addtocart", 600_000, "c1"))
True
>>> round(s.counts[VIEW], 4)   # views, 10-minute half-life, seen 10 minutes later
0.5
>>> s.items["i1"][VIEW], s.items["i1"][CART], open_cart(s.items["i1"])
(1, 1, 1)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from stream.domain.events import EVENT_TYPES, TYPE_INDEX, Event

__all__ = [
    "HALF_LIVES_MS",
    "ITEM_HALF_LIVES_MS",
    "SESSION_GAP_MS",
    "MAX_ITEMS",
    "MAX_CATEGORIES",
    "DEDUPE_IDS",
    "N_TYPES",
    "UserState",
    "ItemStats",
    "decay",
    "open_cart",
]

MINUTE = 60_000
DAY = 24 * 60 * MINUTE
HALF_LIVES_MS: tuple[int, ...] = (10 * MINUTE, 60 * MINUTE, DAY, 7 * DAY)
ITEM_HALF_LIVES_MS: tuple[int, ...] = (60 * MINUTE, DAY, 7 * DAY)
CATEGORY_HALF_LIFE_MS = DAY
SESSION_GAP_MS = 30 * MINUTE
MAX_ITEMS = 48
MAX_CATEGORIES = 16
DEDUPE_IDS = 64
N_TYPES = len(EVENT_TYPES)

# Type indices (the event contract's order).
VIEW, CART, BUY, REMOVE, FAV, CLICK = (
    TYPE_INDEX[t] for t in ("view", "addtocart", "transaction", "remove_from_cart", "favorite", "click")
)
# items[item_id] = [count per type (N_TYPES, by type index), first_ts, last_ts, last_cart_ts,
#                   last_buy_ts, category, session number of the last touch, touches in it]
FIRST_TS, LAST_TS, LAST_CART_TS, LAST_BUY_TS, CATEGORY, SESSION, SESSION_TOUCHES = range(N_TYPES, N_TYPES + 7)
ITEM_FIELDS = N_TYPES + 7
# categories[category] = [weight (all types, decayed 1 day, as of ref_ts), carts, purchases]
CAT_WEIGHT, CAT_CARTS, CAT_BUYS = range(3)


def decay(value: float, dt_ms: int, half_life_ms: int) -> float:
    """``value`` aged by ``dt_ms`` under ``half_life_ms`` (``dt_ms`` >= 0)."""
    return value * 2.0 ** (-dt_ms / half_life_ms) if dt_ms else value


def open_cart(rec: list[Any]) -> int:
    """Carts of an item record not yet removed or bought (0 when none)."""
    return max(int(rec[CART] - rec[REMOVE] - rec[BUY]), 0)


def event_fingerprint(event_id: str) -> int:
    """A 63-bit id for the dedupe memory (smaller than the id itself)."""
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "big") >> 1


def _add_decayed(counts: list[float], t: int, ref_ts: int, ts: int, half_lives: tuple[int, ...]) -> None:
    if ts >= ref_ts:  # the common case: an event at the latest time counts 1 in every window
        for i in range(t, len(counts), N_TYPES):
            counts[i] += 1.0
        return
    for h, half_life in enumerate(half_lives):
        counts[h * N_TYPES + t] += 2.0 ** (-(ref_ts - ts) / half_life)


def _age(counts: list[float], new_ref: int, old_ref: int, half_lives: tuple[int, ...]) -> None:
    dt = new_ref - old_ref
    if dt <= 0:
        return
    for h, half_life in enumerate(half_lives):
        factor = 2.0 ** (-dt / half_life)
        for i in range(h * N_TYPES, (h + 1) * N_TYPES):
            counts[i] *= factor


def _eviction_key(kv: tuple[str, list[Any]]) -> tuple[bool, int, str]:
    rec = kv[1]  # open_cart(rec) > 0, inlined: a call per item of a full user's every new item
    return rec[CART] > rec[REMOVE] + rec[BUY], rec[LAST_TS], kv[0]


def _weakest_key(kv: tuple[str, list[float]]) -> tuple[float, str]:
    return kv[1][CAT_WEIGHT], kv[0]


def _candidate_key(kv: tuple[str, list[Any]]) -> tuple[bool, int, str]:
    rec = kv[1]  # open_cart(rec) == 0, inlined: a call per item of every scored user
    return rec[CART] <= rec[REMOVE] + rec[BUY], -rec[LAST_TS], kv[0]


@dataclass
class UserState:
    """What we remember about one user; see the module docstring."""

    ref_ts: int = 0  # latest event time seen (ms); decayed counts are as of this time
    first_ts: int = 0
    n_events: int = 0
    counts: list[float] = field(default_factory=lambda: [0.0] * (N_TYPES * len(HALF_LIVES_MS)))
    last_ts: list[int] = field(default_factory=lambda: [0] * N_TYPES)  # 0 = never
    session_start: int = 0
    session_events: int = 0
    n_sessions: int = 0
    items: dict[str, list[Any]] = field(default_factory=dict)
    categories: dict[str, list[float]] = field(default_factory=dict)
    recent_ids: list[int] = field(default_factory=list)
    # Delivery bookkeeping, not a feature: the highest source-topic offset folded in,
    # so a batch redelivered after a crash is skipped however long it is, and the epoch
    # of the source log that offset counts in (a recreated or migrated topic starts a new
    # epoch, whose offsets start again: see stream.processing.source_log).
    source_offset: int = -1
    source_epoch: int = 0

    def seen(self, event: Event, offset: int = -1, fingerprint: int | None = None, epoch: int = 0) -> bool:
        """True if ``event`` was folded in before: its id is among the recent ones, or its
        source ``offset`` in source log ``epoch`` is not past the last one folded in.
        ``fingerprint`` is ``event_fingerprint(event.event_id)`` when the caller has it."""
        if 0 <= offset <= self.source_offset and epoch == self.source_epoch:
            return True
        if fingerprint is None:
            fingerprint = event_fingerprint(event.event_id)
        return fingerprint in self.recent_ids

    def update(self, event: Event, offset: int = -1, fold: bool = True, epoch: int = 0) -> bool:
        """Fold one event in; False (and no change) if it was :meth:`seen` before. With
        ``fold=False`` the event is only remembered as seen (an excluded outlier)."""
        fingerprint = event_fingerprint(event.event_id)
        if self.seen(event, offset, fingerprint, epoch):
            return False
        self.add_unseen(event, offset, fold, fingerprint, epoch)
        return True

    def add_unseen(
        self,
        event: Event,
        offset: int = -1,
        fold: bool = True,
        fingerprint: int | None = None,
        epoch: int = 0,
    ) -> None:
        """:meth:`update` for an event the caller has just found not :meth:`seen` (the
        worker checks first, and scanning the dedupe memory twice cost 0.6 us an event);
        ``fingerprint`` and ``epoch`` as for :meth:`seen`."""
        if fingerprint is None:
            fingerprint = event_fingerprint(event.event_id)
        if offset >= 0:
            self.source_offset, self.source_epoch = offset, epoch
        self.recent_ids.append(fingerprint)
        if len(self.recent_ids) > DEDUPE_IDS:
            del self.recent_ids[0]
        if not fold:
            return
        ts, t = event.ts, TYPE_INDEX[event.type]
        last = self.ref_ts  # the session's latest event, before this one (see session_last)
        if self.n_events == 0:
            self.first_ts = self.ref_ts = ts
        if ts > self.ref_ts:
            _age(self.counts, ts, self.ref_ts, HALF_LIVES_MS)
            factor = 2.0 ** (-(ts - self.ref_ts) / CATEGORY_HALF_LIFE_MS)
            for rec in self.categories.values():
                rec[CAT_WEIGHT] *= factor
            self.ref_ts = ts
        if ts < self.first_ts:  # comparisons rather than min/max calls: once per event or more
            self.first_ts = ts
        _add_decayed(self.counts, t, self.ref_ts, ts, HALF_LIVES_MS)
        if self.n_sessions == 0 or ts - last > SESSION_GAP_MS:
            self.n_sessions += 1
            self.session_start, self.session_events = ts, 0
        self.session_events += 1
        self.n_events += 1
        if ts > self.last_ts[t]:
            self.last_ts[t] = ts
        self._update_item(event, t)
        if event.category_id is not None:
            self._update_category(event.category_id, ts, t)

    def session_last(self) -> int:
        """Time of the latest event of any type (0 before the first): ``max(last_ts)``,
        which is always ``ref_ts`` (both move only when an event is folded in, to the
        latest time seen; a property test holds them equal), read once or twice an event."""
        return self.ref_ts

    def _update_item(self, event: Event, t: int) -> None:
        ts = event.ts
        rec = self.items.get(event.item_id)
        if rec is None:
            rec = [0] * N_TYPES + [ts, ts, 0, 0, event.category_id, self.n_sessions, 0]
            self.items[event.item_id] = rec
            if len(self.items) > MAX_ITEMS:
                del self.items[min(self.items.items(), key=_eviction_key)[0]]
        rec[t] += 1
        if ts < rec[FIRST_TS]:
            rec[FIRST_TS] = ts
        if ts > rec[LAST_TS]:
            rec[LAST_TS] = ts
        if t == CART and ts > rec[LAST_CART_TS]:
            rec[LAST_CART_TS] = ts
        elif t == BUY and ts > rec[LAST_BUY_TS]:
            rec[LAST_BUY_TS] = ts
        if rec[SESSION] == self.n_sessions:
            rec[SESSION_TOUCHES] += 1
        else:
            rec[SESSION], rec[SESSION_TOUCHES] = self.n_sessions, 1
        if rec[CATEGORY] is None:
            rec[CATEGORY] = event.category_id

    def _update_category(self, cat: str, ts: int, t: int) -> None:
        weight = 2.0 ** (-(self.ref_ts - ts) / CATEGORY_HALF_LIFE_MS) if ts < self.ref_ts else 1.0
        rec = self.categories.get(cat)
        if rec is None:
            rec = self.categories[cat] = [0.0, 0, 0]
        rec[CAT_WEIGHT] += weight
        if t == CART:
            rec[CAT_CARTS] += 1
        elif t == BUY:
            rec[CAT_BUYS] += 1
        if len(self.categories) > MAX_CATEGORIES:
            del self.categories[min(self.categories.items(), key=_weakest_key)[0]]

    def candidates(self, n: int) -> list[str]:
        """The ``n`` items to score: open carts first, then the rest, each most recently
        touched first (ties by id)."""
        ranked = sorted(self.items.items(), key=_candidate_key)
        return [k for k, _ in ranked[:n]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref_ts": self.ref_ts,
            "first_ts": self.first_ts,
            "n_events": self.n_events,
            "counts": self.counts,
            "last_ts": self.last_ts,
            "session_start": self.session_start,
            "session_events": self.session_events,
            "n_sessions": self.n_sessions,
            "items": self.items,
            "categories": self.categories,
            "recent_ids": self.recent_ids,
            "source_offset": self.source_offset,
            "source_epoch": self.source_epoch,
        }

    def feature_dict(self) -> dict[str, Any]:
        """The state that features depend on (no delivery bookkeeping): what
        ``intent state`` dumps and the fault tests compare."""
        d = self.to_dict()
        del d["source_offset"], d["source_epoch"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> UserState:
        if len(d["last_ts"]) != N_TYPES:
            d = _upgrade_v1(d)
        return cls(**d)


def _upgrade_v1(d: dict[str, Any]) -> dict[str, Any]:
    """A state written before removals, favourites and clicks were event types (3 types,
    half-lives 10 min, 1 h, 1 day; items ``[views, carts, buys, first, last, last_cart,
    category]``; categories a weight) in today's layout: nothing a changelog holds is
    lost on an upgrade. The 7-day counts start from the 1-day ones (their best lower
    bound), the session touches at 0."""
    old_types = 3
    counts = [0.0] * (N_TYPES * len(HALF_LIVES_MS))
    for h in range(len(HALF_LIVES_MS)):
        src = min(h, 2)
        for t in range(old_types):
            counts[h * N_TYPES + t] = d["counts"][src * old_types + t]
    items = {}
    for item, (views, carts, buys, first, last, last_cart, cat) in d["items"].items():
        items[item] = (
            [views, carts, buys] + [0] * (N_TYPES - old_types) + [first, last, last_cart, 0, cat, 0, 0]
        )
    return {
        **d,
        "counts": counts,
        "last_ts": list(d["last_ts"]) + [0] * (N_TYPES - old_types),
        "items": items,
        "categories": {c: [w, 0, 0] for c, w in d["categories"].items()},
    }


@dataclass
class ItemStats:
    """Popularity and conversion of one item, over all users.

    >>> s = ItemStats()
    >>> s.update(Event("e1", "u", "i", "view", 0)); s.update(Event("e2", "v", "i", "transaction", 0))
    >>> s.totals[:3]
    [1, 0, 1]
    """

    ref_ts: int = 0
    counts: list[float] = field(default_factory=lambda: [0.0] * (N_TYPES * len(ITEM_HALF_LIVES_MS)))
    totals: list[int] = field(default_factory=lambda: [0] * N_TYPES)
    price: float | None = None
    brand: str | None = None

    def update(self, event: Event) -> None:
        self.add(event.ts, TYPE_INDEX[event.type], event.price, event.brand)

    def add(self, ts: int, t: int, price: float | None = None, brand: str | None = None) -> None:
        """Fold in one event of type index ``t`` at ``ts`` (what ``events-by-item`` carries)."""
        if self.ref_ts == 0 and not any(self.totals):  # the item's first event
            self.ref_ts = ts
        if ts > self.ref_ts:
            _age(self.counts, ts, self.ref_ts, ITEM_HALF_LIVES_MS)
            self.ref_ts = ts
        _add_decayed(self.counts, t, self.ref_ts, ts, ITEM_HALF_LIVES_MS)
        self.totals[t] += 1
        if price is not None:
            self.price = price
        if brand is not None:
            self.brand = brand

    def counts_at(self, now: int) -> list[float]:
        """Decayed counts as of ``now`` (no change to the state)."""
        out = list(self.counts)
        _age(out, now, self.ref_ts, ITEM_HALF_LIVES_MS)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref_ts": self.ref_ts,
            "counts": self.counts,
            "totals": self.totals,
            "price": self.price,
            "brand": self.brand,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ItemStats:
        if len(d["totals"]) != N_TYPES:  # written before six event types: see _upgrade_v1
            old = len(d["totals"])
            counts = [0.0] * (N_TYPES * len(ITEM_HALF_LIVES_MS))
            for h in range(len(ITEM_HALF_LIVES_MS)):
                for t in range(old):
                    counts[h * N_TYPES + t] = d["counts"][min(h, 1) * old + t]
            d = {**d, "counts": counts, "totals": list(d["totals"]) + [0] * (N_TYPES - old)}
        return cls(**d)
