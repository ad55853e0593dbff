"""The loaded artifact as the worker serves it: :func:`serving_model`.

Two things differ from the artifact as trained:

* with ``INTENT_PSEUDONYMIZE_KEY`` the worker replaces each user id by its pseudonym
  before anything else sees the event, so the features look a user's attributes up by
  the pseudonym: the served catalogue's users are re-keyed by the same pseudonymiser
  (the raw ids never reach the worker's state; the catalogue stays in memory);
* its :class:`~stream.processing.policy.ServingPolicy` (threshold and label horizon) is
  resolved here, once per loaded model: the artifact's threshold and its manifest's
  ``training_data.horizon_ms``, each unless ``INTENT_THRESHOLD`` / ``INTENT_HORIZON_MIN``
  override it. It travels with the model on a hot swap.

>>> from stream.domain.catalogue import Catalogue
>>> c = served_catalogue(Catalogue(users={"u1": (3, 1, 4)}, items={"i1": (1, 1, 1, "b", 0, 0, 0.0)}),
...                      Pseudonymizer("k"))
>>> c.user(Pseudonymizer("k")("u1")), c.user("u1"), c.item("i1") is not None
((3, 1, 4), None, True)
>>> manifest_horizon_ms({"training_data": {"horizon_ms": 600000}}), manifest_horizon_ms({})
(600000, None)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from models.artifact import LoadedModel
from models.shadow import ShadowScorer
from stream.config import Settings
from stream.domain.catalogue import Catalogue
from stream.processing.batch import Challenger
from stream.processing.policy import ServingPolicy
from stream.processing.privacy import Pseudonymizer
from stream.processing.processor import ServingModel
from stream.runtime.scoring_process import ScoringProcess

__all__ = ["serving_model", "serving_policy", "served_catalogue", "manifest_horizon_ms"]


def served_catalogue(catalogue: Catalogue, pseudonymize: Pseudonymizer) -> Catalogue:
    """``catalogue`` with its users keyed as the worker keys them (items unchanged)."""
    if not pseudonymize.enabled:
        return catalogue
    return Catalogue(
        users={pseudonymize(uid): attrs for uid, attrs in catalogue.users.items()}, items=catalogue.items
    )


def manifest_horizon_ms(manifest: Mapping[str, Any]) -> int | None:
    """The label horizon an artifact was trained with (None for one that does not say)."""
    horizon = manifest.get("training_data", {}).get("horizon_ms")
    return None if horizon is None else int(horizon)


def serving_policy(loaded: LoadedModel, settings: Settings) -> ServingPolicy:
    """The threshold and horizon ``loaded`` is served with under ``settings``."""
    return ServingPolicy.resolve(
        loaded.scorer.threshold,
        manifest_horizon_ms(loaded.manifest),
        settings.threshold,
        settings.horizon_min,
    )


def serving_model(
    loaded: LoadedModel,
    settings: Settings,
    score_timeout_s: float = 10.0,
    challenger: LoadedModel | None = None,
) -> ServingModel:
    """``loaded`` as served: by default its model runs in a child process
    (``INTENT_SCORING=process``, see :mod:`stream.runtime.scoring_process`). Starting one takes
    seconds, so the worker calls this in an executor. With ``challenger`` (another
    version), the challenger is scored beside it on the same pairs, in the same call
    (:mod:`models.shadow`); its features are the served model's (the same feature code,
    and the served artifact's catalogue)."""
    if challenger is not None and challenger.scorer.model_version == loaded.scorer.model_version:
        challenger = None  # promoted: nothing to compare it with
    scorer: Any = loaded.scorer
    if settings.scoring == "process":
        scorer = ScoringProcess(
            loaded.path,
            loaded.scorer.model_version,
            settings.model_threads,
            timeout_s=0.9 * score_timeout_s,
            challenger=None if challenger is None else (challenger.path, challenger.scorer.model_version),
        )
    elif challenger is not None:
        scorer = ShadowScorer(loaded.scorer, challenger.scorer)
    shadow = None
    if challenger is not None:
        shadow = Challenger(challenger.scorer.model_version, serving_policy(challenger, settings))
    return ServingModel(
        scorer,
        served_catalogue(loaded.catalogue, Pseudonymizer(settings.pseudonymize_key)),
        loaded.spec,
        serving_policy(loaded, settings),
        shadow,
    )
