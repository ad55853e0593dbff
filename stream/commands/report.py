"""``intent report``: the Grafana dashboard's panels rendered to one PNG, without Grafana.

The panels and their PromQL come from the dashboard JSON itself
(``deploy/grafana/dashboards/intent.json``, shipped in the package: see
:mod:`stream.commands.deploy_files`), so the picture shows exactly what Grafana
would. Each query is run against a Prometheus server's HTTP API over the last minutes
(``query_range``; table panels use an instant query) and drawn with matplotlib. The
summary returned (and printed by the CLI) gives each series' last value in words.
"""

from __future__ import annotations

import re
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from stream.commands.deploy_files import DEPLOY_DIR

__all__ = ["DASHBOARD", "load_panels", "PrometheusAPI", "render_run_report", "Panel"]

DASHBOARD = DEPLOY_DIR / "grafana" / "dashboards" / "intent.json"


@dataclass
class Panel:
    title: str
    kind: str
    unit: str
    targets: list[tuple[str, str]]  # (expr, legendFormat)
    series: list[tuple[str, list[float], list[float]]] = field(default_factory=list)


def load_panels(path: Path = DASHBOARD) -> list[Panel]:
    dash = orjson.loads(Path(path).read_bytes())
    return [
        Panel(
            p["title"],
            p["type"],
            p.get("fieldConfig", {}).get("defaults", {}).get("unit", ""),
            [(t["expr"], t.get("legendFormat", "")) for t in p.get("targets", [])],
        )
        for p in dash["panels"]
        if p["type"] != "row"  # a row only groups the panels below it
    ]


def legend(fmt: str, labels: dict[str, str]) -> str:
    """Grafana's ``{{label}}`` substitution."""
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt) or str(labels)


class PrometheusAPI:
    """The calls of Prometheus's HTTP API that the report and the tests need."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _get(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as resp:
            body = orjson.loads(resp.read())
        if body.get("status") != "success":
            raise RuntimeError(f"Prometheus query failed: {body.get('error', body)}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self._get("/api/v1/query", query=expr)["result"]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        return self._get("/api/v1/query_range", query=expr, start=start, end=end, step=step)["result"]

    def rules(self) -> list[str]:
        """Names of the alerting rules the server has loaded."""
        return [r["name"] for g in self._get("/api/v1/rules")["groups"] for r in g["rules"]]


def render_run_report(
    prometheus_url: str, out: Path, minutes: float = 15.0, dashboard: Path = DASHBOARD
) -> dict[str, dict[str, Any]]:
    """Query every panel, draw them in a grid to ``out`` (PNG); returns, per panel, each
    series' last value (or the table's label values)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    api = PrometheusAPI(prometheus_url)
    end = time.time()
    start, step = end - minutes * 60, max(minutes * 60 / 300, 1.0)
    panels = load_panels(dashboard)
    summary: dict[str, dict[str, Any]] = {}
    cols = 2
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(12, 3.2 * rows), squeeze=False)
    for ax, panel in zip(axes.flat, panels):
        summary[panel.title] = {}
        if panel.kind == "table":
            lines = []
            for expr, fmt in panel.targets:
                for r in api.query(expr):
                    labels = {k: v for k, v in r["metric"].items() if k != "__name__"}
                    lines.append(", ".join(f"{k}={v}" for k, v in sorted(labels.items())))
                    summary[panel.title][legend(fmt, labels)] = labels
            ax.axis("off")
            ax.text(0.0, 0.9, "\n".join(lines) or "no data", va="top", family="monospace", fontsize=7)
        else:
            for expr, fmt in panel.targets:
                for r in api.query_range(expr, start, end, step):
                    xs = [float(t) - end for t, _ in r["values"]]
                    ys = [float(v) for _, v in r["values"]]
                    name = legend(fmt, r["metric"])
                    ax.plot([x / 60 for x in xs], ys, label=name, lw=1.2)
                    summary[panel.title][name] = ys[-1] if ys else None
            ax.set_xlabel("minutes ago")
            if panel.unit:
                ax.set_ylabel(panel.unit)
            if summary[panel.title]:
                ax.legend(fontsize=7)
            else:
                ax.text(0.5, 0.5, "no data", ha="center", transform=ax.transAxes)
        ax.set_title(panel.title, fontsize=10)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return summary
