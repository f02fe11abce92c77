"""One decision path: `scaler run --simulate` (the real process, its scheduler and wall
clock) and `scaler simulate --timeline` (simulated time) make the same decisions, in the
same order, on two scenarios: a pending pod is provisioned for, and an oversized node is
replaced by a cheaper one that is launched and Ready before the old node is cordoned,
drained and deleted; and a Spot node's instance gets an interruption warning
(`--interrupt`), handed to the disruption executor by both: the node is cordoned, capacity
for its pod launched before the drain, and the node deleted without the validation delay."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scaler.cli import main

ROOT = Path(__file__).resolve().parents[3]

SNAPSHOT = """\
apiVersion: v1
kind: Node
metadata:
  name: old
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: old
    node.kubernetes.io/instance-type: m5.2xlarge
    topology.kubernetes.io/zone: us-east-1a
    karpenter.sh/capacity-type: on-demand
    karpenter.sh/nodepool: default
status:
  allocatable: {cpu: 7910m, memory: 31Gi, pods: "58"}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-5d8f-x1
  namespace: default
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-5d8f, uid: u1,
                     controller: true}]
spec:
  nodeName: old
  containers: [{name: web, image: web, resources: {requests: {cpu: 500m, memory: 512Mi}}}]
status: {phase: Running}
---
apiVersion: v1
kind: Pod
metadata:
  name: api-7c9d-y2
  namespace: default
  annotations: {karpenter.sh/do-not-disrupt: "true"}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: api-7c9d, uid: u2,
                     controller: true}]
spec:
  nodeSelector: {node.kubernetes.io/instance-type: m5.large}
  containers: [{name: api, image: api, resources: {requests: {cpu: 1500m, memory: 1Gi}}}]
status: {phase: Pending}
"""

POOL = """\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: default}
spec:
  disruption: {consolidationPolicy: WhenEmptyOrUnderutilized, consolidateAfter: 0s}
  template:
    spec:
      requirements:
        - {key: karpenter.k8s.aws/instance-family, operator: In, values: [m5]}
        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
        - {key: topology.kubernetes.io/zone, operator: In, values: [us-east-1a]}
"""

# Provisioning first (a short batch window), then disruption passes every 1.5 s: the first
# plans (and launches the replacement), the next finds it not yet registered (the lifecycle
# pass comes round every 4 s) and waits, a later one finds it Ready and carries on.
SETTINGS = """\
batch: {idle: 0.1, max: 0.3}
intervals: {lifecycle: 4, disruption: 1.5}
disruption: {validationDelay: 0, nominationTTL: 0}
leaderElection: {enabled: false}
"""


def _normalised(decisions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Claim names carry a random (live) or a counted (timeline) prefix: name each by the
    order it was launched in."""
    names: dict[str, str] = {}
    out = []
    for action, target in decisions:
        if action == "launch":
            names[target] = f"claim-{len(names) + 1}"
        out.append((action, names.get(target, target)))
    return out


@pytest.fixture()
def scenario(tmp_path: Path) -> Path:
    (tmp_path / "snapshot").mkdir()
    (tmp_path / "snapshot" / "cluster.yaml").write_text(SNAPSHOT)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "nodepool.yaml").write_text(POOL)
    (tmp_path / "scaler.yaml").write_text(SETTINGS)
    (tmp_path / "timeline.csv").write_text("time,workload,replicas\n0,default/web,1\n")
    return tmp_path


