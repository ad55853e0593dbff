"""A role's gates: what an event resolves in them, the sweep of users who never came
back, and the gating of a scored batch into intents.

A role is a model the worker judges live: the ``champion`` (the served model: its
intents are published to ``purchase-intent``, its gates are the ``gates`` table) or the
``challenger`` (shadow scored: its would-be intents go to ``purchase-intent-shadow``, its
gates are a table of their own, ``challenger-gates``). Both run the same functions on
their own gate state, so the two never mix; each outcome carries the model version that
published the intent (see :class:`~stream.processing.gate.IntentGate`).

>>> from stream.processing.gate import IntentGate
>>> gates, gate = {}, IntentGate(0.5, 60_000, 5_000, version="v1")
>>> gate.should_publish(gates.setdefault("u1", {}), "i1", 0.9, now=0)
True
>>> resolve_event(gates, gate, "u1", gates.get("u1"), "transaction", "i1", 1_000)
[('tp', 'v1')]
>>> resolve_event(gates, gate, "u2", None, "view", "i1", 1_000)
[]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field

import numpy as np

from models.scorer import Scores
from stream.domain.state import UserState
from stream.processing.batch import StagedBatch
from stream.processing.gate import IntentGate
from stream.processing.intents import Intent

__all__ = ["resolve_event", "sweep", "gate_scored", "Gated"]

Gates = MutableMapping[str, dict]


def resolve_event(
    gates: Gates, gate: IntentGate, uid: str, gstate: dict | None, etype: str, item_id: str, ts: int
) -> list[tuple[str, str]]:
    """The outcomes ``(outcome, version)`` one event of ``uid`` resolves in ``gates``
    (``gstate``: the user's entry, read by the caller): intents past the horizon close as
    false positives, a purchase is a hit or a miss. The entry is written back if it changed."""
    if gstate is None and etype != "transaction":
        return []
    outcomes: list[tuple[str, str]] = []
    changed = False
    if gstate is not None:
        n_items = len(gstate)
        for _, version in gate.close(gstate, ts):
            outcomes.append(("fp", version))
        changed = bool(outcomes) or len(gstate) != n_items
    if etype == "transaction":
        gstate = {} if gstate is None else gstate
        outcome, version = gate.resolve(gstate, item_id, ts)
        outcomes.append((outcome, version))
        changed = changed or outcome == "tp"
    if changed and gstate is not None:
        gates[uid] = gstate
    return outcomes


def sweep(
    gates: Gates, gate: IntentGate, now: int, users: Mapping[str, UserState]
) -> Iterator[tuple[str, int, str]]:
    """Close the intents of users who have not come back within the horizon: each a false
    positive, as ``(user, the user's events, version)``."""
    for uid in list(gates):
        gstate = gates.get(uid)
        if not gstate:
            continue
        before = len(gstate)
        expired = list(gate.close(gstate, now))
        if not expired and len(gstate) == before:
            continue
        state = users.get(uid)
        for _, version in expired:
            yield uid, state.n_events if state is not None else 0, version
        gates[uid] = gstate


@dataclass
class Gated:
    """A role's decisions on a scored batch: the intents to publish, pairs held back as
    history (``stale``) or as a bot's (``bots``), and pairs at or above the threshold."""

    intents: list[Intent] = field(default_factory=list)
    stale: int = 0
    bots: int = 0
    above: int = 0


def gate_scored(
    staged: StagedBatch,
    scores: Scores,
    gates: Gates,
    gate: IntentGate,
    now_ms: float,
    max_age_ms: int,
    is_bot: Callable[[str], bool],
) -> Gated:
    """Gate a scored batch's pairs in one role's ``gates``. The gate decisions and their
    writes happen with no await (a staged batch may touch the same gates as soon as the
    caller yields). History (a trigger written to ``events`` longer ago than
    ``max_age_ms``: a backfill, a topic read from its start, a long outage) builds state
    but is no news to marketing: its gate decisions are made on a copy and dropped, so
    the user's first fresh event is judged as if the history had published nothing."""
    out = Gated(above=int(np.count_nonzero(scores.probability >= gate.threshold)))
    triggers, version = staged.triggers, gate.version
    row = 0
    for (uid, cands), size in zip(staged.owners, staged.sizes):
        trig = triggers[uid][-1]
        gstate = gates.get(uid) or {}
        before = {k: list(v) for k, v in gstate.items()}
        stale = max_age_ms > 0 and now_ms - trig.ingest_ms > max_age_ms
        if stale:
            gstate = before
        bot = is_bot(uid)
        for j, item in enumerate(cands):
            p = float(scores.probability[row + j])
            if gate.should_publish(gstate, item, p, trig.event.ts):
                if stale:
                    out.stale += 1
                    continue
                if bot:  # crawlers and bots are not sent to marketing
                    out.bots += 1
                    continue
                out.intents.append(
                    Intent(
                        user_id=uid,
                        item_id=item,
                        probability=round(p, 6),
                        threshold=gate.threshold,
                        model_version=version,
                        components={
                            "resnet": round(float(scores.resnet[row + j]), 6),
                            "forest": round(float(scores.forest[row + j]), 6),
                        },
                        trigger_event_id=trig.event.event_id,
                        event_ts=trig.event.ts,
                        scored_at=int(now_ms),
                        latency_ms=round(now_ms - trig.ingest_ms, 3),
                    )
                )
        row += size
        if not stale and gstate != before:
            gates[uid] = gstate
    return out
