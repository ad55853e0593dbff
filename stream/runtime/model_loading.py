"""The served model, loaded off the event loop: the first one in a thread from the start
(beside Faust's start and the group join), then each new version of the artifact for a
hot swap (:class:`~stream.runtime.model_reloader.ModelReloader` watches the directory, or
a registry's ``current`` pointer: a promotion or a rollback), with the challenger
(``INTENT_CHALLENGER``, a registry version) shadow-scored beside whichever version serves.
With ``INTENT_TARGET_INTENTS_PER_DAY`` the threshold is a volume
(:class:`~stream.processing.volume.VolumeTarget`): a new version scores the latest pairs
before it serves, so the swap keeps the planned volume.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path

from models.artifact import ArtifactError, LoadedModel, load_artifact
from models.registry import ModelRegistry, is_registry
from stream.config import Settings
from stream.io.model_topic import RegistryMirror
from stream.monitoring.metrics import WorkerMetrics
from stream.processing.processor import EventProcessor, ServingModel
from stream.processing.volume import VolumeTarget
from stream.runtime.model_reloader import ModelReloader
from stream.runtime.scoring_process import ScoringProcess, ScoringProcessError
from stream.runtime.serving import serving_model

__all__ = ["ModelLoading", "challenger_path"]

log = logging.getLogger(__name__)

#: A loaded artifact, the model served from it, and the seconds that took.
Built = tuple[LoadedModel, ServingModel, float]


def challenger_path(settings: Settings) -> Path | None:
    """Where ``INTENT_CHALLENGER`` is: a version of the registry at ``INTENT_MODEL_DIR``
    (or, outside a registry, an artifact directory); None when none is set."""
    if not settings.challenger:
        return None
    if is_registry(settings.model_dir):
        return ModelRegistry(settings.model_dir).path(settings.challenger)
    return Path(settings.challenger)


class ModelLoading:
    """Loads what the worker serves; shows the served version on ``metrics`` and counts
    refused artifacts there. ``share``: the worker's share of the fleet's traffic (for
    the volume target)."""

    def __init__(
        self,
        settings: Settings,
        metrics: WorkerMetrics,
        score_timeout_s: float,
        share: Callable[[], float] = lambda: 1.0,
    ) -> None:
        self.settings, self.metrics, self.score_timeout_s = settings, metrics, score_timeout_s
        self._loading: concurrent.futures.Future[Built] | None = None
        self._reloader: ModelReloader | None = None  # made on the first reload check
        self._challenger: LoadedModel | None = None
        target = settings.target_intents_per_day
        self.volume = VolumeTarget(target, share) if target else None
        self.mirror: RegistryMirror | None = (
            RegistryMirror(settings) if settings.model_sync == "kafka" else None
        )

    def challenger(self) -> LoadedModel | None:
        """The challenger, loaded once (None when none is set, or when it is refused:
        logged, and the worker serves without shadow scoring)."""
        path = challenger_path(self.settings)
        if path is None or self._challenger is not None:
            return self._challenger
        try:
            self._challenger = load_artifact(path)
        except ArtifactError as exc:
            log.error("challenger %s refused, no shadow scoring: %s", self.settings.challenger, exc)
            self.settings = dataclasses.replace(self.settings, challenger="")
            self.metrics.model_reload_failures.inc()
        return self._challenger

    def _serving(self, loaded: LoadedModel) -> ServingModel:
        return serving_model(loaded, self.settings, self.score_timeout_s, self.challenger())

    def _build(self) -> Built:
        began = time.monotonic()
        loaded = load_artifact(self.settings.model_dir)
        return loaded, self._serving(loaded), time.monotonic() - began

    def _show(self, loaded: LoadedModel) -> None:
        self.metrics.model.info({"version": loaded.scorer.model_version, "path": str(loaded.path)})

    def start(self) -> None:
        """Load the model (seconds: its child process imports torch and loads the
        artifact) in a thread from now on. Faust starts the app's tasks only once the
        first rebalance has recovered the tables, so a load begun there was paid after
        the join (3 s of a 15 s restart)."""
        if self._loading is None:
            pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="intent-model-load")
            self._loading = pool.submit(self._build)
            pool.shutdown(wait=False)

    async def first(self) -> Built:
        """The first model (started now if :meth:`start` was not called)."""
        self.start()
        assert self._loading is not None
        built = await asyncio.wrap_future(self._loading)
        self._show(built[0])
        return built

    async def newer(self, current: ServingModel) -> tuple[LoadedModel, ServingModel] | None:
        """A new version of the artifact, loaded and verified off the event loop, or None
        (none, or refused: logged once and counted)."""
        if self._reloader is None:
            self._reloader = ModelReloader(self.settings.model_dir, current.scorer.model_version)
        reloader = self._reloader
        loop = asyncio.get_running_loop()
        loaded, refused = await loop.run_in_executor(None, reloader.try_load)
        model = None
        if loaded is not None:
            try:
                model = await loop.run_in_executor(None, self._serving, loaded)
            except ScoringProcessError as exc:  # refused like a corrupt artifact, once
                refused = str(exc)
                log.error("refused model %s: %s", loaded.scorer.model_version, exc)
                reloader.refused.add(loaded.scorer.model_version)
                reloader.current_version = current.scorer.model_version
        if refused:
            self.metrics.model_reload_failures.inc()
        if model is None or loaded is None:
            return None
        self._show(loaded)
        return loaded, model

    async def reload(self, proc: EventProcessor) -> bool:
        """Swap a new version into ``proc`` between two batches (one assignment: a batch
        in flight keeps the model it started with), logged with both versions; the old
        model's scoring process is closed after the batch in flight (and its retry)."""
        if self.mirror is not None:  # versions and the pointer from the models topic first
            try:
                await self.mirror.pull()
            except Exception as exc:  # the broker is away: the next poll tries again
                log.warning("could not read %s: %r", self.settings.topic_models, exc)
        swapped = await self.newer(proc.model)
        if swapped is None:
            return False
        _, model = swapped
        old = proc.model
        if self.volume is not None:
            await self._seed(model)
        proc.model = model
        self.metrics.model_reloads.inc()
        target = self.settings.target_intents_per_day
        log.warning(
            "now serving model %s (was %s; threshold %s, label horizon %d min; challenger %s)",
            model.scorer.model_version,
            old.scorer.model_version,
            f"for {target:g} intents a day" if target else f"{proc.threshold:.4g}",
            proc.horizon_ms // 60_000,
            model.challenger.version if model.challenger is not None else "none",
        )
        if isinstance(old.scorer, ScoringProcess):
            loop = asyncio.get_running_loop()
            loop.call_later(2 * self.score_timeout_s, lambda: loop.run_in_executor(None, old.scorer.close))
        return True

    async def _seed(self, model: ServingModel) -> None:
        """The new version's scores of the latest pairs, into its volume sketch."""
        assert self.volume is not None
        challenger = model.challenger.version if model.challenger is not None else None
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, self.volume.prepare, model.scorer, challenger
            )
        except Exception as exc:  # the first batches seed it instead
            log.warning("could not seed model %s's threshold: %r", model.scorer.model_version, exc)
