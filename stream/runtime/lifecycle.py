"""What a worker is doing, in its log: starting, joining, assigned, recovering, ready.

An operator watching a worker that does not serve yet must tell joining the consumer
group (waiting for the broker) from recovering tables (reading changelogs, with
progress) from stuck. :class:`Lifecycle` writes one INFO line per step to the
``stream.runtime.lifecycle`` logger, each with the seconds since the process started; the worker
shows this logger at INFO while ``INTENT_LOG_LEVEL`` is WARNING or lower, so the lines
are there with the default settings and nothing else gets louder.

>>> import logging, io
>>> out = io.StringIO(); handler = logging.StreamHandler(out)
>>> log.addHandler(handler); log.setLevel(logging.INFO)
>>> life = Lifecycle("intent-worker", "box-9108", 10.0, started=0.0,
...                  clock=iter([0.5, 1.0, 4.0, 4.5, 7.0, 7.5, 8.0]).__next__)
>>> life.evicted = "faust-0.15.3-8f1c"  # the member its killed predecessor left behind
>>> life.starting()
>>> life.joining(set())
>>> life.assigned({"events": [0, 1], "intent-worker-users-changelog": [0, 1]})
>>> life.recovering(remaining=300)
>>> life.recovering(remaining=100)
>>> life.recovered()
3.5
>>> life.readiness(True, "")
>>> log.removeHandler(handler)
>>> print(out.getvalue(), end="")  # doctest: +NORMALIZE_WHITESPACE
starting: worker box-9108 of group intent-worker, session timeout 10 s (0.5 s after start)
removed member faust-0.15.3-8f1c from group intent-worker: left behind by this worker's killed
predecessor, it would have held the join until its session expired
joining group intent-worker (1.0 s after start)
assigned events partitions [0, 1] (4.0 s after start, 3.0 s after joining); recovering tables
from their changelogs
recovering tables: 0 of 300 changelog records restored (0/s) (4.5 s after start)
recovering tables: 200 of 300 changelog records restored (67/s) (7.0 s after start)
tables recovered: 300 changelog records in 3.5 s (86/s) (7.5 s after start)
ready: serving (8.0 s after start; joined in 3.0 s, recovered in 3.5 s)
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

__all__ = ["RecoveryProgress", "Lifecycle", "process_started", "log"]

log = logging.getLogger("stream.runtime.lifecycle")


def process_started() -> float:
    """``time.monotonic()`` when this process started (its age from /proc where there is one)."""
    try:
        ticks = int(open(f"/proc/{os.getpid()}/stat").read().rsplit(")", 1)[1].split()[19])
        boot_age = float(open("/proc/uptime").read().split()[0])
        return time.monotonic() - (boot_age - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.monotonic()


class Lifecycle:
    """Logs a worker's way to serving, with the seconds each step took."""

    #: Recovery progress is logged at most this often (seconds).
    PROGRESS_EVERY_S = 2.0

    def __init__(
        self,
        group: str,
        identity: str | None,
        session_timeout_s: float,
        started: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.group, self.identity, self.session_timeout_s = group, identity, session_timeout_s
        self.evicted: str | None = None  # set by the worker before it starts (stream.runtime.membership)
        self.clock = clock
        self.started = process_started() if started is None else started
        self.joining_at: float | None = None
        self.assigned_at: float | None = None
        self.recovered_at: float | None = None
        self.to_restore: int | None = None
        self._last_progress = float("-inf")
        self.ready = False

    def _since_start(self, now: float) -> str:
        return f"{now - self.started:.1f} s after start"

    def starting(self) -> None:
        worker = f"worker {self.identity}" if self.identity else "a worker"
        log.info(
            "starting: %s of group %s, session timeout %g s (%s)",
            worker,
            self.group,
            self.session_timeout_s,
            self._since_start(self.clock()),
        )
        if self.evicted:
            log.info(
                "removed member %s from group %s: left behind by this worker's killed "
                "predecessor, it would have held the join until its session expired",
                self.evicted,
                self.group,
            )

    def joining(self, revoked: Collection[Any]) -> None:
        now = self.clock()
        self.joining_at, self.assigned_at, self.recovered_at, self.to_restore = now, None, None, None
        why = f"; {len(revoked)} partitions revoked" if revoked else ""
        log.info("joining group %s (%s%s)", self.group, self._since_start(now), why)

    def assigned(self, partitions: Mapping[str, list[int]]) -> None:
        """``partitions``: topic -> partitions assigned (the first topic is the source)."""
        now = self.clock()
        self.assigned_at = now
        self._last_progress = float("-inf")
        source = next(iter(partitions), "")
        waited = f", {now - self.joining_at:.1f} s after joining" if self.joining_at is not None else ""
        log.info(
            "assigned %s partitions %s (%s%s); recovering tables from their changelogs",
            source,
            sorted(partitions.get(source, [])),
            self._since_start(now),
            waited,
        )

    def recovering(self, remaining: int) -> None:
        """Called while tables recover, with the changelog records still to read."""
        now = self.clock()
        if self.to_restore is None or remaining > self.to_restore:
            self.to_restore = remaining
        elif now - self._last_progress < self.PROGRESS_EVERY_S and remaining:
            return
        self._last_progress = now
        done = self.to_restore - remaining
        took = now - self.assigned_at if self.assigned_at is not None else 0.0
        log.info(
            "recovering tables: %d of %d changelog records restored (%s/s) (%s)",
            done,
            self.to_restore,
            f"{done / took:,.0f}" if took > 0 else "-",
            self._since_start(now),
        )

    def recovered(self) -> float:
        """The tables are recovered: logs how many records, how fast; returns the seconds."""
        now = self.clock()
        self.recovered_at = now
        took = now - self.assigned_at if self.assigned_at is not None else 0.0
        records = self.to_restore or 0
        log.info(
            "tables recovered: %d changelog records in %.1f s (%s/s) (%s)",
            records,
            took,
            f"{records / took:,.0f}" if took > 0 else "-",
            self._since_start(now),
        )
        return took

    def model_loaded(self, version: str, took_s: float) -> None:
        log.info(
            "model %s loaded and its scoring process started in %.1f s (%s)",
            version,
            took_s,
            self._since_start(self.clock()),
        )

    def readiness(self, ready: bool, why_not: str) -> None:
        """Logs a change of readiness (ready: serving; not ready: ``why_not``)."""
        if ready == self.ready:
            return
        self.ready = ready
        now = self.clock()
        if not ready:
            log.info("not ready: %s (%s)", why_not, self._since_start(now))
            return
        steps = []
        if self.joining_at is not None and self.assigned_at is not None:
            steps.append(f"joined in {self.assigned_at - self.joining_at:.1f} s")
        if self.assigned_at is not None and self.recovered_at is not None:
            steps.append(f"recovered in {self.recovered_at - self.assigned_at:.1f} s")
        log.info("ready: serving (%s%s)", self._since_start(now), "; " + ", ".join(steps) if steps else "")


class RecoveryProgress:
    """Logs the tables' recovery (records restored / to restore) on ``lifecycle`` until
    they are recovered: wraps the Faust recovery's ``need_recovery``, which knows the
    records to restore exactly, once per recovery object, and polls between."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        self.lifecycle = lifecycle
        self._watched: Any = None  # the Faust recovery whose need_recovery reports
        self._report: asyncio.Future[None] | None = None

    async def _poll(self, recovery: Any) -> None:
        # Faust starts app timers only after the first recovery: a task of its own
        life = self.lifecycle
        while life.recovered_at is None and life.assigned_at is not None:
            if recovery.in_recovery:
                life.recovering(recovery.active_remaining_total())
            await asyncio.sleep(0.5)

    def watch(self, recovery: Any) -> None:
        """Report ``recovery`` (Faust's table recovery service) from now on."""
        if self._watched is not recovery:
            life = self.lifecycle

            def need_recovery_reported() -> bool:
                # called once the changelogs' ends and the tables' offsets are known,
                # before reading (the records to restore, exactly), then once a take of
                # records (stream.runtime.recovery_loop)
                remaining = recovery.active_remaining_total()
                life.recovering(remaining)
                return remaining > 0

            recovery.need_recovery = need_recovery_reported
            self._watched = recovery
        if self._report is None or self._report.done():
            self._report = asyncio.ensure_future(self._poll(recovery))
