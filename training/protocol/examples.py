"""Point-in-time training examples, built by replaying history through the feature code.

Events are replayed in the order the worker sees them. After each event the user's
state is exactly what the worker holds; when the user's next event has a later time
(the worker scores a user once per micro-batch, and same-second events arrive
together) the moment becomes an example group: the user's candidate items with U and
I computed by :func:`stream.domain.features.pair_features`. A candidate's label is 1 when the
user buys that item in ``(t, t + horizon]`` strictly after the moment's event, cut at
the end of the moment's part of the :class:`~training.protocol.splits.CalendarSplit`; the
features only ever see events up to the moment, so a future event cannot change a past
example (tests/training/test_examples.py checks both).

Memory grows with the examples kept, not with the moments replayed: a training moment
none of whose candidates is bought is kept with probability ``neg_group_rate`` (decided
before its features are computed), while every validation and test moment is kept,
since they are what the models are judged on. Groups are sampled whole because the
ResNet scores a user's candidates together. Rows are float32.

A kept training moment's group weight (:meth:`ExampleSet.weights`) is the number of
moments it stands for: ``1 / neg_group_rate`` for a sampled moment without a purchase, 1
for the others, so that a model's loss weighs the replay as it was, not as sampled.

Every purchase is recorded too (:class:`Purchases`), whether or not its item was a
candidate, so that per-purchase recall counts the purchases no candidate list held.

A **cold replay** (``reset_at``) empties every user's state (features, sequence, what
they touched) at each of the given times, so that each user is new from then on; the
items' state is kept. It is how the protocol judges short-history visitors on days
whose users all have long histories.

Default horizon: 30 minutes, the worker's intent horizon. In the JD.com sample each
monthly slice spans only 0.5 to 3 hours; on Taobao 72% of purchases come within 30
minutes of the user's previous event.
"""

from __future__ import annotations

import bisect
import math
import zlib
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from stream.domain.catalogue import Catalogue
from stream.domain.events import TYPE_INDEX, Event
from stream.domain.features import FeatureSpec, pair_features, user_vector
from stream.domain.labels import DEFAULT_HORIZON_MS
from stream.domain.state import CATEGORY, ItemStats, UserState
from training.protocol.example_set import SEQ_DIM, SEQ_LEN, ExampleSet, Purchases
from training.protocol.splits import PARTS, CalendarSplit

__all__ = [
    "ExampleSet",
    "Purchases",
    "build_examples",
    "judged_user",
    "trained_user",
    "user_partition",
    "moment_draw",
    "SEQ_LEN",
    "SEQ_DIM",
]

BUY = TYPE_INDEX["transaction"]


class _PartBuilder:
    """Accumulates one part's groups; every ``CHUNK`` groups the small per-group arrays
    are joined, so that Python's per-array overhead never holds more than a chunk."""

    CHUNK = 2048
    ROW_FIELDS = ("I", "y", "same_item", "same_cat")
    GROUP_FIELDS = ("U", "types", "ages")

    def __init__(self) -> None:
        self.pending: dict[str, list[np.ndarray]] = {f: [] for f in self.ROW_FIELDS + self.GROUP_FIELDS}
        self.chunks: dict[str, list[np.ndarray]] = {f: [] for f in self.ROW_FIELDS + self.GROUP_FIELDS}
        self.sizes: list[int] = []
        self.moment_ts: list[int] = []
        self.moment_index: list[int] = []
        self.users: list[str] = []
        self.items: list[str] = []
        self.weight: list[float] = []
        self.history_start: list[int] = []
        self.cover: list[tuple[int, int]] = []  # (row, global purchase id)
        self.n_rows = 0

    def add(self, **arrays: np.ndarray) -> None:
        for name, value in arrays.items():
            self.pending[name].append(value)
        if len(self.pending["U"]) >= self.CHUNK:
            self._flush()

    def _flush(self) -> None:
        for name, parts in self.pending.items():
            if parts:
                join = np.stack if name in self.GROUP_FIELDS else np.concatenate
                self.chunks[name].append(join(parts))
                parts.clear()

    def build(
        self, purchase_ids: list[int], purchases: Purchases, dims: tuple[int, int], cold: bool
    ) -> ExampleSet:
        local = {gid: k for k, gid in enumerate(purchase_ids)}
        cover = np.asarray([(r, local[g]) for r, g in self.cover if g in local], dtype=np.int64)
        self._flush()
        empty: dict[str, np.ndarray] = {
            "U": np.zeros((0, dims[0]), np.float32),
            "I": np.zeros((0, dims[1]), np.float32),
            "y": np.zeros(0, np.int8),
            "same_item": np.zeros((0, SEQ_LEN), bool),
            "same_cat": np.zeros((0, SEQ_LEN), bool),
            "types": np.zeros((0, SEQ_LEN), np.int8),
            "ages": np.zeros((0, SEQ_LEN), np.float32),
        }
        a: dict[str, np.ndarray] = {
            name: np.concatenate(parts) if parts else empty[name] for name, parts in self.chunks.items()
        }
        self.chunks = {}
        return ExampleSet(
            a["U"],
            a["I"],
            a["y"],
            np.asarray(self.sizes, dtype=np.int64),
            np.asarray(self.moment_ts, dtype=np.int64),
            np.asarray(self.moment_index, dtype=np.int64),
            self.users,
            self.items,
            a["types"],
            a["ages"],
            a["same_item"],
            a["same_cat"],
            purchases,
            cover.reshape(-1, 2),
            np.asarray(self.weight, dtype=np.float32),
            np.asarray(self.history_start, dtype=np.int64) if cold else None,
        )


