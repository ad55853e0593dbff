"""Each stage of ``intent train`` timed, with the process's peak memory after it.

>>> lines = []
>>> stage = Stages(lines.append)
>>> with stage("fit"):
...     pass
>>> stage.rows[0]["stage"], lines[0].startswith("  fit: 0.0s")
('fit', True)
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Stages", "peak_rss_mb"]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Stages:
    """Times each stage and records the process's peak memory after it."""

    def __init__(self, log: Callable[[str], None], rename: Callable[[str], str] | None = None) -> None:
        self.log = log
        self.rename = rename  # a stage's name as recorded (e.g. ``intent train --serve``'s few stages)
        self.rows: list[dict[str, Any]] = []
        self.t0 = time.time()

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t = time.time()
        yield
        name = self.rename(name) if self.rename else name
        row = {"stage": name, "seconds": round(time.time() - t, 1), "peak_rss_mb": round(peak_rss_mb())}
        self.rows.append(row)
        self.log(f"  {name}: {row['seconds']:.1f}s (peak RSS {row['peak_rss_mb']:,} MB)")

    def total(self) -> float:
        return round(time.time() - self.t0, 1)
