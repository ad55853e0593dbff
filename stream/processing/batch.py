"""What a batch is made of, and what the processor works with: the raw messages in, the
sinks out, the model it serves (with its policy), its configuration, and a batch staged
for scoring (:class:`StagedBatch`) with the result it will give (:class:`BatchResult`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from models.scorer import Scorer, Scores
from stream.config import Settings
from stream.domain.catalogue import Catalogue
from stream.domain.events import Event
from stream.domain.features import FeatureSpec, pair_features
from stream.domain.state import ItemStats, UserState
from stream.domain.state_codec import encode_item
from stream.monitoring.quality import QualityConfig
from stream.processing.gate import IntentGate
from stream.processing.intents import Intent
from stream.processing.policy import ServingPolicy

__all__ = [
    "RawMessage",
    "Sinks",
    "ServingModel",
    "ProcessorConfig",
    "BatchResult",
    "StagedBatch",
    "Trigger",
    "Challenger",
    "FeatureSample",
]


Send = Callable[[bytes | None, bytes], Awaitable[None]]
SendToPartition = Callable[[int, bytes], Awaitable[None]]


class RawMessage(NamedTuple):
    """One ``events`` message as the processor sees it. Faust's messages have the same
    attributes, so the worker hands them over as they are (a copy of each cost 3% of
    its loop)."""

    key: bytes | None
    value: bytes | None
    timestamp: float  # Kafka (ingest) timestamp, seconds since the epoch
    offset: int = -1  # offset in its partition (-1: unknown)
    partition: int = -1  # its events partition (-1: unknown)


async def _nothing_to_flush() -> None:
    return None


@dataclass
class Sinks:
    dlq: Send
    item_events: SendToPartition  # (partition, value): see stream.processing.item_events
    intents: Send
    #: After a batch's intents: sends what ``intents`` collected (see stream.runtime.publisher).
    flush_intents: Callable[[], Awaitable[None]] = _nothing_to_flush
    #: The challenger's would-be intents (collected like ``intents``, sent by its flush).
    shadow_intents: Send | None = None
    #: Scored pairs with their feature vectors (see stream.processing.feature_log).
    feature_log: Send | None = None


@dataclass(frozen=True)
class Challenger:
    """The model shadow-scored beside the served one (``INTENT_CHALLENGER``): its version
    and what its would-be intents are held to."""

    version: str
    policy: ServingPolicy


@dataclass
class ServingModel:
    """What the processor needs of a loaded artifact; swapped whole on a reload, so the
    threshold and the label horizon (its :class:`ServingPolicy`) change with the model."""

    scorer: Scorer
    catalogue: Catalogue | None
    spec: FeatureSpec
    policy: ServingPolicy
    challenger: Challenger | None = None


@dataclass(frozen=True)
class ProcessorConfig:
    """How the processor treats a batch, apart from the model: read from the settings."""

    cooldown_ms: int = 3_600_000  # re-publish an intent above threshold after this
    max_candidates: int = 32
    score_timeout_s: float = 10.0
    partitions: int = 4  # of the item-events topic
    quality: QualityConfig = field(default_factory=QualityConfig)
    #: A trigger written to ``events`` longer ago than this publishes nothing (0: no limit).
    max_intent_age_ms: int = 0
    pseudonymize_key: str = ""  # empty: user ids as they come
    feature_log_rate: float = 0.0  # share of scored pairs logged with their features

    @classmethod
    def from_settings(cls, settings: Settings, score_timeout_s: float = 10.0) -> ProcessorConfig:
        return cls(
            cooldown_ms=int(settings.cooldown_s * 1000),
            max_candidates=settings.max_candidates,
            score_timeout_s=score_timeout_s,
            partitions=settings.partitions,
            quality=QualityConfig.from_settings(settings),
            max_intent_age_ms=int(settings.max_intent_age_s * 1000),
            pseudonymize_key=settings.pseudonymize_key,
            feature_log_rate=settings.feature_log_rate,
        )


@dataclass
class BatchResult:
    processed: int = 0
    duplicates: int = 0
    dlq: int = 0
    intents: list[Intent] = field(default_factory=list)


class Trigger(NamedTuple):
    event: Event
    ingest_ms: float


class FeatureSample(NamedTuple):
    """A scored pair picked for the feature log: its row, user, item, rank among the
    user's candidates, and the item's statistics as its features read them (encoded)."""

    row: int
    user_id: str
    item_id: str
    rank: int
    n_candidates: int
    item_stats: bytes | None


@dataclass
class StagedBatch:
    """A batch folded into state, with its users' (user, item) pairs built but not scored.

    Everything the finish step needs is captured here at stage time, the model
    included, so a model swapped in meanwhile never sees half a batch.
    """

    result: BatchResult
    gate: IntentGate
    triggers: dict[str, list[Trigger]]
    model: ServingModel
    owners: list[tuple[str, list[str]]] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    U: np.ndarray | None = None
    I: np.ndarray | None = None
    scoring: asyncio.Future[Scores] | None = None  # the model call, submitted when staged
    submitted_at: float = 0.0
    shadow_gate: IntentGate | None = None  # the challenger's (None: no shadow scoring)
    event_ts: int = 0  # the latest event time processed when it was staged
    samples: list[FeatureSample] = field(default_factory=list)  # for the feature log

    @property
    def n_pairs(self) -> int:
        return 0 if self.U is None else len(self.U)

    _rows: int = 0
    _U_parts: list[np.ndarray] = field(default_factory=list)
    _I_parts: list[np.ndarray] = field(default_factory=list)

    def add_pairs(
        self,
        users: Iterable[tuple[str, UserState]],
        max_candidates: int,
        items: Mapping[str, ItemStats],
        sample: Callable[[int], np.ndarray] | None = None,
    ) -> None:
        """These users' candidate pairs (call :meth:`seal` after the last); ``sample(n)``:
        which of a user's n pairs the feature log takes (their item statistics are read
        here, with the features, before anything else can change them)."""
        for uid, state in users:
            cands = state.candidates(max_candidates)
            U, I = pair_features(self.model.spec, uid, state, cands, items, self.model.catalogue)
            if sample is not None:
                for j in sample(len(cands)).tolist():
                    stats = items.get(cands[j])
                    encoded = None if stats is None else encode_item(stats)
                    self.samples.append(FeatureSample(self._rows + j, uid, cands[j], j, len(cands), encoded))
            self._rows += len(cands)
            self._U_parts.append(U)
            self._I_parts.append(I)
            self.sizes.append(len(cands))
            self.owners.append((uid, cands))

    def seal(self) -> None:
        """Every changed user's pairs as ONE model call."""
        if self._U_parts:
            self.U, self.I = np.concatenate(self._U_parts), np.concatenate(self._I_parts)
        self._U_parts, self._I_parts = [], []