def _live_run(d: Path, *extra: str, run_for: float = 8
              ) -> tuple[list[tuple[str, str]], list[str]]:
    """The decisions `scaler run --simulate` logged, and every log message."""
    proc = subprocess.run(
        [sys.executable, "-m", "scaler", "run", "--simulate", "--config", str(d / "scaler.yaml"),
         "--snapshot", str(d / "snapshot"), "--policies", str(d / "policies"),
         "--run-for", str(run_for), "--log-level", "INFO", *extra],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    msgs = [json.loads(line).get("msg", "") for line in proc.stderr.splitlines()]
    out = []
    for msg in msgs:
        if msg.startswith("decision: "):
            action, target = msg.removeprefix("decision: ").split(" ", 1)
            out.append((action, target))
    return out, msgs


def _live(d: Path) -> list[tuple[str, str]]:
    out, msgs = _live_run(d)
    # The replacement (the second launch) was Ready before the old node was touched.
    replacement = [t for a, t in out if a == "launch"][1:2]
    ready = [i for i, m in enumerate(msgs) if replacement and
             m.startswith(f"event nodeclaim/{replacement[0]} Normal Registered")]
    cordon = [i for i, m in enumerate(msgs) if m == "decision: cordon old"]
    assert ready and cordon and ready[0] < cordon[0], msgs
    return out


def _timeline(d: Path, capsys: pytest.CaptureFixture[str], *extra: str
              ) -> list[tuple[str, str]]:
    doc = _timeline_doc(d, capsys, *extra)
    at = {(x["action"], x["target"]): x["time"] for x in doc["decisions"]}
    launches = [x for x in doc["decisions"] if x["action"] == "launch"]
    # The replacement was Ready (launch delay 60 s, two 30 s steps) before the old node was
    # cordoned.
    assert len(launches) == 2 and at[("cordon", "old")] >= launches[1]["time"] + 60
    return [(x["action"], x["target"]) for x in doc["decisions"]]


def _timeline_doc(d: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    assert main(["simulate", str(d / "snapshot"), "--policies", str(d / "policies"),
                 "--timeline", str(d / "timeline.csv"), "--timeline-step", "30s",
                 "--output", "json", *extra]) == 0
    doc: dict[str, Any] = json.loads(capsys.readouterr().out)
    return doc


EXPECTED = [
    ("launch", "claim-1"),  # for the pending api pod (an m5.large, as it asks)
    ("launch", "claim-2"),  # the cheaper replacement for "old"
    ("cordon", "old"),  # only once the replacement is Ready, and revalidated
    ("drain", "old"),
    ("delete", "old"),
]


def test_run_simulate_and_the_timeline_decide_the_same_steps(
        scenario: Path, capsys: pytest.CaptureFixture[str]) -> None:
    timeline = _normalised(_timeline(scenario, capsys))
    live = _normalised(_live(scenario))
    assert timeline == EXPECTED
    assert live == timeline


# A Spot m5.large holding one web pod: the cheapest node for it, so nothing is consolidated.
SPOT_SNAPSHOT = """\
apiVersion: v1
kind: Node
metadata:
  name: spot
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: spot
    node.kubernetes.io/instance-type: m5.large
    topology.kubernetes.io/zone: us-east-1a
    karpenter.sh/capacity-type: spot
    karpenter.sh/nodepool: default
status:
  allocatable: {cpu: 1930m, memory: 7Gi, pods: "29"}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-5d8f-x1
  namespace: default
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-5d8f, uid: u1,
                     controller: true}]
spec:
  nodeName: spot
  containers: [{name: web, image: web, resources: {requests: {cpu: 500m, memory: 512Mi}}}]
status: {phase: Running}
"""

SPOT_POOL = POOL.replace("values: [on-demand]", "values: [spot]")

INTERRUPTED = [
    ("cordon", "spot"),  # at once: no validation delay, nothing waits to be Ready
    ("launch", "claim-1"),  # room for the web pod, before it is evicted
    ("drain", "spot"),
    ("delete", "spot"),
]


def test_run_simulate_and_the_timeline_hand_a_spot_interruption_to_the_same_executor(
        scenario: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (scenario / "snapshot" / "cluster.yaml").write_text(SPOT_SNAPSHOT)
    (scenario / "policies" / "nodepool.yaml").write_text(SPOT_POOL)
    doc = _timeline_doc(scenario, capsys, "--interrupt", "spot@1m")
    timeline = _normalised([(x["action"], x["target"]) for x in doc["decisions"]])
    assert [(d["node"], d["reason"]) for d in doc["disruptions"]] == [("spot", "interrupted")]
    # All in the warning's step: neither the validation delay (15 s) nor the launch delay
    # (60 s) before the node goes.
    assert {x["time"] for x in doc["decisions"]} == {60.0}
    live, msgs = _live_run(scenario, "--interrupt", "spot@1", run_for=5)
    assert timeline == INTERRUPTED
    assert _normalised(live) == timeline
    assert any(m.startswith("event nodeclaim/spot Warning SpotInterrupted") for m in msgs)


@pytest.mark.parametrize(("flag", "says"), [
    ("spot", "expected NODE@TIME"),
    ("@10m", "expected NODE@TIME"),
    ("spot@soon", "'spot@soon'"),
    ("spot@" + "9" * 400, "expected a finite number"),
    ("ghost@0", "no node 'ghost' of a NodePool in the snapshot"),
])
def test_a_bad_interruption_is_one_line_and_exit_2(
        scenario: Path, capsys: pytest.CaptureFixture[str], flag: str, says: str) -> None:
    (scenario / "snapshot" / "cluster.yaml").write_text(SPOT_SNAPSHOT)
    code = main(["simulate", str(scenario / "snapshot"), "--policies",
                 str(scenario / "policies"), "--timeline", str(scenario / "timeline.csv"),
                 "--interrupt", flag])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--interrupt" in err and says in err, err


def test_an_interruption_needs_a_simulation(scenario: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(scenario / "snapshot"), "--interrupt", "old@0"]) == 2
    assert "--interrupt: only with --timeline" in capsys.readouterr().err
    assert main(["run", "--config", str(scenario / "scaler.yaml"), "--interrupt", "old@0"]) == 2
    assert "simulatedInterruptions: only with simulate" in capsys.readouterr().err
