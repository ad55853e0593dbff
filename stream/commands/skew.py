"""``intent skew``: training/serving skew, measured on live traffic.

The worker logs a sample of its scored pairs with their feature vectors
(``INTENT_FEATURE_LOG_RATE``, :mod:`stream.processing.feature_log`). This command reads
them back, replays the clickstream file they came from through the same state code as
training does (:func:`stream.io.state_dump.offline_states`' fold, one event at a time), and
at each logged pair's trigger event recomputes U and I with the training path's feature
functions, the model's catalogue and the item statistics the worker read. It reports the
share of pairs (and of feature values) that differ and by how much, per feature: the
expected answer is zero. A logged pair whose trigger is not in the file is counted apart.

>>> import numpy as np
>>> diff = feature_differences(np.array([1.0, 2.0], np.float32), np.array([1.0, 2.5], np.float32), ["a", "b"])
>>> diff
{'b': 0.5}
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from stream.config import Settings

__all__ = ["measure_skew", "render_skew", "feature_differences"]


def feature_differences(live: np.ndarray, offline: np.ndarray, names: list[str]) -> dict[str, float]:
    """Feature name -> absolute difference, for the features that differ (exact compare:
    both are float32 from the same code)."""
    delta = np.abs(live.astype(np.float64) - offline.astype(np.float64))
    return {names[k]: float(delta[k]) for k in np.flatnonzero(live != offline)}


def _catalogue(settings: Settings, version: str) -> Any:
    from models.registry import ModelRegistry, is_registry
    from stream.domain.catalogue import Catalogue
    from stream.processing.privacy import Pseudonymizer
    from stream.runtime.serving import served_catalogue

    root = settings.model_dir
    path = ModelRegistry(root).path(version) if is_registry(root) else Path(root)
    catalogue = Catalogue.from_json((path / "catalogue.json").read_bytes())
    return served_catalogue(catalogue, Pseudonymizer(settings.pseudonymize_key))


async def measure_skew(settings: Settings, data: list[str], fmt: str | None = None) -> dict[str, Any]:
    from stream.domain.features import ITEM_LAYOUT, USER_LAYOUT, FeatureSpec, item_vector, user_vector
    from stream.domain.readers import read_clickstream
    from stream.domain.state import UserState
    from stream.domain.state_codec import decode_item
    from stream.io.kafka import read_topic
    from stream.processing.feature_log import decode_record
    from stream.processing.privacy import Pseudonymizer

    records = [decode_record(r.value) for r in await read_topic(settings, settings.topic_feature_log)]
    by_trigger: dict[str, list[Any]] = {}
    for rec in records:
        by_trigger.setdefault(rec.trigger_event_id, []).append(rec)
    spec = FeatureSpec()
    names = {"U": USER_LAYOUT.names(spec.user_dim), "I": ITEM_LAYOUT.names(spec.item_dim)}
    catalogues: dict[str, Any] = {}
    pseudonymize = Pseudonymizer(settings.pseudonymize_key)
    states: dict[str, UserState] = {}
    compared = differing = values = differing_values = 0
    by_feature: Counter[str] = Counter()
    worst: dict[str, float] = {}
    candidates_moved = 0
    for event in read_clickstream(data, fmt, stream=True).events:
        if pseudonymize.enabled:
            event = pseudonymize.event(event)
        state = states.setdefault(event.user_id, UserState())
        state.update(event)
        for rec in by_trigger.pop(event.event_id, ()):
            if rec.user_id != event.user_id:
                continue
            cands = state.candidates(rec.n_candidates)
            if rec.rank >= len(cands) or cands[rec.rank] != rec.item_id:
                candidates_moved += 1
                continue
            if rec.model_version not in catalogues:
                catalogues[rec.model_version] = _catalogue(settings, rec.model_version)
            catalogue = catalogues[rec.model_version]
            stats = None if rec.item_stats is None else decode_item(rec.item_stats)
            U = user_vector(spec, rec.user_id, state, catalogue)
            I = item_vector(spec, state, rec.item_id, rec.rank, len(cands), stats, catalogue)
            diffs = {**feature_differences(rec.U, U, names["U"]), **feature_differences(rec.I, I, names["I"])}
            compared += 1
            values += len(U) + len(I)
            differing += bool(diffs)
            differing_values += len(diffs)
            by_feature.update(diffs)
            for name, d in diffs.items():
                worst[name] = max(worst.get(name, 0.0), d)
    return {
        "records": len(records),
        "pairs": compared,
        "differing_pairs": differing,
        "differing_pair_share": differing / compared if compared else 0.0,
        "differing_value_share": differing_values / values if values else 0.0,
        "features": {n: {"pairs": c, "max_abs_difference": worst[n]} for n, c in by_feature.most_common()},
        "not_in_file": sum(len(v) for v in by_trigger.values()),
        "candidates_moved": candidates_moved,
    }


def render_skew(report: dict[str, Any], as_json: bool = False) -> str:
    if as_json:
        return orjson.dumps(report).decode()
    lines = [
        f"{report['records']:,} logged pairs; {report['pairs']:,} recomputed from the file "
        f"({report['not_in_file']:,} whose trigger is not in it, {report['candidates_moved']:,} whose "
        "candidates differ)",
        f"differing: {report['differing_pairs']:,} pairs ({report['differing_pair_share']:.2%}), "
        f"{report['differing_value_share']:.4%} of feature values",
    ]
    for name, f in list(report["features"].items())[:20]:
        lines.append(f"  {name}: {f['pairs']:,} pairs, max |difference| {f['max_abs_difference']:.6g}")
    return "\n".join(lines)
