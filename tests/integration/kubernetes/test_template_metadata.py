"""The live adapter puts a NodePool's template annotations on the NodeClaim it creates and,
when the node registers, on the Node (Karpenter's `spec.template.metadata.annotations`)."""

from __future__ import annotations

from scaler.adapters.kubernetes import WATCHED, ClusterCache, EventRecorder, Kube
from scaler.adapters.kubernetes import KubernetesCluster as KCluster
from scaler.adapters.kubernetes.informer import Reflector
from scaler.core.requirements import Requirements
from scaler.core.resources import Resources
from scaler.ports.cloud import CloudNode
from scaler.ports.fence import OpenFence
from tests.integration.kubernetes.test_informer import FAST, eventually
from tests.support.builders import node_manifest
from tests.support.kube_api import KubeApi

NC = "scaler.dev/v1alpha1"
NOTES = {"example.com/owner": "team-a", "karpenter.sh/do-not-disrupt": "true"}


def test_template_annotations_go_on_the_nodeclaim_then_the_node(
        kube_api: KubeApi, kube: Kube) -> None:
    cache = ClusterCache()
    reflectors = [Reflector(kube, k, cache, FAST).start() for k in WATCHED]
    assert all(r.synced.wait(5) for r in reflectors)
    cluster = KCluster(kube, cache, OpenFence(), EventRecorder(kube, OpenFence()))
    try:
        cluster.create_claim("default-x-00001", "default", Requirements([]), (),
                             Resources.parse({"cpu": "1"}), {"team": "a"}, NOTES)
        claim = kube_api.get(NC, "nodeclaims", "default-x-00001")
        assert claim is not None and claim["metadata"]["annotations"] == NOTES
        cluster.claim_launched(
            "default-x-00001",
            CloudNode("sim:///us-east-1a/i-1", "default-x-00001", "default", "m5.xlarge",
                      "us-east-1a", "on-demand", "amd64", 0.192, False),
            {"team": "a"}, Resources.parse({"cpu": "4"}))
        kube_api.put("v1", "nodes", node_manifest("ip-10-0-0-1", "sim:///us-east-1a/i-1"))
        eventually(lambda: cache.node_for_provider_id("sim:///us-east-1a/i-1") is not None)
        cluster.claim_registered("default-x-00001", "ip-10-0-0-1", True)
        registered = kube_api.get("v1", "nodes", "ip-10-0-0-1")
        assert registered is not None
        assert registered["metadata"]["annotations"] == NOTES
        assert registered["metadata"]["labels"]["team"] == "a"
    finally:
        for r in reflectors:
            r.stop()
