"""Baselines with no training at all: what a model must beat by more than the noise.

* ``cart_rule``: the items the user carted and has not bought (nor removed), most
  recently carted first; then every other candidate, most recently touched first.
* ``recency_rule``: the candidates, most recently touched first.

Each is a score per (user, moment, item) row computed from the item features alone,
so it needs nothing but the same rows the models see; its threshold is chosen on
validation like every model's.

>>> import numpy as np
>>> I = np.zeros((3, 120), dtype=np.float32)
>>> I[:, ITEM_LAYOUT.index("ui_since_touch")] = np.log1p([5.0, 60.0, 1.0])   # minutes
>>> I[1, ITEM_LAYOUT.index("ui_open_cart")] = np.log1p(1)
>>> I[1, ITEM_LAYOUT.index("ui_since_cart")] = np.log1p(60.0)
>>> np.argsort(-cart_rule(I)).tolist(), np.argsort(-recency_rule(I)).tolist()
([1, 2, 0], [2, 0, 1])
"""

from __future__ import annotations

import numpy as np

from stream.domain.features import ITEM_LAYOUT

__all__ = ["RULES", "cart_rule", "recency_rule"]

_OPEN = ITEM_LAYOUT.index("ui_open_cart")
_SINCE_CART = ITEM_LAYOUT.index("ui_since_cart")
_SINCE_TOUCH = ITEM_LAYOUT.index("ui_since_touch")


def _fresher(log_minutes: np.ndarray) -> np.ndarray:
    """A score in (0, 0.5] that falls with the minutes since (features hold log1p)."""
    return 1.0 / (2.0 + np.expm1(np.maximum(log_minutes, 0.0)))


def recency_rule(I: np.ndarray) -> np.ndarray:
    return _fresher(I[:, _SINCE_TOUCH]).astype(np.float32)


def cart_rule(I: np.ndarray) -> np.ndarray:
    is_open = I[:, _OPEN] > 0
    return np.where(is_open, 1.0 + _fresher(I[:, _SINCE_CART]), _fresher(I[:, _SINCE_TOUCH])).astype(
        np.float32
    )


RULES = {"cart_rule": cart_rule, "recency_rule": recency_rule}
