"""The README's results are generated from the runs they cite, never typed by hand."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_results_section_is_what_the_cited_runs_give() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "readme_results.py"), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_every_cited_run_is_a_full_run_with_intervals_and_seeds() -> None:
    import orjson

    runs = sorted((ROOT / "docs" / "results").glob("*.json"))
    assert {p.stem for p in runs} >= {"taobao"}
    for path in runs:
        m = orjson.loads(path.read_bytes())
        assert not m["config"]["quick"] and len(m["seeds"]) >= 3, path
        assert set(m["ci"]) == set(m["models"]) and "paired" in m, path
