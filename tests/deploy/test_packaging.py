"""The project installed from its wheel, not from the source tree: ``intent report`` finds
the dashboard it ships, and default paths do not point into site-packages.

The wheel is built from a copy of the tree and installed without dependencies into a
fresh virtual environment; the dependencies come from this environment's
site-packages, added as a plain path (so its editable install of intent is not active).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import threading
import urllib.parse
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from setuptools import find_packages

from stream.config import REPO_ROOT

SOURCES = ("pyproject.toml", "README.md", "constraints.txt", "stream", "models", "training", "deploy")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    for name in SOURCES:
        path = REPO_ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(path, src / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(root / "dist"),
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (built,) = (root / "dist").glob("intent-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path) -> Path:
    """A fresh virtual environment with the wheel installed; returns its bin directory."""
    env = wheel.parent.parent / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=60)
    (site,) = env.glob("lib/python*/site-packages")
    (site / "project-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(env / "bin" / "python"),
            "install",
            "-q",
            "--no-deps",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return env / "bin"


class FakePrometheus(BaseHTTPRequestHandler):
    """Answers every query with one series: the value 1, then 2."""

    def do_GET(self) -> None:
        url = urllib.parse.urlparse(self.path)
        params = urllib.parse.parse_qs(url.query)
        if url.path == "/api/v1/query_range":
            end = float(params["end"][0])
            result = [{"metric": {"type": "view"}, "values": [[end - 60, "1"], [end, "2"]]}]
            data = {"resultType": "matrix", "result": result}
        elif url.path == "/api/v1/query":
            data = {"resultType": "vector", "result": [{"metric": {"version": "v-test"}, "value": [0, "1"]}]}
        else:
            self.send_error(404)
            return
        body = json.dumps({"status": "success", "data": data}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def prometheus() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakePrometheus)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(venv / args[0]), *args[1:]], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_the_wheel_carries_every_package_and_the_deploy_files(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in find_packages(str(REPO_ROOT), include=["stream*", "models*", "training*"]):
        assert f"{package.replace('.', '/')}/__init__.py" in names, f"{package} is not in the wheel"
    assert {
        "stream/deploy/grafana/dashboards/intent.json",
        "stream/deploy/prometheus/alerts.yml",
        "stream/deploy/prometheus/prometheus.yml",
        "stream/deploy/alertmanager/alertmanager.yml",
    } <= names


def test_intent_report_runs_from_the_installed_wheel(venv: Path, prometheus: str, tmp_path: Path) -> None:
    where = run(
        venv,
        "python",
        "-c",
        "import stream.commands.report as r; print(r.__file__); print(r.DASHBOARD)",
        cwd=tmp_path,
    )
    module, dashboard = where.stdout.split()
    assert module.startswith(str(venv.parent)) and dashboard.startswith(str(venv.parent)), where.stderr
    assert run(venv, "intent", "report", "--help", cwd=tmp_path).returncode == 0
    proc = run(
        venv,
        "intent",
        "report",
        "--prometheus",
        prometheus,
        "--out",
        "run.png",
        "--minutes",
        "5",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "run.png").read_bytes()[:4] == b"\x89PNG"
    assert "Events/s by type: view: 2" in proc.stdout and "Model version: v-test" in proc.stdout


def test_default_paths_of_an_installed_package_are_relative_to_the_working_directory(
    venv: Path, tmp_path: Path
) -> None:
    proc = run(
        venv,
        "python",
        "-c",
        "from stream.config import Settings as S; s = S(); print(s.model_dir, s.sample_data, s.archive_dir)",
        cwd=tmp_path,
    )
    assert proc.stdout.split() == [
        "artifacts/registry",
        "../shared/data/jdata-2016-sample",
        "data/archive",
    ], proc.stderr
