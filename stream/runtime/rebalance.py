"""What keeps the worker's batches out of a rebalance (see :class:`RebalanceBarrier`)."""

from __future__ import annotations

import asyncio
import logging

__all__ = ["RebalanceBarrier"]

log = logging.getLogger(__name__)


class RebalanceBarrier:
    """Keeps the worker's batches out of a rebalance.

    Faust's memory store recovers a table by replaying its whole changelog into it, and
    a new owner of a partition reads the changelog up to its end when its recovery
    starts. So no batch may write a table while a rebalance runs, and every batch begun
    before it must have its records on the broker (and its offsets acknowledged) before
    this worker rejoins the group: :meth:`begin`, called when partitions are revoked,
    waits for the batch being staged and for every step in flight. Batches taken after
    that wait for :meth:`end` (tables recovered), and keep only the messages of the new
    assignment.

    >>> async def main():
    ...     barrier = RebalanceBarrier(timeout_s=1.0)
    ...     step = barrier.track(asyncio.ensure_future(asyncio.sleep(0.01, "done")))
    ...     await barrier.begin()  # returns once the step is done
    ...     closed = not barrier.quiet.is_set()
    ...     barrier.end()
    ...     return step.result(), closed, barrier.quiet.is_set()
    >>> asyncio.run(main())
    ('done', True, True)
    """

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.in_flight: set[asyncio.Future] = set()
        self._staging: asyncio.Lock | None = None
        self._quiet: asyncio.Event | None = None

    @property
    def staging(self) -> asyncio.Lock:
        """Held while a batch is staged and its table writes are sent."""
        if self._staging is None:  # created on the worker's loop
            self._staging = asyncio.Lock()
        return self._staging

    @property
    def quiet(self) -> asyncio.Event:
        """Set while no rebalance runs."""
        if self._quiet is None:
            self._quiet = asyncio.Event()
            self._quiet.set()
        return self._quiet

    def track(self, step: asyncio.Future) -> asyncio.Future:
        """Count ``step`` (a batch's scoring, publishing or acknowledging) as in flight."""
        self.in_flight.add(step)
        step.add_done_callback(self.in_flight.discard)
        return step

    async def begin(self) -> None:
        self.quiet.clear()
        async with self.staging:
            pass
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        while self.in_flight:  # a step done may have started the next (publish -> acknowledge)
            left = deadline - loop.time()
            if left <= 0:
                log.warning(
                    "rebalance: %d batch steps still running after %.1f s",
                    len(self.in_flight),
                    self.timeout_s,
                )
                return
            await asyncio.wait(set(self.in_flight), timeout=left)

    def end(self) -> None:
        self.quiet.set()
