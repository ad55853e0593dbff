"""The feature vectors U (user) and I (item): pure functions of state.

This module and :mod:`stream.state` are the single feature code of the project: the
worker calls :func:`pair_features` on live table state, training calls it on state
replayed offline. Both vectors have the paper's default sizes (150 and 120); the
behavioural and attribute features fill the first slots and the rest are hashed
one-hot buckets (user: category preference shares; item: category, brand), so no slot
is padding.

>>> from stream.events import Event
>>> from stream.state import UserState
>>> s = UserState(); _ = s.update(Event("e1", "u", "i1", "addtocart", 0, "c1"))
>>> U, I = pair_features(FeatureSpec(), "u", s, ["i1"], {}, None)
>>> U.shape, I.shape
((1, 150), (1, 120))
>>> round(float(I[0, 1]), 4)  # log1p(carts of this item by this user)
0.6931
"""
from __future__ import annotations

import math
import zlib
from dataclasses import asdict, dataclass
from typing import Mapping

import numpy as np

from stream.catalogue import AGE_BANDS, Catalogue
from stream.state import (
    BUYS,
    CARTS,
    CATEGORY,
    FIRST_TS,
    HALF_LIVES_MS,
    ITEM_HALF_LIVES_MS,
    LAST_CART_TS,
    LAST_TS,
    N_TYPES,
    VIEWS,
    ItemStats,
    UserState,
)

__all__ = ["FeatureSpec", "pair_features", "USER_FIXED", "ITEM_FIXED", "FEATURE_VERSION"]

FEATURE_VERSION = "1"
MINUTE = 60_000.0
NEVER = math.log1p(7 * 24 * 60.0)  # "minutes since" for something that never happened
USER_FIXED = 45  # slots before the hashed category buckets
ITEM_FIXED = 42  # slots before the hashed category and brand buckets
ITEM_CATEGORY_BUCKETS = 16


@dataclass(frozen=True)
class FeatureSpec:
    """Sizes of U and I; recorded in the model manifest and checked on load."""

    user_dim: int = 150
    item_dim: int = 120
    version: str = FEATURE_VERSION

    def __post_init__(self) -> None:
        if self.user_dim < USER_FIXED + 4:
            raise ValueError(f"user_dim must be >= {USER_FIXED + 4}")
        if self.item_dim < ITEM_FIXED + ITEM_CATEGORY_BUCKETS + 4:
            raise ValueError(f"item_dim must be >= {ITEM_FIXED + ITEM_CATEGORY_BUCKETS + 4}")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _bucket(text: str, n: int) -> int:
    return zlib.crc32(text.encode()) % n


def _since(now: int, ts: int) -> float:
    return math.log1p(max(now - ts, 0) / MINUTE) if ts else NEVER


def user_vector(spec: FeatureSpec, user_id: str, s: UserState, catalogue: Catalogue | None) -> np.ndarray:
    u = np.zeros(spec.user_dim, dtype=np.float32)
    now = s.ref_ts
    n_hl = len(HALF_LIVES_MS)
    u[0 : N_TYPES * n_hl] = np.log1p(s.counts)
    for t in range(N_TYPES):
        u[9 + t] = _since(now, s.last_ts[t])
        u[12 + t] = 0.0 if s.last_ts[t] else 1.0
    u[15] = math.log1p(s.n_events)
    u[16] = math.log1p(s.n_sessions)
    u[17] = math.log1p(s.session_events)
    u[18] = math.log1p(max(s.session_last() - s.session_start, 0) / MINUTE)
    day = (n_hl - 1) * N_TYPES
    views, carts, buys = s.counts[day], s.counts[day + 1], s.counts[day + 2]
    u[19] = carts / (views + 1.0)
    u[20] = buys / (carts + 1.0)
    u[21] = buys / (views + 1.0)
    u[22] = math.log1p(len(s.items))
    u[23] = math.log1p(len(s.categories))
    hour = (now / 3_600_000.0) % 24.0
    u[24], u[25] = math.sin(hour / 24 * 2 * math.pi), math.cos(hour / 24 * 2 * math.pi)
    u[26] = math.log1p(max(now - s.first_ts, 0) / MINUTE)
    attrs = catalogue.user(user_id) if catalogue is not None else None
    if attrs is None:
        u[27] = u[27 + AGE_BANDS + 3] = u[27 + AGE_BANDS + 4] = 1.0  # unknown age, sex, level
    else:
        age, sex, level = attrs
        u[27 + age] = 1.0
        u[34 + sex] = 1.0
        u[39 + level] = 1.0
    total = sum(s.categories.values())
    if total > 0:
        buckets = spec.user_dim - USER_FIXED
        for cat, weight in s.categories.items():
            u[USER_FIXED + _bucket(cat, buckets)] += weight / total
    return u


def item_vector(
    spec: FeatureSpec,
    s: UserState,
    item_id: str,
    rank: int,
    n_candidates: int,
    stats: ItemStats | None,
    catalogue: Catalogue | None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """The item's row; written into ``out`` (zeros, ``item_dim`` long) when given."""
    v = np.zeros(spec.item_dim, dtype=np.float32) if out is None else out
    now = s.ref_ts
    rec = s.items.get(item_id)
    category = None
    if rec is not None:
        v[0] = math.log1p(rec[VIEWS])
        v[1] = math.log1p(rec[CARTS])
        v[2] = math.log1p(rec[BUYS])
        v[3] = _since(now, rec[LAST_TS])
        v[4] = _since(now, rec[LAST_CART_TS])
        v[5] = 0.0 if rec[LAST_CART_TS] else 1.0
        v[6] = _since(now, rec[FIRST_TS])
        category = rec[CATEGORY]
    v[7] = rank / max(n_candidates, 1)
    if category is not None and s.categories:
        total = sum(s.categories.values())
        share = s.categories.get(category, 0.0)
        v[8] = share / total if total else 0.0
        v[9] = 1.0 if share == max(s.categories.values()) else 0.0
    if stats is not None:
        counts = stats.counts_at(now)
        v[10 : 10 + N_TYPES * len(ITEM_HALF_LIVES_MS)] = np.log1p(counts)
        dv, dc, db = counts[N_TYPES], counts[N_TYPES + 1], counts[N_TYPES + 2]
        v[16] = db / (dv + 1.0)
        v[17] = dc / (dv + 1.0)
        v[18:21] = np.log1p(stats.totals)
        if stats.price is not None:
            v[21], v[22] = math.log1p(stats.price), 1.0
    attrs = catalogue.item(item_id) if catalogue is not None else None
    if attrs is not None:
        a1, a2, a3, brand, comments, has_bad, bad_rate = attrs
        v[23 + (a1 if 0 < a1 <= 3 else 0)] = 1.0
        v[27 + (a2 if 0 < a2 <= 2 else 0)] = 1.0
        v[30 + (a3 if 0 < a3 <= 2 else 0)] = 1.0
        v[33 + (comments + 1 if 0 <= comments <= 4 else 0)] = 1.0
        v[39] = float(has_bad)
        v[40] = float(bad_rate)
        v[41] = 1.0
        brand_buckets = spec.item_dim - ITEM_FIXED - ITEM_CATEGORY_BUCKETS
        v[ITEM_FIXED + ITEM_CATEGORY_BUCKETS + _bucket(brand, brand_buckets)] = 1.0
    if category is not None:
        v[ITEM_FIXED + _bucket(category, ITEM_CATEGORY_BUCKETS)] = 1.0
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
    for rank, item in enumerate(candidates):
        item_vector(spec, state, item, rank, n, item_stats.get(item), catalogue, out=I[rank])
    return U, I
