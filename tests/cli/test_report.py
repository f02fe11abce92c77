"""`scaler report` on the bundled example: the JSON is OpenCost's, the formats agree, and
bad flags are one line with exit 2."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scaler.cli import main
from scaler.errors import UserError
from scaler.report.window import parse_window

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-11-26T10:30:00Z"
BASE = [str(ROOT / "examples"), "--policies", str(ROOT / "policies"), "--now", NOW]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["report", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_from_the_installed_command_parses_with_opencost_field_names() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scaler", "report", *BASE, "--window", "7d", "--step", "1d",
         "--aggregate", "namespace,controller", "--output", "json"],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    assert doc["code"] == 200 and len(doc["data"]) == 7
    for step in doc["data"]:
        for name, a in step.items():
            assert a["name"] == name
            for key in ("cpuCost", "ramCost", "gpuCost", "pvCost", "networkCost", "sharedCost",
                        "totalCost", "cpuCoreHours", "ramByteHours", "cpuEfficiency",
                        "ramEfficiency", "totalEfficiency", "cpuCoreRequestAverage",
                        "cpuCoreUsageAverage", "ramByteRequestAverage", "ramByteUsageAverage"):
                assert isinstance(a[key], float), (name, key)
            assert set(a["window"]) == {"start", "end"}
    assert "ml/statefulset:trainer" in doc["data"][0]
    assert doc["data"][0]["ml/statefulset:trainer"]["gpuCost"] > 0
    # Per step: the lines add up to the nodes plus the fixed shared costs.
    for step, totals in zip(doc["data"], doc["scaler"]["steps"], strict=True):
        total = round(sum(a["totalCost"] for a in step.values()), 6)
        assert total == pytest.approx(totals["nodeCost"] + totals["fixedSharedCost"], abs=1e-6)


def test_table_csv_and_json_agree(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *BASE, "--window", "yesterday", "--output", "json",
                       "--aggregate", "team", "--include-idle", "--no-share-idle")
    assert code == 0
    (step,) = json.loads(out)["data"]
    assert {"shop", "payments", "ml", "data", "__idle__"} <= set(step)
    code, out, _ = run(capsys, *BASE, "--window", "yesterday", "--output", "csv",
                       "--aggregate", "team", "--include-idle", "--no-share-idle")
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(out))}
    assert set(rows) == set(step)
    assert float(rows["shop"]["totalCost"]) == step["shop"]["totalCost"]
    code, out, _ = run(capsys, *BASE, "--window", "yesterday", "--aggregate", "team",
                       "--include-idle", "--no-share-idle")
    shop_line = next(line for line in out.splitlines() if line.startswith("shop "))
    assert f"{step['shop']['totalCost']:,.2f}" in shop_line
    assert "Savings at usage" in out and "Nodes: $" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--window", "fortnight"], "--window: invalid window 'fortnight'"),
        (["--window", "2026-11-02T00:00:00,2026-11-03T00:00:00Z"], "--window: invalid window"),
        (["--aggregate", "flavour"], "--aggregate: unknown aggregation 'flavour'"),
        (["--step", "7m", "--resolution", "5m"], "--step: step 420s is not a multiple"),
        (["--step", "soon"], "--step: invalid duration 'soon'"),
        (["--region", "mars-1"], "--region: unknown region 'mars-1'"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(capsys, *BASE, *args)
    assert code == 2 and out == ""
    assert err.startswith(f"scaler: error: {message}"), err
    assert len(err.strip().splitlines()) == 1


def test_a_source_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--window", "1d")
    assert code == 2 and "give either snapshot files or --prometheus URL" in err


def test_bad_usage_file_names_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    usage = tmp_path / "usage.csv"
    usage.write_text("timestamp,namespace,pod,container,cpu_cores,memory_bytes\n"
                     "2026-11-25T00:00:00Z,shop,cart-6f9c7b8d4-b7xkq,app,lots,1\n")
    code, _, err = run(capsys, *BASE, "--usage", str(usage))
    assert code == 2
    assert f"{usage}: line 2: cpu_cores: not a number: 'lots'" in err


@pytest.mark.parametrize("columns", ["cpu,memory", "cpu_cores,memory_bytes"])
def test_usage_file_drives_the_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], columns: str
) -> None:
    # cart's three pods use exactly their request (0.5 core, 1 GiB) all day: 100% efficient,
    # no saving; the other containers have no usage rows: charged at their requests, 0% used.
    # The usage file is rightsize's shape; the report's old column names still read, noted.
    start = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    rows = [f"timestamp,namespace,pod,container,{columns}"]
    for h in range(24):
        t = (start + dt.timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for pod in ("cart-6f9c7b8d4-b7xkq", "cart-6f9c7b8d4-c2mzt", "cart-6f9c7b8d4-d9pls"):
            rows.append(f"{t},shop,{pod},app,0.5,{2**30}")
    usage = tmp_path / "usage.csv"
    usage.write_text("\n".join(rows) + "\n")
    code, out, err = run(capsys, *BASE, "--usage", str(usage), "--window", "yesterday",
                         "--resolution", "1h", "--aggregate", "controller", "--output", "json")
    assert code == 0, err
    doc = json.loads(out)
    cart = doc["data"][0]["deployment:cart"]
    assert cart["cpuEfficiency"] == pytest.approx(1.0)
    assert cart["ramEfficiency"] == pytest.approx(1.0)
    saving = next(s for s in doc["scaler"]["savings"]["workloads"]
                  if s["name"] == "shop/deployment:cart")
    assert saving["savings"] == pytest.approx(0.0, abs=1e-6)
    ledger = doc["data"][0]["deployment:ledger"]
    assert ledger["cpuCoreRequestAverage"] == pytest.approx(3.0)
    assert ledger["cpuEfficiency"] == 0.0
    old_names = [w for w in doc["scaler"]["warnings"] if "old column name" in w]
    if columns == "cpu,memory":
        assert old_names == []
    else:
        assert old_names == [
            f"{usage}: read the old column name(s) cpu_cores (now cpu), memory_bytes (now "
            "memory); the usage file's columns are timestamp,namespace,pod,container,cpu,"
            "memory[,memory_limit,oom_killed]"
        ]


def test_windows_follow_opencost_words() -> None:
    now = dt.datetime(2026, 11, 26, 10, 30, tzinfo=dt.UTC)  # a Thursday

    def iso(pair: tuple[int, int]) -> tuple[str, str]:
        return tuple(  # type: ignore[return-value]
            dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M") for t in pair)

    assert iso(parse_window("today", now)) == ("2026-11-26T00:00", "2026-11-26T10:30")
    assert iso(parse_window("yesterday", now)) == ("2026-11-25T00:00", "2026-11-26T00:00")
    assert iso(parse_window("7d", now)) == ("2026-11-19T10:30", "2026-11-26T10:30")
    assert iso(parse_window("week", now)) == ("2026-11-22T00:00", "2026-11-26T10:30")
    assert iso(parse_window("lastweek", now)) == ("2026-11-15T00:00", "2026-11-22T00:00")
    assert iso(parse_window("month", now)) == ("2026-11-01T00:00", "2026-11-26T10:30")
    assert iso(parse_window("lastmonth", now)) == ("2026-10-01T00:00", "2026-11-01T00:00")
    assert iso(parse_window("2026-11-02T00:00:00Z,2026-11-03T12:00:00+02:00", now)) == (
        "2026-11-02T00:00", "2026-11-03T10:00")
    with pytest.raises(UserError, match="is empty"):
        parse_window("2026-11-03T00:00:00Z,2026-11-02T00:00:00Z", now)
