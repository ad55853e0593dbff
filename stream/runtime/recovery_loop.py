"""Faust's table recovery, a queue's worth of changelog records at a time.

Faust 0.15's ``Recovery._slurp_changelogs`` takes the restored records one by one: for
each, a ``wait_for`` on the queue (a task created and awaited), two debug lines formatted,
and once it is applied the whole remaining-records table recomputed twice (is recovery
over? are the standbys ready?), with a Counter over every changelog partition. A worker
restoring a million users' records spent most of its restore there: 7,300 records/s
(``intent bench --state-scale``). :func:`slurp_changelogs` is the same loop taking every
record already queued at once (up to :data:`TAKE`), applying them in the same order with
the same bookkeeping (offsets, buffers, flushes), and asking whether recovery is over once
a take. It skips a record of a partition that is neither active nor standby (Faust's loop
applied it to the previous record's table: see the ``XXX`` note there).

Only what our worker uses is kept: no transactions (so no aborted-transaction check, which
needs them), and no per-record processing-time samples (they only fed an estimate of the
seconds left in Faust's own log lines; ours log records and rate).
"""

from __future__ import annotations

import asyncio
import logging
from time import monotonic
from typing import Any

__all__ = ["slurp_changelogs", "TAKE"]

log = logging.getLogger(__name__)

#: Records taken off the queue at once, at most (the loop yields between takes).
TAKE = 4096


async def _maybe_signal_recovery_end(self: Any) -> None:
    if self.in_recovery and not self.need_recovery():
        self.flush_buffers()  # apply anything left in the buffers
        self._set_recovery_ended()
        if self._actives_span is not None:
            self._actives_span.set_tag("Actives-Ready", True)
        self.signal_recovery_end.set()


def _maybe_standbys_ready(self: Any) -> None:
    if (
        not (self._standbys_span is None and self.tables.standbys_ready)
        and not self.standby_remaining_total()
    ):
        if self._standbys_span:
            from faust.utils.tracing import finish_span

            finish_span(self._standbys_span)
            self._standbys_span = None
        self.tables.on_standbys_ready()


async def slurp_changelogs(self: Any) -> None:
    """``Recovery._slurp_changelogs``, taking what is queued at once (module docstring)."""
    queue = self.tables.changelog_queue
    tp_to_table = self.tp_to_table
    active_tps, standby_tps = self.active_tps, self.standby_tps
    active_offsets, standby_offsets = self.active_offsets, self.standby_offsets
    active_received = self._active_events_received_at
    standby_received = self._standby_events_received_at
    buffers, buffer_sizes = self.buffers, self.buffer_sizes
    while not self.should_stop:
        try:
            self.signal_recovery_end.clear()
            try:
                first = await asyncio.wait_for(queue.get(), timeout=5.0)
            except TimeoutError:
                if self.should_stop:
                    return
                await _maybe_signal_recovery_end(self)
                continue
            events = [first]
            while len(events) < TAKE and not queue.empty():
                events.append(queue.get_nowait())
            now = monotonic()
            for event in events:
                message = event.message
                tp, offset = message.tp, message.offset
                if tp in active_tps:
                    table, offsets = tp_to_table[tp], active_offsets
                    bufsize = buffer_sizes.get(tp) or buffer_sizes.setdefault(tp, table.recovery_buffer_size)
                    active_received[tp] = now
                elif tp in standby_tps:
                    table, offsets = tp_to_table[tp], standby_offsets
                    bufsize = buffer_sizes.get(tp)
                    if bufsize is None:
                        bufsize = buffer_sizes[tp] = table.standby_buffer_size
                        standby_received[tp] = now
                else:
                    log.warning("recovery: a record of %s, neither active nor standby, skipped", tp)
                    continue
                seen = offsets.get(tp)
                if seen is None or offset > seen:
                    offsets[tp] = offset
                    buf = buffers[table]
                    buf.append(event)
                    if table._on_changelog_event:  # what table.on_changelog_event awaits
                        await table.on_changelog_event(event)
                    if len(buf) >= bufsize:
                        table.apply_changelog_batch(buf)
                        buf.clear()
                        self._last_flush_at = now
            await _maybe_signal_recovery_end(self)
            _maybe_standbys_ready(self)
            await asyncio.sleep(0)  # a take is a slice of the loop; let the rest run
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("error in recovery: %r", exc)


def patch_recovery_loop() -> None:
    """Make Faust's recovery service run :func:`slurp_changelogs`."""
    from faust.tables.recovery import Recovery

    task = Recovery._slurp_changelogs  # a Service.task: it calls .fun with the service
    if not callable(getattr(task, "fun", None)):
        raise RuntimeError("faust's Recovery._slurp_changelogs is not the Service.task this patch knows")
    task.fun = slurp_changelogs
