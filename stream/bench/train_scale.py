"""``intent bench --train-scale EVENTS``: ``intent train --serve`` timed per stage on a
generated archive of EVENTS events with Taobao's shape (for time and memory only: accuracy
is never claimed on generated data).

The clickstream is :class:`~stream.bench.histories.HistoryShape`'s, fitted to the Taobao
sample (:func:`scale_shape`): its action mix, new-item rate and sessions, plus what a
training run's cost depends on: events per user (log-normal: median and spread), distinct
items per user and per category, the popularity skew, the span of days (every user's
history inside it, as in the sample), and the purchases' items (the share on an item the
user touched before, the repeat-purchase rate). Users are written as they are generated,
a chunk at a time, into a real event archive (:func:`stream.archive.flush.archive_events`:
the layout ``intent archive`` writes), then ``intent train ARCHIVE --serve`` runs in a
subprocess. Its peak RSS is the larger of the largest process's (``ru_maxrss``) and the
process tree's resident memory sampled twice a second (with psutil: the example builders
run as processes beside it), summed as PSS, each shared page counted once (a sum of RSS
counted a fork's pages in every process that maps them: 6.6 GB for 2.7 million events,
whose largest process peaked at 3.6 GB);
its stages are the run's own (:data:`training.refresh.SERVE_STAGES`, each with the
training process's own peak RSS after it).

JSON: ``events``, ``users``, ``train_serve_s``, ``peak_rss_mb``, ``s_per_million_events``,
``stages`` (``name``, ``seconds``, ``peak_rss_mb``).
"""

from __future__ import annotations

import math
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from stream.archive.flush import archive_events
from stream.bench.histories import TAOBAO, HistoryShape
from stream.domain.events import Event

__all__ = [
    "scale_shape",
    "measure_scale",
    "write_archive",
    "run_train_scale",
    "render_train_scale",
    "TAOBAO_SCALE",
]

#: measured on the Taobao sample (84,252 events, 814 users) when it is absent
TAOBAO_SCALE = dict(
    median_events=78.0,
    sigma_events=0.92,
    items_per_user=67.8,
    items_per_category=19,
    zipf=0.35,
    span_days=9.0,
    buy_touched_rate=0.61,
    repeat_purchase_rate=0.045,
)


def scale_shape(path: Path = TAOBAO, log: Callable[[str], None] = print) -> HistoryShape:
    """:class:`HistoryShape` fitted to the Taobao sample, with its users' and catalogue's sizes."""
    if not path.exists():
        log(f"{path} not found: Taobao's shape as measured on it before")
        return HistoryShape(**TAOBAO_SCALE, within_span=True)  # type: ignore[arg-type]
    from stream.domain.readers import read_clickstream

    events = read_clickstream([path]).events
    return replace(HistoryShape.fit(events), **measure_scale(events), within_span=True)  # type: ignore[arg-type]


def measure_scale(events: list[Event]) -> dict[str, float]:
    """What :data:`TAOBAO_SCALE` holds, measured on ``events``.

    >>> ev = [Event(str(k), "u", "i" if k else "j", t, k * 60_000, "c") for k, t in
    ...       enumerate(["view", "view", "transaction", "transaction"])]
    >>> m = measure_scale(ev)
    >>> m["buy_touched_rate"], m["repeat_purchase_rate"], m["items_per_category"]
    (1.0, 0.5, 2)
    """
    per_user: dict[str, int] = {}
    for e in events:
        per_user[e.user_id] = per_user.get(e.user_id, 0) + 1
    n = np.array(list(per_user.values()), dtype=float)
    items, cats = {e.item_id for e in events}, {e.category_id for e in events}
    touched: set[tuple[str, str]] = set()
    bought: set[tuple[str, str]] = set()
    buys = on_touched = again = 0
    for e in sorted(events, key=lambda e: (e.user_id, e.ts)):
        key = (e.user_id, e.item_id)
        if e.type == "transaction":
            buys += 1
            on_touched += key in touched
            again += key in bought
            bought.add(key)
        touched.add(key)
    counts = np.sort(np.unique([e.item_id for e in events], return_counts=True)[1])[::-1][:2000]
    ranks = np.arange(1, len(counts) + 1)
    zipf = -np.polyfit(np.log(ranks), np.log(counts), 1)[0] if len(counts) > 2 else 1.1
    ts = [e.ts for e in events]
    return {
        "median_events": float(np.median(n)),
        "sigma_events": float(np.std(np.log(n))) or 1.0,
        "items_per_user": len(items) / len(per_user),
        "items_per_category": max(1, round(len(items) / max(len(cats), 1))),
        "zipf": round(float(zipf), 3),
        "span_days": max((max(ts) - min(ts)) / 86_400_000, 1.0),
        "buy_touched_rate": on_touched / max(buys, 1),
        "repeat_purchase_rate": again / max(buys, 1),
    }


