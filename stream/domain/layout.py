"""Named slots of a feature vector: one definition of where each feature lives.

A :class:`Layout` is a list of named blocks laid end to end, the last of which takes
whatever width is left (hashed one-hot buckets, so no slot is padding). The feature
code writes by these names, and everything else that reads a feature column (the
cold-start prior, the report's activity buckets, the cart rule) asks the layout for
it, so a column is never a magic number.

>>> lay = Layout("demo", [("counts", 3), ("n_events", 1)], rest="buckets")
>>> lay.index("n_events"), lay.slice("counts"), lay.fixed
(3, slice(0, 3, None), 4)
>>> lay.names(6)
['counts[0]', 'counts[1]', 'counts[2]', 'n_events', 'buckets[0]', 'buckets[1]']
>>> lay.fingerprint() == Layout("demo", [("counts", 3), ("n_events", 1)], rest="buckets").fingerprint()
True
"""

from __future__ import annotations

import hashlib

__all__ = ["Layout"]


class Layout:
    """Blocks ``(name, width)`` in order, then a block ``rest`` taking the remaining width."""

    def __init__(
        self, kind: str, blocks: list[tuple[str, int]], rest: str, labels: dict[str, list[str]] | None = None
    ) -> None:
        self.kind, self.rest = kind, rest
        self.blocks = list(blocks)
        self.labels = labels or {}
        self._start: dict[str, int] = {}
        self._width: dict[str, int] = {}
        at = 0
        for name, width in self.blocks:
            if name in self._start:
                raise ValueError(f"{kind}: block {name!r} defined twice")
            self._start[name], self._width[name] = at, width
            at += width
        self.fixed = at

    def fingerprint(self) -> str:
        """A short digest of the blocks and their order: recorded in a model's feature
        spec, so an artifact is refused by code that lays its features out otherwise,
        even if nobody bumped the feature version."""
        text = repr((self.kind, self.blocks, self.rest))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def _check(self, name: str) -> None:
        if name not in self._start:
            raise KeyError(f"{self.kind} layout has no block {name!r}")

    def index(self, name: str, k: int = 0) -> int:
        """Column ``k`` of block ``name``."""
        self._check(name)
        if not 0 <= k < self._width[name]:
            raise IndexError(f"{self.kind}.{name} has {self._width[name]} columns, not {k + 1}")
        return self._start[name] + k

    def slice(self, name: str) -> slice:
        self._check(name)
        return slice(self._start[name], self._start[name] + self._width[name])

    def columns(self, *names: str) -> list[int]:
        """Every column of the named blocks, in the order named."""
        out: list[int] = []
        for name in names:
            s = self.slice(name)
            out.extend(range(s.start, s.stop))
        return out

    def names(self, dim: int) -> list[str]:
        """A name per column of a ``dim``-wide vector (for reports and importances)."""
        out: list[str] = []
        for name, width in self.blocks:
            labels = self.labels.get(name)
            if width == 1:
                out.append(name)
            else:
                out.extend(f"{name}[{labels[k] if labels else k}]" for k in range(width))
        out.extend(f"{self.rest}[{k}]" for k in range(dim - self.fixed))
        return out
