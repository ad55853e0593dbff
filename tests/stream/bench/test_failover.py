"""``intent bench --failover`` on a small slice: a worker killed with SIGKILL and restarted
with the default settings serves again, loses nothing, and says in its log what it is
doing. The figures are printed (the bench measures them; no timing is asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream.bench.failover import run_failover
from stream.config import Settings

pytestmark = pytest.mark.integration


def test_sigkill_and_restart_with_default_settings(
    quick_model, jdata_dir, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("INTENT_RUN_DIR", str(tmp_path))
    settings = Settings.from_env({}, model_dir=str(quick_model[0]), sample_data=str(jdata_dir))
    assert settings.worker_identity("box") == "box-9108"  # a restart knows its predecessor
    result = run_failover(settings, log=lambda m: None, limit=3000)
    (run,) = result["runs"]
    with capsys.disabled():
        print(
            f"\nfailover after SIGKILL, default settings, {result['events']:,} real events: "
            f"ready after {run['ready_s']} s, caught up after {run['caught_up_s']} s "
            f"(intent bench --failover measures the April slice)"
        )
    assert run["state_matches_offline"]  # nothing lost, nothing counted twice
    log = Path(run["log"]).read_text()
    steps = [
        "starting: worker",
        "removed member",
        "joining group",
        "assigned",
        "recovering tables: 0 of",
        "tables recovered:",
        "loaded and its scoring process started",
        "ready: serving",
    ]
    missing = [step for step in steps if step not in log]
    assert not missing, f"lifecycle lines missing from the restarted worker's log: {missing}\n{log[-3000:]}"
    positions = [
        log.index(step) for step in ("joining group", "assigned", "tables recovered:", "ready: serving")
    ]
    assert positions == sorted(positions)
