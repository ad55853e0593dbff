"""A topic's messages straight from Faust's consumer, taken in adaptive batches.

Faust delivers each message to an agent through its stream machinery: the conductor's
handler (flow control, producer buffer, an ``Event`` a message), a queue, a passive
drainer and ``take_events``, which moves messages into the batch only while the agent
waits for it. Under load the agent then worked on a batch while nothing moved into the
next one: the worker's intake topped out near 3,000 events/s with its event loop half
idle. Here the consumer's fetch loop hands each raw message of the topic's partitions to
:meth:`MessageBatches.deliver`, which appends it to a list; the worker takes everything
that came in since its last batch (up to ``max_batch``), waiting at most ``linger_s``
counted from the first message's arrival. A batch grows with the load; an idle worker
answers a lone event within ``linger_s``.

A backlog is taken in batches of ``backlog_batch``. The worker is behind by the messages
that wait for it: in the buffer, and past it on the broker (each partition's high
watermark from the latest fetch, less the next offset to deliver). Behind by
``backlog_batch`` or more, it waits up to ``backlog_linger_s`` for the fetch loop to
buffer that many (8,192 take about 0.1 s at the consumer's pace); behind by less, but
by more than ``max_batch``, it takes all that is buffered at once, without waiting
(waiting there for the rest would hold back every event already in). A batch's
users are scored once however many of their events it holds, so on the real sample a
batch of 4,096 scores 0.24 (user, item) pairs an event where one of 900 scores 0.51:
fewer pairs to build, send and score, and fewer changelog writes. The latency of an
event in a backlog is the backlog's anyway; at a load the worker keeps up with, nothing
changes.

Faust still owns everything else: the group membership, the assignment (and with it
the tables), fetching, pausing and offset commits. The batches hold Faust ``Message``
objects, each tracked as pending like a stream's; acknowledge them with
:meth:`MessageBatches.acknowledge` (``message.ack(app.consumer)`` for each) once their
outputs are durable, and only then may their offsets be committed.

>>> import asyncio
>>> from types import SimpleNamespace
>>> pending = SimpleNamespace(add=lambda m: None)  # Faust's consumer: a WeakSet
>>> consumer = SimpleNamespace(_unacked_messages=pending, highwater=lambda tp: None)
>>> app = SimpleNamespace(consumer=consumer, consumer_generation_id=1)
>>> def message(offset):
...     return SimpleNamespace(tp="events-0", offset=offset, generation_id=1)
>>> async def main():
...     batches = MessageBatches(app, max_batch=2, linger_s=0.01, maxsize=10)
...     for k in range(3):
...         batches.put_nowait_enhanced(message(k))
...     first = [m.offset for m in await batches.take()]
...     second = [m.offset for m in await batches.take()]
...     return first, second
>>> asyncio.run(main())
([0, 1], [2])
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import faust
from faust.types.tuples import ack_lock
from mode.utils.futures import notify

__all__ = ["MessageBatches", "RawTopic", "subscribe_batches"]


class RawTopic(faust.Topic):
    """A topic whose messages reach their channel undecoded: the ``Message`` itself,
    not a Faust ``Event`` (the processor parses the bytes; an Event a message only
    cost time)."""

    def _compile_decode(self) -> None:
        # Faust compiles its schema's decoder onto each topic instance here.
        self.decode = _undecoded  # type: ignore[method-assign]


async def _undecoded(message: Any, *, propagate: bool = False) -> Any:
    return message


class MessageBatches:
    """Filled by the consumer (:meth:`deliver`; as a :class:`RawTopic` channel's queue,
    also the methods Faust's conductor calls: ``full``, ``put_nowait_enhanced``,
    ``put``), read by one worker with :meth:`take`."""

    def __init__(
        self,
        app: Any,
        max_batch: int,
        linger_s: float,
        maxsize: int = 20_000,
        backlog_batch: int = 0,
        backlog_linger_s: float = 0.0,
    ) -> None:
        self.app = app
        self.max_batch, self.linger_s, self.maxsize = max_batch, linger_s, maxsize
        self.backlog_batch = min(max(backlog_batch, max_batch), maxsize)
        self.backlog_linger_s = backlog_linger_s
        self._messages: list[Any] = []
        self._next: dict[Any, int] = {}  # partition -> next offset to deliver
        self._target = max_batch  # what the waiting take wants buffered
        self._first_at = 0.0  # loop time the oldest buffered message arrived
        self._arrived = asyncio.Event()  # created lazily by Faust's loop on first use
        self._enough = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._unacked: Any = None  # the consumer's pending messages (Faust's WeakSet), once known

    def __len__(self) -> int:
        return len(self._messages)

    # -- what the conductor calls -------------------------------------------------
    def full(self) -> bool:
        return len(self._messages) >= self.maxsize

    def put_nowait_enhanced(
        self, value: Any, *, on_pressure_high: Any = None, on_pressure_drop: Any = None
    ) -> None:
        message = value  # a RawTopic's "event" is the message itself
        # Pending until acknowledged: what Faust's stream does for an acking topic
        # (Consumer.track_message, less its sensors' on_message_in: nothing reads
        # Faust's monitor here, and it cost 0.5 us a message).
        unacked = self._unacked
        if unacked is None:
            unacked = self._unacked = self.app.consumer._unacked_messages
        unacked.add(message)
        message.tracked = True
        if not self._messages:
            self._first_at = asyncio.get_running_loop().time()
            self._arrived.set()
        self._messages.append(message)
        self._next[message.tp] = message.offset + 1
        if len(self._messages) >= self._target:
            self._enough.set()
        if len(self._messages) >= self.maxsize:
            self._room.clear()

    async def deliver(self, message: Any) -> None:
        """The consumer's callback for this topic's partitions (see :func:`subscribe_batches`)."""
        if not self.deliver_nowait(message):
            message.incref()  # the reference the acknowledgement gives back
            await self.put(message)

    def deliver_nowait(self, message: Any) -> bool:
        """:meth:`deliver` without a coroutine when there is room (what the fetch loop
        calls, see stream.runtime.faust_patches); False, and nothing done, when full."""
        if len(self._messages) >= self.maxsize:
            return False
        # Message.incref takes Faust's ack lock (3% of the worker's loop, once a message);
        # a message the fetch loop has just built is held by nothing else yet.
        message.refcount += 1
        self.put_nowait_enhanced(message)
        return True

    async def put(self, message: Any) -> None:
        """Wait for room (the consumer's fetch loop waits here while the worker is far
        behind; a rebalance interrupts the wait, see stream.runtime.faust_patches)."""
        while self.full():
            await self._room.wait()
        self.put_nowait_enhanced(message)

    # -- the worker's side ----------------------------------------------------------
    def waiting(self) -> int:
        """Messages known to wait for the worker: buffered, and on the broker past the
        buffer (as of each partition's latest fetch; 0 for a partition not fetched yet)."""
        n = len(self._messages)
        highwater = self.app.consumer.highwater
        for tp, next_offset in self._next.items():
            try:
                end = highwater(tp)
            except Exception:  # revoked meanwhile: nothing waits there for us
                continue
            if end is not None and end > next_offset:
                n += end - next_offset
        return n

    async def take(self) -> list[Any]:
        """The next batch: waits for a first message, then until ``max_batch`` are in
        or ``linger_s`` has passed since that first one arrived. Behind by
        ``backlog_batch`` or more (see :meth:`waiting`), it takes that many, waiting at
        most ``backlog_linger_s`` for them to be buffered; behind by less, but by more
        than ``max_batch``, it takes all that is buffered (up to ``backlog_batch``) at once."""
        loop = asyncio.get_running_loop()
        while True:
            while not self._messages:
                self._arrived.clear()
                await self._arrived.wait()
            target, wait = self.max_batch, self._first_at + self.linger_s - loop.time()
            if self.backlog_batch > self.max_batch:
                behind = self.waiting()
                if behind >= self.backlog_batch:
                    target, wait = self.backlog_batch, self.backlog_linger_s
                elif behind > self.max_batch:  # a short backlog, or a long one's tail
                    target = min(len(self._messages), self.backlog_batch)
            if wait > 0 and len(self._messages) < target:
                self._target = target
                self._enough.clear()
                try:
                    await asyncio.wait_for(self._enough.wait(), wait)
                except TimeoutError:
                    pass
                finally:
                    self._target = self.max_batch
            n = max(target, self.max_batch)
            batch = self._messages[:n]
            del self._messages[:n]
            # What is left was buffered while the worker was busy: due at once.
            self._first_at = 0.0
            if not self.full():
                self._room.set()
            # A message fetched before the latest rebalance may belong to a partition
            # this worker no longer owns; Faust seeks back to the committed offsets, so
            # its new owner (maybe this worker) reads it again. Faust's streams skip
            # them the same way.
            generation = self.app.consumer_generation_id
            batch = [m for m in batch if m.generation_id == generation]
            if batch:
                return batch

    @staticmethod
    def acknowledge(messages: Sequence[Any], consumer: Any) -> None:
        """``message.ack(consumer)`` for each message: Faust 0.15.3's ``Message.ack``,
        ``ConsumerMessage.on_final_ack`` and ``Consumer.ack`` in one pass under its ack
        lock, the consumer's per-partition bookkeeping looked up once a partition rather
        than once a message (about 2 us a message, a tenth of the worker's loop)."""
        acks_enabled_for = consumer.app.topics.acks_enabled_for
        committed_of, index_of, acked_of = (
            consumer._committed_offset,
            consumer._acked_index,
            consumer._acked,
        )
        unacked = consumer._unacked_messages
        n_acked, tp, enabled = 0, None, False
        committed: int | None = None
        index: set[int] = set()
        acked: list[int] = []
        with ack_lock:
            try:
                for message in messages:
                    if message.acked:
                        continue
                    message.refcount = refcount = max(message.refcount - 1, 0)
                    if refcount:
                        continue
                    message.acked = True  # the final ack: Consumer.ack from here
                    if message.tp is not tp:
                        tp = message.tp
                        enabled = acks_enabled_for(message.topic)
                        if enabled:
                            committed, index, acked = committed_of[tp], index_of[tp], acked_of[tp]
                    if not enabled:
                        continue
                    offset = message.offset
                    if (committed is None or offset >= committed) and offset not in index:
                        unacked.discard(message)
                        index.add(offset)
                        acked.append(offset)
                        n_acked += 1
            finally:
                consumer._n_acked += n_acked
                notify(consumer._waiting_for_ack)

    def clear(self) -> int:
        """Drop what is buffered (partitions revoked); returns how many were dropped."""
        n = len(self._messages)
        self._messages.clear()
        self._next.clear()
        self._room.set()
        return n


def subscribe_batches(
    app: faust.App,
    topic: RawTopic,
    max_batch: int,
    linger_s: float,
    maxsize: int = 20_000,
    backlog_batch: int = 0,
    backlog_linger_s: float = 0.0,
    drop_on_revoke: bool = True,
) -> MessageBatches:
    """Subscribe ``app``'s consumer to ``topic`` with its messages delivered into a new
    :class:`MessageBatches` (what iterating a topic in an agent does, minus the stream).
    Buffered messages are dropped when partitions are revoked; with ``drop_on_revoke``
    False, the caller's own revocation handler does it (:meth:`MessageBatches.clear`)."""
    batches = MessageBatches(app, max_batch, linger_s, maxsize, backlog_batch, backlog_linger_s)
    channel = topic.clone(queue=batches, is_iterator=True)
    conductor = app.topics
    conductor.add(channel)
    build_handler = conductor._build_handler

    def handler(tp: Any, channels: Any) -> Any:
        # The consumer calls one handler per assigned partition. The conductor's own
        # (flow control, producer buffer and decoding, for each message) is only needed
        # where Faust's streams read the topic; here the message goes straight in.
        if len(channels) == 1 and channel in channels:
            return batches.deliver
        return build_handler(tp, channels)

    conductor._build_handler = handler

    if drop_on_revoke:

        @app.on_partitions_revoked.connect
        async def _drop_buffered(sender: Any, revoked: Any = None, **kwargs: Any) -> None:
            batches.clear()

    return batches
