"""Changes to Faust, applied once at import by :mod:`stream.runtime.app`.

1. Fetch wait. Faust hard-codes ``fetch_max_wait_ms=1500`` for its worker consumer. Real
   Kafka answers a waiting fetch as soon as data arrives, but the embedded broker (Tansu)
   holds it for the full wait, which would add up to 1.5 s to every event. The app's
   :class:`AppHooks` ``fetch_max_wait_ms`` is applied instead.

2. Delivery. Faust's fetch loop hands each message to the conductor inside
   ``Service.wait_first(callback(message), suspend_flow.wait())``: four tasks and an
   ``asyncio.wait`` a message, so that a rebalance can interrupt a delivery blocked on a
   full stream buffer. Almost every delivery never blocks. Here the callback is stepped
   once in place; only one that does block (buffer full, flow suspended) continues under
   ``wait_first`` exactly as before. Same messages, same order, same offsets. A message
   of a partition routed to a :class:`~stream.runtime.intake.MessageBatches` skips the
   conductor's coroutines and routing lock too (about 3 us a message): it is appended
   at once when the routes are not being rebuilt and the batches have room.

3. Recovery end. Faust restores a table by reading its changelog up to the end offsets
   the broker reports when recovery starts, then lets the agents run. Tansu reports one
   past the first offset of a partition's last record batch, not past its last record
   (see :func:`stream.io.kafka.end_offsets`), so a restarted worker began serving before it
   had applied the rest of that batch: users whose latest state was there started over
   from older state or from nothing (seen: with (2), the SIGKILL-and-restart test lost
   5-10 events in about half its runs; the faster delivery only made the race likelier).
   The app's :class:`AppHooks` ``end_offsets`` checks the reported ends by reading;
   Faust's recovery then waits for the true end.

4. Seek after a rebalance. Once the tables are recovered, Faust resumes the source
   partitions and then seeks them to their committed offsets; records fetched in
   between are dropped (flow is not yet resumed) while the fetch position moves past
   them. aiokafka's ``seek_to_committed`` leaves a partition with no committed offset
   where it is, so those records were never read: a worker that took over partitions
   whose previous owner died before its first commit skipped them all (seen: the
   survivor test never drained). Such partitions are now sought to where the reset
   policy starts them (the beginning, for ``earliest``).

5. Commits after a gap. A worker that joins with nothing to revoke never stops its flow,
   so its fetch loop delivers records while recovery seeks the resumed partitions to
   their committed offsets. The rest of a batch fetched before that seek then looks to
   Faust like a jump in offsets: it records a "gap" over records already delivered and
   acknowledged. ``Consumer._new_offset`` adds a gap's offsets to the acknowledged list
   without removing the ones already there. The duplicates break the consecutive run it
   commits, so the committed offset then moved one record per commit interval (seen:
   about 1 run in 5, a restarted worker took 90-250 s to commit 300 records a
   partition that it had processed in 1 s). The gap is now merged without duplicates.

6. Per-record overhead in the fetch loop. For every record Faust's ``getmany`` looked
   up its partition's high watermark, told the monitor, and passed it through a
   generator that round-robins topics one record at a time. The watermark and the
   monitor are now done once a partition per fetch (:func:`_fetch`, which the fetch
   loop calls instead of ``getmany``, its only caller), and records come partition by
   partition, each in order, still stopping when flow stops or the generation changes:
   the worker drained the real sample at 38-40k events/s instead of 34-37k. The fetch
   loop takes a fetch's partitions as lists (no generator step a record; a partition's
   route looked up once, again after any await) and yields every 400 messages, twice
   the worker's staging slice, where Faust yields every 100: the intake buffer fell
   behind a backlog and the worker waited 13-70 ms for each 8,192-event batch.

7. Start-up pause. Faust's table manager sleeps one second before it registers the
   tables' changelogs and starts recovery, and the consumer joins the group only after
   that: a second on every start and restart (of 10 s from a SIGKILL to ready on the
   embedded broker, see ``intent bench --failover``). Our tables all exist before the app
   starts (:func:`stream.runtime.app.create_worker`), so there is nothing to wait for; the
   pause is skipped.

8. Recovery, a queue's worth at a time: see :mod:`stream.runtime.recovery_loop` (restores
   ran at 7,300 records/s, most of it in Faust's per-record bookkeeping).

(1) and (3) need a value of ours where Faust builds its consumer and recovers a table,
deep inside objects that hold only the app: :func:`set_app_hooks` puts an
:class:`AppHooks` on the app for them, the one thing of ours an app carries.

>>> import asyncio
>>> async def quick():
...     return 1
>>> async def blocked():
...     await asyncio.sleep(0)
...     return 2
>>> async def main():
...     return [await _deliver(_wait_first, quick()), await _deliver(_wait_first, blocked())]
>>> async def _wait_first(aw, *other):
...     return await aw
>>> asyncio.run(main())
[None, 2]
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Coroutine, Generator, Mapping
from dataclasses import dataclass
from typing import Any

from stream.processing.processor import YIELD_EVERY
from stream.runtime.faust_version import check_faust_version
from stream.runtime.recovery_loop import patch_recovery_loop

__all__ = ["apply_faust_patches", "AppHooks", "set_app_hooks", "app_hooks"]


@dataclass(frozen=True)
class AppHooks:
    """What the patches (1) and (3) read from an app: Faust's consumer thread and table
    recovery, where they run, know the app and nothing of ours. ``None``: Faust's way."""

    #: The worker consumer's fetch wait (1).
    fetch_max_wait_ms: int | None = None
    #: Reads the true end offsets of changelog partitions, ``{tp: end}`` (3).
    end_offsets: Callable[[Collection[Any]], Awaitable[Mapping[Any, int]]] | None = None


