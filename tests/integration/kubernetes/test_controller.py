"""The loop's disruption pass through the real adapter: a PDB-blocked drain is undone and
reported as DisruptionBlocked; once the budget allows, the node, instance and claim go."""

from __future__ import annotations

import time
from pathlib import Path

from pricing import load_catalog
from scaler.adapters.kubernetes import WATCHED, ClusterCache, EventRecorder, Kube
from scaler.adapters.kubernetes import KubernetesCluster as KCluster
from scaler.adapters.kubernetes.informer import Reflector
from scaler.adapters.simulated import SimulatedCloud
from scaler.core.disruption.candidates import DisruptionSettings
from scaler.runtime.controller import Controller, LoopSettings
from scaler.runtime.fence import ActionFence
from scaler.runtime.policies import LocalPolicies
from tests.integration.kubernetes.test_disruption_api import pdb
from tests.integration.kubernetes.test_informer import FAST, eventually
from tests.support.builders import node_manifest, pod_manifest
from tests.support.kube_api import KubeApi

NC = "scaler.dev/v1alpha1"


class Recording:
    """A metrics recorder that keeps the calls (the loop's side of the recorder interface)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[object, ...]]] = []

    def __getattr__(self, name: str) -> object:
        return lambda *args: self.calls.append((name, args))


M5_XLARGE = {"node.kubernetes.io/instance-type": "m5.xlarge", "karpenter.sh/nodepool": "default",
             "topology.kubernetes.io/zone": "us-east-1a", "karpenter.sh/capacity-type": "on-demand"}


class TighteningFence(ActionFence):
    """Lets everything through; just as the executor is allowed to disrupt n1 (after it
    revalidated the command) someone tightens the PDB: the drain then meets it."""

    def __init__(self, kube_api: KubeApi) -> None:
        super().__init__()
        self.kube_api = kube_api
        self.armed = True

    def allow(self, action: str) -> bool:
        if self.armed and action.startswith("disrupt node n1"):
            self.kube_api.put("policy/v1", "poddisruptionbudgets", pdb("web", 2, "web"))
        return super().allow(action)


def test_a_blocked_drain_is_undone_and_reported(kube_api: KubeApi, kube: Kube) -> None:
    kube_api.put("v1", "nodes", node_manifest("n1", "sim:///us-east-1a/i-1", labels=M5_XLARGE))
    kube_api.put("v1", "nodes", node_manifest("n2"))  # not scaler's; room for n1's pods
    for i in range(2):
        kube_api.put("v1", "pods", pod_manifest(f"web-{i}", node="n1", labels={"app": "web"},
                                                owner="ReplicaSet/web"))
    kube_api.put("policy/v1", "poddisruptionbudgets", pdb("web", 0, "web"))
    kube_api.put(NC, "nodeclaims", {
        "metadata": {"name": "default-abc-00001"}, "spec": {"nodePool": "default"},
        "status": {"providerID": "sim:///us-east-1a/i-1", "nodeName": "n1",
                   "conditions": [{"type": t, "status": "True"}
                                  for t in ("Launched", "Registered", "Initialized")]}})
    cache = ClusterCache()
    reflectors = [Reflector(kube, k, cache, FAST).start() for k in WATCHED]
    assert all(r.synced.wait(5) for r in reflectors)
    fence = TighteningFence(kube_api)
    cluster = KCluster(kube, cache, fence, EventRecorder(kube, fence),
                       eviction_backoff=0.05, eviction_backoff_cap=0.1)
    metrics = Recording()
    controller = Controller(cluster, SimulatedCloud(load_catalog("us-east-1")),
                            LocalPolicies(None), fence, metrics=metrics,  # type: ignore[arg-type]
                            settings=LoopSettings(drain_timeout=0.3, nomination_ttl=0),
                            disruption=DisruptionSettings(validation_delay=0))
    try:
        controller.disrupt()  # the core plans deleting n1 (its pods fit on n2)
        assert controller.executor.busy
        controller.disrupt()  # revalidated, cordoned; the drain meets the tightened PDB
        assert cluster.events.flush()
        blocked = [e for e in kube_api.objects("v1", "events")
                   if e["reason"] == "DisruptionBlocked"]
        on = {(e["involvedObject"]["kind"], e["involvedObject"]["name"]) for e in blocked}
        assert on == {("NodeClaim", "default-abc-00001"), ("Pod", "web-0"), ("Pod", "web-1")}
        claim_event = next(e for e in blocked if e["involvedObject"]["kind"] == "NodeClaim")
        assert "disruption budget web needs 2 healthy pods" in claim_event["message"]
        n1 = kube_api.get("v1", "nodes", "n1")
        assert n1 is not None and not n1["spec"].get("taints")  # the taint was taken back
        assert kube_api.get(NC, "nodeclaims", "default-abc-00001") is not None
        assert controller.stats.blocked == 1 and controller.stats.disrupted == 0
        assert ("record_disruption_decision", ("underutilized", "blocked")) in metrics.calls

        fence.armed = False
        kube_api.put("policy/v1", "poddisruptionbudgets", pdb("web", 0, "web"))
        eventually(lambda: (cache.get(WATCHED[3], "default/web") or {}).get(
            "spec", {}).get("minAvailable") == 0)
        controller.disrupt()  # planned again
        controller.disrupt()  # and carried out
        assert cluster.events.flush()
        assert kube_api.get("v1", "nodes", "n1") is None
        assert kube_api.get(NC, "nodeclaims", "default-abc-00001") is None
        assert kube_api.objects("v1", "pods") == []
        assert ("record_disruption_decision", ("underutilized", "delete")) in metrics.calls
        assert ("record_termination", ("default", "underutilized")) in metrics.calls
        assert [e["reason"] for e in kube_api.objects("v1", "events")
                if e["involvedObject"]["kind"] == "NodeClaim"][-1] == "Consolidated"
        assert [(d.action, d.target) for d in controller.decisions] == [
            ("cordon", "n1"), ("drain", "n1"), ("cordon", "n1"), ("drain", "n1"),
            ("delete", "n1")]
    finally:
        for r in reflectors:
            r.stop()


def test_a_claim_whose_node_no_longer_matches_its_nodepool_is_marked_drifted(
        kube_api: KubeApi, kube: Kube, tmp_path: Path) -> None:
    (tmp_path / "nodepool.yaml").write_text(
        "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: default}\n"
        "spec:\n  template:\n    spec:\n      requirements:\n"
        "        - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.large]}\n")
    kube_api.put("v1", "nodes", node_manifest("n1", "sim:///us-east-1a/i-1", labels={
        "node.kubernetes.io/instance-type": "m5.xlarge", "karpenter.sh/nodepool": "default"}))
    kube_api.put(NC, "nodeclaims", {
        "metadata": {"name": "default-abc-00001"}, "spec": {"nodePool": "default"},
        "status": {"providerID": "sim:///us-east-1a/i-1", "nodeName": "n1",
                   "conditions": [{"type": t, "status": "True"}
                                  for t in ("Launched", "Registered", "Initialized")]}})
    cache = ClusterCache()
    reflectors = [Reflector(kube, k, cache, FAST).start() for k in WATCHED]
    assert all(r.synced.wait(5) for r in reflectors)
    fence = ActionFence()
    cluster = KCluster(kube, cache, fence, EventRecorder(kube, fence))
    controller = Controller(cluster, SimulatedCloud(load_catalog("us-east-1")),
                            LocalPolicies(str(tmp_path)), fence)
    try:
        controller.disrupt()
        assert cluster.events.flush()
        claim = kube_api.get(NC, "nodeclaims", "default-abc-00001")
        assert claim is not None
        [drifted] = [c for c in claim["status"]["conditions"] if c["type"] == "Drifted"]
        assert drifted["status"] == "True"
        assert "node.kubernetes.io/instance-type" in drifted["message"]
        assert [e["reason"] for e in kube_api.objects("v1", "events")] == ["Drifted"]
        eventually(lambda: cluster.claims()[0].drifted)
        controller.disrupt()  # unchanged: no second write
        assert kube_api.count("PATCH", "/nodeclaims/default-abc-00001/status") == 1
    finally:
        for r in reflectors:
            r.stop()


def test_kubectl_delete_nodeclaim_drains_and_terminates_before_it_goes(
        kube_api: KubeApi, kube: Kube) -> None:
    kube_api.put("v1", "nodes", node_manifest("n1", "sim:///us-east-1a/i-1"))
    kube_api.put("v1", "pods", pod_manifest("web-0", node="n1", owner="ReplicaSet/web"))
    kube_api.put(NC, "nodeclaims", {
        "metadata": {"name": "default-abc-00001", "finalizers": ["scaler.dev/termination"]},
        "spec": {"nodePool": "default"},
        "status": {"providerID": "sim:///us-east-1a/i-1", "nodeName": "n1",
                   "conditions": [{"type": t, "status": "True"}
                                  for t in ("Launched", "Registered", "Initialized")]}})
    cache = ClusterCache()
    reflectors = [Reflector(kube, k, cache, FAST).start() for k in WATCHED]
    assert all(r.synced.wait(5) for r in reflectors)
    fence = ActionFence()
    cluster = KCluster(kube, cache, fence, EventRecorder(kube, fence))
    controller = Controller(cluster, SimulatedCloud(load_catalog("us-east-1")),
                            LocalPolicies(None), fence)
    try:
        kube_api.delete(NC, "nodeclaims", "default-abc-00001")  # what kubectl delete does
        held = kube_api.get(NC, "nodeclaims", "default-abc-00001")
        assert held is not None and held["metadata"]["deletionTimestamp"]  # the finalizer
        eventually(lambda: cluster.claims()[0].deleting)
        controller.lifecycle()
        assert cluster.events.flush()
        assert kube_api.get(NC, "nodeclaims", "default-abc-00001") is None
        assert kube_api.get("v1", "nodes", "n1") is None
        assert kube_api.objects("v1", "pods") == []  # evicted first
        assert [e["reason"] for e in kube_api.objects("v1", "events")] == ["Terminated"]
    finally:
        for r in reflectors:
            r.stop()


GRACE_POOL = """\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: default}
spec:
  template:
    spec:
      requirements: []
      terminationGracePeriod: 60s
