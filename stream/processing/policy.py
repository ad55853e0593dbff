"""What a served model's intents are held to: the probability threshold and the label
horizon (how long an intent waits for its purchase before it counts as a miss).

Both come from the artifact (the threshold chosen on validation, the horizon its labels
were cut with) unless the operator overrides them (``INTENT_THRESHOLD``,
``INTENT_HORIZON_MIN``). They are resolved once per loaded model, and a hot swap
replaces the model and its policy together, so no batch ever pairs a model with
another model's threshold.

>>> ServingPolicy.resolve(model_threshold=0.07, model_horizon_ms=600_000)
ServingPolicy(threshold=0.07, horizon_ms=600000)
>>> ServingPolicy.resolve(0.07, None, threshold=0.5, horizon_min=60)
ServingPolicy(threshold=0.5, horizon_ms=3600000)
>>> ServingPolicy.resolve(0.07, None).horizon_ms == DEFAULT_HORIZON_MS  # an artifact that names none
True
"""

from __future__ import annotations

from dataclasses import dataclass

from stream.domain.labels import DEFAULT_HORIZON_MS

__all__ = ["ServingPolicy"]


@dataclass(frozen=True)
class ServingPolicy:
    threshold: float
    horizon_ms: int

    @classmethod
    def resolve(
        cls,
        model_threshold: float,
        model_horizon_ms: int | None,
        threshold: float | None = None,
        horizon_min: float | None = None,
    ) -> ServingPolicy:
        """The model's own values, each replaced by an override that is not None."""
        if horizon_min is not None:
            horizon = int(horizon_min * 60_000)
        else:
            horizon = DEFAULT_HORIZON_MS if model_horizon_ms is None else int(model_horizon_ms)
        return cls(float(model_threshold if threshold is None else threshold), horizon)
