"""KRR's formats and judgement from `scaler rightsize`: `-o krr-json` and `-o krr-csv` validate
against schemas written from KRR's models, severities follow KRR's thresholds, and the
severity and cluster score show in every output."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from scaler.cli import main
from scaler.core.rightsizing import CurrentResources, Recommendation
from scaler.core.rightsizing.severity import (
    Severity,
    cluster_score,
    container_severity,
    score_letter,
    severity,
)
from scaler.output.krr import CSV_COLUMNS, krr_cell, krr_diff, krr_units

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = ROOT / "examples" / "workloads"
USAGE = ROOT / "examples" / "usage.csv.gz"
SCHEMAS = Path(__file__).parent / "schemas"
MiB = 2**20


def rightsize(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, str]:
    code = main(["rightsize", str(WORKLOADS), "--usage", str(USAGE), *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out, err


def schema(name: str) -> Any:
    return json.loads((SCHEMAS / name).read_text())


def test_krr_json_validates_against_krrs_result_model(capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads(rightsize(capsys, "-o", "krr-json")[0])
    jsonschema.validate(doc, schema("krr-result.schema.json"))
    assert len(doc["scans"]) == 7
    assert doc["strategy"]["name"] == "scaler"
    assert doc["strategy"]["settings"]["cpu_percentile"] == 95.0
    ledger = next(s for s in doc["scans"] if s["object"]["name"] == "ledger")
    # 3 cores asked, 740m recommended: 2.26 cores apart is CRITICAL (>= 0.5).
    assert ledger["object"]["allocations"]["requests"]["cpu"] == 3.0
    assert ledger["recommended"]["requests"]["cpu"] == {"value": 0.74, "severity": "CRITICAL"}
    assert ledger["severity"] == "CRITICAL"
    # The web Deployment's HPA, in KRR's HPAData shape.
    web = next(s for s in doc["scans"] if s["object"]["name"] == "web")
    assert web["object"]["hpa"]["target_cpu_utilization_percentage"] == 70.0
    assert web["object"]["hpa"]["max_replicas"] == 12
    # Per-scan severity is the worst of its values; the score follows KRR's rule.
    order = ["UNKNOWN", "GOOD", "OK", "WARNING", "CRITICAL"]
    for s in doc["scans"]:
        values = [s["recommended"][sel][r]["severity"] for sel in ("requests", "limits")
                  for r in ("cpu", "memory")]
        assert s["severity"] == max(values, key=order.index)
    flags = sum({"WARNING": 0.7, "CRITICAL": 1.0}.get(s["severity"], 0) for s in doc["scans"])
    assert doc["score"] == int((7 - flags) / 7 * 100)


def test_krr_json_without_enough_data_says_question_mark_and_unknown(
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = json.loads(rightsize(capsys, "-o", "krr-json", "--points-required", "100000")[0])
    jsonschema.validate(doc, schema("krr-result.schema.json"))
    for s in doc["scans"]:
        assert s["recommended"]["requests"]["cpu"] == {"value": "?", "severity": "UNKNOWN"}
        assert s["severity"] == "UNKNOWN"
    assert doc["score"] == 100  # nothing flagged, as KRR scores it


def test_krr_csv_has_krrs_columns_and_cells(capsys: pytest.CaptureFixture[str]) -> None:
    out, err = rightsize(capsys, "-o", "krr-csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == list(CSV_COLUMNS)
    row_schema = schema("krr-csv.schema.json")
    for r in rows:
        jsonschema.validate(r, row_schema)
    ledger = next(r for r in rows if r["Name"] == "ledger")
    assert ledger["CPU Requests"] == "(-2.26) 3.0 -> 740m"
    assert ledger["Severity"] == "CRITICAL"
    # A workload's second container: KRR leaves the workload's cells empty.
    shipper = next(r for r in rows if r["Container"] == "log-shipper")
    assert shipper["Name"] == "" and shipper["Pods"] == ""
    assert err.startswith("score ")


def test_krr_cell_formats_match_krrs_own_test_case() -> None:
    # From KRR's tests/formatters/test_csv_formatter.py: 50m -> 6.5m, 2 pods, 2048Mi -> 0.5.
    assert krr_cell(0.05, 0.0065, True) == "(-43m) 50m -> 6m"
    assert krr_diff(0.05, 0.0065, 2) == "-87m"
    assert krr_cell(2.0, "?", False) == "2.0 -> ?"
    assert krr_cell(2048 * MiB, 0.5, True) == "(-2048Mi) 2048Mi -> 500m"
    assert krr_diff(2048 * MiB, 0.5, 2) == "-4096Mi"
    assert krr_cell(None, None, True) == "unset"
    assert krr_units(8 * 2**30) == "8192Mi" and krr_units(20 * 2**30) == "20Gi"


@pytest.mark.parametrize(
    ("resource", "current", "recommended", "expected"),
    [
        ("cpu", 1.0, 0.45, Severity.CRITICAL),
        ("cpu", 1.0, 0.7, Severity.WARNING),
        ("cpu", 1.0, 0.85, Severity.OK),
        ("cpu", 1.0, 0.95, Severity.GOOD),
        ("memory", 1024 * MiB, 500 * MiB, Severity.CRITICAL),
        ("memory", 1024 * MiB, 750 * MiB, Severity.WARNING),
        ("memory", 1024 * MiB, 900 * MiB, Severity.OK),
        ("memory", 1024 * MiB, 1000 * MiB, Severity.GOOD),
        ("memory", None, None, Severity.GOOD),
        ("memory", None, 100 * MiB, Severity.WARNING),
        ("cpu", 1.0, float("nan"), Severity.UNKNOWN),
    ],
)
def test_severity_thresholds_are_krrs(
    resource: str, current: float | None, recommended: float | None, expected: Severity
) -> None:
    assert severity(resource, current, recommended) is expected


def test_container_severity_and_score() -> None:
    rec = Recommendation("scaler", 0.2, 512 * MiB, None, 600 * MiB, True, True, "", "low")
    cur = CurrentResources(1.0, None, 512 * MiB, None)  # CPU 0.8 apart; memory limit added
    assert container_severity(cur, rec) is Severity.CRITICAL
    assert cluster_score([Severity.CRITICAL, Severity.WARNING, Severity.GOOD, Severity.OK]) == 57
    assert cluster_score([]) == 0
    assert [score_letter(s) for s in (29, 54, 69, 89, 90)] == ["F", "D", "C", "B", "A"]


def test_severity_and_score_in_every_scaler_format(capsys: pytest.CaptureFixture[str]) -> None:
    table = rightsize(capsys)[0]
    assert "SEVERITY" in table and "CRITICAL" in table
    assert "score 18 (F" in table
    doc = json.loads(rightsize(capsys, "-o", "json")[0])
    assert doc["summary"]["score"] == 18 and doc["summary"]["scoreLetter"] == "F"
    assert {c["severity"] for c in doc["containers"]} <= {"CRITICAL", "WARNING", "OK", "GOOD"}
    ydoc = yaml.safe_load(rightsize(capsys, "-o", "yaml")[0])
    assert ydoc["summary"]["score"] == 18
    rows = list(csv.DictReader(io.StringIO(rightsize(capsys, "-o", "csv")[0])))
    assert rows[0]["severity"] == "CRITICAL" and rows[0]["cluster_score"] == "18"


def test_selector_and_kind_select_workloads_from_manifests_too(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for args in (("-l", "app=spark"), ("--kind", "statefulset"), ("-l", "app in (spark,x)")):
        doc = json.loads(rightsize(capsys, "-o", "krr-json", *args)[0])
        assert [s["object"]["name"] for s in doc["scans"]] == ["spark-driver"], args
    code = main(["rightsize", str(WORKLOADS), "--usage", str(USAGE), "--kind", "Pod"])
    assert code == 2 and "unknown kind 'Pod'" in capsys.readouterr().err


# Every option of `krr simple` (robusta_krr/main.py and the simple strategy's settings).
KRR_SIMPLE_FLAGS = (
    "--kubeconfig", "--as", "--as-group", "--context", "--all-clusters", "--namespace",
    "--resource", "--selector", "--prometheus-url", "--prometheus-auth-header",
    "--prometheus-headers", "--prometheus-ssl-enabled", "--prometheus-cluster-label",
    "--prometheus-label", "--eks-managed-prom", "--eks-profile-name", "--eks-access-key",
    "--eks-secret-key", "--eks-service-name", "--eks-managed-prom-region", "--eks-assume-role",
    "--coralogix-token", "--openshift", "--cpu-min", "--mem-min", "--max-workers",
    "--job-grouping-labels", "--job-grouping-limit", "--discovery-job-batch-size",
    "--discovery-job-max-batches", "--formatter", "--show-cluster-name", "--exclude-severity",
    "--verbose", "--quiet", "--logtostderr", "--width", "--fileoutput", "--fileoutput-dynamic",
    "--slackoutput", "--slacktitle", "--azurebloboutput", "--teams-webhook",
    "--azure-subscription-id", "--azure-resource-group", "--publish_scan_url", "--start_time",
    "--scan_id", "--named_sinks", "--history_duration", "--timeframe_duration",
    "--cpu_percentile", "--memory_buffer_percentage", "--points_required", "--allow_hpa",
    "--use_oomkill_data", "--oom_memory_buffer_percentage",
)


def test_docs_map_every_krr_simple_flag_to_a_real_scaler_flag() -> None:
    import argparse
    import re

    from scaler.cli.rightsize import register

    text = (ROOT / "docs" / "rightsizing.md").read_text()
    table = text.split("## From KRR: every `krr simple` flag", 1)[1].split("\n## ", 1)[0]
    rows = [r.split(" | ", 1) for r in table.splitlines() if r.startswith("| `")]
    krr_side = {f for left, _ in rows for f in re.findall(r"`(--[a-z_-]+)", left)}
    assert set(KRR_SIMPLE_FLAGS) <= krr_side, set(KRR_SIMPLE_FLAGS) - krr_side
    sub = argparse.ArgumentParser().add_subparsers()
    register(sub)
    parser = sub.choices["rightsize"]
    ours = {o for a in parser._actions for o in a.option_strings}
    named = {f for _, right in rows for f in re.findall(r"`(--[a-z0-9-]+)", right)}
    assert named and named <= ours, named - ours