"""


def test_a_blocked_drain_waits_out_terminationGracePeriod_then_deletes_the_pods(
        kube_api: KubeApi, kube: Kube, tmp_path: Path) -> None:
    """Karpenter's terminationGracePeriod: a drain held by a PodDisruptionBudget keeps the
    node cordoned and retried; once the period is over the pods left are deleted (no
    eviction) and the node, instance and claim go."""
    (tmp_path / "pool.yaml").write_text(GRACE_POOL)
    kube_api.put("v1", "nodes", node_manifest("n1", "sim:///us-east-1a/i-1", labels=M5_XLARGE))
    kube_api.put("v1", "nodes", node_manifest("n2"))
    for i in range(2):
        kube_api.put("v1", "pods", pod_manifest(f"web-{i}", node="n1", labels={"app": "web"},
                                                owner="ReplicaSet/web"))
    kube_api.put("policy/v1", "poddisruptionbudgets", pdb("web", 0, "web"))
    kube_api.put(NC, "nodeclaims", {
        "metadata": {"name": "default-abc-00001"}, "spec": {"nodePool": "default"},
        "status": {"providerID": "sim:///us-east-1a/i-1", "nodeName": "n1",
                   "conditions": [{"type": t, "status": "True"}
                                  for t in ("Launched", "Registered", "Initialized")]}})
    cache = ClusterCache()
    reflectors = [Reflector(kube, k, cache, FAST).start() for k in WATCHED]
    assert all(r.synced.wait(5) for r in reflectors)
    fence = TighteningFence(kube_api)
    cluster = KCluster(kube, cache, fence, EventRecorder(kube, fence),
                       eviction_backoff=0.05, eviction_backoff_cap=0.1)
    now = [time.time() + 1]
    controller = Controller(cluster, SimulatedCloud(load_catalog("us-east-1")),
                            LocalPolicies(str(tmp_path)), fence,
                            settings=LoopSettings(drain_timeout=0.3, nomination_ttl=0),
                            disruption=DisruptionSettings(validation_delay=0),
                            clock=lambda: now[0])
    try:
        controller.disrupt()  # planned
        controller.disrupt()  # cordoned; the drain meets the tightened PDB (minAvailable 2)
        fence.armed = False
        now[0] += 59
        controller.disrupt()  # within the grace period: still waiting, nothing forced
        n1 = kube_api.get("v1", "nodes", "n1")
        assert n1 is not None and n1["spec"]["taints"] == [
            {"key": "karpenter.sh/disrupted", "effect": "NoSchedule"}]  # stays cordoned
        assert len(kube_api.objects("v1", "pods")) == 2
        assert kube_api.count("DELETE", "/pods/") == 0
        assert controller.executor.busy and controller.stats.blocked == 0
        now[0] += 2  # 61s after the drain began
        controller.disrupt()
        assert cluster.events.flush()
        assert kube_api.objects("v1", "pods") == []
        assert kube_api.count("DELETE", "/pods/") == 2  # deleted, not evicted
        assert kube_api.get("v1", "nodes", "n1") is None
        assert kube_api.get(NC, "nodeclaims", "default-abc-00001") is None
        reasons = [e["reason"] for e in kube_api.objects("v1", "events")
                   if e["involvedObject"]["kind"] == "NodeClaim"]
        assert reasons[-2:] == ["TerminationGracePeriodExpired", "Consolidated"]
        assert not controller.executor.busy and controller.stats.disrupted == 1
    finally:
        for r in reflectors:
            r.stop()


def test_a_deleted_claims_do_not_disrupt_pod_holds_the_drain_until_the_grace_period(
        kube_api: KubeApi, kube: Kube, tmp_path: Path) -> None:
    """Karpenter's drain never evicts a `karpenter.sh/do-not-disrupt` pod: it holds the
    node's termination until terminationGracePeriod, counted from the NodeClaim's deletion,
    is over; then the pod is deleted and the node, instance and claim go."""
    (tmp_path / "pool.yaml").write_text(GRACE_POOL)
    kube_api.put("v1", "nodes", node_manifest("n1", "sim:///us-east-1a/i-1"))
    batch = pod_manifest("batch-0", node="n1", owner="Job/batch")
    batch["metadata"]["annotations"] = {"karpenter.sh/do-not-disrupt": "true"}
    kube_api.put("v1", "pods", batch)
    kube_api.put(NC, "nodeclaims", {
        "metadata": {"name": "default-abc-00001", "finalizers": ["scaler.dev/termination"]},
        "spec": {"nodePool": "default"},
        "status": {"providerID": "sim:///us-east-1a/i-1", "nodeName": "n1",
                   "conditions": [{"type": t, "status": "True"}
                                  for t in ("Launched", "Registered", "Initialized")]}})
    cache = ClusterCache()
    reflectors = [Reflector(kube, k, cache, FAST).start() for k in WATCHED]
    assert all(r.synced.wait(5) for r in reflectors)
    fence = ActionFence()
    cluster = KCluster(kube, cache, fence, EventRecorder(kube, fence))
    now = [time.time() + 1]
    controller = Controller(cluster, SimulatedCloud(load_catalog("us-east-1")),
                            LocalPolicies(str(tmp_path)), fence,
                            settings=LoopSettings(drain_timeout=0.2), clock=lambda: now[0])
    try:
        kube_api.delete(NC, "nodeclaims", "default-abc-00001")
        eventually(lambda: cluster.claims()[0].deleting)
        controller.lifecycle()  # within the grace period: held, nothing evicted
        assert kube_api.get("v1", "pods", "batch-0", "default") is not None
        assert kube_api.count("POST", "/eviction") == 0
        assert kube_api.get(NC, "nodeclaims", "default-abc-00001") is not None
        now[0] += 61
        controller.lifecycle()
        assert cluster.events.flush()
        assert kube_api.get("v1", "pods", "batch-0", "default") is None
        assert kube_api.count("DELETE", "/pods/batch-0") == 1
        assert kube_api.get("v1", "nodes", "n1") is None
        assert kube_api.get(NC, "nodeclaims", "default-abc-00001") is None
        reasons = [e["reason"] for e in kube_api.objects("v1", "events")]
        assert reasons[0] == "DisruptionBlocked" and "do-not-disrupt" in (
            kube_api.objects("v1", "events")[0]["message"])
        assert reasons[-2:] == ["TerminationGracePeriodExpired", "Terminated"]
    finally:
        for r in reflectors:
            r.stop()
