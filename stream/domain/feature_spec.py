"""Where each feature lives: the layouts of U and I, the feature version, and the
:class:`FeatureSpec` a model artifact records.

The feature code (:mod:`stream.domain.features`) writes by these names, and everything
else that reads a column (the cold-start prior, the report's activity buckets, the cart
rule) asks the layouts for it. A model records the version and the layouts' digest, so
an artifact is refused by code that computes or places its features otherwise.

>>> FeatureSpec().user_dim, USER_LAYOUT.index("n_events") < USER_FIXED <= 150
(150, True)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from stream.domain.catalogue import AGE_BANDS
from stream.domain.events import EVENT_TYPES
from stream.domain.layout import Layout
from stream.domain.state import HALF_LIVES_MS, ITEM_HALF_LIVES_MS, N_TYPES

__all__ = [
    "FEATURE_VERSION",
    "USER_LAYOUT",
    "ITEM_LAYOUT",
    "USER_FIXED",
    "ITEM_FIXED",
    "LAYOUT_FINGERPRINT",
    "RATIO_LABELS",
    "FeatureSpec",
]

#: Bumped whenever a feature's meaning or place changes; an artifact trained on another
#: version is refused (``models.artifact``).
FEATURE_VERSION = "2"
SEXES, LEVELS = 4, 6  # sex 0..2 or 3 unknown; level 1..5 or 0 unknown
ITEM_CATEGORY_BUCKETS = 16


def _window_labels(half_lives: tuple[int, ...]) -> list[str]:
    def span(ms: int) -> str:
        minutes = ms // 60_000
        return (
            f"{minutes}m"
            if minutes < 60
            else f"{minutes // 60}h"
            if minutes < 1440
            else f"{minutes // 1440}d"
        )

    return [f"{t},{span(h)}" for h in half_lives for t in EVENT_TYPES]


RATIO_LABELS = [
    "cart/browse,1d",
    "buy/cart,1d",
    "buy/browse,1d",
    "cart/browse,7d",
    "buy/cart,7d",
    "buy/browse,7d",
]
USER_LAYOUT = Layout(
    "user",
    [
        ("counts", N_TYPES * len(HALF_LIVES_MS)),  # log1p decayed counts, half-life major
        ("since_last", N_TYPES),  # log1p minutes since the last event of each type
        ("never", N_TYPES),  # 1 when the user never had an event of the type
        ("n_events", 1),
        ("n_sessions", 1),
        ("session_events", 1),
        ("session_minutes", 1),
        ("ratios", len(RATIO_LABELS)),
        ("n_items", 1),
        ("n_categories", 1),
        ("open_carts", 1),
        ("faved_items", 1),
        ("hour", 2),
        ("tenure", 1),
        ("age", AGE_BANDS),
        ("sex", SEXES),
        ("level", LEVELS),
    ],
    rest="category_share",
    labels={
        "counts": _window_labels(HALF_LIVES_MS),
        "since_last": list(EVENT_TYPES),
        "never": list(EVENT_TYPES),
        "ratios": RATIO_LABELS,
        "hour": ["sin", "cos"],
    },
)
ITEM_LAYOUT = Layout(
    "item",
    [
        ("ui_counts", N_TYPES),  # log1p of the user's events of each type on this item
        ("ui_open_cart", 1),
        ("ui_since_touch", 1),
        ("ui_since_cart", 1),
        ("ui_never_carted", 1),
        ("ui_since_first", 1),
        ("ui_since_buy", 1),
        ("ui_never_bought", 1),
        ("ui_session_touches", 1),
        ("rank", 1),
        ("is_latest", 1),  # among the user's candidates
        ("uc_share", 1),
        ("uc_is_top", 1),
        ("uc_carts", 1),
        ("uc_buys", 1),  # user x category
        ("item_counts", N_TYPES * len(ITEM_HALF_LIVES_MS)),  # all users, log1p decayed
        ("item_totals", N_TYPES),
        ("item_ratios", 3),
        ("price", 1),
        ("has_price", 1),
        ("attr_a1", 4),
        ("attr_a2", 3),
        ("attr_a3", 3),
        ("comments", 6),
        ("has_bad_comment", 1),
        ("bad_comment_rate", 1),
        ("has_attrs", 1),
        ("category_bucket", ITEM_CATEGORY_BUCKETS),
    ],
    rest="brand_bucket",
    labels={
        "ui_counts": list(EVENT_TYPES),
        "item_counts": _window_labels(ITEM_HALF_LIVES_MS),
        "item_totals": list(EVENT_TYPES),
        "item_ratios": ["buy/browse,1d", "cart/browse,1d", "buy/cart"],
    },
)
USER_FIXED = USER_LAYOUT.fixed
ITEM_FIXED = ITEM_LAYOUT.fixed


#: Both layouts' digest (:meth:`Layout.fingerprint`), versioned with the features.
LAYOUT_FINGERPRINT = f"{USER_LAYOUT.fingerprint()}-{ITEM_LAYOUT.fingerprint()}"


@dataclass(frozen=True)
class FeatureSpec:
    """Sizes of U and I, the feature version and the layouts' digest; recorded in the
    model manifest and checked on load (an older manifest without a digest is checked
    by its version alone)."""

    user_dim: int = 150
    item_dim: int = 120
    version: str = FEATURE_VERSION
    layout: str = LAYOUT_FINGERPRINT

    def __post_init__(self) -> None:
        if self.user_dim < USER_FIXED + 4:
            raise ValueError(f"user_dim must be >= {USER_FIXED + 4}")
        if self.item_dim < ITEM_FIXED + 4:
            raise ValueError(f"item_dim must be >= {ITEM_FIXED + 4}")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)
