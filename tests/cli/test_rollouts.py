"""Argo Rollouts (argoproj.io/v1alpha1), as Argo's examples write them: a Rollout's pods are
pending in `simulate`, and `rightsize` finds and sizes it (with workloadRef, the referenced
Deployment holds the template, so the recommendation patches the Deployment)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scaler.cli import main

ROOT = Path(__file__).resolve().parents[2]
ROLLOUTS = ROOT / "tests" / "fixtures" / "snapshots" / "rollouts"


def test_rollout_pods_are_pending_in_simulate(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", str(ROLLOUTS), "-o", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    # 5 replicas of rollout-canary and 3 of rollout-ref-deployment (whose Deployment, at 0
    # replicas and referenced by the Rollout, adds none).
    assert doc["summary"]["pending"] == 8
    assert doc["summary"]["expandedWorkloads"] == 2
    assert "Rollout" not in doc["summary"]["ignoredKinds"]
    placed = sorted(p["pod"] for p in doc["placements"])
    assert sum(p.startswith("default/rollout-canary-") for p in placed) == 5
    assert sum(p.startswith("default/rollout-ref-deployment-") for p in placed) == 3
    assert not doc["unschedulable"]


def _usage(tmp_path: Path) -> Path:
    rows = ["timestamp,namespace,pod,container,cpu,memory,memory_limit,oom_killed"]
    start = 1_763_337_600
    pods = [("rollout-canary-6b7c9d8f5c-x2k9p", "rollouts-demo"),
            ("rollout-ref-deployment-5f9d7c6b8d-q7w2z", "rollouts-demo")]
    for i in range(200):  # 10-minute points over 33 hours
        for pod, container in pods:
            rows.append(f"{start + 600 * i},default,{pod},{container},0.05,{64 * 2**20},,0")
    path = tmp_path / "usage.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_rollouts_are_found_and_right_sized(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["rightsize", str(ROLLOUTS), "--usage", str(_usage(tmp_path)), "-o", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    rows = {(r["kind"], r["workload"]): r for r in doc["containers"]}
    assert set(rows) == {("Rollout", "rollout-canary"), ("Deployment", "rollout-ref-deployment")}
    # workloadRef: the Deployment carries the template; the Rollout's replicas count.
    ref = rows[("Deployment", "rollout-ref-deployment")]
    assert ref["replicas"] == 3
    assert ref["usage"]["dataPoints"] == 200  # the Rollout's pods' usage
    canary = rows[("Rollout", "rollout-canary")]
    assert canary["replicas"] == 5
    assert canary["current"]["requests"]["cpu"] == "500m"
    assert canary["recommended"]["requests"]["cpu"] == "50m"
    assert canary["usage"]["dataPoints"] == 200
