"""Shared fixtures: real sample data, a quick trained model, the embedded broker, workers."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from stream.broker import EmbeddedBroker, free_port
from stream.config import REPO_ROOT, Settings

JDATA = REPO_ROOT.parent / "shared" / "data" / "jdata-2016-sample"


@pytest.fixture(scope="session")
def jdata_dir() -> Path:
    if not JDATA.exists():
        pytest.fail(f"real sample data missing: {JDATA} (../shared must sit beside the repo)")
    return JDATA


@pytest.fixture(scope="session")
def jdata_events(jdata_dir: Path) -> list:
    from stream.readers import read_clickstream

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


class WorkerProcess:
    """``intent worker`` as a real subprocess, with its metrics endpoint."""

    def __init__(self, bootstrap: str, model: Path, data_dir: Path, log: Path, **env: str) -> None:
        self.port = free_port()
        self.log = log
        full_env = dict(
            os.environ, INTENT_BOOTSTRAP=bootstrap, INTENT_MODEL_DIR=str(model),
            INTENT_METRICS_PORT=str(self.port), INTENT_SESSION_TIMEOUT_S="6",
            INTENT_DATA_DIR=str(data_dir), INTENT_PARTITIONS="4", **env,
        )
        self.proc = subprocess.Popen([sys.executable, "-m", "stream.cli", "worker"], env=full_env,
                                     stdout=log.open("ab"), stderr=subprocess.STDOUT)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def metrics(self) -> dict[str, float]:
        from stream.demo import scrape

        return scrape(self.url + "/metrics")

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if urllib.request.urlopen(self.url + "/healthz", timeout=1).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"worker not ready: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def start_worker(broker: EmbeddedBroker, quick_model: tuple[Path, dict], tmp_path: Path):
    workers: list[WorkerProcess] = []

    def start(**env: str) -> WorkerProcess:
        w = WorkerProcess(broker.bootstrap, quick_model[0], tmp_path / f"w{len(workers)}",
                          tmp_path / f"worker{len(workers)}.log", **env)
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
