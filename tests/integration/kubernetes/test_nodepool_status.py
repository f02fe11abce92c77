"""An idle NodePool's `Ready=False` condition (reason NoCompatibleInstanceTypes) is written
to the NodePool's status through the status subresource, as Karpenter's status controller
does; the pools that launch keep their status, and a pool not in the cluster is no error."""

from __future__ import annotations

from pathlib import Path

import yaml

from pricing import load_catalog
from scaler.adapters.kubernetes import WATCHED, ClusterCache, EventRecorder, Kube
from scaler.adapters.kubernetes import KubernetesCluster as KCluster
from scaler.adapters.kubernetes.informer import Reflector
from scaler.adapters.simulated import SimulatedCloud
from scaler.runtime.controller import Controller, LoopSettings
from scaler.runtime.fence import ActionFence
from scaler.runtime.policies import LocalPolicies
from tests.integration.kubernetes.test_informer import FAST
from tests.support.builders import pod_manifest
from tests.support.kube_api import KubeApi

BUNDLE = (Path(__file__).resolve().parents[2] / "fixtures" / "policies" / "karpenter"
          / "windows-beside-linux")
NP = "karpenter.sh/v1"


def _controller(kube_api: KubeApi, kube: Kube) -> tuple[Controller, list[Reflector]]:
    cache = ClusterCache()
    reflectors = [Reflector(kube, k, cache, FAST).start() for k in WATCHED]
    assert all(r.synced.wait(5) for r in reflectors)
    fence = ActionFence()
    cluster = KCluster(kube, cache, fence, EventRecorder(kube, fence))
    return Controller(cluster, SimulatedCloud(load_catalog("us-east-1")),
                      LocalPolicies(str(BUNDLE)), fence,
                      settings=LoopSettings(region="us-east-1")), reflectors


def test_the_idle_pools_condition_is_written_to_its_status(
        kube_api: KubeApi, kube: Kube) -> None:
    for path in sorted(BUNDLE.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "NodePool":
                kube_api.put(NP, "nodepools", {**doc, "status": {"conditions": [
                    {"type": "Ready", "status": "True", "reason": "Ready", "message": "",
                     "lastTransitionTime": "2026-01-01T00:00:00Z"},
                    {"type": "NodeClassReady", "status": "True", "reason": "NodeClassReady",
                     "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}})
    kube_api.put("v1", "pods", pod_manifest("web-0", owner="ReplicaSet/web"))
    controller, reflectors = _controller(kube_api, kube)
    try:
        controller.provision()
        assert controller.stats.launched == 1
        windows = kube_api.get(NP, "nodepools", "windows2022")
        assert windows is not None
        conds = {c["type"]: c for c in windows["status"]["conditions"]}
        ready = conds["Ready"]
        assert (ready["status"], ready["reason"]) == ("False", "NoCompatibleInstanceTypes")
        assert "kubernetes.io/os In [windows]" in ready["message"]
        assert ready["lastTransitionTime"] != "2026-01-01T00:00:00Z"
        assert conds["NodeClassReady"]["status"] == "True"  # the others are kept
        # Through the status subresource, once; the launching pool's status is untouched.
        assert kube_api.count("PATCH", f"/apis/{NP}/nodepools/windows2022/status") == 1
        linux = kube_api.get(NP, "nodepools", "linux")
        assert linux is not None
        assert {c["type"]: c["status"] for c in linux["status"]["conditions"]}["Ready"] == "True"
        controller.provision()  # the same condition again: not rewritten
        assert kube_api.count("PATCH", f"/apis/{NP}/nodepools/windows2022/status") == 1
    finally:
        for r in reflectors:
            r.stop()


def test_a_pool_missing_from_the_cluster_is_no_error(kube_api: KubeApi, kube: Kube) -> None:
    kube_api.put("v1", "pods", pod_manifest("web-0", owner="ReplicaSet/web"))
    controller, reflectors = _controller(kube_api, kube)
    try:
        controller.provision()
        assert controller.stats.launched == 1
        assert controller.pool_conditions["windows2022"]["reason"] == "NoCompatibleInstanceTypes"
        assert kube_api.count("PATCH", "/nodepools/") == 0
    finally:
        for r in reflectors:
            r.stop()
