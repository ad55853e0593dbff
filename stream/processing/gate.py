"""When to publish an intent, and how published intents resolve into live accuracy.

Per user we keep, for each item with a recent intent or score above threshold,
``[above, last_intent_ts, open, model_version]`` (times are event time, ms; the version
that published the latest intent, so that its outcome is credited to that model even
after a hot swap; records written before it was kept have three fields):

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

Each outcome belongs to a model version: the one that published the intent (a hit or a
false positive), or the gate's own for a purchase nobody predicted.

>>> g = IntentGate(threshold=0.5, cooldown_ms=1000, horizon_ms=5000, version="v1")
>>> state = {}
>>> g.should_publish(state, "i", 0.7, now=0)
True
>>> IntentGate(0.5, 1000, 5000, version="v2").resolve(state, "i", now=10), g.resolve(state, "j", now=10)
(('tp', 'v1'), ('fn', 'v1'))
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["IntentGate"]

ABOVE, LAST, OPEN, VERSION = range(4)


@dataclass
class IntentGate:
    threshold: float
    cooldown_ms: int
    horizon_ms: int
    version: str = ""  # the model version whose intents this gate publishes

    def should_publish(self, state: dict[str, list[Any]], item: str, p: float, now: int) -> bool:
        rec = state.get(item)
        if p < self.threshold:
            if rec is not None:
                rec[ABOVE] = 0
            return False
        if rec is None:
            state[item] = [1, now, 1, self.version] if self.version else [1, now, 1]
            return True
        crossed = not rec[ABOVE]
        rec[ABOVE] = 1
        if crossed or now - rec[LAST] >= self.cooldown_ms:
            rec[LAST], rec[OPEN] = now, 1
            if self.version:
                rec[VERSION:] = [self.version]
            return True
        return False

    def _version(self, rec: list[Any]) -> str:
        return str(rec[VERSION]) if len(rec) > VERSION else self.version

    def resolve(self, state: dict[str, list[Any]], item: str, now: int) -> tuple[str, str]:
        """('tp', the version that published it) if an open intent for ``item`` precedes
        this purchase in the horizon, else ('fn', this gate's version)."""
        rec = state.get(item)
        if rec is not None and rec[OPEN] and 0 <= now - rec[LAST] <= self.horizon_ms:
            rec[OPEN] = 0
            return "tp", self._version(rec)
        return "fn", self.version

    def resolve_purchase(self, state: dict[str, list[Any]], item: str, now: int) -> str:
        """'tp' if an open intent for ``item`` precedes this purchase in the horizon, else 'fn'."""
        return self.resolve(state, item, now)[0]

    def close(self, state: dict[str, list[Any]], now: int) -> Iterator[tuple[str, str]]:
        """Close intents past the horizon, each a false positive, as (item, the version
        that published it); forget idle items."""
        for item in list(state):
            rec = state[item]
            if now - rec[LAST] > self.horizon_ms:
                if rec[OPEN]:
                    yield item, self._version(rec)
                if not rec[ABOVE] or now - rec[LAST] > max(self.cooldown_ms, self.horizon_ms):
                    del state[item]
                else:
                    rec[OPEN] = 0

    def expire(self, state: dict[str, list[Any]], now: int) -> Iterator[str]:
        """The items of :meth:`close`."""
        for item, _ in self.close(state, now):
            yield item
