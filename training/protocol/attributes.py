"""Build a :class:`~stream.domain.catalogue.Catalogue` from the JD.com attribute files.

``JData_User.csv`` (age band, sex, level), ``JData_Product.csv`` (a1..a3, category,
brand) and ``JData_Comment.csv`` (weekly comment snapshots; the earliest snapshot of
each item is used, so no later review leaks into earlier examples).
Other data sets have no attribute files; they get an empty catalogue.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

from stream.domain.catalogue import Catalogue

__all__ = ["load_catalogue", "age_band"]


def _rows(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    reader = csv.reader(io.StringIO(data.decode("utf-8", errors="replace")))
    next(reader, None)
    return [r for r in reader if r]


def age_band(text: str) -> int:
    """JD age band text -> 0 (unknown) .. 6.

    >>> [age_band(t) for t in ["-1", "15岁以下", "16-25岁", "26-35岁", "36-45岁", "46-55岁", "56岁以上"]]
    [0, 1, 2, 3, 4, 5, 6]
    """
    prefix = text.strip()[:2]
    return {"15": 1, "16": 2, "26": 3, "36": 4, "46": 5, "56": 6}.get(prefix, 0)


def _int(text: str, default: int = -1) -> int:
    try:
        return int(float(text))
    except ValueError:
        return default


def _find(dirs: set[Path], pattern: str) -> Path | None:
    for d in sorted(dirs):
        hits = sorted(d.glob(pattern))
        if hits:
            return hits[0]
    return None


def load_catalogue(data_files: list[Path]) -> Catalogue:
    """Attributes found beside the given clickstream files (empty if none)."""
    dirs = {Path(p).parent for p in data_files}
    catalogue = Catalogue()
    users = _find(dirs, "JData_User.csv*")
    if users:
        for r in _rows(users):
            sex = _int(r[2], 3)
            level = _int(r[3], 0)
            catalogue.users[r[0].removesuffix(".0")] = (
                age_band(r[1]),
                sex if 0 <= sex <= 2 else 3,
                level if 1 <= level <= 5 else 0,
            )
    comments: dict[str, tuple[str, int, int, float]] = {}
    comment_file = _find(dirs, "JData_Comment.csv*")
    if comment_file:
        for r in _rows(comment_file):
            prev = comments.get(r[1])
            if prev is None or r[0] < prev[0]:
                comments[r[1]] = (r[0], _int(r[2]), _int(r[3], 0), float(r[4] or 0.0))
    products = _find(dirs, "JData_Product.csv*")
    if products:
        for r in _rows(products):
            _, num, bad, rate = comments.get(r[0], ("", -1, 0, 0.0))
            catalogue.items[r[0]] = (_int(r[1]), _int(r[2]), _int(r[3]), r[5], num, bad, rate)
    return catalogue
