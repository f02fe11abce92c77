"""List+watch into scaler's cache over HTTP: paging, bookmarks, 410 Gone, the model."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from scaler.adapters.kubernetes import ClusterCache, Kube, Reflector, WatchSettings
from scaler.adapters.kubernetes.cache import PODS, PRIORITY_CLASSES, WATCHED
from scaler.core.model import Snapshot
from scaler.snapshot import load_snapshot
from tests.support.builders import node_manifest, pod_manifest
from tests.support.kube_api import KubeApi

FAST = WatchSettings(page_size=3, watch_timeout=5, read_timeout=2, backoff_base=0.05)


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def names(cache: ClusterCache) -> set[str]:
    return {p["metadata"]["name"] for p in cache.objects(PODS)}


def test_paged_list_then_watch_sees_changes(kube_api: KubeApi, kube: Kube) -> None:
    for i in range(8):
        kube_api.put("v1", "pods", pod_manifest(f"p{i}"))
    cache = ClusterCache()
    r = Reflector(kube, PODS, cache, FAST).start()
    try:
        assert r.synced.wait(5)
        assert names(cache) == {f"p{i}" for i in range(8)}
        # 8 pods in pages of 3: three list requests, the last two with a continue token.
        assert kube_api.count("GET", "/api/v1/pods", limit="3") == 3
        kube_api.put("v1", "pods", pod_manifest("new"))
        kube_api.delete("v1", "pods", "p0", "default")
        eventually(lambda: names(cache) == {f"p{i}" for i in range(1, 8)} | {"new"})
        assert r.lists == 1
        assert kube_api.count("GET", "/api/v1/pods", watch="true",
                              allowWatchBookmarks="true") >= 1
    finally:
        r.stop()


def test_watch_resumes_after_410_gone_with_a_relist(kube_api: KubeApi, kube: Kube) -> None:
    for i in range(4):
        kube_api.put("v1", "pods", pod_manifest(f"p{i}"))
    cache = ClusterCache()
    r = Reflector(kube, PODS, cache, FAST).start()
    try:
        assert r.synced.wait(5)
        # History compacted and every watch ended with 410 Expired; meanwhile the cluster
        # changed. Only a relist can see the deletion that happened in the gap.
        kube_api.expire_watches()
        kube_api.delete("v1", "pods", "p1", "default")
        kube_api.put("v1", "pods", pod_manifest("after-gap"))
        eventually(lambda: names(cache) == {"p0", "p2", "p3", "after-gap"})
        assert r.lists == 2
        # And it is watching again: a later change arrives without another relist.
        kube_api.put("v1", "pods", pod_manifest("later"))
        eventually(lambda: "later" in names(cache))
        assert r.lists == 2
    finally:
        r.stop()


def test_bookmarks_move_the_resource_version_so_a_reconnect_needs_no_relist(
        kube_api: KubeApi, kube: Kube) -> None:
    kube_api.put("v1", "pods", pod_manifest("p0"))
    cache = ClusterCache()
    # The server ends each watch after 1 s; the next resumes from the bookmark's version.
    r = Reflector(kube, PODS, cache, WatchSettings(watch_timeout=1, read_timeout=2)).start()
    try:
        assert r.synced.wait(5)
        listed_at = int(r.resource_version)
        kube_api.put("v1", "nodes", node_manifest("unrelated"))  # moves the global resourceVersion
        eventually(lambda: int(r.resource_version) > listed_at, timeout=3)
        eventually(lambda: kube_api.count("GET", "/api/v1/pods", watch="true") >= 2, 4)
        kube_api.compact()  # a reconnect from an old version would now get 410
        kube_api.put("v1", "pods", pod_manifest("p1"))
        eventually(lambda: "p1" in names(cache))
        assert r.lists == 1
    finally:
        r.stop()


def test_the_cache_builds_the_same_model_as_a_snapshot_file(
        kube_api: KubeApi, kube: Kube, tmp_path: Path) -> None:
    pending = pod_manifest("pending", cpu="1500m", labels={"app": "web"})
    pending["spec"]["priorityClassName"] = "high"
    pending["spec"]["volumes"] = [{"name": "data",
                                   "persistentVolumeClaim": {"claimName": "data"}}]
    objects = {
        ("v1", "nodes"): [node_manifest("n1", "aws:///eu-west-1a/i-1",
                                        labels={"topology.kubernetes.io/zone": "eu-west-1a"})],
        ("v1", "pods"): [pod_manifest("bound", node="n1", labels={"app": "web"}), pending,
                         pod_manifest("ds-pod", node="n1", owner="DaemonSet/agent")],
        ("scheduling.k8s.io/v1", "priorityclasses"): [
            {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
             "metadata": {"name": "high"}, "value": 1000}],
        ("v1", "persistentvolumeclaims"): [
            {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": {"name": "data", "namespace": "default"},
             "spec": {"volumeName": "pv-1", "accessModes": ["ReadWriteOnce"]},
             "status": {"phase": "Bound"}}],
        ("v1", "persistentvolumes"): [
            {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv-1"},
             "spec": {"capacity": {"storage": "10Gi"}, "nodeAffinity": {"required": {
                 "nodeSelectorTerms": [{"matchExpressions": [{
                     "key": "topology.kubernetes.io/zone", "operator": "In",
                     "values": ["eu-west-1b"]}]}]}}}}],
    }
    for (gv, plural), objs in objects.items():
        for obj in objs:
            kube_api.put(gv, plural, obj)
    cache = ClusterCache()
    reflectors = [Reflector(kube, kind, cache, FAST).start() for kind in WATCHED]
    try:
        assert all(r.synced.wait(5) for r in reflectors)
        from_api = cache.snapshot()
    finally:
        for r in reflectors:
            r.stop()
    # What `kubectl get -o yaml` would print: the objects as the API server holds them.
    path = tmp_path / "snapshot.yaml"
    path.write_text(yaml.safe_dump_all(
        [o for gv, plural in objects for o in kube_api.objects(gv, plural)]))
    from_file = load_snapshot([path])

    def plain(s: Snapshot) -> tuple[object, ...]:
        return (tuple(dataclasses.replace(n, source="") for n in s.nodes),
                tuple(sorted((dataclasses.replace(p, source="") for p in s.pods),
                             key=lambda p: p.key)))

    assert plain(from_api) == plain(from_file)
    [waiting] = from_api.pending_pods
    assert waiting.name == "pending" and waiting.priority == 1000
    # Its volume pins it to eu-west-1b, as the snapshot reader says.
    [term] = waiting.scheduling.alternatives()
    assert term.requirements["topology.kubernetes.io/zone"].values == {"eu-west-1b"}
    assert cache.pending_pod_keys() == {"default/pending"}
    assert [p["metadata"]["name"] for p in cache.pods_on("n1")] == ["bound", "ds-pod"]
    # A PriorityClass edited later: the pods' models follow (they are built again).
    cache.apply(PRIORITY_CLASSES, "MODIFIED", {
        "metadata": {"name": "high", "resourceVersion": "999999"}, "value": 5})
    assert cache.snapshot().pending_pods[0].priority == 5


def test_a_silent_watch_is_abandoned_after_the_client_read_timeout(
        kube_api: KubeApi, kube: Kube) -> None:
    kube_api.put("v1", "pods", pod_manifest("p0"))
    cache = ClusterCache()
    # The server would keep each watch open for a minute; the client gives up on one that
    # sends nothing (not even a bookmark) for 0.5 s, and watches again from where it was.
    settings = WatchSettings(watch_timeout=60, read_timeout=0.5, backoff_base=0.05)
    r = Reflector(kube, PODS, cache, settings).start()
    try:
        assert r.synced.wait(5)
        eventually(lambda: kube_api.count("GET", "/api/v1/pods", watch="true") == 1)
        kube_api.silent.set()
        kube_api.put("v1", "pods", pod_manifest("while-silent"))
        time.sleep(0.3)
        assert "while-silent" not in names(cache)
        eventually(lambda: kube_api.count("GET", "/api/v1/pods", watch="true") >= 2, 3)
        kube_api.silent.clear()
        eventually(lambda: "while-silent" in names(cache), 3)
        assert r.lists == 1  # resumed from its resourceVersion, no relist needed
    finally:
        r.stop()


def test_a_periodic_relist_heals_what_a_watch_missed(kube_api: KubeApi, kube: Kube) -> None:
    kube_api.put("v1", "pods", pod_manifest("p0"))
    cache = ClusterCache()
    r = Reflector(kube, PODS, cache, WatchSettings(watch_timeout=60, read_timeout=5,
                                                   relist_period=1.0)).start()
    try:
        assert r.synced.wait(5)
        # Something the watch never delivered (a bug, a lost event): only a relist sees it.
        with kube_api._lock:
            kube_api._objects[("v1", "pods")][("default", "ghost")] = {
                **pod_manifest("ghost"), "metadata": {**pod_manifest("ghost")["metadata"],
                                             "resourceVersion": "1"}}
        eventually(lambda: "ghost" in names(cache), timeout=4)
        assert r.lists >= 2
    finally:
        r.stop()


def test_a_missing_crd_is_named_while_the_cache_waits(kube_api: KubeApi, kube: Kube) -> None:
    from scaler.adapters.kubernetes.cache import Kind

    widgets = Kind("example.dev/v1", "widgets", "Widget", False)
    r = Reflector(kube, widgets, ClusterCache(), FAST).start()
    try:
        eventually(lambda: r.last_error is not None)
        assert not r.synced.is_set()
        assert r.last_error == (
            "Kubernetes API: list widgets: 404 NotFound: the server could not find the "
            "requested resource (example.dev/v1 widgets) (is the Widget "
            "CustomResourceDefinition installed? helm/scaler/crds/)")
    finally:
        r.stop()
