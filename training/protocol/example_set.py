"""What a replayed part holds: :class:`ExampleSet` (rows of (user, moment, candidate item)
with their features, labels, sampling weights and sequences) and :class:`Purchases`.

Built by :func:`training.protocol.examples.build_examples`; every model and every
figure of the protocol reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from stream.domain.state import N_TYPES

__all__ = ["ExampleSet", "Purchases", "SEQ_LEN", "SEQ_DIM"]

SEQ_LEN = 20  # recent actions seen by the sequence models
SEQ_DIM = N_TYPES + 3  # type one-hot, same item, same category, log1p(minutes ago)


@dataclass
class Purchases:
    """The purchases a part counts for per-purchase recall, one entry each."""

    users: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    ts: list[int] = field(default_factory=list)
    candidate: list[bool] = field(default_factory=list)  # its item was a candidate just before
    touched: list[bool] = field(default_factory=list)  # the user had touched the item before
    ids: list[int] = field(default_factory=list)  # its rank among the replay's purchases (for merging)

    def __len__(self) -> int:
        return len(self.ts)

    def candidate_recall(self) -> float | None:
        return round(sum(self.candidate) / len(self), 4) if len(self) else None

    def touched_share(self) -> float | None:
        """The ceiling of per-purchase recall: no model scores an item never touched."""
        return round(sum(self.touched) / len(self), 4) if len(self) else None


@dataclass
class ExampleSet:
    """Rows are (user, moment, candidate item); ``sizes`` groups rows by moment.

    ``U`` is stored once per group (every row of a group has its user's vector) and
    ``I`` per row; :meth:`X` joins them into the ``[U, I]`` rows the tabular models take.

    ``cover`` pairs a row with each counted purchase its label window holds (row index,
    purchase index): a purchase is caught when one of its rows scores above threshold.
    The sequence of the user's last actions is stored once per group (types, ages) and
    per row only as two masks (same item, same category); :meth:`sequences` builds the
    dense ``(rows, SEQ_LEN, SEQ_DIM)`` input of the sequence models on demand.
    """

    U: np.ndarray  # (groups, user_dim)
    I: np.ndarray  # (rows, item_dim)
    y: np.ndarray
    sizes: np.ndarray  # per group
    moment_ts: np.ndarray  # per group
    moment_index: np.ndarray  # per group: index of the triggering event
    users: list[str]  # per group
    items: list[str]  # per row
    seq_types: np.ndarray  # (groups, SEQ_LEN) int8, -1 = padding
    seq_ages: np.ndarray  # (groups, SEQ_LEN) float32, log1p minutes before the moment
    seq_same_item: np.ndarray  # (rows, SEQ_LEN) bool
    seq_same_cat: np.ndarray  # (rows, SEQ_LEN) bool
    purchases: Purchases = field(default_factory=Purchases)
    cover: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    #: per group: how many moments of the replay it stands for (``1 / neg_group_rate`` for a
    #: sampled training moment without a purchase, else 1); None: all 1
    group_weight: np.ndarray | None = None
    #: per group: when the user's state was last emptied before the moment (a cold replay),
    #: so that nothing of the user before it is seen; None: never
    history_start: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.y)

    def weights(self, rows: np.ndarray | slice | None = None) -> np.ndarray:
        """Each row's sampling weight (of ``rows``), float32: what a model's loss weighs it by."""
        if self.group_weight is None:
            n = self.n if rows is None else len(np.arange(self.n)[rows])
            return np.ones(n, dtype=np.float32)
        w = self.group_weight.astype(np.float32)[self.row_group()]
        return w if rows is None else w[rows]

    def group_starts(self) -> np.ndarray:
        return (np.cumsum(self.sizes) - self.sizes).astype(np.int64)

    def row_group(self) -> np.ndarray:
        """The group of each row."""
        return np.repeat(np.arange(len(self.sizes)), self.sizes)

    def U_rows(self, rows: np.ndarray | slice | None = None) -> np.ndarray:
        """U repeated for each row (of ``rows``: indices or a slice)."""
        groups = self.row_group()
        return self.U[groups if rows is None else groups[rows]]

    def X(self, rows: np.ndarray | slice | None = None) -> np.ndarray:
        """``[U, I]`` per row (of ``rows``: indices or a slice), float32."""
        I = self.I if rows is None else self.I[rows]
        return np.hstack([self.U_rows(rows), I])

    def group_chunks(self, max_rows: int = 65_536) -> list[tuple[slice, slice]]:
        """Consecutive (groups, rows) slices of at most about ``max_rows`` rows each, so
        that a large part can be scored without building all of its ``[U, I]`` at once."""
        out, g0, r0, rows = [], 0, 0, 0
        for g, size in enumerate(self.sizes):
            if rows and rows + size > max_rows:
                out.append((slice(g0, g), slice(r0, r0 + rows)))
                g0, r0, rows = g, r0 + rows, 0
            rows += int(size)
        if rows or not out:
            out.append((slice(g0, len(self.sizes)), slice(r0, r0 + rows)))
        return out

    def row_users(self) -> np.ndarray:
        """Each row's user as an index into ``sorted(set(users))`` (for the bootstrap)."""
        names = sorted(set(self.users))
        at = {u: k for k, u in enumerate(names)}
        return np.asarray([at[u] for u in self.users], dtype=np.int64)[self.row_group()]

    def purchase_users(self) -> np.ndarray:
        """Each counted purchase's user, indexed as in :meth:`row_users`; users with a
        purchase but no scored row come after those, one index each."""
        scored = sorted(set(self.users))
        others = sorted(set(self.purchases.users) - set(scored))
        at = {u: k for k, u in enumerate(scored + others)}
        return np.asarray([at[u] for u in self.purchases.users], dtype=np.int64)

    def sequences(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Dense sequence input for ``rows`` (all when None): (rows, SEQ_LEN, SEQ_DIM)."""
        rows = np.arange(self.n) if rows is None else np.asarray(rows)
        groups = self.row_group()[rows]
        types = self.seq_types[groups]
        out = np.zeros((len(rows), SEQ_LEN, SEQ_DIM), dtype=np.float32)
        r, k = np.nonzero(types >= 0)
        out[r, k, types[r, k]] = 1.0
        out[:, :, N_TYPES] = self.seq_same_item[rows]
        out[:, :, N_TYPES + 1] = self.seq_same_cat[rows]
        out[:, :, N_TYPES + 2] = self.seq_ages[groups]
        return out
