"""The served model, loaded off the event loop: the first one in a thread from the start
(beside Faust's start and the group join), then each new version of the artifact for a
hot swap (:class:`~stream.runtime.model_reloader.ModelReloader` watches the directory).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time

from models.artifact import LoadedModel, load_artifact
from stream.config import Settings
from stream.monitoring.metrics import WorkerMetrics
from stream.processing.processor import ServingModel
from stream.runtime.model_reloader import ModelReloader
from stream.runtime.scoring_process import ScoringProcessError
from stream.runtime.serving import serving_model

__all__ = ["ModelLoading"]

log = logging.getLogger(__name__)

#: A loaded artifact, the model served from it, and the seconds that took.
Built = tuple[LoadedModel, ServingModel, float]


class ModelLoading:
    """Loads what the worker serves; shows the served version on ``metrics`` and counts
    refused artifacts there."""

    def __init__(self, settings: Settings, metrics: WorkerMetrics, score_timeout_s: float) -> None:
        self.settings, self.metrics, self.score_timeout_s = settings, metrics, score_timeout_s
        self._loading: concurrent.futures.Future[Built] | None = None
        self._reloader: ModelReloader | None = None  # made on the first reload check

    def _serving(self, loaded: LoadedModel) -> ServingModel:
        return serving_model(loaded, self.settings, self.score_timeout_s)

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
