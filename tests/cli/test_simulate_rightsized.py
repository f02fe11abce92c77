"""`scaler simulate --rightsized`: the node plan and cost with recommendations applied, next
to the current one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scaler.cli import main
from scaler.cli.rightsize import make_report
from scaler.simulation.provision import load_inputs
from scaler.simulation.rightsized import apply

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "examples" / "snapshot.yaml"
USAGE = ROOT / "examples" / "usage.csv.gz"
POLICIES = ROOT / "policies"


def test_json_has_both_plans_and_the_right_sized_one_costs_less(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        [
            "simulate",
            str(SNAPSHOT),
            "--policies",
            str(POLICIES),
            "--rightsized",
            "--usage",
            str(USAGE),
            "-o",
            "json",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert doc["podsChanged"] >= 10
    cur, rs = doc["current"]["cost"], doc["rightsized"]["cost"]
    assert rs["plannedPerHour"] < cur["plannedPerHour"]
    assert rs["currentPerHour"] == cur["currentPerHour"]  # the same existing nodes
    scratch = doc["fromScratch"]
    assert (
        scratch["rightsized"]["cost"]["plannedPerHour"]
        < (scratch["current"]["cost"]["plannedPerHour"])
    )
    assert all(not n["existing"] for n in scratch["current"]["nodes"])
    assert doc["rightsizing"]["monthlySaving"] > 0


def test_table_puts_the_plans_side_by_side(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", str(SNAPSHOT), "--rightsized", "--usage", str(USAGE)])
    out = capsys.readouterr().out
    assert code == 0
    assert "Right-sized requests (" in out
    assert "from scratch, right-sized" in out
    assert "right-sizing saves $" in out


def test_pods_ask_for_what_their_workload_is_recommended() -> None:
    import argparse

    inputs = load_inputs([str(SNAPSHOT)], None, "us-east-1")
    args = argparse.Namespace(
        usage=str(USAGE),
        prometheus=None,
        policies=None,
        namespace=None,
        strategy=None,
        end=None,
        step=None,
        region="us-east-1",
    )
    report = make_report(args, [SNAPSHOT], inputs.catalog)
    ledger = next(r for r in report.rows if r.workload.name == "ledger")
    snap, changed = apply(inputs.snapshot, report)
    pod = next(p for p in snap.pods if p.name == "ledger-5b8d7c6f9-x4z2w")
    assert ledger.recommendation.cpu_request is not None
    assert pod.requests["cpu"] == round(ledger.recommendation.cpu_request * 1000)
    before = next(p for p in inputs.snapshot.pods if p.name == "ledger-5b8d7c6f9-x4z2w")
    assert before.requests["cpu"] == 3000
    assert changed > 0


def test_rightsized_needs_a_usage_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(SNAPSHOT), "--rightsized"]) == 2
    assert capsys.readouterr().err == (
        "scaler: error: --usage or --prometheus: --rightsized needs a usage source\n"
    )
