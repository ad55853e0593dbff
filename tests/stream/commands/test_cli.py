"""The command-line contract: clear one-line errors, non-zero exits, flags over env."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stream.commands.cli import build_parser, main
from stream.config import Settings


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, "-m", "stream.commands.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0
    lines = [l for l in proc.stderr.strip().splitlines() if l.strip()]
    assert len(lines) >= 1
    return lines[-1]


def test_help_lists_commands_and_environment() -> None:
    out = run("--help").stdout
    for word in (
        "broker",
        "worker",
        "replay",
        "train",
        "evaluate",
        "demo",
        "INTENT_BOOTSTRAP",
        "INTENT_MODEL_DIR",
        "INTENT_METRICS_PORT",
        "INTENT_SASL_MECHANISM",
    ):
        assert word in out
    assert "INTENT_BOOTSTRAP" in run("worker", "--help").stdout


def test_missing_file_and_bad_arguments(tmp_path: Path) -> None:
    assert "no such file" in one_line_error(run("replay", str(tmp_path / "nope.csv")))
    assert "--speed" in one_line_error(run("replay", "x.csv", "--speed", "fast"))
    assert "invalid choice" in one_line_error(run("replay", "x.csv", "--format", "avro"))
    assert "--since: not a date" in one_line_error(run("quality", "x.csv", "--since", "monday"))
    assert "INTENT_PARTITIONS" in one_line_error(run("worker", env={"INTENT_PARTITIONS": "many"}))


def test_unreachable_broker(jdata_dir: Path, quick_model) -> None:
    err = one_line_error(run("replay", str(jdata_dir), "--bootstrap", "127.0.0.1:1", "--limit", "5"))
    assert "cannot reach Kafka at 127.0.0.1:1" in err
    err = one_line_error(run("worker", "--bootstrap", "127.0.0.1:1", "--model", str(quick_model[0])))
    assert "cannot reach Kafka" in err


def test_worker_refuses_missing_model(tmp_path: Path) -> None:
    err = one_line_error(run("worker", "--model", str(tmp_path / "none")))
    assert "no manifest.json" in err and "intent train" in err


def test_flags_win_over_environment(monkeypatch) -> None:
    monkeypatch.setenv("INTENT_BOOTSTRAP", "env:1")
    monkeypatch.setenv("INTENT_METRICS_PORT", "1111")
    args = build_parser().parse_args(["worker", "--bootstrap", "flag:2", "--model", "/m"])
    s = Settings.from_env(bootstrap=args.bootstrap, model_dir=args.model, metrics_port=args.metrics_port)
    assert (s.bootstrap, str(s.model_dir), s.metrics_port) == ("flag:2", "/m", 1111)


def test_secrets_are_never_printed(monkeypatch) -> None:
    monkeypatch.setenv("INTENT_SASL_PASSWORD", "hunter2")
    assert "hunter2" not in repr(Settings.from_env())


@pytest.mark.integration
def test_replay_then_offline_state_dump(broker, jdata_dir, tmp_path) -> None:
    assert (
        main(
            [
                "replay",
                str(jdata_dir / "JData_Action_201602.csv.gz"),
                "--bootstrap",
                broker.bootstrap,
                "--limit",
                "50",
                "--quiet",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "state",
                "--offline",
                str(jdata_dir / "JData_Action_201602.csv.gz"),
                "--dump",
                str(tmp_path / "off.jsonl"),
            ]
        )
        == 0
    )
    assert (tmp_path / "off.jsonl").read_text().count("\n") > 1000


def test_quality_reports_the_defects_of_a_file(tmp_path, capsys) -> None:
    import orjson

    rows = [
        "timestamp,user_id,item_id,event_type,category_id",
        "1454284800000,u1,i1,view,c1",
        "1454284860000,u1,i2,view,",  # no category
        "1454284920000,u2,i1,addtocart,c1",
        "1454284000000,u3,i3,view,c2",  # 15 minutes behind the file's clock: late
        "garbage,u4,i4,view,c1",  # malformed row
    ]
    data = tmp_path / "clicks.csv"
    data.write_text("\n".join(rows) + "\n")
    assert main(["quality", str(data), "--json"]) == 0
    r = orjson.loads(capsys.readouterr().out)
    assert r["events"] == 4 and r["missing_share"]["category_id"] == 0.25
    assert r["validity"] == 0.8 and r["late_share"] == 0.25 and r["completeness"] == 0.0  # no prices
    assert r["by_source"]["clicks"]["events"] == 4
    assert r["targets"]["completeness >= 0.95"] is False


def test_quality_counts_rows_out_of_the_data_sets_time_range(tmp_path, capsys) -> None:
    """Taobao's file holds rows dated months before its 9 days: a defect the report counts."""
    import gzip

    import orjson

    from tests.stream.domain.test_readers import TAOBAO

    with gzip.open(TAOBAO, "rt") as f:
        rows = [line for k, line in enumerate(f, start=1) if 4150 <= k <= 4199]  # row 4171: 2017-09-11
    data = tmp_path / "UserBehavior.csv"
    data.write_text("".join(rows))
    assert main(["quality", str(data), "--json"]) == 0
    r = orjson.loads(capsys.readouterr().out)
    assert r["skipped_rows"] == {"out_of_range": 1} and r["events"] == 49 and r["validity"] == 0.98


