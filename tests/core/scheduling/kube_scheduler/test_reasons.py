"""An unschedulable reason says why the existing nodes refused the pod the way kube-scheduler
does (`0/N nodes are available: ...`, counts per reason, most first), then the NodePools."""

from __future__ import annotations

from typing import Any

from .conftest import Sim, node, pod

FROZEN_BY_NODES = """\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: frozen}
spec:
  limits: {nodes: "0"}
  template:
    spec: {}
"""


def _anti(app: str) -> dict[str, Any]:
    return {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": app}},
         "topologyKey": "kubernetes.io/hostname"}]}}}


def test_reason_counts_existing_nodes_like_kube_scheduler(sim: Sim) -> None:
    objects = [
        *(node(f"small-{i}", cpu="1") for i in range(5)),
        *(node(f"tainted-{i}", cpu="8", taints=[{"key": "dedicated", "value": "gpu",
                                               "effect": "NoSchedule"}]) for i in range(4)),
        *(node(f"busy-{i}", cpu="8") for i in range(3)),
        *(pod(f"web-{i}", labels={"app": "web"}, node_name=f"busy-{i}") for i in range(3)),
        pod(spec=_anti("web"), labels={"app": "web"}, cpu="2"),
    ]
    doc = sim.run(*objects, policies=FROZEN_BY_NODES)
    (entry,) = doc["unschedulable"]
    reason = entry["reason"]
    assert reason.startswith(
        "0/12 nodes are available: 5 Insufficient cpu, 4 node(s) had untolerated taint "
        "{dedicated: gpu}, 3 node(s) didn't match pod anti-affinity rules; ")
    # then the NodePools
    assert "NodePool frozen would exceed its limits (0 nodes left)" in reason


def test_reason_for_selector_ports_and_cordon(sim: Sim) -> None:
    cordoned = node("cordoned")
    cordoned["spec"]["unschedulable"] = True
    objects = [
        node("other-zone", labels={"zone": "b"}),
        cordoned,
        pod(spec={"nodeSelector": {"zone": "a"}}),
    ]
    doc = sim.run(*objects, policies=FROZEN_BY_NODES)
    (entry,) = doc["unschedulable"]
    assert entry["reason"].startswith(
        "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
        "1 node(s) were unschedulable; ")
