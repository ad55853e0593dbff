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

    cited_elsewhere = {"bench", "train_scale", "taobao_serve"}  # the bench's runs and the refresh's
    runs = sorted(p for p in (ROOT / "docs" / "results").glob("*.json") if p.stem not in cited_elsewhere)
    assert {p.stem for p in runs} >= {"taobao"}
    for path in runs:
        m = orjson.loads(path.read_bytes())
        assert not m["config"]["quick"] and len(m["seeds"]) >= 3, path
        assert set(m["ci"]) == set(m["models"]) and "paired" in m, path


def test_the_cited_refresh_holds_its_test_figures_and_the_paired_comparison() -> None:
    import orjson

    m = orjson.loads((ROOT / "docs" / "results" / "taobao_serve.json").read_bytes())
    run = m["serve_run"]
    assert set(run["test"]["models"]) == {"resnet", "deep_forest", "fused"} and run["test"]["ci"]["fused"]
    assert {p["reading"] for p in run["compared_with"]["paired"].values()} <= {
        "better",
        "worse",
        "cannot_tell",
    }
    scale = orjson.loads((ROOT / "docs" / "results" / "train_scale.json").read_bytes())
    for r in scale["runs"]:
        assert {"events", "users", "train_serve_s", "peak_rss_mb", "s_per_million_events", "stages"} <= set(r)
    assert "<!-- refresh:begin -->" in (ROOT / "README.md").read_text()


def test_the_cited_bench_run_has_every_target() -> None:
    import orjson

    r = orjson.loads((ROOT / "docs" / "results" / "bench.json").read_bytes())
    assert not r["quick"] and len(r["targets"]) == 6
    assert "<!-- bench:begin -->" in (ROOT / "README.md").read_text()
