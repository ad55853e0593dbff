"""``intent archive`` on the real embedded broker: the JD sample replayed while the archiver
is killed with SIGKILL twice and restarted; the archive ends with every event once and
gives back the file reader's events."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from stream.config import Settings
from stream.domain.archive_layout import event_day
from stream.domain.events import Event
from stream.domain.readers import read_clickstream
from stream.io.broker import EmbeddedBroker, free_port
from stream.io.replay import replay_events
from stream.io.worker_process import WorkerProcess
from tests.conftest import settings_for, wait_for

CHINA_H = 8
LAG, FILES, RECOVERIES = (
    "intent_archive_consumer_lag",
    "intent_archive_files_total",
    "intent_archive_recoveries_total",
)


def start_archiver(settings: Settings, root: Path, log: Path, **env: str) -> WorkerProcess:
    """``intent archive`` as a child process (watched on its metrics port), rolling a
    partition's files every 3,000 events or every second."""
    port = free_port()
    return WorkerProcess(
        settings,
        log,
        module=("stream.commands.cli", "archive"),
        port=port,
        env={
            "INTENT_ARCHIVE_DIR": str(root),
            "INTENT_ARCHIVE_UTC_OFFSET_H": str(CHINA_H),
            "INTENT_ARCHIVE_ROLL_EVENTS": "3000",
            "INTENT_ARCHIVE_ROLL_S": "1",
            "INTENT_ARCHIVE_METRICS_PORT": str(port),
            **env,
        },
    )


def archived_rows(root: Path) -> int:
    return sum(pq.read_metadata(f).num_rows for f in root.glob("date=*/part-*.parquet"))


@pytest.mark.integration
@pytest.mark.timeout(240)
def test_the_archive_holds_every_jd_event_once_across_two_sigkills(
    broker: EmbeddedBroker, jdata_events: list[Event], tmp_path: Path
) -> None:
    settings = settings_for(broker)
    root = tmp_path / "archive"
    sent = [0]

    def replay() -> None:  # 22 s at 4,000 events/s
        asyncio.run(replay_events(jdata_events, settings, rate=4_000, on_progress=progress))

    def progress(n: int) -> None:
        sent[0] = n

    started = time.monotonic()
    current = start_archiver(settings, root, tmp_path / "archive1.log")
    try:
        current.wait_ready(60)
        feeder = threading.Thread(target=replay, daemon=True)
        feeder.start()
        rnd = random.Random(25)
        for k in (2, 3):  # killed while it writes files, at a moment that varies, and restarted
            current.wait(lambda m: m.get(FILES, 0) >= 2, timeout=60, names=[FILES])
            time.sleep(rnd.uniform(0.0, 1.0))
            current.kill()
            assert sent[0] < len(jdata_events), "the replay ended before the kill"
            # The second restart takes a group of its own: no commit at all, as if every
            # flush had been killed after its renames and before its commit (Tansu refuses
            # a commit from outside a group, so its offsets cannot be set back), and with a
            # file in the making that a kill left behind.
            again = {} if k == 2 else {"INTENT_APP_ID": "intent-worker-restored"}
            if k == 3:
                (next(root.glob("date=*")) / ".part-0-0.parquet.tmp").write_bytes(b"PAR1 half a file")
            current = start_archiver(settings, root, tmp_path / f"archive{k}.log", **again)
            current.wait_ready(60)
        feeder.join(60)
        assert sent[0] == len(jdata_events)
        wait_for(
            lambda: archived_rows(root) >= len(jdata_events) and current.metrics([LAG]).get(LAG, -1) == 0,
            timeout=60,
            what="the archive caught up",
        )
        recoveries = current.metrics([RECOVERIES])
    finally:
        current.stop()  # SIGTERM: seals what is open (nothing once caught up)
    elapsed = time.monotonic() - started
    assert recoveries.get(RECOVERIES, 0) == 4  # every partition read on past its files, none twice

    files = sorted(root.glob("date=*/part-*.parquet"))
    assert not list(root.glob("date=*/.*")), "a hidden file was left"
    rows = [pq.read_table(f, columns=["partition", "offset"]).to_pylist() for f in files]
    offsets = [(r["partition"], r["offset"]) for table in rows for r in table]
    assert len(offsets) == len(set(offsets)) == len(jdata_events)  # each message once
    read = read_clickstream([root])
    assert {e.event_id for e in read.events} == {e.event_id for e in jdata_events}
    per_day = Counter({f.parent.name[5:]: 0 for f in files})
    for f in files:
        per_day[f.parent.name[5:]] += pq.read_metadata(f).num_rows
    assert per_day == Counter(event_day(e.ts, -CHINA_H * 3_600_000) for e in jdata_events)
    # the same events, fields and order as the file reader's, and the same calendar:
    # what training's example builder reads, so it builds the same examples
    assert read.events == jdata_events
    assert read.day_offset_ms == -CHINA_H * 3_600_000
    print(
        f"\narchive: {len(files)} files, {sum(f.stat().st_size for f in files) / 1e6:.2f} MB, "
        f"{elapsed:.0f} s with two SIGKILLs; recoveries {recoveries}"
    )
