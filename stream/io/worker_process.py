"""A worker as a child process, watched through its ``/metrics`` and ``/healthz``.

The demo, the bench and the integration tests all start real ``intent worker``
processes (and the bench its naive agent) this way, configured only by ``INTENT_*``
environment variables, exactly as an operator would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from urllib.parse import urlencode

from stream.config import Settings
from stream.io.broker import free_port

__all__ = ["WorkerProcess", "scrape"]


def scrape(url: str) -> dict[str, float]:
    """Sum each Prometheus sample name over its labels (enough for counters and gauges)."""
    try:
        text = urllib.request.urlopen(url, timeout=2).read().decode()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, _, value = line.rpartition(" ")
        name = name_labels.split("{")[0]
        try:
            out[name] = out.get(name, 0.0) + float(value)
        except ValueError:
            continue
    return out


class WorkerProcess:
    """``python -m stream.commands.cli worker`` (or ``module``) with ``settings`` in its environment."""

    def __init__(
        self,
        settings: Settings,
        log: Path,
        module: tuple[str, ...] = ("stream.commands.cli", "worker"),
        port: int | None = None,
        new_session: bool = False,
        env: Mapping[str, str] | None = None,
        **more_env: str,
    ) -> None:
        """``env`` and ``more_env``: INTENT_* variables over the settings' (a mapping for
        callers that build one, keywords for the rest)."""
        self.port = port or free_port()
        self.log = log
        full_env = dict(
            os.environ,
            INTENT_BOOTSTRAP=settings.bootstrap,
            INTENT_APP_ID=settings.app_id,
            INTENT_TOPIC_EVENTS=settings.topic_events,
            INTENT_TOPIC_DLQ=settings.topic_dlq,
            INTENT_TOPIC_INTENTS=settings.topic_intents,
            INTENT_TOPIC_ITEM_EVENTS=settings.topic_item_events,
            INTENT_TOPIC_COUPONS=settings.topic_coupons,
            INTENT_MODEL_DIR=str(settings.model_dir),
            INTENT_METRICS_PORT=str(self.port),
            INTENT_DATA_DIR=str(settings.data_dir),
            INTENT_PARTITIONS=str(settings.partitions),
            # a short session, so a killed peer's partitions move on within seconds
            INTENT_SESSION_TIMEOUT_S="6",
        )
        full_env.update(env or {})
        full_env.update(more_env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", *module],
            env=full_env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=new_session,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def metrics(self, names: Collection[str] = ()) -> dict[str, float]:
        """The worker's metrics; with ``names``, only those samples' (a cheaper scrape)."""
        query = "?" + urlencode([("name[]", n) for n in names]) if names else ""
        return scrape(self.url + "/metrics" + query)

    def health(self) -> int:
        """HTTP status of ``/healthz`` (-1 when nothing answers)."""
        try:
            return urllib.request.urlopen(self.url + "/healthz", timeout=1).status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return -1

    def _check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"worker exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")

    def wait(
        self, pred: Callable[[dict[str, float]], bool], timeout: float, names: Collection[str] = ()
    ) -> dict[str, float]:
        """Poll the metrics (``names``: only those) until ``pred`` holds (returns them) or
        ``timeout`` (returns the last)."""
        deadline = time.monotonic() + timeout
        m: dict[str, float] = {}
        while time.monotonic() < deadline:
            self._check_alive()
            m = self.metrics(names)
            if m and pred(m):
                return m
            time.sleep(0.05)
        return m

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if self.health() == 200:
                return
            time.sleep(0.2)
        raise TimeoutError(f"worker not ready: {self.log.read_text()[-2000:]}")

    def rss_mb(self) -> float:
        """Resident size of the worker and its children (the scoring process)."""
        total, pending = 0.0, [self.proc.pid]
        while pending:
            pid = pending.pop()
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:  # gone meanwhile
                continue
            total += next(
                (int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:")),
                0.0,
            )
            pending.extend(int(c) for c in children)
        return total if total else float("nan")

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
