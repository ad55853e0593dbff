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


@dataclass
class ServingModel:
    """What the processor needs of a loaded artifact; swapped whole on a reload, so the
    threshold and the label horizon (its :class:`ServingPolicy`) change with the model."""

    scorer: Scorer
    catalogue: Catalogue | None
    spec: FeatureSpec
    policy: ServingPolicy


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

    @property
    def n_pairs(self) -> int:
        return 0 if self.U is None else len(self.U)

    _U_parts: list[np.ndarray] = field(default_factory=list)
    _I_parts: list[np.ndarray] = field(default_factory=list)

    def add_pairs(
        self, users: Iterable[tuple[str, UserState]], max_candidates: int, items: Mapping[str, ItemStats]
    ) -> None:
        """These users' candidate pairs (call :meth:`seal` after the last)."""
        for uid, state in users:
            cands = state.candidates(max_candidates)
            U, I = pair_features(self.model.spec, uid, state, cands, items, self.model.catalogue)
            self._U_parts.append(U)
            self._I_parts.append(I)
            self.sizes.append(len(cands))
            self.owners.append((uid, cands))

    def seal(self) -> None:
        """Every changed user's pairs as ONE model call."""
        if self._U_parts:
            self.U, self.I = np.concatenate(self._U_parts), np.concatenate(self._I_parts)
        self._U_parts, self._I_parts = [], []
