"""``intent bench --quick`` runs end to end and reports every figure (no timing assertions)."""

from __future__ import annotations

import orjson
import pytest

from stream.commands.cli import main

pytestmark = pytest.mark.integration


def test_quick_bench_reports_every_figure(quick_model, capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("INTENT_RUN_DIR", str(tmp_path))
    assert main(["bench", "--quick", "--json", "--model", str(quick_model[0])]) == 0
    r = orjson.loads(capsys.readouterr().out)
    for key in (
        "io_limit_eps",
        "faust_floor_eps",
        "naive_eps",
        "worker_eps",
        "worker_eps_with_challenger",
        "worker_vs_io_limit",
        "worker_vs_naive",
        "serialized_bytes_per_user",
        "rss_mb",
    ):
        assert r[key] > 0, key
    # 500 users: too few for the RSS they add to be more than noise
    assert "rss_per_user_bytes" in r and "rss_marginal_bytes_per_user" in r
    assert set(r["latency_ms"]) == {"100", "500"}
    assert all({"p50", "p95", "p99"} <= set(v) and v["n"] > 0 for v in r["latency_ms"].values())
    assert {name: set(v) for name, v in r["model_us_per_pair"].items()} == {
        n: {"1", "64", "1024"} for n in ("resnet", "forest", "fused")
    }
    assert len(r["targets"]) == 6