#: The app attribute that holds its hooks (set only through :func:`set_app_hooks`).
_HOOKS_ATTR = "intent_hooks"
_NO_HOOKS = AppHooks()


def set_app_hooks(app: Any, hooks: AppHooks) -> None:
    """Give ``app``'s consumer and recovery ``hooks`` (before the app starts)."""
    setattr(app, _HOOKS_ATTR, hooks)


def app_hooks(app: Any) -> AppHooks:
    """``app``'s hooks; an app without any gets Faust's behaviour."""
    hooks = getattr(app, _HOOKS_ATTR, None)
    return hooks if isinstance(hooks, AppHooks) else _NO_HOOKS


class _Resumed:
    """The rest of a coroutine that was already stepped once outside any task: awaiting
    it continues the coroutine from the point it yielded (what ``yield from`` does)."""

    __slots__ = ("coro", "first")

    def __init__(self, coro: Coroutine[Any, Any, Any], first: Any) -> None:
        self.coro, self.first = coro, first

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, pending = self.coro, self.first
        while True:
            try:
                sent = yield pending
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation and the like go to the coroutine
                try:
                    pending = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    pending = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


async def _deliver(
    wait_first: Callable[..., Awaitable[Any]], coro: Coroutine[Any, Any, Any], *interrupts: Any
) -> Any:
    """Run ``coro`` to its first suspension in place; if it suspends, finish it under
    ``wait_first(rest, *interrupts)``. Returns None when it completed in place."""
    try:
        first = coro.send(None)
    except StopIteration:
        return None
    return await wait_first(_Resumed(coro, first), *interrupts)