def write_archive(
    root: Path, n_events: int, shape: HistoryShape, seed: int = 0, chunk_users: int = 2_000
) -> tuple[int, int]:
    """Exactly ``n_events`` generated events (the last user's history cut there) written
    into an archive at ``root`` one flush a chunk of users; returns (events, users)."""
    n_users = max(1, math.ceil(n_events / shape.mean_events * 1.2))  # enough: stopped at n_events
    written = users = 0
    for chunk in shape.generate(n_users, seed=seed, chunk_users=chunk_users, prefix="t"):
        events = chunk.events()[: n_events - written]
        archive_events(root, events, day_offset_ms=0, partition=0, first_offset=written)
        written += len(events)
        users += len({e.user_id for e in events})
        if written >= n_events:
            break
    return written, users


def run_train_scale(
    n_events: int,
    work: Path | None = None,
    quick: bool = False,
    log: Callable[[str], None] = print,
    seed: int = 0,
) -> dict[str, Any]:
    """Generate, archive, then time ``intent train ARCHIVE --serve`` (``quick``: its quick
    configuration, for tests); see the module docstring."""
    with tempfile.TemporaryDirectory(prefix="intent-train-scale-", dir=work) as tmp:
        archive, out = Path(tmp) / "archive", Path(tmp) / "model"
        t = time.time()
        events, users = _in_a_child(write_archive, archive, n_events, scale_shape(log=log), seed)
        log(f"generated {events:,} events of {users:,} users into {archive} in {time.time() - t:.0f}s")
        cmd = [sys.executable, "-m", "stream.commands.cli", "train", str(archive), "--format", "parquet"]
        cmd += ["--serve", "--out", str(out), "--json", *(["--quick"] if quick else [])]
        t = time.time()
        child = subprocess.Popen(cmd, stdout=subprocess.PIPE)  # its progress: on our stderr
        tree_peak, stdout = _watch_tree(child)
        seconds = round(time.time() - t, 1)
        if child.returncode != 0:
            raise RuntimeError(f"intent train --serve failed ({child.returncode}): {' '.join(cmd)}")
        report = orjson.loads(stdout.splitlines()[-1])
    # the largest process (ru_maxrss), or the process tree's sum while the example builders run
    peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, tree_peak)
    return {
        "events": events,
        "users": users,
        "train_serve_s": seconds,
        "peak_rss_mb": round(peak),
        "s_per_million_events": round(seconds / events * 1e6, 1),
        "stages": report["stages"],
    }


def _in_a_child(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a forked process. Linux carries a process's peak RSS over fork and
    exec into the child's ``ru_maxrss``: generating millions of events here would raise
    the peak that the training process then reports as its own."""
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(1) as pool:
        return pool.apply(fn, args)


def _pss(proc: Any) -> int:
    """A process's proportional set size (its resident pages, each shared page divided among
    the processes sharing it: the tree's sum counts memory once), or its RSS where the
    kernel does not say."""
    try:
        return int(proc.memory_full_info().pss)
    except (AttributeError, OSError):
        return int(proc.memory_info().rss)


def _watch_tree(child: subprocess.Popen[bytes]) -> tuple[float, bytes]:
    """The peak of the summed PSS (MB) of ``child`` and its processes, sampled twice a
    second until it exits (0 without psutil), and the child's stdout (drained meanwhile)."""
    import threading

    out: list[bytes] = []
    reader = threading.Thread(target=lambda: out.append(child.stdout.read() if child.stdout else b""))
    reader.start()
    peak = 0.0
    try:
        import psutil  # installed with the [dask] extra
    except ImportError:
        psutil = None
    while child.poll() is None:
        if psutil is not None:
            try:
                proc = psutil.Process(child.pid)
                procs = [proc, *proc.children(recursive=True)]
                peak = max(peak, sum(_pss(p) for p in procs) / 2**20)
            except psutil.Error:
                pass
        time.sleep(0.5)
    reader.join()
    child.wait()
    return peak, b"".join(out)


def render_train_scale(result: dict[str, Any]) -> str:
    """The result as a table: each stage's seconds, seconds per million events, peak RSS."""
    per = 1e6 / max(result["events"], 1)
    lines = [
        f"intent train --serve on {result['events']:,} generated events ({result['users']:,} users): "
        f"{result['train_serve_s']:.0f}s, {result['s_per_million_events']:.0f} s per million events, "
        f"peak RSS {result['peak_rss_mb']:,} MB",
        f"{'stage':<16} {'seconds':>9} {'s / M events':>13} {'peak RSS MB':>12}",
    ]
    for s in result["stages"]:
        lines.append(
            f"{s['name']:<16} {s['seconds']:>9.1f} {s['seconds'] * per:>13.1f} {s['peak_rss_mb']:>12,}"
        )
    return "\n".join(lines)
