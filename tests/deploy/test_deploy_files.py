"""The files `docker compose up` runs on, checked offline: compose, Prometheus, Grafana."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest
import yaml

from stream.config import REPO_ROOT, Settings
from stream.metrics import WorkerMetrics
from stream.run_report import DASHBOARD, load_panels

DEPLOY = REPO_ROOT / "deploy"
COMPOSE = REPO_ROOT / "docker-compose.yml"


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (scripts/test.sh installs it with apt-get)")
    return path


def exported_metric_names() -> set[str]:
    """Every sample name the worker's /metrics can show."""
    names: set[str] = set()
    for family in WorkerMetrics().registry.collect():
        base = family.name
        names |= {
            "counter": {f"{base}_total", f"{base}_created"},
            "histogram": {f"{base}_bucket", f"{base}_count", f"{base}_sum", f"{base}_created"},
            "info": {f"{base}_info"},
        }.get(family.type, {base})
    return names


def metrics_in(expr: str) -> set[str]:
    return set(re.findall(r"\bintent_[a-z0-9_]+", expr))


def test_docker_compose_config_is_valid() -> None:
    out = subprocess.run([tool("docker-compose"), "-f", str(COMPOSE), "config"], capture_output=True,
                         text=True, cwd=REPO_ROOT)
    assert out.returncode == 0, out.stderr
    services = yaml.safe_load(out.stdout)["services"]
    assert {"kafka", "kafka-init", "train", "worker", "replayer", "prometheus", "grafana",
            "coupons"} <= set(services)


def test_every_file_compose_mounts_exists_and_topics_match_the_settings() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    for name, svc in compose["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")) and not source.startswith("../shared"):
                assert (REPO_ROOT / source).exists(), f"{name} mounts missing {source}"
    init = " ".join(compose["services"]["kafka-init"]["command"])
    created = set(re.search(r"for t in ([^;]+);", init).group(1).split())
    assert created == set(Settings().topics.names())
    assert f"--partitions {Settings().partitions}" in init
    assert compose["services"]["worker"]["environment"]["INTENT_PARTITIONS"] == Settings().partitions


def test_promtool_accepts_the_config_and_the_rules() -> None:
    promtool = tool("promtool")
    for args in (["check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")],
                 ["check", "rules", str(DEPLOY / "prometheus" / "alerts.yml")]):
        out = subprocess.run([promtool, *args], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr


def test_alert_rules_cover_the_budgets_and_use_real_metrics() -> None:
    groups = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"]
    rules = [r for g in groups for r in g["rules"]]
    names = {r["alert"] for r in rules}
    assert {"IntentLatencyP99OverBudget", "IntentConsumerLagGrowing", "IntentDlqSpike",
            "IntentPrecisionCollapse", "IntentCompletenessBelowTarget", "IntentValidityBelowTarget",
            "IntentFreshnessOverTarget", "IntentDriftDetected"} <= names
    known = exported_metric_names()
    for r in rules:
        assert metrics_in(r["expr"]) and metrics_in(r["expr"]) <= known, r["alert"]


def test_dashboard_has_the_panels_and_every_query_names_an_exported_metric() -> None:
    dash = orjson.loads(DASHBOARD.read_bytes())
    assert dash["uid"] and dash["panels"]
    panels = load_panels()
    titles = {p.title for p in panels}
    assert {"Events/s by type", "Intents/s", "Event-to-intent latency", "Scoring time per batch",
            "Batch size", "DLQ by reason", "Consumer lag per partition", "Users in state",
            "Live precision / recall / F1", "Model version"} <= titles
    known = exported_metric_names()
    for p in panels:
        assert p.targets, p.title
        for expr, _ in p.targets:
            used = metrics_in(expr)
            assert used and used <= known, f"{p.title}: {used - known} not exported by the worker"
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))


def test_grafana_provisioning_points_at_prometheus_and_the_dashboard_folder() -> None:
    ds = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    (source,) = ds["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    dash = orjson.loads(DASHBOARD.read_bytes())
    uids = {t["datasource"]["uid"] for p in dash["panels"] for t in p["targets"]}
    assert uids == {source["uid"]}
    prov = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards" / "intent.yml").read_text())
    compose = yaml.safe_load(COMPOSE.read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./deploy/grafana/dashboards:{prov['providers'][0]['options']['path']}:ro" in mounts


def test_prometheus_scrapes_the_workers_metrics_port() -> None:
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = prom["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == [f"worker:{Settings().metrics_port}"]
    assert Path(DEPLOY / "prometheus" / prom["rule_files"][0]).exists()
