"""The README's results are generated from the runs they cite, never typed by hand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_results_section_is_what_the_cited_runs_give() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "readme_results.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr


def test_every_cited_run_is_a_full_run_with_intervals_and_seeds() -> None:
    import orjson

    runs = sorted(p for p in (ROOT / "docs" / "results").glob("*.json") if p.stem != "bench")
    assert {p.stem for p in runs} >= {"taobao"}
    for path in runs:
        m = orjson.loads(path.read_bytes())
        assert not m["config"]["quick"] and len(m["seeds"]) >= 3, path
        assert set(m["ci"]) == set(m["models"]) and "paired" in m, path


def test_the_cited_bench_run_has_every_target() -> None:
    import orjson

    r = orjson.loads((ROOT / "docs" / "results" / "bench.json").read_bytes())
    assert not r["quick"] and len(r["targets"]) == 6
    assert "<!-- bench:begin -->" in (ROOT / "README.md").read_text()
