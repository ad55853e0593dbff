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
