"""What every bench stage shares: fresh topics and a consumer group per stage, the
worker as a subprocess with its own data directory, a model trained when none exists,
the run directory for logs, and the broker (embedded, or ``INTENT_BENCH_BOOTSTRAP``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from stream.config import Settings, replace
from stream.io.broker import EmbeddedBroker
from stream.io.worker_process import WorkerProcess

__all__ = [
    "tagged_settings",
    "stage_settings",
    "rounds",
    "bench_worker",
    "processed",
    "PROCESSED",
    "ensure_model",
    "run_directory",
    "bench_broker",
    "train_served_model",
    "challenger_registry",
]


def tagged_settings(base: Settings, app_id: str, tag: str) -> Settings:
    """``base`` with its own consumer group ``app_id`` and topics named after ``tag``."""
    return replace(
        base,
        app_id=app_id,
        topic_events=f"{tag}-events",
        topic_dlq=f"{tag}-dlq",
        topic_intents=f"{tag}-intents",
        topic_item_events=f"{tag}-by-item",
    )


def stage_settings(base: Settings, name: str) -> Settings:
    """Fresh topics and a fresh group for a bench stage."""
    tag = f"{name}-{uuid.uuid4().hex[:6]}"
    return tagged_settings(base, f"bench-{tag}", tag)


def rounds(base: Settings, name: str, n: int) -> list[Settings]:
    """Settings for ``n`` rounds of a stage: fresh topics and group each, but one ``events``
    topic, so every round reads the same records, replayed once."""
    first = stage_settings(base, name)
    return [first] + [
        replace(stage_settings(base, name), topic_events=first.topic_events) for _ in range(n - 1)
    ]


def bench_worker(settings: Settings, log: Path, **kw: Any) -> WorkerProcess:
    """A bench process with its own data directory beside its log."""
    return WorkerProcess(replace(settings, data_dir=log.parent / log.stem), log, **kw)


#: The sample that counts events processed (its scrape alone is cheap, see
#: stream.monitoring.metrics.MetricsServer).
PROCESSED = "intent_events_total"


def processed(m: dict[str, float]) -> float:
    return m.get(PROCESSED, 0.0)


def train_served_model(settings: Settings, write: Callable[[Path], Any]) -> None:
    """A model written by ``write(directory)`` served from ``settings.model_dir``: a new,
    promoted version of the registry there (the default), or the plain artifact
    directory it names when one exists there already."""
    from models.registry import ModelRegistry, is_registry

    path = settings.model_dir
    if path.exists() and not is_registry(path) and any(path.iterdir()):
        write(path)
    else:
        ModelRegistry(path, keep=settings.model_keep).add_written(write, promote=True)


def ensure_model(base: Settings, log: Callable[[str], None]) -> None:
    """Train a quick model into ``base.model_dir`` unless a valid artifact is there."""
    from models.artifact import ArtifactError, verify_artifact

    try:
        verify_artifact(base.model_dir)
    except ArtifactError:
        from training.pipeline import TrainConfig, train

        log(f"no model at {base.model_dir}: training a quick one")
        train_served_model(
            base,
            lambda out: train([base.sample_data], out, cfg=TrainConfig(quick=True, progress=False), log=log),
        )


def run_directory(kind: str) -> Path:
    """Where a run keeps its logs: ``INTENT_RUN_DIR``, else a fresh folder in /tmp."""
    run_dir = Path(os.environ.get("INTENT_RUN_DIR", f"/tmp/intent-{kind}-{os.getpid()}"))
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


@contextmanager
def bench_broker(base: Settings, run_dir: Path) -> Iterator[Settings]:
    """``base`` on a fresh embedded broker (its log in ``run_dir``), or as it is when
    ``INTENT_BENCH_BOOTSTRAP`` names a broker to use instead."""
    if os.environ.get("INTENT_BENCH_BOOTSTRAP"):
        yield base
        return
    broker = EmbeddedBroker(log_file=run_dir / "broker.log").start()
    try:
        yield replace(base, bootstrap=broker.bootstrap)
    finally:
        broker.stop()


def challenger_registry(model_dir: Path, run_dir: Path) -> tuple[Path, str]:
    """A registry in ``run_dir`` serving the artifact served from ``model_dir``, with a
    challenger beside it: the same artifact recalibrated (its forest branch's Platt
    intercept moved), which costs what any challenger of the same architecture costs.
    Returns the registry and the challenger's version."""
    import shutil

    import orjson

    from models.registry import ModelRegistry, served_path

    source = served_path(model_dir)
    registry = ModelRegistry(run_dir / f"challenger-registry-{uuid.uuid4().hex[:6]}")
    version = ""
    for shift in (0.0, 0.5):

        def write(out: Path, shift: float = shift) -> str:
            shutil.copytree(source, out)
            manifest = orjson.loads((out / "manifest.json").read_bytes())
            if shift:
                manifest["model_version"] += "-recalibrated"
                manifest["fusion"]["calibration"]["forest"]["b"] += shift
            (out / "manifest.json").write_bytes(orjson.dumps(manifest))
            return str(manifest["model_version"])

        version = registry.add_written(write)[0]
    return registry.root, version
