"""Cordon, taint, evict and drain through the API: PodDisruptionBudgets are respected."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from kubernetes import client as k8s  # type: ignore[import-untyped]

from scaler.adapters.kubernetes import ClusterCache, EventRecorder, Kube, KubernetesCluster
from scaler.adapters.kubernetes.cache import NODES, PODS
from scaler.adapters.kubernetes.cluster import DISRUPTED_TAINT
from scaler.adapters.kubernetes.informer import Reflector
from scaler.ports.cluster import DisruptionBlockedError
from scaler.ports.fence import OpenFence
from tests.integration.aws.conftest import free_port
from tests.integration.kubernetes.test_informer import FAST, eventually
from tests.support.builders import node_manifest, pod_manifest
from tests.support.kube_api import KubeApi


def pdb(name: str, min_available: int | str, app: str) -> dict[str, object]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"minAvailable": min_available, "selector": {"matchLabels": {"app": app}}}}


@pytest.fixture
def cluster(kube_api: KubeApi, kube: Kube) -> Iterator[KubernetesCluster]:
    kube_api.put("v1", "nodes", node_manifest("n1"))
    for i in range(2):
        kube_api.put("v1", "pods", pod_manifest(f"web-{i}", node="n1", labels={"app": "web"}))
    kube_api.put("v1", "pods", pod_manifest("agent", node="n1", owner="DaemonSet/agent"))
    cache = ClusterCache()
    reflectors = [Reflector(kube, k, cache, FAST).start() for k in (PODS, NODES)]
    assert all(r.synced.wait(5) for r in reflectors)
    sleeps: list[float] = []
    c = KubernetesCluster(kube, cache, OpenFence(), EventRecorder(kube, OpenFence()),
                          eviction_backoff=0.05, eviction_backoff_cap=0.2,
                          sleep=lambda s: (sleeps.append(s), threading.Event().wait(s))[1])
    c.sleeps = sleeps  # type: ignore[attr-defined]
    yield c
    for r in reflectors:
        r.stop()


def test_eviction_blocked_by_a_pdb_is_reported_not_forced(
        kube_api: KubeApi, cluster: KubernetesCluster) -> None:
    kube_api.put("policy/v1", "poddisruptionbudgets", pdb("web", 2, "web"))
    with pytest.raises(DisruptionBlockedError) as err:
        cluster.evict("default/web-0")
    assert "The disruption budget web needs 2 healthy pods and has 2 currently" in str(err.value)
    assert kube_api.get("v1", "pods", "web-0", "default") is not None
    # The eviction subresource was used (never a plain DELETE of the pod).
    assert kube_api.count("POST", "/api/v1/namespaces/default/pods/web-0/eviction") == 1
    assert kube_api.count("DELETE", "/pods/") == 0


def test_drain_retries_429_with_backoff_until_the_budget_allows(
        kube_api: KubeApi, cluster: KubernetesCluster) -> None:
    kube_api.put("policy/v1", "poddisruptionbudgets", pdb("web", 1, "web"))
    # One of two may go at a time; the second becomes evictable once its replacement runs.
    def replacement_runs() -> None:
        eventually(lambda: kube_api.get("v1", "pods", "web-0", "default") is None
                   or kube_api.get("v1", "pods", "web-1", "default") is None)
        kube_api.put("v1", "pods", pod_manifest("web-2", node="n2", labels={"app": "web"}))

    helper = threading.Thread(target=replacement_runs)
    helper.start()
    result = cluster.drain("n1", timeout=5)
    helper.join()
    assert result.done, result.blocked
    assert sorted(result.evicted) == ["default/web-0", "default/web-1"]
    assert kube_api.get("v1", "pods", "agent", "default") is not None  # DaemonSet pod stays
    assert cluster.sleeps  # type: ignore[attr-defined]
    assert kube_api.count("POST", "/eviction") >= 3  # at least one 429, then retried


def test_drain_gives_up_after_its_deadline_and_names_the_budget(
        kube_api: KubeApi, cluster: KubernetesCluster) -> None:
    kube_api.put("policy/v1", "poddisruptionbudgets", pdb("web", "100%", "web"))
    result = cluster.drain("n1", timeout=0.5)
    assert not result.done
    assert set(result.blocked) == {"default/web-0", "default/web-1"}
    assert "disruption budget web" in result.blocked["default/web-0"]
    assert len(kube_api.objects("v1", "pods")) == 3


def test_cordon_taint_untaint_and_delete_node(kube_api: KubeApi,
                                              cluster: KubernetesCluster) -> None:
    cluster.cordon("n1")
    cluster.taint("n1", DISRUPTED_TAINT)
    n1 = kube_api.get("v1", "nodes", "n1")
    assert n1 is not None
    assert n1["spec"]["unschedulable"] is True
    assert n1["spec"]["taints"] == [{"key": "karpenter.sh/disrupted", "effect": "NoSchedule"}]
    eventually(lambda: bool((cluster.cache.get(NODES, "n1") or {}).get("spec", {}).get("taints")))
    cluster.untaint("n1", DISRUPTED_TAINT.key)
    n1 = kube_api.get("v1", "nodes", "n1")
    assert n1 is not None and "taints" not in n1["spec"] and "unschedulable" not in n1["spec"]
    cluster.delete_node("n1")
    assert kube_api.get("v1", "nodes", "n1") is None
    cluster.delete_node("n1")  # already gone: not an error


def test_api_errors_are_one_line(kube: Kube) -> None:
    from scaler.adapters.kubernetes import KubeApiError

    with pytest.raises(KubeApiError) as err:
        kube.request("GET", "/api/v1/nodes/missing", what="get node missing")
    assert str(err.value) == 'Kubernetes API: get node missing: 404 NotFound: nodes "missing" ' \
        "not found"
    # Nobody listens there. (A fresh configuration: one loaded from a kubeconfig resets
    # its host from the file before every call.)
    dead = Kube(k8s.Configuration(host=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(KubeApiError) as err:
        dead.request("GET", "/api/v1/nodes", what="list nodes")
    assert "\n" not in str(err.value) and "cannot reach the API server" in str(err.value)
