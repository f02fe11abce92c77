"""`scaler simulate --consolidate` and `--timeline` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from scaler.cli import main
from tests.support.builders import node_manifest, pod_manifest

from .test_errors import assert_one_line_error, run
from .test_simulate import EXAMPLE, POLICIES, SCHEMA

NODEPOOL = """\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: default}
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
      - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
      - {key: kubernetes.io/arch, operator: In, values: [amd64]}
      - {key: karpenter.k8s.aws/instance-category, operator: In, values: [m]}
  disruption:
    consolidationPolicy: WhenEmptyOrUnderutilized
    consolidateAfter: 1m
    budgets:
    - nodes: "100%"
    - nodes: "0"
      schedule: "SCHEDULE"
      duration: 8h
"""


M5_XLARGE = {"kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux",
             "node.kubernetes.io/instance-type": "m5.xlarge",
             "topology.kubernetes.io/zone": "us-east-1a", "karpenter.sh/capacity-type": "on-demand",
             "karpenter.sh/nodepool": "default"}
DO_NOT_DISRUPT = {"karpenter.sh/do-not-disrupt": "true"}


def node(name: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return node_manifest(name, labels=M5_XLARGE, annotations=annotations,
                         allocatable={"cpu": "3920m", "memory": "14Gi", "pods": "58"},
                         created="2026-01-01T00:00:00Z")


def pod(name: str, on: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return pod_manifest(name, on, ns="shop", labels={"app": "web"}, owner="ReplicaSet/web-1",
                        annotations=annotations,
                        containers=[{"name": "app",
                                     "resources": {"requests": {"cpu": "1", "memory": "2Gi"}}}])


PDB = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
       "metadata": {"name": "web", "namespace": "shop"},
       "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}}


def write(tmp_path: Path, items: list[dict[str, Any]], schedule: str = "0 0 1 1 *"
          ) -> tuple[str, str]:
    snap = tmp_path / "snap.yaml"
    snap.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
    policies = tmp_path / "policies"
    policies.mkdir(exist_ok=True)
    (policies / "np.yaml").write_text(NODEPOOL.replace("SCHEDULE", schedule))
    return str(snap), str(policies)


def consolidate(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code = main(["simulate", *args, "--consolidate", "--now", "2026-01-05T20:00:00Z",
                 "--output", "json"])
    out = capsys.readouterr().out
    assert code == 0
    doc: dict[str, Any] = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    return doc


def three_nodes(tmp_path: Path, *, dnd_node: bool = False, dnd_pod: bool = False,
                pdb: bool = False, schedule: str = "0 0 1 1 *") -> tuple[str, str]:
    items = [node("a", DO_NOT_DISRUPT if dnd_node else None), node("b"), node("c"),
             pod("w-a", "a", DO_NOT_DISRUPT if dnd_pod else None), pod("w-b", "b"),
             pod("w-c", "c")]
    return write(tmp_path, items + ([PDB] if pdb else []), schedule)


def test_underused_nodes_are_consolidated_and_pods_move(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap, policies = three_nodes(tmp_path)
    doc = consolidate(capsys, snap, "--policies", policies)
    removed = {d["node"] for d in doc["disruptions"]}
    # Three pods of 1 vCPU fit one m5.xlarge; a cheaper m-family type may replace all three.
    assert len(removed) >= 2 and {d["reason"] for d in doc["disruptions"]} == {"underutilized"}
    placed = {p["pod"]: p["node"] for p in doc["placements"]}
    assert set(placed) == {"shop/w-a", "shop/w-b", "shop/w-c"}
    assert not set(placed.values()) & removed
    assert {n["name"] for n in doc["nodes"]}.isdisjoint(removed)
    cost = doc["cost"]
    assert cost["plannedPerHour"] == pytest.approx(sum(n["pricePerHour"] for n in doc["nodes"]))
    assert cost["plannedPerHour"] <= 0.192 + 1e-9
    assert cost["currentPerHour"] == pytest.approx(3 * 0.192)
    assert doc["consolidation"]["solverStatus"] == "optimal"
    assert [s["action"] for s in doc["consolidation"]["steps"]][-3:] == [
        "cordon", "drain", "delete"]


def test_pdb_and_do_not_disrupt_are_honoured(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap, policies = three_nodes(tmp_path, pdb=True)
    doc = consolidate(capsys, snap, "--policies", policies)
    assert len(doc["disruptions"]) == 1  # the PDB allows one eviction
    for flag in ("dnd_node", "dnd_pod"):
        sub = tmp_path / flag
        sub.mkdir()
        snap, policies = three_nodes(sub, **{flag: True})  # type: ignore[arg-type]
        doc = consolidate(capsys, snap, "--policies", policies)
        assert "a" not in {d["node"] for d in doc["disruptions"]}
        assert any(b["node"] == "a" for b in doc["consolidation"]["blocked"])


def test_budget_window_freezes_disruption(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    snap, policies = three_nodes(tmp_path, schedule="0 18 * * *")  # 18:00-02:00 frozen
    doc = consolidate(capsys, snap, "--policies", policies)
    assert doc["disruptions"] == []
    assert doc["cost"]["plannedPerHour"] == doc["cost"]["currentPerHour"]


def test_example_table_and_karpenter_strategy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(EXAMPLE), "--policies", str(POLICIES), "--consolidate"]) == 0
    out = capsys.readouterr().out
    assert "Disruptions: 1 nodes" in out and "Consolidation: $" in out
    doc = consolidate(capsys, str(EXAMPLE), "--policies", str(POLICIES),
                      "--consolidation-strategy", "karpenter")
    assert all(d["method"] in ("multi-node", "single-node") for d in doc["disruptions"])


@pytest.mark.parametrize(("flags", "parts"), [
    (["--min-saving", "1.5"], ["--min-saving", "fraction"]),
    (["--now", "yesterday"], ["--now", "RFC 3339"]),
    (["--time-budget", "0"], ["--time-budget"]),
    (["--eviction-price", "-1"], ["--eviction-price", "negative"]),
    (["--timeline-step", "1x"], ["--timeline-step"]),
    (["--chart", "x.html"], ["--chart"]),
])
def test_bad_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str],
                   parts: list[str]) -> None:
    snap, policies = three_nodes(tmp_path)
    assert_one_line_error(*run(capsys, "simulate", snap, "--policies", policies,
                               "--consolidate", *flags), *parts)


def test_bad_budget_schedule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap, policies = three_nodes(tmp_path, schedule="61 * * * *")
    assert_one_line_error(*run(capsys, "simulate", snap, "--policies", policies,
                               "--consolidate"),
                          "np.yaml", "NodePool default", "spec.disruption.budgets", "61")


def test_bad_creation_timestamp(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap, policies = three_nodes(tmp_path)
    Path(snap).write_text(Path(snap).read_text().replace("2026-01-01T00:00:00Z", "soon", 1))
    assert_one_line_error(*run(capsys, "simulate", snap, "--consolidate"),
                          "Node a", "metadata.creationTimestamp", "soon")


# -- timeline ----------------------------------------------------------------------------


def test_timeline_shows_cost_falling_after_a_scale_down(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chart = tmp_path / "chart.html"
    code = main(["simulate", str(EXAMPLE), "--policies", str(POLICIES), "--timeline",
                 str(EXAMPLE / "timeline.csv"), "--chart", str(chart), "--output", "json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    series = doc["series"]
    at = {r["time"]: r for r in series}
    peak = max(r["costPerHour"] for r in series if r["time"] < 1800)
    assert at[600]["nodes"] > at[0]["nodes"]  # scaled up for the burst
    assert series[-1]["costPerHour"] < 0.6 * peak  # consolidated after the scale-down
    assert doc["disruptions"] and doc["summary"]["disruptions"] == len(doc["disruptions"])
    assert any(d["time"] > 1800 for d in doc["disruptions"])
    html = chart.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") == 4
    assert "<script" not in html


def test_timeline_table_and_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    short = tmp_path / "short.csv"
    short.write_text("# a comment\ntime,workload,replicas\n0,shop/api,2\n2m,shop/api,6\n")
    assert main(["simulate", str(EXAMPLE), "--policies", str(POLICIES), "--timeline",
                 str(short), "--timeline-step", "2m"]) == 0
    out = capsys.readouterr().out
    assert "TIME" in out and "Total cost $" in out and "0:02:00" in out
    bad = tmp_path / "t.csv"
    bad.write_text("time,workload,replicas\n0,shop/nothing,3\n")
    assert_one_line_error(*run(capsys, "simulate", str(EXAMPLE), "--timeline", str(bad)),
                          "t.csv", "line 2", "workload", "shop/nothing")
    bad.write_text("time,workload,replicas\nsoon,shop/api,3\n")
    assert_one_line_error(*run(capsys, "simulate", str(EXAMPLE), "--timeline", str(bad)),
                          "t.csv", "line 2", "time")
    bad.write_text("when,what\n")
    assert_one_line_error(*run(capsys, "simulate", str(EXAMPLE), "--timeline", str(bad)),
                          "t.csv", "header")


def test_trace_converter_keeps_attribution(tmp_path: Path) -> None:
    from scaler.simulation.trace import main as trace_main

    trace = tmp_path / "trace.csv"
    trace.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                     "2023-11-16 18:17:03.9799600,10,10\n"
                     "2023-11-16 18:17:33.0000000,10,10\n"
                     "2023-11-16 18:19:03.0000000,10,17319366\n"
                     "2023-11-16 18:20:03.0000000,10,10\n")
    out = tmp_path / "timeline.csv"
    assert trace_main([str(trace), "--workload", "shop/api", "--requests-per-replica", "1",
                       "-o", str(out)]) == 0
    text = out.read_text()
    assert "CC-BY 4.0" in text and "Splitwise" in text
    assert text.splitlines()[4:] == ["time,workload,replicas", "0,shop/api,2", "60,shop/api,1"]
    assert trace_main([str(tmp_path / "none.csv"), "--workload", "a/b"]) == 2
