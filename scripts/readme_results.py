"""Write the README's results and benchmark sections from the runs they cite.

Each cited training run's ``metrics.json`` (what ``intent train`` writes into its
artifact) is kept in ``docs/results/<data set>.json``, and the cited ``intent bench
--json`` output in ``docs/results/bench.json``; this script renders the sections between
the README's ``<!-- results:begin -->`` / ``<!-- results:end -->`` and ``<!-- bench:begin
-->`` / ``<!-- bench:end -->`` markers from them, so no figure in them is typed by hand.
``--check`` exits 1 when the README differs from what the files give (the test suite
runs it).

    python scripts/readme_results.py                       # rewrite the sections
    python scripts/readme_results.py --add taobao DIR/metrics.json   # cite a new run
    python scripts/readme_results.py --add bench BENCH.json          # cite a bench run
    python scripts/readme_results.py --check
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.protocol.report_tables import cold_table, model_order, reading_of, verdict  # noqa: E402

README = ROOT / "README.md"
RESULTS = ROOT / "docs" / "results"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
BENCH_BEGIN, BENCH_END = "<!-- bench:begin -->", "<!-- bench:end -->"
REFRESH_BEGIN, REFRESH_END = "<!-- refresh:begin -->", "<!-- refresh:end -->"
#: the refresh cited: its artifact's manifest, and the command that wrote it
REFRESH = (
    "taobao_serve",
    "intent train ../shared/data/taobao-userbehavior --serve --compare-with artifacts/taobao --out DIR",
)
#: data set file stem -> (title, the command that produced the run)
DATA_SETS = {
    "taobao": (
        "Taobao UserBehavior (the main set: 814 users, 9 days, 1,749 purchases)",
        "intent train ../shared/data/taobao-userbehavior --out artifacts/taobao",
    ),
    "jdata": (
        "JD.com 2016 sample (the paper's data family: 200 orders in three slices of a few hours)",
        "intent train ../shared/data/jdata-2016-sample --out artifacts/model",
    ),
}


def _ci(c: dict, metric: str, fmt: str = ".4f") -> str:
    return f" [{c[metric][0]:{fmt}}, {c[metric][1]:{fmt}}]" if metric in c else ""


def summary_table(m: dict) -> str:
    """One row per model: its test PR-AUC with its interval over users and seeds, its seeds'
    figures, the Holm-adjusted paired difference fused minus it and its reading, its
    precision and purchase recall at the 5% budget, and its mean cost (the run's report has
    the full tables: ROC-AUC, F1, the other budgets, calibration, per activity bucket)."""
    ci, paired, seeds = m.get("ci", {}), m.get("paired", {}), m.get("seed_figures", {})
    cost = m.get("cost", {}).get("models", {})
    budget = m.get("at_budget", {})
    lines = [
        "| model | PR-AUC [95% CI] | per seed | fused minus it [Holm-adjusted] | reading | "
        "at 5% a day: precision [95% CI] | purchase recall [95% CI] | µs / pair |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n in model_order(m["models"]):
        if n == "fused_no_prior":
            continue
        row = m["models"][n]
        pr = f"{row['pr_auc']:.4f}{_ci(ci.get(n, {}), 'pr_auc')}"
        per_seed = ", ".join(f"{v:.4f}" for v in seeds.get(n, {}).get("pr_auc", [])) or "—"
        if len(set(seeds.get(n, {}).get("pr_auc", []))) == 1:
            per_seed = "(deterministic)"
        if n in paired:
            lo, _, hi = paired[n]["pr_auc_diff"]
            diff, reading = f"{paired[n]['point']:+.4f} [{lo:+.4f}, {hi:+.4f}]", reading_of(paired[n])
        else:
            diff, reading = "—", "—"
        b = budget.get(n, {}).get("5%")
        prec = f"{b['precision']:.4f}{_ci(b['ci'], 'precision')}" if b else "—"
        rec = f"{b['purchase_recall']:.3f}{_ci(b['ci'], 'purchase_recall', '.3f')}" if b else "—"
        us = f"{sum(cost[n]['us_per_pair']) / len(cost[n]['us_per_pair']):.1f}" if n in cost else "—"
        lines.append(f"| {n} | {pr} | {per_seed} | {diff} | {reading} | {prec} | {rec} | {us} |")
    return "\n".join(lines)


def served_line(m: dict) -> str:
    """The served model's own figures, and the seeds' spread beside them."""
    s = m["served"]
    f, c = s["models"]["fused"], s.get("ci", {}).get("fused", {})
    b = s.get("at_budget", {}).get("fused", {}).get("5%")
    cal = s.get("calibration", {}).get("fused", {})
    spread = ", ".join(f"{v:.4f}" for v in s.get("seed_spread", {}).get("pr_auc", []))
    text = (
        f"**The served model** (the artifact: seed {s['seed']}'s fused model, the seed with the best "
        "validation "
        f"PR-AUC): PR-AUC {f['pr_auc']:.4f}{_ci(c, 'pr_auc')}, ROC-AUC "
        f"{f['roc_auc']:.4f}{_ci(c, 'roc_auc')}; at "
        f"its threshold t_p = {s['threshold']:.4f} (set on validation to send 5% of the day's active users "
        "a day) "
        f"precision {f['precision']:.4f}{_ci(c, 'precision')}, F1 {f['f1']:.4f}, purchase recall "
        f"{f['purchase_recall']:.3f}{_ci(c, 'purchase_recall', '.3f')}"
    )
    if b:
        text += (
            f"; sending the top 5% of each day's active users: precision {b['precision']:.4f}"
            f"{_ci(b['ci'], 'precision')}, purchase recall {b['purchase_recall']:.3f}"
            f"{_ci(b['ci'], 'purchase_recall', '.3f')}, lift {b['lift']:.1f}{_ci(b['ci'], 'lift', '.1f')}"
        )
    if cal:
        text += f"; calibration on the test days: Brier {cal['brier']:.5f}, ECE {cal['ece']:.5f}"
    return text + f". The seeds' spread beside it (fused PR-AUC per seed): {spread}."


def _section(name: str, m: dict) -> list[str]:
    title, command = DATA_SETS[name]
    split, fusion = m["split"], m["fusion"]
    horizon = split["embargo_ms"] // 60_000
    unit = split.get("unit", "day")
    cold = m.get("cold_replay", {})
    out = [
        f"### {title}",
        "",
        *[f"**Warning: {w}.**\n" for w in m.get("warnings", [])],
        f"`{command}` (full, not `--quick`): model `{m['model_version']}`, {m['total_s']:,.0f} s, peak RSS "
        f"{m['peak_rss_mb']:,} MB on the 2-core machine; `docs/results/{name}.json` is its `metrics.json` "
        f"(the run's `report.md` has every table). {m['data']['n_events']:,} events; active {unit}s train / "
        f"validation / test {tuple(split['days'])}; horizon {horizon} min; seeds {m['seeds']}; "
        f"{m.get('n_boot', 0)} bootstrap resamples of users and seeds. Test: {split['test']:,} scored rows "
        f"({split['test_pos']} positive), {m['n_purchases']} purchases counted; candidate recall "
        f"{m['candidate_recall']} against a ceiling of {m['touched_share']} "
        f"(items the user had touched before). {m['sample_weights']['reason'][:1].upper()}"
        f"{m['sample_weights']['reason'][1:]}.",
        "",
        served_line(m),
        "",
        summary_table(m),
        "",
        verdict(m)
        + f" Served fusion: w_r = {fusion['w_r']} (per seed: "
        + ", ".join(str(r["w_r"]) for r in fusion["per_seed"])
        + f"), t_p = {fusion['threshold']:.4f}.",
        "",
    ]
    if cold:
        out += [
            "Cold replay of the test days (every user's state emptied at each day's start, so every user "
            "is new "
            f"that day: {cold['n_examples']:,} rows, {cold['n_purchases']} purchases counted; the cold-start "
            f"prior's weight {cold.get('cold_start_weight')}, chosen on the validation day's cold replay):",
            "",
            cold_table(cold, skip=("fused_no_prior",)),
            "",
        ]
    return out


def render() -> str:
    lines = [
        BEGIN,
        "<!-- generated by scripts/readme_results.py from docs/results/*.json: do not edit -->",
        "",
    ]
    for name in DATA_SETS:
        path = RESULTS / f"{name}.json"
        if path.exists():
            lines += _section(name, orjson.loads(path.read_bytes()))
    lines.append(END)
    return "\n".join(lines)


def render_bench(r: dict) -> str:
    """The benchmark table of one ``intent bench --json`` run, with its targets."""
    lat = r["latency_ms"]
    low, high = sorted(lat, key=int)[0], sorted(lat, key=int)[-1]
    cost = r["model_us_per_pair"]["fused"]
    met = r["targets"]
    rows = [
        (
            f"I/O limit (aiokafka consume, parse, publish), best of {len(r['io_limit_runs'])}",
            f"{r['io_limit_eps']:,.0f} events/s",
            "",
        ),
        (
            "Faust floor (a Faust app that only forwards, through the worker's intake)",
            f"{r['faust_floor_eps']:,.0f} events/s",
            "",
        ),
        ("naive Faust agent (one model call per event)", f"{r['naive_eps']:,.0f} events/s", ""),
        (
            f"intent worker, sustained on all {r['throughput_events']:,} real events, best of "
            f"{len(r['worker_runs'])}",
            f"**{r['worker_eps']:,.0f} events/s**: {r['worker_vs_io_limit']:.1%} "
            f"of I/O, {r['worker_vs_naive']:,.0f}x naive",
            ">= 50% of I/O, >= 10x naive",
        ),
        (
            "... with a challenger shadow-scored beside the served model (`INTENT_CHALLENGER`)",
            f"{r['worker_eps_with_challenger']:,.0f} events/s: "
            f"{r['worker_with_challenger_vs_io_limit']:.1%} of I/O (shadow scoring costs "
            f"{r['challenger_cost']:.0%} of the rate)",
            "",
        ),
        *[
            (
                f"latency p50 / p95 / p99 at {int(rate):,} events/s offered",
                f"{lat[rate]['p50']:.0f} / {lat[rate]['p95']:.0f} / **{lat[rate]['p99']:.0f}** ms",
                f"p99 <= {100 if rate == low else 250} ms",
            )
            for rate in (low, high)
        ],
        (
            "fused model, us per pair at batch 1 / 64 / 1024, on real pairs",
            f"{cost['1']:,.0f} / {cost['64']:.1f} / **{cost['1024']:.1f}**",
            "<= 50 at 1024",
        ),
        (
            f"state per user: worker RSS one more user costs (between half and all of "
            f"{r['memory_users']:,} users of {r['memory_events_per_user']:.0f} events); "
            "all RSS added / users; serialized",
            f"**{r['rss_marginal_bytes_per_user']:,.0f} bytes**; {r['rss_per_user_bytes']:,.0f}; "
            f"{r['serialized_bytes_per_user']:,.0f}",
            "<= 2 KB",
        ),
    ]
    lines = [
        BENCH_BEGIN,
        "<!-- generated by scripts/readme_results.py from docs/results/bench.json: do not edit -->",
        "",
        "| figure | measured | target |",
        "|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    missed = [k for k, ok in met.items() if not ok]
    lines += [
        "",
        f"Targets met: {sum(met.values())} of {len(met)}"
        + (f"; missed: {', '.join(missed)}." if missed else "."),
        BENCH_END,
    ]
    return "\n".join(lines)


def render_refresh(manifest: dict, scale: dict | None) -> str:
    """The refresh's own test figures and its paired comparison with the artifact it was
    compared with (from its manifest's ``serve_run``), and the train-scale runs."""
    run, name = manifest["serve_run"], REFRESH[0]
    stages = ", ".join(f"{s['stage']} {s['seconds']:.0f} s" for s in run["stages"])
    fused, ci = run["test"]["models"]["fused"], run["test"]["ci"]["fused"]
    lines = [
        REFRESH_BEGIN,
        f"<!-- generated by scripts/readme_results.py from docs/results/{name}.json and "
        "train_scale.json: do not edit -->",
        "",
        f"`{REFRESH[1]}` wrote `{manifest['model_version']}` (`docs/results/{name}.json` is its "
        f"manifest; stages {stages}). "
        f"Its test days, {run['test']['n_examples']:,} rows of {run['test']['n_users']:,} users, "
        f"{run['n_boot']} resamples over users: fused PR-AUC {fused['pr_auc']:.4f} "
        f"[{ci['pr_auc'][0]:.4f}, {ci['pr_auc'][1]:.4f}], ROC-AUC {fused['roc_auc']:.3f} "
        f"[{ci['roc_auc'][0]:.3f}, {ci['roc_auc'][1]:.3f}].",
    ]
    compared = run.get("compared_with") or {}
    if compared.get("paired"):
        cells = []
        for metric, p in compared["paired"].items():
            lo, _, hi = p[f"{metric}_diff"]
            reading = p["reading"].replace("_", " ")
            cells.append(f"{metric} {p['point']:+.4f} [{lo:+.4f}, {hi:+.4f}]: {reading}")
        lines += [
            "",
            f"Against `{compared['model_version']}` on the same rows (new minus served, paired by "
            f"user): {'; '.join(cells)}.",
        ]
    if scale:
        lines += ["", "| train --serve on generated events | users | seconds | s / M events | peak memory |"]
        lines.append("|---|---|---|---|---|")
        for r in scale["runs"]:
            lines.append(
                f"| {r['events']:,} | {r['users']:,} | {r['train_serve_s']:.0f} | "
                f"{r['s_per_million_events']:.0f} | {r['peak_rss_mb']:,} MB |"
            )
    lines.append(REFRESH_END)
    return "\n".join(lines)


def _replace(readme: str, begin: str, end: str, body: str) -> str:
    if begin not in readme or end not in readme:
        raise SystemExit(f"{README}: no {begin} ... {end} markers")
    head, rest = readme.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + body + tail


def updated(readme: str) -> str:
    readme = _replace(readme, BEGIN, END, render())
    bench = RESULTS / "bench.json"
    if bench.exists():
        readme = _replace(readme, BENCH_BEGIN, BENCH_END, render_bench(orjson.loads(bench.read_bytes())))
    refresh, scale = RESULTS / f"{REFRESH[0]}.json", RESULTS / "train_scale.json"
    if refresh.exists():
        scaled = orjson.loads(scale.read_bytes()) if scale.exists() else None
        readme = _replace(
            readme, REFRESH_BEGIN, REFRESH_END, render_refresh(orjson.loads(refresh.read_bytes()), scaled)
        )
    return readme


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 if the README is not what the files give")
    p.add_argument(
        "--add",
        nargs=2,
        metavar=("DATA_SET", "METRICS_JSON"),
        help=f"cite a run: copy its metrics.json (or bench JSON) as docs/results/NAME.json "
        f"({', '.join(DATA_SETS)}, bench)",
    )
    args = p.parse_args(argv)
    if args.add:
        name, src = args.add
        if name not in DATA_SETS and name != "bench":
            p.error(f"unknown run {name!r}; expected one of {', '.join(DATA_SETS)}, bench")
        RESULTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, RESULTS / f"{name}.json")
    current = README.read_text()
    new = updated(current)
    if args.check:
        if new != current:
            print(
                "README.md: the results or bench section differs from docs/results/*.json; run "
                "python scripts/readme_results.py",
                file=sys.stderr,
            )
            return 1
        return 0
    README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
