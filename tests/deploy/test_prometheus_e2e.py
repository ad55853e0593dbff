"""A real Prometheus server scrapes a real worker; the figures it reports are checked
through its HTTP API, and ``intent report`` renders the dashboard from it."""

from __future__ import annotations

import asyncio
import math
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from stream.commands.cli import main
from stream.commands.report import PrometheusAPI
from stream.io.broker import free_port
from stream.io.replay import replay_events
from tests.conftest import settings_for, wait_for

pytestmark = pytest.mark.integration

N = 1500
ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"


class PrometheusServer:
    """``prometheus`` (Debian's package) scraping ``target`` every second."""

    def __init__(self, target: str, workdir: Path) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.fail("prometheus is not installed (scripts/test.sh installs it with apt-get)")
        self.port = free_port()
        config = workdir / "prometheus.yml"
        shutil.copy(ALERTS, workdir / "alerts.yml")
        config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": ["alerts.yml"],
                    "scrape_configs": [
                        {"job_name": "intent-worker", "static_configs": [{"targets": [target]}]}
                    ],
                }
            )
        )
        self.log = (workdir / "prometheus.log").open("wb")
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = PrometheusAPI(self.url)

    def ready(self) -> bool:
        try:
            return urllib.request.urlopen(self.url + "/-/ready", timeout=1).status == 200
        except OSError:
            return False

    def value(self, expr: str) -> float | None:
        result = self.api.query(expr)
        return float(result[0]["value"][1]) if result else None

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus's interpolation over cumulative ``(le, count)`` buckets."""
    buckets = sorted(buckets)
    total = buckets[-1][1]
    rank = q * total
    lower, below = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if math.isinf(le):
                return lower
            return lower + (le - lower) * (rank - below) / (count - below)
        lower, below = le, count
    return lower


def ingest_buckets(metrics_text: str) -> list[tuple[float, float]]:
    out = []
    for line in metrics_text.splitlines():
        if line.startswith("intent_event_to_intent_latency_seconds_bucket") and 'basis="ingest"' in line:
            le = line.split('le="')[1].split('"')[0]
            out.append((float("inf") if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
    return out


def test_prometheus_sees_the_workers_counters_and_latency_quantile(
    broker, start_worker, jdata_events, tmp_path, capsys
) -> None:
    s = settings_for(broker)
    # a low threshold: what is counted here is every published intent, however many the
    # model's own threshold lets through in a short replay (it may be none)
    worker = start_worker(INTENT_THRESHOLD="0.01")
    worker.wait_ready()
    prom = PrometheusServer(f"127.0.0.1:{worker.port}", tmp_path)
    try:
        wait_for(prom.ready, timeout=30, what="prometheus ready")
        wait_for(lambda: prom.value('up{job="intent-worker"}') == 1, timeout=30, what="first scrape")
        asyncio.run(replay_events(jdata_events[:N], s))
        wait_for(
            lambda: worker.metrics().get("intent_events_total", 0) >= N,
            timeout=120,
            what="worker to process the replay",
        )
        time.sleep(3)  # intents of the last batch; then the counters stand still
        text = urllib.request.urlopen(worker.url + "/metrics", timeout=2).read().decode()
        buckets = ingest_buckets(text)
        intents = worker.metrics()["intent_intents_published_total"]
        assert intents > 0 and buckets[-1][1] == intents
        # Prometheus's latest scrape must hold exactly the worker's figures
        wait_for(
            lambda: prom.value("sum(intent_intents_published_total)") == intents,
            timeout=20,
            what="prometheus to scrape the final counters",
        )
        assert prom.value("sum(intent_events_total)") == N
        by_type = {
            r["metric"]["type"]: float(r["value"][1])
            for r in prom.api.query("sum by (type) (intent_events_total)")
        }
        assert by_type == {t: float(sum(e.type == t for e in jdata_events[:N])) for t in by_type}
        for q in (0.5, 0.99):
            got = prom.value(
                f"histogram_quantile({q}, sum by (le) "
                f'(intent_event_to_intent_latency_seconds_bucket{{basis="ingest"}}))'
            )
            assert got == pytest.approx(histogram_quantile(q, buckets), rel=1e-9)
        assert {"IntentLatencyP99OverBudget", "IntentDlqSpike"} <= set(prom.api.rules())

        png = tmp_path / "report.png"
        assert main(["report", "--prometheus", prom.url, "--out", str(png), "--minutes", "2"]) == 0
        out = capsys.readouterr().out
        assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
        users = prom.value("sum(intent_users_in_state)")
        assert users == worker.metrics()["intent_users_in_state"] > 0
        assert f"Users in state: users: {users:.4g}" in out
        assert "Model version:" in out and "no data" not in out.split("Model version:")[1].splitlines()[0]
    finally:
        prom.stop()
