"""The registry over Kafka: two workers with their own data directories and their own
registry copies, on the embedded broker, both follow a promotion made elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream.commands.cli import main
from stream.io.worker_process import WorkerProcess
from tests.conftest import add_variant, settings_for, wait_for

pytestmark = pytest.mark.integration


def served(worker: WorkerProcess) -> str | None:
    import urllib.request

    for line in urllib.request.urlopen(worker.url + "/metrics", timeout=5).read().decode().splitlines():
        if line.startswith("intent_model_info{"):
            return line.split('version="')[1].split('"')[0]
    return None


def test_two_workers_without_a_shared_filesystem_follow_a_promotion(
    broker, quick_model, tmp_path: Path, monkeypatch, capsys
) -> None:
    publisher = tmp_path / "publisher"  # the registry training writes to
    first = add_variant(quick_model[0], publisher, "v1")
    second = add_variant(quick_model[0], publisher, "v2", forest_shift=0.5)
    monkeypatch.setenv("INTENT_BOOTSTRAP", broker.bootstrap)
    monkeypatch.setenv("INTENT_MODEL_SYNC", "kafka")
    assert main(["models", "promote", first, "--registry", str(publisher)]) == 0
    base = settings_for(broker)
    workers = [
        WorkerProcess(
            base.__class__(
                **{**vars(base), "model_dir": tmp_path / f"copy{k}", "data_dir": tmp_path / f"data{k}"}
            ),
            tmp_path / f"w{k}.log",
            INTENT_MODEL_SYNC="kafka",
            INTENT_MODEL_POLL_S="0.3",
            INTENT_SESSION_TIMEOUT_S="6",
        )
        for k in range(2)
    ]
    try:
        for w in workers:
            w.wait_ready(120)
        assert [served(w) for w in workers] == [first, first]
        assert main(["models", "promote", second, "--registry", str(publisher)]) == 0
        for w in workers:
            wait_for(lambda w=w: served(w) == second, timeout=90, what="the promotion")
        for k in range(2):  # each worker's own copy, verified on arrival
            assert (tmp_path / f"copy{k}" / "current").read_text().count(second) == 1
            assert sorted(p.name for p in (tmp_path / f"copy{k}" / "versions").iterdir()) == [first, second]
    finally:
        for w in workers:
            w.stop()