@pytest.fixture(scope="module")
def jd_archive(tmp_path_factory: pytest.TempPathFactory, jdata_events: list) -> Path:
    """The JD sample as an event archive, in China time like the file readers' days."""
    from stream.archive.flush import archive_events

    root = tmp_path_factory.mktemp("archive")
    archive_events(root, jdata_events, day_offset_ms=-8 * 3_600_000)
    return root


def test_evaluate_state_and_quality_read_an_archive_and_a_window_as_they_read_the_file(
    jd_archive: Path, jdata_dir: Path, quick_model, tmp_path: Path, capsys
) -> None:
    """The archive (detected, or --format parquet) and --since/--until give the same figures
    as the file: the training entry points read it through the same reader."""
    import orjson

    april = ["--since", "2016-04-01", "--until", "2016-05-01"]

    def json_of(*args: str) -> dict:
        assert main([*args, "--json"]) == 0
        return orjson.loads(capsys.readouterr().out)

    from_file = json_of("evaluate", "--model", str(quick_model[0]), str(jdata_dir), *april)
    from_archive = json_of("evaluate", "--model", str(quick_model[0]), str(jd_archive), *april)
    assert from_archive == from_file and 0 < from_file["n_examples"]
    for data, name in ((jdata_dir, "file"), (jd_archive, "archive")):
        assert main(["state", "--offline", str(data), *april, "--dump", str(tmp_path / f"{name}.jsonl")]) == 0
    assert (tmp_path / "archive.jsonl").read_bytes() == (tmp_path / "file.jsonl").read_bytes()
    assert capsys.readouterr().out.count("wrote ") == 2
    file_quality = json_of("quality", str(jdata_dir), "--since", "2016-03-01")
    archive_quality = json_of("quality", str(jd_archive), "--format", "parquet", "--since", "2016-03-01")
    for key in ("events", "completeness", "validity", "missing_share", "by_source"):
        assert archive_quality[key] == file_quality[key], key


def test_archive_refuses_a_directory_of_another_time_zone_in_one_line(jd_archive: Path) -> None:
    err = one_line_error(run("archive", "--dir", str(jd_archive), "--bootstrap", "127.0.0.1:1"))
    assert "holds days that start +8 h from UTC, but INTENT_ARCHIVE_UTC_OFFSET_H is 0" in err
    china = {"INTENT_ARCHIVE_UTC_OFFSET_H": "8"}
    err = one_line_error(run("archive", "--dir", str(jd_archive), "--bootstrap", "127.0.0.1:1", env=china))
    assert "cannot reach Kafka" in err
