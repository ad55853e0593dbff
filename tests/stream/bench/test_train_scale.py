"""``intent bench --train-scale`` on a few thousand generated events: a real archive of
Taobao's shape, ``intent train --serve`` run on it in a subprocess, every key of the
issue's JSON and every stage there (no timing is asserted)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson

from stream.bench.train_scale import TAOBAO_SCALE, scale_shape, write_archive
from stream.commands.cli import main
from stream.domain.archive_reader import ArchiveReader
from training.refresh import SERVE_STAGES

KEYS = {"events", "users", "train_serve_s", "peak_rss_mb", "s_per_million_events", "stages"}


def test_generated_archive_has_taobao_shape(tmp_path: Path) -> None:
    shape = scale_shape(log=lambda m: None)
    events, users = write_archive(tmp_path, 20_000, shape, seed=3)
    read = list(ArchiveReader([tmp_path]))
    assert len(read) == events == 20_000 and len({e.user_id for e in read}) == users
    assert 20_000 / users > 40  # Taobao's sample: about a hundred events a user
    span = (max(e.ts for e in read) - min(e.ts for e in read)) / 86_400_000
    assert 7 <= span <= TAOBAO_SCALE["span_days"] + 0.01
    buys = [e for e in read if e.type == "transaction"]
    assert 0.01 < len(buys) / len(read) < 0.04
    touched: set[tuple[str, str]] = set()
    on_touched = 0
    for e in read:
        on_touched += e.type == "transaction" and (e.user_id, e.item_id) in touched
        touched.add((e.user_id, e.item_id))
    assert np.isclose(on_touched / len(buys), shape.buy_touched_rate, atol=0.1)


def test_train_scale_reports_every_stage(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert main(["bench", "--train-scale", "6000", "--quick", "--json"]) == 0
    r = orjson.loads(capsys.readouterr().out)
    assert set(r) == KEYS and r["events"] == 6000 and r["users"] > 20
    assert [s["name"] for s in r["stages"]] == [s for s in SERVE_STAGES if s != "compare"]
    assert r["peak_rss_mb"] >= max(s["peak_rss_mb"] for s in r["stages"]) > 0
    assert r["s_per_million_events"] == round(r["train_serve_s"] / 6000 * 1e6, 1)
