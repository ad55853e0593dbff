"""``intent compare --prometheus``: the outcomes by role and version, with intervals and a
verdict (Prometheus's HTTP API answered by a stand-in)."""

from __future__ import annotations

from stream.commands import compare
from stream.commands.report import PrometheusAPI


def test_compare_reads_each_roles_outcomes_from_prometheus(monkeypatch) -> None:
    counts = {
        ("champion", "v1"): {"tp": 40, "fp": 160, "fn": 60},
        ("challenger", "v2"): {"tp": 5, "fp": 195, "fn": 95},
    }

    def query(self, expr: str) -> list[dict]:
        if "intent_outcomes_total" in expr:
            assert "[6h]" in expr
            return [
                {"metric": {"role": role, "model_version": v, "outcome": o}, "value": [0, str(n)]}
                for (role, v), by in counts.items()
                for o, n in by.items()
            ]
        return [{"metric": {"metric": "precision", "bound": "upper"}, "value": [0, "-0.1"]}]

    monkeypatch.setattr(PrometheusAPI, "query", query)
    result = compare.compare_from_prometheus("http://prometheus", "6h")
    assert result["versions"] == {"champion": ["v1"], "challenger": ["v2"]}
    c = result["comparison"]
    assert (c.champion.intents, c.challenger.intents) == (200, 200)
    assert c.champion.precision == 0.2 and c.challenger.precision == 0.025
    assert c.difference["precision"][2] < 0 and c.verdict == "challenger worse"
    text = compare.render(result)
    assert "bootstrap by outcome" in text and "verdict: challenger worse" in text
    assert "workers' live window, by user, precision" in text
