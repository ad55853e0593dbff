"""The files `docker compose up` runs on, checked offline: compose, Prometheus, Grafana."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest
import yaml

from stream.commands.report import DASHBOARD, load_panels
from stream.config import REPO_ROOT, Settings
from stream.monitoring.archive_metrics import ArchiveMetrics
from stream.monitoring.metrics import WorkerMetrics

DEPLOY = REPO_ROOT / "deploy"
COMPOSE = REPO_ROOT / "docker-compose.yml"


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (scripts/test.sh installs it with apt-get)")
    return path


def exported_metric_names() -> set[str]:
    """Every sample name the worker's and the archiver's /metrics can show."""
    names: set[str] = set()
    families = [*WorkerMetrics().registry.collect(), *ArchiveMetrics().registry.collect()]
    for family in families:
        base = family.name
        names |= {
            "counter": {f"{base}_total", f"{base}_created"},
            "histogram": {f"{base}_bucket", f"{base}_count", f"{base}_sum", f"{base}_created"},
            "info": {f"{base}_info"},
        }.get(family.type, {base})
    return names


def metrics_in(expr: str) -> set[str]:
    return set(re.findall(r"\bintent_[a-z0-9_]+", expr))


def compose_config() -> dict:
    """The compose file as ``docker-compose config`` resolves it (anchors merged, paths
    absolute, ``${INTENT_SAMPLE_DATA}`` at its default)."""
    env = {k: v for k, v in os.environ.items() if k != "INTENT_SAMPLE_DATA"}
    out = subprocess.run(
        [tool("docker-compose"), "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    return yaml.safe_load(out.stdout)


INTENT_SERVICES = ("train", "worker", "replayer", "coupons", "archive")


def test_docker_compose_config_is_valid_and_builds_one_image_for_every_intent_service() -> None:
    services = compose_config()["services"]
    assert {
        "kafka",
        "kafka-init",
        "train",
        "worker",
        "replayer",
        "prometheus",
        "alertmanager",
        "grafana",
        "coupons",
        "archive",
    } <= set(services)
    assert len({(services[n]["image"], str(services[n]["build"])) for n in INTENT_SERVICES}) == 1
    assert services["worker"]["build"]["dockerfile"] == "deploy/Dockerfile"


def test_long_running_services_restart_and_the_worker_scales() -> None:
    services = compose_config()["services"]
    for name in ("kafka", "worker", "coupons", "archive", "prometheus", "alertmanager", "grafana"):
        assert services[name].get("restart") == "unless-stopped", name
    for name in ("train", "kafka-init", "replayer"):  # one-shot: a failure is reported, not looped
        assert services[name].get("restart", "no") == "no", name
    worker = services["worker"]
    assert "ports" not in worker and "container_name" not in worker  # `--scale worker=N`
    assert "healthcheck" not in worker  # the image's HEALTHCHECK
    for name in ("train", "replayer", "coupons"):
        assert services[name]["healthcheck"]["test"] == ["NONE"], name
    assert services["replayer"]["depends_on"]["worker"]["condition"] == "service_healthy"


def test_workers_keep_rocksdb_tables_in_a_volume_of_their_own() -> None:
    """A restarted worker container reads only the changelogs' tail: its RocksDB tables live
    in a volume, under a folder per worker (the image's user owns the mount point)."""
    compose = compose_config()
    worker = compose["services"]["worker"]
    env = worker["environment"]
    assert env["INTENT_STORE"] == "rocksdb://" and int(env["INTENT_STANDBY_REPLICAS"]) >= 1
    mounts = {v.split(":")[1]: v.split(":")[0] for v in worker["volumes"]}
    assert mounts[env["INTENT_DATA_DIR"]] in compose["volumes"]
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "chown intent:intent /models /coupons " + env["INTENT_DATA_DIR"] in dockerfile


def test_kafka_listens_for_the_host_and_the_containers_use_the_internal_listener() -> None:
    services = compose_config()["services"]
    kafka = services["kafka"]["environment"]
    advertised = dict(reversed(l.split("://")) for l in kafka["KAFKA_ADVERTISED_LISTENERS"].split(","))
    assert advertised["localhost:9092"] == "HOST" and advertised["kafka:19092"] == "INTERNAL"
    assert kafka["KAFKA_INTER_BROKER_LISTENER_NAME"] == "INTERNAL"
    assert services["kafka"]["ports"] == ["127.0.0.1:9092:9092/tcp"]  # the host only, not its network
    for name in ("worker", "replayer", "coupons", "archive"):
        assert services[name]["environment"]["INTENT_BOOTSTRAP"] == "kafka:19092", name
    assert "kafka:19092" in services["kafka-init"]["command"][0]
    # real Kafka answers a waiting fetch when data arrives: the embedded broker's 10 ms
    # would only cost fetch requests
    assert int(services["worker"]["environment"]["INTENT_FETCH_MAX_WAIT_MS"]) >= 100


def test_dockerfile_is_multi_stage_non_root_with_dependencies_before_the_source() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    assert len(stages) == 2
    build, final = stages
    assert "build-essential" in build and "build-essential" not in final
    assert build.index("-r requirements.txt") < build.index("COPY stream")
    assert re.search(r"^USER (?!root)\w+", final, flags=re.M)
    assert "HEALTHCHECK" in final and "/healthz" in final and "INTENT_METRICS_PORT" in final
    # only what the build copies enters the build context
    ignore = [
        l
        for l in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if l.strip() and not l.startswith("#")
    ]
    assert ignore[0] == "*"
    copied = {src for m in re.findall(r"^COPY (?!--from)(.+)\s+\S+$", build, flags=re.M) for src in m.split()}
    assert copied == {l[1:].rstrip("/") for l in ignore if l.startswith("!")}


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
    for args in (
        ["check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")],
        ["check", "rules", str(DEPLOY / "prometheus" / "alerts.yml")],
    ):
        out = subprocess.run([promtool, *args], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr


def test_amtool_accepts_the_alertmanager_config_and_prometheus_sends_alerts_to_it() -> None:
    config = DEPLOY / "alertmanager" / "alertmanager.yml"
    out = subprocess.run([tool("amtool"), "check-config", str(config)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert yaml.safe_load(config.read_text())["route"]["receiver"]
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (target,) = prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    compose = compose_config()["services"]["alertmanager"]
    assert target == "alertmanager:9093"
    assert f"{config}:/etc/alertmanager/alertmanager.yml:ro" in compose["volumes"]


def test_alert_rules_cover_the_budgets_and_use_real_metrics() -> None:
    groups = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"]
    rules = [r for g in groups for r in g["rules"]]
    names = {r["alert"] for r in rules}
    assert {
        "IntentLatencyP99OverBudget",
        "IntentConsumerLagGrowing",
        "IntentDlqSpike",
        "IntentPrecisionCollapse",
        "IntentCompletenessBelowTarget",
        "IntentValidityBelowTarget",
        "IntentFreshnessOverTarget",
        "IntentDriftDetected",
    } <= names
    assert {
        "IntentWorkerDown",
        "IntentNoWorkerRunning",
        "IntentScoringFailures",
        "IntentModelReloadFailed",
        "IntentIntentsStopped",
    } <= names
    known = exported_metric_names()
    for r in rules:
        used = metrics_in(r["expr"])
        if re.search(r"\bup\{", r["expr"]):  # Prometheus's own scrape health, of a job we scrape
            assert re.search(r'job="(intent-worker|intent-archive)"', r["expr"]), r["alert"]
        else:
            assert used, r["alert"]
        assert used <= known, r["alert"]


def test_dashboard_has_the_panels_and_every_query_names_an_exported_metric() -> None:
    dash = orjson.loads(DASHBOARD.read_bytes())
    assert dash["uid"] and dash["panels"]
    panels = load_panels()
    titles = {p.title for p in panels}
    assert {
        "Events/s by type",
        "Intents/s",
        "Event-to-intent latency",
        "Scoring time per batch",
        "Batch size",
        "DLQ by reason",
        "Consumer lag per partition",
        "Users in state",
        "Live precision / recall / F1",
        "Model version",
        "Archive: events written / skipped",
        "Archive: lag per partition",
        "Archive: seconds since the last file",
    } <= titles
    known = exported_metric_names()
    for p in panels:
        assert p.targets, p.title
        for expr, _ in p.targets:
            used = metrics_in(expr)
            assert used and used <= known, f"{p.title}: {used - known} not exported by the worker or archive"
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


def test_prometheus_finds_every_worker_replica_by_dns() -> None:
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (job,) = [j for j in prom["scrape_configs"] if "dns_sd_configs" in j]
    (sd,) = job["dns_sd_configs"]
    assert job["job_name"] == "intent-worker"  # the alerts' up{job="intent-worker"}
    assert (sd["names"], sd["type"], sd["port"]) == (["worker"], "A", Settings().metrics_port)
    assert "worker" in compose_config()["services"]
    assert Path(DEPLOY / "prometheus" / prom["rule_files"][0]).exists()


def test_the_archive_runs_in_its_own_service_with_a_volume_a_health_check_and_a_scrape_job() -> None:
    """``intent archive`` in compose: its Parquet files in a volume the image's user owns,
    healthy on its own metrics port, scraped by Prometheus under job intent-archive."""
    compose = compose_config()
    archive = compose["services"]["archive"]
    env, port = archive["environment"], Settings().archive_metrics_port
    assert archive["command"] == ["archive"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in archive["volumes"]}
    assert mounts[env["INTENT_ARCHIVE_DIR"]] in compose["volumes"]
    assert env["INTENT_ARCHIVE_DIR"] == "/archive"
    assert "chown intent:intent /models /coupons /state /archive" in (DEPLOY / "Dockerfile").read_text()
    assert f"127.0.0.1:{port}/healthz" in " ".join(archive["healthcheck"]["test"])
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (job,) = [j for j in prom["scrape_configs"] if j["job_name"] == "intent-archive"]
    assert job["static_configs"][0]["targets"] == [f"archive:{port}"]
