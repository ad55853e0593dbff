"""``intent compare``: champion against challenger on the same live window, with intervals.

From the topics (the default): the champion's intents (``purchase-intent``), the
challenger's would-be intents (``purchase-intent-shadow``) and the purchases in
``events``, over the challenger's live window (the event times of its intents, plus a
horizon for their purchases). An intent is a hit when its user buys its item within the
label horizon after it; a purchase that no intent of a role announced within the horizon
before it is that role's miss. Intervals resample users (:mod:`stream.monitoring.comparison`).

From Prometheus (``--prometheus URL``): the outcomes the workers resolved over the last
``--window``, by role and version (``intent_outcomes_total``); Prometheus has no users, so
its intervals resample outcomes; the workers' own comparison by user
(``intent_challenger_difference``) is printed beside them.

>>> from stream.processing.intents import Intent
>>> def it(user, item):
...     return Intent(user, item, 0.9, 0.5, "v", {"resnet": 0, "forest": 0}, "e", 0, 0, 1.0)
>>> purchases = [("u1", "i1", 60_000), ("u3", "i3", 60_000)]
>>> resolve_role([it("u1", "i1"), it("u2", "i2")], purchases, horizon_ms=600_000)
{'u1': (1, 0, 0), 'u2': (0, 1, 0), 'u3': (0, 0, 1)}
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

import orjson

from stream.config import Settings
from stream.monitoring.comparison import Comparison, RoleFigures, compare, user_counts
from stream.processing.intents import Intent, InvalidIntent, decode_intent

__all__ = ["resolve_role", "compare_from_topics", "compare_from_prometheus", "render"]

Purchase = tuple[str, str, int]  # user, item, event time


def resolve_role(
    intents: Sequence[Intent], purchases: Sequence[Purchase], horizon_ms: int, misses_until: int | None = None
) -> dict[str, tuple[int, int, int]]:
    """Per user (tp, fp, fn) of one role's intents against the purchases (misses: the
    purchases until ``misses_until``, all by default)."""
    bought: dict[tuple[str, str], list[int]] = {}
    for user, item, ts in purchases:
        bought.setdefault((user, item), []).append(ts)
    announced: dict[tuple[str, str], list[int]] = {}
    outcomes: list[tuple[str, str]] = []
    for intent in intents:
        key = (intent.user_id, intent.item_id)
        times = sorted(bought.get(key, ()))
        k = bisect.bisect_right(times, intent.event_ts)
        hit = k < len(times) and times[k] - intent.event_ts <= horizon_ms
        outcomes.append((intent.user_id, "tp" if hit else "fp"))
        announced.setdefault(key, []).append(intent.event_ts)
    for user, item, ts in purchases:
        if misses_until is not None and ts > misses_until:
            continue
        times = sorted(announced.get((user, item), ()))
        k = bisect.bisect_left(times, ts)
        if not (k and ts - times[k - 1] <= horizon_ms):
            outcomes.append((user, "fn"))
    return user_counts(outcomes)


def _intents(records: list[Any]) -> list[Intent]:
    out = []
    for rec in records:
        try:
            out.append(decode_intent(rec.value))
        except InvalidIntent:
            continue
    return out


def _horizon_ms(settings: Settings, horizon_min: float | None) -> int:
    if horizon_min is not None:
        return int(horizon_min * 60_000)
    try:
        from models.artifact import read_manifest
        from models.registry import served_path
        from stream.runtime.serving import manifest_horizon_ms

        found = manifest_horizon_ms(read_manifest(served_path(settings.model_dir)))
    except Exception:  # no model here: the default
        found = None
    return found or 30 * 60_000


async def compare_from_topics(settings: Settings, horizon_min: float | None = None) -> dict[str, Any]:
    from stream.io.kafka import read_topic
    from stream.processing.privacy import Pseudonymizer

    horizon = _horizon_ms(settings, horizon_min)
    champion = _intents(await read_topic(settings, settings.topic_intents))
    challenger = _intents(await read_topic(settings, settings.topic_shadow_intents))
    if not challenger:
        return {
            "source": "topics",
            "error": f"no intents on {settings.topic_shadow_intents}: no challenger ran",
        }
    start = min(i.event_ts for i in challenger)
    end = max(i.event_ts for i in challenger)
    pseudonym = Pseudonymizer(settings.pseudonymize_key)
    purchases: list[Purchase] = []
    for rec in await read_topic(settings, settings.topic_events):
        try:
            e = orjson.loads(rec.value)
            if e.get("type") == "transaction" and start <= e["ts"] <= end + horizon:
                user = str(e["user_id"])
                purchases.append(
                    (pseudonym(user) if pseudonym.enabled else user, str(e["item_id"]), int(e["ts"]))
                )
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue
    counts = {
        role: resolve_role([i for i in intents if start <= i.event_ts <= end], purchases, horizon, end)
        for role, intents in (("champion", champion), ("challenger", challenger))
    }
    result = compare(counts["champion"], counts["challenger"])
    return {
        "source": "topics",
        "intervals": "bootstrap by user",
        "window": {"from_ts": start, "to_ts": end, "horizon_min": horizon / 60_000},
        "versions": {
            "champion": sorted({i.model_version for i in champion if start <= i.event_ts <= end}),
            "challenger": sorted({i.model_version for i in challenger}),
        },
        "comparison": result,
    }


def compare_from_prometheus(url: str, window: str = "1h") -> dict[str, Any]:
    from stream.commands.report import PrometheusAPI

    api = PrometheusAPI(url)
    query = f"sum by (role, model_version, outcome) (increase(intent_outcomes_total[{window}]))"
    by: dict[tuple[str, str], dict[str, float]] = {}
    for r in api.query(query):
        m = r["metric"]
        by.setdefault((m.get("role", "champion"), m.get("model_version", "")), {})[m["outcome"]] = float(
            r["value"][1]
        )
    chosen: dict[str, tuple[str, dict[str, float]]] = {}
    for (role, version), counts in by.items():  # per role, the version with the most outcomes
        if role not in chosen or sum(counts.values()) > sum(chosen[role][1].values()):
            chosen[role] = (version, counts)
    if len(chosen) < 2:
        return {
            "source": "prometheus",
            "error": f"outcomes of both roles needed over {window}, found {sorted(chosen)}",
        }
    pseudo: dict[str, dict[str, tuple[int, int, int]]] = {}
    for role, (_, counts) in chosen.items():  # one pseudo-user an outcome: Prometheus has no users
        rows = [(f"{o}{k}", o) for o in ("tp", "fp", "fn") for k in range(round(counts.get(o, 0.0)))]
        pseudo[role] = user_counts(rows)
    live: dict[str, dict[str, float]] = {}
    for r in api.query("max by (metric, bound) (intent_challenger_difference)"):
        live.setdefault(r["metric"]["metric"], {})[r["metric"]["bound"]] = float(r["value"][1])
    return {
        "source": "prometheus",
        "intervals": "bootstrap by outcome (Prometheus has no users)",
        "window": window,
        "versions": {role: [version] for role, (version, _) in chosen.items()},
        "comparison": compare(pseudo.get("champion", {}), pseudo.get("challenger", {})),
        "workers_by_user": live,
    }


def _role(fig: RoleFigures) -> dict[str, Any]:
    return {
        "intents": fig.intents,
        "purchases": fig.purchases,
        "users": fig.users,
        "precision": fig.precision,
        "precision_ci": list(fig.precision_ci),
        "recall": fig.recall,
        "recall_ci": list(fig.recall_ci),
    }


def render(result: dict[str, Any], as_json: bool = False) -> str:
    """The comparison in words (or one JSON object)."""
    comparison: Comparison | None = result.get("comparison")
    body = {k: v for k, v in result.items() if k != "comparison"}
    if comparison is not None:
        body["champion"], body["challenger"] = _role(comparison.champion), _role(comparison.challenger)
        body["difference"] = {m: list(v) for m, v in comparison.difference.items()}
        body["verdict"] = comparison.verdict
    if as_json:
        return orjson.dumps(body).decode()
    if "error" in body:
        return f"intent compare: {body['error']}"
    lines = [f"champion vs challenger ({body['source']}; 95% intervals, {body['intervals']})"]
    for role in ("champion", "challenger"):
        f = body[role]
        lines.append(
            f"  {role:<10} {', '.join(body['versions'][role]):<28} intents {f['intents']:>6,}  "
            f"precision {f['precision']:.4f} [{f['precision_ci'][0]:.4f}, {f['precision_ci'][1]:.4f}]  "
            f"purchase recall {f['recall']:.4f} [{f['recall_ci'][0]:.4f}, {f['recall_ci'][1]:.4f}]"
        )
    for metric, (est, low, high) in body["difference"].items():
        lines.append(f"  challenger - champion, {metric}: {est:+.4f} [{low:+.4f}, {high:+.4f}]")
    for metric, bounds in body.get("workers_by_user", {}).items():
        lines.append(f"  workers' live window, by user, {metric}: {bounds}")
    lines.append(f"verdict: {body['verdict']}")
    return "\n".join(lines)
