"""The alert rules fire when they should: ``promtool test rules`` on a firing and a silent
case for every alert (tests/deploy/alerts_test.yml), and every rule is complete."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from tests.deploy.test_deploy_files import DEPLOY, tool

RULES = DEPLOY / "prometheus" / "alerts.yml"
CASES = Path(__file__).with_name("alerts_test.yml")


def rules() -> list[dict]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def cases() -> list[dict]:
    return yaml.safe_load(CASES.read_text())["tests"]


def test_promtool_runs_every_case_and_all_pass() -> None:
    out = subprocess.run([tool("promtool"), "test", "rules", str(CASES)], capture_output=True, text=True)
    assert out.returncode == 0 and "SUCCESS" in out.stdout, out.stdout + out.stderr


def test_every_alert_has_a_firing_and_a_silent_case() -> None:
    checks = [check for case in cases() for check in case["alert_rule_test"]]
    for name in (r["alert"] for r in rules()):
        mine = [c for c in checks if c["alertname"] == name]
        assert any(c["exp_alerts"] for c in mine), f"{name}: no case where it fires"
        assert any(not c["exp_alerts"] for c in mine), f"{name}: no case where it stays silent"


def test_the_ratio_alerts_fire_when_all_input_is_invalid_and_no_valid_event_series_exists() -> None:
    # a labelled counter has no series before its first increment: these cases must not
    # feed intent_events_total at all
    for name in ("IntentDlqSpike", "IntentValidityBelowTarget"):
        firing = [
            case
            for case in cases()
            if any(c["alertname"] == name and c["exp_alerts"] for c in case["alert_rule_test"])
            and not any(s["series"].startswith("intent_events_total") for s in case["input_series"])
        ]
        assert firing, f"{name}: no firing case with 100% invalid input"


def test_every_rule_waits_and_says_what_happened_and_what_to_do() -> None:
    for r in rules():
        assert re.fullmatch(r"[1-9]\d*[smh]", str(r.get("for", ""))), f"{r['alert']}: no 'for'"
        assert r["labels"]["severity"] in {"page", "ticket", "info"}, r["alert"]
        assert r["annotations"].get("summary") and r["annotations"].get("description"), r["alert"]
