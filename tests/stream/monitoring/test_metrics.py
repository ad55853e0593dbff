import urllib.error
import urllib.request

import pytest

from stream.monitoring.metrics import WorkerMetrics
from stream.monitoring.metrics_server import MetricsServer


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""


def test_serves_only_metrics_and_health_on_the_configured_address() -> None:
    m = WorkerMetrics()
    server = MetricsServer(m, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        assert server.httpd.server_address[0] == "127.0.0.1"
        status, body = get(base + "/metrics")
        assert status == 200 and "intent_events_total" in body and "intent_dlq_total" in body
        assert get(base + "/healthz")[0] == 503
        m.ready.set(1)
        assert get(base + "/healthz")[0] == 200
        for path in ("/", "/admin", "/metrics/../etc/passwd", "/debug"):
            assert get(base + path)[0] == 404
    finally:
        server.stop()


def test_a_scrape_can_ask_for_named_samples_only() -> None:
    m = WorkerMetrics()
    m.events.labels(type="view").inc(3)
    server = MetricsServer(m, "127.0.0.1", 0).start()
    try:
        status, body = get(f"http://127.0.0.1:{server.port}/metrics?name[]=intent_events_total")
    finally:
        server.stop()
    samples = [line for line in body.splitlines() if not line.startswith("#")]
    assert status == 200 and samples == ['intent_events_total{type="view"} 3.0']


@pytest.mark.parametrize(
    "name",
    [
        "intent_event_to_intent_latency_seconds",
        "intent_scoring_seconds",
        "intent_consumer_lag",
        "intent_live_metric",
        "intent_model_info",
    ],
)
def test_metric_names_follow_conventions(name: str) -> None:
    assert name in WorkerMetrics().render().decode()