def _patch_fetch_wait() -> None:
    from faust.transport.drivers import aiokafka as driver

    original = driver.AIOKafkaConsumerThread._create_worker_consumer

    def create(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        wait = app_hooks(self.app).fetch_max_wait_ms
        if wait is not None:
            consumer._fetch_max_wait_ms = int(wait)  # read by the fetcher at start()
        return consumer

    driver.AIOKafkaConsumerThread._create_worker_consumer = create


async def _drain_messages(self: Any, fetcher: Any) -> None:
    """Faust 0.15's ``Consumer._drain_messages`` with the delivery of (2) above, taking
    each fetch partition by partition (6): a partition's route is looked up once, and
    again only after the loop has awaited something (a rebuild of the routes, which
    happens only then, takes effect at once)."""
    callback = self.callback
    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    get_read_offset = self._read_offset.__getitem__
    set_read_offset = self._read_offset.__setitem__
    set_flag, unset_flag = self.diag.set_flag, self.diag.unset_flag
    from faust.transport.consumer import CONSUMER_FETCHING

    commit_every = self._commit_every
    app, to_message = self.app, self._to_message
    acks_enabled_for = app.topics.acks_enabled_for
    routes, routing = app.topics._tp_to_callback, app.topics._tp_to_callback_lock
    wait_first, suspend_flow = self.wait_first, self.suspend_flow
    # Yield after twice what the worker stages between its own yields: the fetch loop
    # runs only when the worker yields, and at one message for two staged the buffer fell
    # behind, leaving the worker waiting for each backlog batch (Faust yields every 100).
    yield_every, since_yield = 2 * YIELD_EVERY, 0
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(CONSUMER_FETCHING)
            await self.sleep(0)  # where Faust's loop sleeps, before its generator fetches
            if not self.should_stop:
                generation_id, fetched = await _fetch(self, timeout=1.0)
                for tp, records in fetched:
                    direct: Any = None
                    routed = False  # direct is this partition's, as of the latest await
                    for record in records:
                        if not self.flow_active or app.consumer_generation_id != generation_id:
                            break
                        message = to_message(tp, record)
                        since_yield += 1
                        if since_yield >= yield_every:
                            await asyncio.sleep(0)
                            since_yield, routed = 0, False
                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            if gap > 1 and r_offset and acks_enabled_for(message.topic):
                                await self._add_gap(tp, r_offset + 1, offset)
                                routed = False
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                                routed = False
                            if not routed:
                                route = None if routing.locked() else routes.get(tp)
                                direct = getattr(getattr(route, "__self__", None), "deliver_nowait", None)
                                routed = True
                            if direct is None or not direct(message):
                                await _deliver(wait_first, callback(message), suspend_flow)
                                routed = False
                            set_read_offset(tp, offset)
                    else:
                        continue
                    break  # flow stopped or the generation changed: the rest waits
            unset_flag(CONSUMER_FETCHING)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            self.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            self.log.info("Consumer shutting down for user cancel.")
            return
        raise
    except Exception as exc:
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        unset_flag(CONSUMER_FETCHING)


async def _fetch(self: Any, timeout: float) -> tuple[int, list[tuple[Any, Any]]]:
    """Faust 0.15's ``Consumer.getmany`` up to its records: the consumer generation
    they were fetched in, and ``(tp, records)`` for each partition of the fetch that is
    still to be read. It looked up a partition's high
    watermark (four calls into the consumer thread's client) and told the monitor for
    every record, and round-robined topics one record at a time through a generator
    (about 1 us a record, 4% of the worker's loop); that is now done once a partition."""
    records, active_partitions = await self._wait_next_records(timeout)
    generation_id = self.app.consumer_generation_id
    if records is None or self.should_stop:
        return generation_id, []
    if not self.flow_active:
        self.log.dev("getmany called while flow not active. Seek back to committed offsets.")
        try:
            await self.perform_seek()
        except Exception as ex:
            self.log.warning(f"exception performing seek when flow not active {ex}")
        return generation_id, []
    buffered = self._buffered_partitions
    track_end = self.app.monitor.track_tp_end_offset
    fetched = []
    for tp, tp_records in records.items():
        if not (active_partitions is None or tp in active_partitions or tp in buffered):
            continue
        track_end(tp, self.highwater(tp))
        fetched.append((tp, tp_records))
    return generation_id, fetched


def _patch_recovery_highwaters() -> None:
    from faust.tables.recovery import Recovery

    original = Recovery._build_highwaters

    async def build(self: Any, consumer: Any, tps: Any, destination: Any, title: str) -> None:
        await original(self, consumer, tps, destination, title)
        read_ends = app_hooks(self.app).end_offsets
        if read_ends is None or not tps:
            return
        try:
            ends = await read_ends(set(tps))
        except Exception as exc:  # the broker's answer stands
            self.log.warning("could not check the changelogs' end offsets: %r", exc)
            return
        for tp, end in ends.items():
            # Faust keeps the offset of the last record, hence the -1.
            destination[tp] = max(destination.get(tp, -1), end - 1)

    Recovery._build_highwaters = build


def _patch_seek_to_committed() -> None:
    from faust.transport.drivers import aiokafka as driver

    async def seek_to_committed(self: Any) -> Any:
        consumer = self._ensure_consumer()
        committed = await self.call_thread(consumer.seek_to_committed)
        changelogs = self.app.tables.changelog_topics
        # aiokafka seeks only offsets > 0; a changelog's position is the recovery's.
        unset = [
            tp
            for tp, offset in committed.items()
            if not (offset and offset > 0) and tp.topic not in changelogs
        ]
        if unset:
            if self.app.conf.consumer_auto_offset_reset == "latest":
                await self.call_thread(consumer.seek_to_end, *unset)
            else:
                await self.call_thread(consumer.seek_to_beginning, *unset)
        return committed

    driver.AIOKafkaConsumerThread.seek_to_committed = seek_to_committed


def _new_offset_without_duplicates(original: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """``Consumer._new_offset`` with the partition's gap merged into its acknowledged
    offsets as a set; ``original`` then finds no gap below the highest one."""

    def new_offset(self: Any, tp: Any) -> Any:
        acked = self._acked[tp]
        if not acked:
            return original(self, tp)
        done = set(acked)
        gap = self._gap[tp]
        if gap:
            highest = max(done)
            spans = gap.overlap(0, highest)
            if spans:
                for span in spans:
                    done.update(range(span.begin, span.end))
                gap.chop(0, max(max(span.end for span in spans) - 1, highest + 1))
        if len(done) != len(acked):
            acked[:] = sorted(done)
        return original(self, tp)

    return new_offset


def _patch_table_manager_start() -> None:
    from faust.tables.manager import TableManager

    async def on_start(self: Any) -> None:
        """Faust 0.15's ``TableManager.on_start`` without its one-second sleep (7)."""
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()

    TableManager.on_start = on_start  # type: ignore[method-assign]


def apply_faust_patches() -> None:
    """Apply the changes (idempotent); refuses a faust-streaming they were not written for."""
    from faust.transport import consumer

    if getattr(consumer.Consumer, "_intent_patched", False):
        return
    check_faust_version()
    _patch_fetch_wait()
    _patch_recovery_highwaters()
    _patch_seek_to_committed()
    _patch_table_manager_start()
    patch_recovery_loop()
    consumer.Consumer._drain_messages = _drain_messages  # type: ignore[method-assign]
    consumer.Consumer._new_offset = _new_offset_without_duplicates(  # type: ignore[method-assign]
        consumer.Consumer._new_offset
    )
    consumer.Consumer._intent_patched = True  # type: ignore[attr-defined]
