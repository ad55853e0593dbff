"""When to publish an intent, and how published intents resolve into live accuracy.

Per user we keep, for each item with a recent intent or score above threshold,
``[above, last_intent_ts, open]`` (times are event time, ms):

* an intent is published when the probability reaches the threshold and either the
  pair was below it at the previous scoring (a crossing) or ``cooldown_ms`` has passed
  since the last intent for the pair;
* a purchase of the item within ``horizon_ms`` of an open intent makes it a true
  positive; a purchase without one is a false negative; an intent still open after the
  horizon is a false positive (resolved lazily, at the user's next event).

>>> g = IntentGate(threshold=0.5, cooldown_ms=1000, horizon_ms=5000)
>>> state = {}
>>> g.should_publish(state, "i", 0.7, now=0), g.should_publish(state, "i", 0.8, now=10)
(True, False)
>>> g.should_publish(state, "i", 0.2, now=20), g.should_publish(state, "i", 0.9, now=30)
(False, True)
>>> g.resolve_purchase(state, "i", now=40)
'tp'
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["IntentGate"]

ABOVE, LAST, OPEN = range(3)


@dataclass
class IntentGate:
    threshold: float
    cooldown_ms: int
    horizon_ms: int

    def should_publish(self, state: dict[str, list[int]], item: str, p: float, now: int) -> bool:
        rec = state.get(item)
        if p < self.threshold:
            if rec is not None:
                rec[ABOVE] = 0
            return False
        if rec is None:
            state[item] = [1, now, 1]
            return True
        crossed = not rec[ABOVE]
        rec[ABOVE] = 1
        if crossed or now - rec[LAST] >= self.cooldown_ms:
            rec[LAST], rec[OPEN] = now, 1
            return True
        return False

    def resolve_purchase(self, state: dict[str, list[int]], item: str, now: int) -> str:
        """'tp' if an open intent for ``item`` precedes this purchase in the horizon, else 'fn'."""
        rec = state.get(item)
        if rec is not None and rec[OPEN] and 0 <= now - rec[LAST] <= self.horizon_ms:
            rec[OPEN] = 0
            return "tp"
        return "fn"

    def expire(self, state: dict[str, list[int]], now: int) -> Iterator[str]:
        """Close intents past the horizon (each a false positive) and forget idle items."""
        for item in list(state):
            rec = state[item]
            if now - rec[LAST] > self.horizon_ms:
                if rec[OPEN]:
                    yield item
                if not rec[ABOVE] or now - rec[LAST] > max(self.cooldown_ms, self.horizon_ms):
                    del state[item]
                else:
                    rec[OPEN] = 0
