"""The model scored in a child process, so it never waits for the event loop's GIL.

Measured on the 2-core box: a batch of about 100 pairs costs 10 ms when the model runs
alone, 54 ms on a thread beside the busy event loop (the GIL is handed back and forth
at every Python-level step of the forests and the network), and 10 ms again in a child
process. :class:`ScoringProcess` implements :class:`~models.scorer.Scorer`: ``score``
sends the batch's arrays through a pipe and waits (the GIL released) for the answer;
``submit`` does the same from the event loop without a thread, and returns a future
that the loop settles when the answer is in the pipe. That matters on a busy worker: a
thread that must win the GIL back from the event loop to read the answer waits up to
the interpreter's switch interval (5 ms) each time, which made a 10 ms batch take 30 ms
in the worker.

Submitted calls queue: the child scores one batch at a time, and the next queued batch
is sent from the callback that reads the answer, so the child never waits for the event
loop to come round to the caller (at 5,000 events/s that wait, a few hops behind the
loop's other work, left the child idle 24 ms between batches of 40 ms), and the caller
awaits the future itself, one hop after the answer. A batch is only ever sent to an idle
child, which reads it at once: the send never blocks the loop for long. A caller that
gives up leaves its answer to be read and dropped, so answers and calls stay paired.

The child loads and verifies the artifact itself and must find the model version the
worker verified (a newer artifact renamed in meanwhile is refused, and the next poll
picks it up). A child that does not answer within ``timeout_s`` is killed and started
again, and the call (with those queued behind it) raises, so the worker's
retry-then-DLQ path handles a hung model; calls submitted meanwhile wait for the new
child.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing as mp
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.scorer import Scores

__all__ = ["ScoringProcess", "ScoringProcessError"]

log = logging.getLogger(__name__)


class ScoringProcessError(RuntimeError):
    """The child could not load the model, or failed or hung while scoring."""


def _load(model_dir: str, expected_version: str) -> Any:
    from models.artifact import load_artifact

    loaded = load_artifact(model_dir)
    if loaded.scorer.model_version != expected_version:
        raise ScoringProcessError(f"found model {loaded.scorer.model_version}, expected {expected_version}")
    return loaded


def _serve(
    model_dir: str, expected_version: str, threads: int, conn: Any, challenger: tuple[str, str] | None = None
) -> None:
    """The child: load the artifact (and the challenger's, to score beside it: see
    :mod:`models.shadow`), then answer ``(U, I, sizes)`` until ``None``."""
    try:
        import torch

        from models.shadow import ShadowScorer

        torch.set_num_threads(threads)
        loaded = _load(model_dir, expected_version)
        scorer, spec = loaded.scorer, loaded.spec
        if challenger is not None:
            scorer = ShadowScorer(scorer, _load(*challenger).scorer)
        # warm up (numba's and torch's first calls are slow) before saying ready
        scorer.score(np.zeros((1, spec.user_dim), np.float32), np.zeros((1, spec.item_dim), np.float32), [1])
        conn.send(("ready", scorer.model_version))
    except Exception as exc:  # reported to the parent, which refuses the model
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        try:
            s = scorer.score(*request)
            shadow = s.challenger
            extra = (
                () if shadow is None else ((shadow.probability, shadow.resnet, shadow.forest), s.challenger_s)
            )
            conn.send(("ok", (s.probability, s.resnet, s.forest, *extra)))
        except Exception as exc:  # one bad batch must not end the child
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


def _scores(payload: tuple[Any, ...]) -> Scores:
    """The child's answer: the champion's three arrays, then the challenger's and its
    seconds when it has one."""
    if len(payload) == 3:
        return Scores(*payload)
    return Scores(*payload[:3], challenger=Scores(*payload[3]), challenger_s=float(payload[4]))


@dataclass
class _Call:
    request: tuple[np.ndarray, np.ndarray, list[int]]
    answer: asyncio.Future


class ScoringProcess:
    """A :class:`~models.scorer.Scorer` whose model lives in a child process.

    Use it from threads (:meth:`score`) or from one event loop (:meth:`submit`,
    :meth:`score_async`), not from both at once."""

    def __init__(
        self,
        model_dir: Path,
        model_version: str,
        threads: int = 1,
        timeout_s: float = 10.0,
        start_timeout_s: float = 120.0,
        challenger: tuple[Path, str] | None = None,
    ) -> None:
        """``challenger``: (artifact directory, version) of a model to shadow-score beside it."""
        self.model_dir, self.expected_version = str(model_dir), model_version
        self.challenger = None if challenger is None else (str(challenger[0]), challenger[1])
        self.challenger_version = None if challenger is None else challenger[1]
        self.threads, self.timeout_s, self.start_timeout_s = threads, timeout_s, start_timeout_s
        self._lock = threading.Lock()
        self._replacing: asyncio.Future | None = None  # a new child starting for the async calls
        self._queue: deque[_Call] = deque()  # async calls not yet sent
        self._in_child: _Call | None = None  # the async call the child is scoring
        self._deadline: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # set while async calls are pending
        self._broken = False  # the child failed or hung under an async call: replace it first
        self._start()

    def _start(self) -> None:
        ctx = mp.get_context("spawn")  # the worker has threads: never fork it
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_serve,
            name="intent-scorer",
            daemon=True,
            args=(self.model_dir, self.expected_version, self.threads, child, self.challenger),
        )
        self._proc.start()
        child.close()
        if not self._conn.poll(self.start_timeout_s):
            self._kill()
            raise ScoringProcessError(f"scoring process did not start within {self.start_timeout_s}s")
        kind, payload = self._conn.recv()
        if kind != "ready":
            self._kill()
            raise ScoringProcessError(f"scoring process refused the model: {payload}")
        self.model_version = payload

    def _kill(self) -> None:
        self._proc.kill()
        self._proc.join(5)
        self._conn.close()

    def _respawn(self, why: str) -> None:
        log.warning("scoring process %s: restarting it", why)
        self._kill()
        self._start()

    def _restart(self, why: str) -> None:
        """Replace the child, then fail the call in hand (the worker retries it)."""
        self._respawn(why)
        self._broken = False
        raise ScoringProcessError(f"scoring process {why} (restarted)")

    def score(self, U: np.ndarray, I: np.ndarray, sizes: Sequence[int]) -> Scores:
        with self._lock:
            try:
                self._conn.send((U, I, list(sizes)))
                if not self._conn.poll(self.timeout_s):
                    self._restart(f"hung for {self.timeout_s:.1f}s")
                kind, payload = self._conn.recv()
            except (EOFError, OSError) as exc:
                self._restart(f"died ({exc!r})")
        if kind != "ok":
            raise ScoringProcessError(payload)
        return _scores(payload)

    def submit(self, U: np.ndarray, I: np.ndarray, sizes: Sequence[int]) -> asyncio.Future[Scores]:
        """Queue a call from the event loop; the future gets its :class:`Scores` or a
        :class:`ScoringProcessError`. Cancel the future to give the call up: a queued
        call is then skipped, and the answer to a sent one is read and dropped."""
        loop = asyncio.get_running_loop()
        call = _Call((U, I, list(sizes)), loop.create_future())
        self._queue.append(call)
        if self._broken:
            if self._replacing is None:  # a failed child is replaced once, off the loop
                self._replacing = loop.run_in_executor(None, self._replace)
                self._replacing.add_done_callback(lambda done: self._replaced(loop, done))
        elif self._in_child is None:
            self._send_next(loop)
        return call.answer

    async def score_async(self, U: np.ndarray, I: np.ndarray, sizes: Sequence[int]) -> Scores:
        """:meth:`score` for the event loop (see :meth:`submit`)."""
        return await self.submit(U, I, sizes)

    def _replace(self) -> None:
        with self._lock:
            self._respawn("failed or hung under an earlier call")

    def _replaced(self, loop: asyncio.AbstractEventLoop, done: asyncio.Future) -> None:
        self._replacing = None
        if done.exception() is not None:  # no child: fail what waits; the next call tries again
            self._fail(f"could not be restarted ({done.exception()!r})")
            return
        self._broken = False
        self._send_next(loop)

    def _send_next(self, loop: asyncio.AbstractEventLoop) -> None:
        while self._queue and self._queue[0].answer.done():
            self._queue.popleft()  # given up before it was sent
        if not self._queue:
            if self._loop is not None:
                self._loop.remove_reader(self._conn.fileno())
                self._loop = None
            return
        call = self._queue.popleft()
        try:
            self._conn.send(call.request)
        except OSError as exc:
            self._queue.appendleft(call)
            self._fail(f"died ({exc!r})")
            return
        self._in_child = call
        if self._loop is None:
            self._loop = loop
            loop.add_reader(self._conn.fileno(), self._answered)
        self._deadline = loop.call_later(self.timeout_s, self._fail, f"hung for {self.timeout_s:.1f}s")

    def _answered(self) -> None:
        """The child answered (or its end of the pipe closed): settle the call, send the next."""
        try:
            kind, payload = self._conn.recv()
        except (EOFError, OSError) as exc:
            self._fail(f"died ({exc!r})")
            return
        call, self._in_child = self._in_child, None
        if self._deadline is not None:
            self._deadline.cancel()
        if call is not None and not call.answer.done():
            if kind == "ok":
                call.answer.set_result(_scores(payload))
            else:
                call.answer.set_exception(ScoringProcessError(payload))
        assert self._loop is not None
        self._send_next(self._loop)

    def _fail(self, why: str) -> None:
        """Fail every pending async call; the next one replaces the child first."""
        self._broken = True
        if self._deadline is not None:
            self._deadline.cancel()
        if self._loop is not None:
            self._loop.remove_reader(self._conn.fileno())
            self._loop = None
        self._proc.kill()  # a hung child stops using the CPU now
        pending = [self._in_child, *self._queue] if self._in_child is not None else list(self._queue)
        self._in_child = None
        self._queue.clear()
        for call in pending:
            if not call.answer.done():
                call.answer.set_exception(ScoringProcessError(f"scoring process {why} (restarting)"))

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    def close(self) -> None:
        """Stop the child (after the batch in flight, if any)."""
        with self._lock:
            try:
                self._conn.send(None)
            except OSError:
                pass
            self._proc.join(5)
            if self._proc.is_alive():
                self._proc.kill()
            self._conn.close()
