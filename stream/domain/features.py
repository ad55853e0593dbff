"""The feature vectors U (user) and I (item): pure functions of state.

This module and :mod:`stream.domain.state` are the single feature code of the project: the
worker calls :func:`pair_features` on live table state, training calls it on state
replayed offline. Both vectors have the paper's default sizes (150 and 120). Where each
feature lives is defined once, by name, in :data:`USER_LAYOUT` and :data:`ITEM_LAYOUT`;
the behavioural and attribute features fill the first slots and the rest are hashed
one-hot buckets (user: category preference shares; item: category, brand).

The features follow what strong entries of the JD.com purchase-intent competition
built (``../shared/docs/model.md``): counts per action type over several windows at
user, item, user-item and user-category level; open carts (carts not removed or
bought); conversion ratios; recency per action type; time since first touch.

* U: decayed counts of every event type (half-lives 10 min, 1 h, 1 day, 7 days),
  minutes since the last event of each type, events, sessions and the current
  session's size and length, conversion ratios over a day and a week, items,
  categories, open carts and favourites held, hour of day, tenure, JD.com attributes.
* I: the user's counts of each type on the item, its open cart, minutes since the
  user's last touch, cart, purchase and first touch of it, touches this session, its
  rank among the candidates; the user's share of, carts and purchases in the item's
  category; the item's decayed counts of every type over all users (1 h, 1 day, 7 days),
  lifetime totals, conversion ratios, price; JD.com attributes.

>>> from stream.domain.events import Event
>>> from stream.domain.state import UserState
>>> s = UserState(); _ = s.update(Event("e1", "u", "i1", "addtocart", 0, "c1"))
>>> U, I = pair_features(FeatureSpec(), "u", s, ["i1"], {}, None)
>>> U.shape, I.shape
((1, 150), (1, 120))
>>> round(float(I[0, ITEM_LAYOUT.index("ui_counts", CART)]), 4)  # log1p(carts of it by this user)
0.6931
>>> float(I[0, ITEM_LAYOUT.index("ui_open_cart")]) > 0
True
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping

import numpy as np

from stream.domain.catalogue import Catalogue
from stream.domain.feature_spec import (
    FEATURE_VERSION,
    ITEM_CATEGORY_BUCKETS,
    ITEM_FIXED,
    ITEM_LAYOUT,
    LAYOUT_FINGERPRINT,
    RATIO_LABELS,
    SEXES,
    USER_FIXED,
    USER_LAYOUT,
    FeatureSpec,
)
from stream.domain.state import (
    BUY,
    CART,
    CAT_BUYS,
    CAT_CARTS,
    CAT_WEIGHT,
    CATEGORY,
    CLICK,
    FAV,
    FIRST_TS,
    HALF_LIVES_MS,
    ITEM_HALF_LIVES_MS,
    LAST_BUY_TS,
    LAST_CART_TS,
    LAST_TS,
    N_TYPES,
    REMOVE,
    SESSION,
    SESSION_TOUCHES,
    VIEW,
    ItemStats,
    UserState,
    open_cart,
)

__all__ = [
    "FeatureSpec",
    "pair_features",
    "user_vector",
    "item_vector",
    "USER_LAYOUT",
    "ITEM_LAYOUT",
    "FEATURE_VERSION",
    "LAYOUT_FINGERPRINT",
]

MINUTE = 60_000.0
NEVER = math.log1p(7 * 24 * 60.0)  # "minutes since" for something that never happened


# Where the hot path writes, resolved once from the layouts.
_U_COUNTS = USER_LAYOUT.slice("counts")
_U_SINCE = USER_LAYOUT.index("since_last")
_U_NEVER = USER_LAYOUT.index("never")
_U_SCALARS = USER_LAYOUT.index("n_events")  # n_events .. tenure: consecutive, one width each
_U_HEAD = USER_LAYOUT.index("tenure") + 1  # counts .. tenure: the start of U, written at once
_U_AGE, _U_SEX, _U_LEVEL = (USER_LAYOUT.index(n) for n in ("age", "sex", "level"))
_I_ATTRS = {
    n: ITEM_LAYOUT.index(n)
    for n in ("attr_a1", "attr_a2", "attr_a3", "comments", "has_bad_comment", "bad_comment_rate", "has_attrs")
}
_I_OPEN = ITEM_LAYOUT.index("ui_open_cart")  # ui_open_cart .. ui_session_touches: 8 in a row
_I_RANK = ITEM_LAYOUT.index("rank")  # then is_latest
_I_UC = ITEM_LAYOUT.index("uc_share")  # uc_share .. uc_buys: 4 in a row
_I_ITEM = ITEM_LAYOUT.index("item_counts")  # item_counts .. has_price: consecutive
_I_ITEM_WIDTH = ITEM_LAYOUT.index("has_price") + 1 - _I_ITEM
_I_CATEGORY = ITEM_LAYOUT.index("category_bucket")
assert (
    ITEM_LAYOUT.index("ui_session_touches") - _I_OPEN,
    ITEM_LAYOUT.index("uc_buys") - _I_UC,
    ITEM_LAYOUT.index("is_latest") - _I_RANK,
    _I_ITEM,
) == (7, 3, 1, ITEM_LAYOUT.index("uc_buys") + 1)
assert USER_LAYOUT.index("tenure") - _U_SCALARS == 4 + len(RATIO_LABELS) + 4 + 2
assert (_U_COUNTS.start, _U_SINCE, _U_NEVER, _U_SCALARS) == (
    0,
    _U_COUNTS.stop,
    _U_SINCE + N_TYPES,
    _U_NEVER + N_TYPES,
)
_DAY_H = HALF_LIVES_MS.index(24 * 60 * 60_000)
_WEEK_H = HALF_LIVES_MS.index(7 * 24 * 60 * 60_000)
_ITEM_DAY_H = ITEM_HALF_LIVES_MS.index(24 * 60 * 60_000)


def _bucket(text: str, n: int) -> int:
    return zlib.crc32(text.encode()) % n


def _since(now: int, ts: int) -> float:
    return math.log1p(max(now - ts, 0) / MINUTE) if ts else NEVER


def _ratios(counts: list[float], h: int) -> list[float]:
    at = h * N_TYPES
    browse = counts[at + VIEW] + counts[at + CLICK]
    carts, buys = counts[at + CART], counts[at + BUY]
    return [carts / (browse + 1.0), buys / (carts + 1.0), buys / (browse + 1.0)]


def user_vector(spec: FeatureSpec, user_id: str, s: UserState, catalogue: Catalogue | None) -> np.ndarray:
    u = np.zeros(spec.user_dim, dtype=np.float32)
    now = s.ref_ts
    last = s.last_ts
    n_open = n_faved = 0
    for rec in s.items.values():  # open_cart(rec) > 0, inlined: once per item of a scored user
        if rec[CART] > rec[REMOVE] + rec[BUY]:
            n_open += 1
        if rec[FAV]:
            n_faved += 1
    hour = (now / 3_600_000.0) % 24.0
    # counts .. tenure, built as one list and written in one assignment (numpy's per-item
    # writes cost as much as the features themselves; this runs once per scored user)
    head = [math.log1p(c) for c in s.counts]
    head += [_since(now, t) for t in last]
    head += [0.0 if t else 1.0 for t in last]
    head += [
        math.log1p(s.n_events),
        math.log1p(s.n_sessions),
        math.log1p(s.session_events),
        math.log1p(max(s.session_last() - s.session_start, 0) / MINUTE),
        *_ratios(s.counts, _DAY_H),
        *_ratios(s.counts, _WEEK_H),
        math.log1p(len(s.items)),
        math.log1p(len(s.categories)),
        math.log1p(n_open),
        math.log1p(n_faved),
        math.sin(hour / 24 * 2 * math.pi),
        math.cos(hour / 24 * 2 * math.pi),
        math.log1p(max(now - s.first_ts, 0) / MINUTE),
    ]
    u[:_U_HEAD] = head
    attrs = catalogue.user(user_id) if catalogue is not None else None
    if attrs is None:
        u[_U_AGE] = u[_U_SEX + SEXES - 1] = u[_U_LEVEL] = 1.0  # unknown age, sex, level
    else:
        age, sex, level = attrs
        u[_U_AGE + age] = 1.0
        u[_U_SEX + sex] = 1.0
        u[_U_LEVEL + level] = 1.0
    total = sum(rec[CAT_WEIGHT] for rec in s.categories.values())
    if total > 0:
        buckets = spec.user_dim - USER_FIXED
        for cat, rec in s.categories.items():
            u[USER_FIXED + _bucket(cat, buckets)] += rec[CAT_WEIGHT] / total
    return u


def _category_scale(s: UserState) -> tuple[float, float]:
    """The user's total and top category weight (the same for each of the user's items)."""
    weights = [rec[CAT_WEIGHT] for rec in s.categories.values()]
    return (sum(weights), max(weights)) if weights else (0.0, 0.0)


def item_vector(
    spec: FeatureSpec,
    s: UserState,
    item_id: str,
    rank: int,
    n_candidates: int,
    stats: ItemStats | None,
    catalogue: Catalogue | None,
    out: np.ndarray | None = None,
    category_scale: tuple[float, float] | None = None,
) -> np.ndarray:
    """The item's row; written into ``out`` (zeros, ``item_dim`` long) when given.
    ``category_scale``: :func:`_category_scale` of ``s``, when the caller has it."""
    v = np.zeros(spec.item_dim, dtype=np.float32) if out is None else out
    now = s.ref_ts
    rec = s.items.get(item_id)
    category = None
    # ui_counts .. has_price, built as one list and written in one assignment
    row = [0.0] * (_I_ITEM + _I_ITEM_WIDTH)
    if rec is not None:
        row[:N_TYPES] = [math.log1p(c) for c in rec[:N_TYPES]]
        row[_I_OPEN : _I_OPEN + 8] = [  # ui_open_cart .. ui_session_touches
            math.log1p(open_cart(rec)),
            _since(now, rec[LAST_TS]),
            _since(now, rec[LAST_CART_TS]),
            0.0 if rec[LAST_CART_TS] else 1.0,
            _since(now, rec[FIRST_TS]),
            _since(now, rec[LAST_BUY_TS]),
            0.0 if rec[LAST_BUY_TS] else 1.0,
            math.log1p(rec[SESSION_TOUCHES] if rec[SESSION] == s.n_sessions else 0),
        ]
        category = rec[CATEGORY]
    row[_I_RANK] = rank / max(n_candidates, 1)
    row[_I_RANK + 1] = 1.0 if rank == 0 else 0.0
    cat = s.categories.get(category) if category is not None else None
    if cat is not None:
        total, top = category_scale or _category_scale(s)
        row[_I_UC : _I_UC + 4] = [  # uc_share .. uc_buys
            cat[CAT_WEIGHT] / total if total else 0.0,
            1.0 if cat[CAT_WEIGHT] == top else 0.0,
            math.log1p(cat[CAT_CARTS]),
            math.log1p(cat[CAT_BUYS]),
        ]
    brand = None
    if stats is not None:
        counts = stats.counts_at(now)
        at = _ITEM_DAY_H * N_TYPES
        browse = counts[at + VIEW] + counts[at + CLICK]
        t = stats.totals
        row[_I_ITEM:] = [
            *[math.log1p(c) for c in counts],
            *[math.log1p(c) for c in t],
            counts[at + BUY] / (browse + 1.0),
            counts[at + CART] / (browse + 1.0),
            t[BUY] / (t[CART] + 1.0),
            *((math.log1p(stats.price), 1.0) if stats.price is not None else (0.0, 0.0)),
        ]
        brand = stats.brand
    v[: len(row)] = row
    attrs = catalogue.item(item_id) if catalogue is not None else None
    if attrs is not None:
        a1, a2, a3, brand, comments, has_bad, bad_rate = attrs
        v[_I_ATTRS["attr_a1"] + (a1 if 0 < a1 <= 3 else 0)] = 1.0
        v[_I_ATTRS["attr_a2"] + (a2 if 0 < a2 <= 2 else 0)] = 1.0
        v[_I_ATTRS["attr_a3"] + (a3 if 0 < a3 <= 2 else 0)] = 1.0
        v[_I_ATTRS["comments"] + (comments + 1 if 0 <= comments <= 4 else 0)] = 1.0
        v[_I_ATTRS["has_bad_comment"]] = float(has_bad)
        v[_I_ATTRS["bad_comment_rate"]] = float(bad_rate)
        v[_I_ATTRS["has_attrs"]] = 1.0
    if brand is not None:
        v[ITEM_FIXED + _bucket(brand, spec.item_dim - ITEM_FIXED)] = 1.0
    if category is not None:
        v[_I_CATEGORY + _bucket(category, ITEM_CATEGORY_BUCKETS)] = 1.0
    return v


def pair_features(
    spec: FeatureSpec,
    user_id: str,
    state: UserState,
    candidates: list[str],
    item_stats: Mapping[str, ItemStats],
    catalogue: Catalogue | None,
) -> tuple[np.ndarray, np.ndarray]:
    """U and I rows for each (user, candidate item): arrays (n, user_dim), (n, item_dim)."""
    u = user_vector(spec, user_id, state, catalogue)
    n = len(candidates)
    U = np.repeat(u[None, :], n, axis=0)
    I = np.zeros((n, spec.item_dim), dtype=np.float32)
    scale = _category_scale(state)
    for rank, item in enumerate(candidates):
        item_vector(
            spec, state, item, rank, n, item_stats.get(item), catalogue, out=I[rank], category_scale=scale
        )
    return U, I
