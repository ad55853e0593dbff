"""Shared fixtures: real sample data, a quick trained model, the embedded broker, workers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stream.config import REPO_ROOT, Settings
from stream.io.broker import EmbeddedBroker
from stream.io.worker_process import WorkerProcess as StreamWorker

JDATA = REPO_ROOT.parent / "shared" / "data" / "jdata-2016-sample"


@pytest.fixture(scope="session")
def jdata_dir() -> Path:
    if not JDATA.exists():
        pytest.fail(f"real sample data missing: {JDATA} (../shared must sit beside the repo)")
    return JDATA


@pytest.fixture(scope="session")
def jdata_events(jdata_dir: Path) -> list:
    from stream.domain.readers import read_clickstream

    return read_clickstream([jdata_dir]).events


@pytest.fixture(scope="session")
def quick_model(tmp_path_factory: pytest.TempPathFactory, jdata_dir: Path) -> tuple[Path, dict]:
    """A quick model trained on the real JD.com sample, and its training report."""
    from training.pipeline import TrainConfig, train

    out = tmp_path_factory.mktemp("model") / "model"
    report = train([jdata_dir], out, cfg=TrainConfig(quick=True, progress=False), log=lambda m: None)
    return out, report


@pytest.fixture
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as b:
        yield b


def WorkerProcess(bootstrap: str, model: Path, data_dir: Path, log: Path, **env: str) -> StreamWorker:
    """A real ``intent worker`` subprocess on ``bootstrap`` with 4 partitions."""
    settings = Settings.from_env(
        {}, bootstrap=bootstrap, model_dir=str(model), data_dir=str(data_dir), partitions=4
    )
    return StreamWorker(settings, log, **env)


#: The quick model's own threshold sends an intent to 5% of a validation day's active users
#: (training's volume cut, on users with months of history); a replay into empty state scores
#: lower (the JD sample's first minutes: no pair above 0.15), so tests that need intents serve
#: at this threshold.
REPLAY_THRESHOLD = "0.05"


@pytest.fixture
def start_worker(broker: EmbeddedBroker, quick_model: tuple[Path, dict], tmp_path: Path):
    workers: list[StreamWorker] = []

    def start(**env: str) -> StreamWorker:
        w = WorkerProcess(
            broker.bootstrap,
            quick_model[0],
            tmp_path / f"w{len(workers)}",
            tmp_path / f"worker{len(workers)}.log",
            **env,
        )
        workers.append(w)
        return w

    yield start
    for w in workers:
        w.stop()


def settings_for(broker: EmbeddedBroker) -> Settings:
    return Settings.from_env({}, bootstrap=broker.bootstrap, partitions=4)


def wait_for(predicate, timeout: float = 60, interval: float = 0.25, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what} (last: {last!r})")


def add_variant(
    src: Path, registry: Path, version: str, forest_shift: float = 0.0, w_r: float | None = None
) -> str:
    """A copy of the artifact ``src`` added to ``registry`` as ``version``, its forest
    branch's Platt intercept moved by ``forest_shift`` (a model with another calibration:
    the same ranking, other probabilities), its ResNet weighed ``w_r`` when given. The
    manifest holds no checksum of itself, so the copy verifies."""
    import shutil

    import orjson

    from models.registry import ModelRegistry

    def write(out: Path) -> None:
        shutil.copytree(src, out)
        manifest = orjson.loads((out / "manifest.json").read_bytes())
        manifest["model_version"] = version
        manifest["fusion"]["calibration"]["forest"]["b"] += forest_shift
        if w_r is not None:
            manifest["fusion"]["w_r"], manifest["fusion"]["w_f"] = w_r, 1 - w_r
        (out / "manifest.json").write_bytes(orjson.dumps(manifest))

    return ModelRegistry(registry).add_written(write)[0]


@pytest.fixture(scope="session")
def taobao_swap_replay(quick_model, tmp_path_factory: pytest.TempPathFactory):
    """The Taobao test days (after one day of warm-up) through the processor with a target
    of 1,000 intents a day, hot-swapped at the second test day to a model with another
    calibration; for the volume and coupon tests."""
    from stream.processing.volume import VolumeTarget
    from tests.stream.taobao_replay import replay, test_days

    registry = tmp_path_factory.mktemp("taobao") / "registry"
    # the quick JD model scores Taobao with few distinct values: a ResNet share spreads them
    first = add_variant(quick_model[0], registry, "A", w_r=0.5)
    second = add_variant(quick_model[0], registry, "B-recalibrated", forest_shift=1.5, w_r=0.5)
    versions = registry / "versions"
    return replay(test_days(warmup_days=1), [versions / first, versions / second], VolumeTarget(1000))