def _sequence(recent: deque, now: int) -> tuple[np.ndarray, np.ndarray]:
    """Types and ages of the user's last actions, most recent last, left-padded."""
    types = np.full(SEQ_LEN, -1, dtype=np.int8)
    ages = np.zeros(SEQ_LEN, dtype=np.float32)
    first = SEQ_LEN - len(recent)
    for k, (ts, t, _, _) in enumerate(recent, start=first):
        types[k] = t
        ages[k] = math.log1p(max(now - ts, 0) / 60_000.0)
    return types, ages


DEFAULT_SPEC = FeatureSpec()


def user_partition(user_id: str, n: int) -> int:
    """The partition of ``n`` that ``user_id`` falls in (a hash of the id, stable across
    processes and runs)."""
    return zlib.crc32(user_id.encode(), 0x5EED) % n


def moment_draw(seed: int, k: int) -> float:
    """A uniform draw in [0, 1) for the moment at event ``k``: the same in whichever
    process or partition builds it (SplitMix64 of ``seed`` and ``k``).

    >>> moment_draw(0, 7) == moment_draw(0, 7) != moment_draw(1, 7)
    True
    """
    z = (seed * 0x9E3779B97F4A7C15 + (k + 1) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return ((z ^ (z >> 31)) >> 11) / 2.0**53


_MASK = 2**64 - 1


def judged_user(user_id: str, share: float) -> bool:
    """Whether ``user_id`` is among the ``share`` of users whose validation and test moments
    are kept: a hash of the id, so the same users whatever the run or the process.

    >>> abs(sum(judged_user(f"u{k}", 0.25) for k in range(4000)) / 4000 - 0.25) < 0.02
    True
    """
    return zlib.crc32(user_id.encode()) < share * 2**32


def trained_user(user_id: str, share: float) -> bool:
    """Whether ``user_id`` is among the ``share`` of users whose training moments are kept:
    a hash of the id independent of :func:`judged_user`'s.

    >>> abs(sum(trained_user(f"u{k}", 0.25) for k in range(4000)) / 4000 - 0.25) < 0.02
    True
    """
    return zlib.crc32(user_id.encode(), 0x7A1) < share * 2**32


def build_examples(
    events: Iterable[Event],
    catalogue: Catalogue | None = None,
    spec: FeatureSpec = DEFAULT_SPEC,
    n_candidates: int = 32,
    horizon_ms: int = DEFAULT_HORIZON_MS,
    split: CalendarSplit | None = None,
    neg_group_rate: float = 1.0,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    reset_at: Sequence[int] = (),
    parts_wanted: Sequence[str] | None = None,
    judged_user_share: float = 1.0,
    trained_user_share: float = 1.0,
    partition: tuple[int, int] = (0, 1),
) -> dict[str, ExampleSet]:
    """Replay ``events`` (in replay order) and return the example groups of each part:
    ``train``, ``val``, ``test`` with a ``split``, else one part ``all`` (every moment,
    labels cut at the end of the data). ``neg_group_rate`` samples the training part's
    moments without a purchase; ``progress(done, total)`` is called now and then;
    ``reset_at`` (epoch ms, any order) makes it a cold replay (see the module docstring);
    ``parts_wanted`` limits the parts built (the others are replayed into state only);
    ``judged_user_share`` below 1 keeps the validation and test moments and purchases of
    that share of the users only (:func:`judged_user`), every moment of each, so that a
    judged part's size is bounded however many users the data holds; ``trained_user_share``
    likewise for the training moments (:func:`trained_user`); ``partition`` ``(i, n)``
    builds the moments and purchases of the users of partition ``i`` of ``n`` only
    (:func:`user_partition`; every event still goes through the state, since items'
    statistics are every user's), which :mod:`training.protocol.partitioned` runs in
    parallel and merges into what one call gives."""
    if iter(events) is events:  # a one-shot iterator would replay nothing after the look-ahead
        raise TypeError("build_examples reads the events twice: a list or ArchiveEvents, not an iterator")
    # One look-ahead pass (an archive is read from disk on every pass): each purchase's event
    # index and time per (user, item), the span, and the events with a same-time successor.
    buys: dict[tuple[str, str], tuple[list[int], list[int], list[int]]] = defaultdict(lambda: ([], [], []))
    purchase_events: list[int] = []
    same_ts: list[int] = []
    last_of_user: dict[str, tuple[int, int]] = {}
    n_events, first_ts, last_ts = 0, math.inf, -math.inf
    for k, e in enumerate(events):
        n_events, first_ts, last_ts = k + 1, min(first_ts, e.ts), max(last_ts, e.ts)
        if e.type == "transaction":
            idx, ts, ids = buys[(e.user_id, e.item_id)]
            idx.append(k)
            ts.append(e.ts)
            ids.append(len(purchase_events))
            purchase_events.append(k)
        prev = last_of_user.get(e.user_id)
        if prev is not None and prev[1] == e.ts:
            same_ts.append(prev[0])
        last_of_user[e.user_id] = (k, e.ts)
    if not n_events:
        raise ValueError("no examples: the data set has no events")
    next_same_ts = np.zeros(n_events, dtype=bool)
    next_same_ts[same_ts] = True
    del last_of_user, same_ts
    if split is None:
        parts: dict[str, tuple[int, int]] = {"all": (int(first_ts), int(last_ts) + 1)}
    else:
        parts = {name: split.bounds(name) for name in PARTS}

    wanted = set(parts if parts_wanted is None else parts_wanted)

    def part_of(ts: int) -> str | None:
        for name, (lo, hi) in parts.items():
            if lo <= ts < hi:
                return name
        return None

    own, n_partitions = partition
    builders = {name: _PartBuilder() for name in parts}
    part_purchases = {name: Purchases() for name in parts}
    part_purchase_ids: dict[str, list[int]] = {name: [] for name in parts}
    users: dict[str, UserState] = {}  # the users whose moments or purchases this build keeps
    seen_only: dict[str, UserState] = {}  # every other user: what it has seen, never folded in
    roles: dict[str, tuple[bool, bool]] = {}  # user -> (judged, trained), hashed once
    items: dict[str, ItemStats] = {}
    touched: set[tuple[str, str]] = set()
    recent: dict[str, deque] = defaultdict(lambda: deque(maxlen=SEQ_LEN))
    n_purchase = 0
    resets = sorted(set(reset_at), reverse=True)  # next reset last
    history_start = -1
    for k, e in enumerate(events):
        if progress is not None and k % 20_000 == 0:
            progress(k, n_events)
        while resets and e.ts >= resets[-1]:  # a cold replay: every user is new from here
            history_start = resets.pop()
            users.clear()
            seen_only.clear()
            recent.clear()
            touched.clear()
        role = roles.get(e.user_id)
        if role is None:
            mine = n_partitions == 1 or user_partition(e.user_id, n_partitions) == own
            role = roles[e.user_id] = (
                mine and (judged_user_share >= 1.0 or judged_user(e.user_id, judged_user_share)),
                mine and (trained_user_share >= 1.0 or trained_user(e.user_id, trained_user_share)),
            )
        judged, trained = role
        kept = judged or trained
        if not kept:
            # A user none of whose moments is kept (another partition's, or outside the
            # shares) matters only through the items' statistics, which take an event
            # when the user's state would: its dedupe, without the features
            # (``fold=False``). That made the replay of such a user several times
            # cheaper, and most users are such users at scale.
            n_purchase += e.type == "transaction"
            seen = seen_only.get(e.user_id)
            if seen is None:
                seen = seen_only[e.user_id] = UserState()
            new = seen.update(e, fold=False)
        else:
            if e.user_id not in users:
                users[e.user_id] = UserState()
            state = users[e.user_id]
            if e.type == "transaction":
                name = part_of(e.ts)
                if (
                    name is not None
                    and e.ts >= parts[name][0] + horizon_ms
                    and (trained if name == "train" else judged)
                ):
                    p = part_purchases[name]
                    p.users.append(e.user_id)
                    p.items.append(e.item_id)
                    p.ts.append(e.ts)
                    p.candidate.append(e.item_id in state.candidates(n_candidates))
                    p.touched.append((e.user_id, e.item_id) in touched)
                    part_purchase_ids[name].append(n_purchase)
                    p.ids.append(n_purchase)
                n_purchase += 1
            touched.add((e.user_id, e.item_id))
            new = state.update(e)
        if not new:
            continue
        stats = items.get(e.item_id)
        if stats is None:
            stats = items[e.item_id] = ItemStats()
        stats.update(e)
        if not kept:
            continue
        recent[e.user_id].append((e.ts, TYPE_INDEX[e.type], e.item_id, e.category_id))
        if next_same_ts[k]:
            continue
        name = part_of(e.ts)
        if name is None or name not in wanted or not (trained if name == "train" else judged):
            continue
        label_end = parts[name][1]
        cands = state.candidates(n_candidates)
        labels = np.zeros(len(cands), dtype=np.int8)
        covered: list[tuple[int, int]] = []
        for j, item in enumerate(cands):
            hit = buys.get((e.user_id, item))
            if not hit:
                continue
            pos = bisect.bisect_right(hit[0], k)
            while pos < len(hit[0]) and hit[1][pos] <= e.ts + horizon_ms and hit[1][pos] < label_end:
                labels[j] = 1
                covered.append((j, hit[2][pos]))
                pos += 1
        sampled = name == "train" and not covered and neg_group_rate < 1.0
        if sampled and moment_draw(seed, k) >= neg_group_rate:
            continue
        b = builders[name]
        b.weight.append(1.0 / neg_group_rate if sampled else 1.0)
        b.history_start.append(history_start)
        U, I = pair_features(spec, e.user_id, state, cands, items, catalogue)
        U = U[0] if len(U) else user_vector(spec, e.user_id, state, catalogue)
        types, ages = _sequence(recent[e.user_id], e.ts)
        seq_items = [it for _, _, it, _ in recent[e.user_id]]
        seq_cats = [c for _, _, _, c in recent[e.user_id]]
        pad = SEQ_LEN - len(seq_items)
        same_item = np.zeros((len(cands), SEQ_LEN), dtype=bool)
        same_cat = np.zeros((len(cands), SEQ_LEN), dtype=bool)
        for j, item in enumerate(cands):
            cat = state.items[item][CATEGORY]
            same_item[j, pad:] = [it == item for it in seq_items]
            if cat is not None:
                same_cat[j, pad:] = [c == cat for c in seq_cats]
        b.cover.extend((b.n_rows + j, gid) for j, gid in covered)
        b.add(U=U, I=I, y=labels, same_item=same_item, same_cat=same_cat, types=types, ages=ages)
        b.sizes.append(len(cands))
        b.moment_ts.append(e.ts)
        b.moment_index.append(k)
        b.users.append(e.user_id)
        b.items.extend(cands)
        b.n_rows += len(cands)
    if progress is not None:
        progress(n_events, n_events)
    dims = (spec.user_dim, spec.item_dim)
    cold = bool(reset_at)
    return {
        name: builders[name].build(part_purchase_ids[name], part_purchases[name], dims, cold)
        for name in parts
        if name in wanted
    }
