"""Karpenter's tag names, which scaler puts on everything it launches for a cluster.

An instance carries the cluster (`kubernetes.io/cluster/<name>: owned` and
`eks:eks-cluster-name`), its NodePool, its EC2NodeClass and its node claim; `list`, `get`,
garbage collection and the IAM policy's tag conditions all key on them.
"""

from __future__ import annotations

from collections.abc import Mapping

from scaler.policy import ec2nodeclass

NODEPOOL = "karpenter.sh/nodepool"
NODECLAIM = "karpenter.sh/nodeclaim"
NODECLASS = "karpenter.k8s.aws/ec2nodeclass"
EKS_CLUSTER_NAME = "eks:eks-cluster-name"
# Karpenter keeps this digest as a NodeClaim annotation; scaler has no NodeClaim object, so
# the instance carries it as a tag (for static drift: user data, disks, metadata options...).
NODECLASS_HASH = "karpenter.k8s.aws/ec2nodeclass-hash"
NAME = "Name"
CLUSTER_PREFIX = "kubernetes.io/cluster/"

# Keys a NodeClass's own `tags` may not set (Karpenter refuses them too): the policy model's.
RESTRICTED_TAG_PREFIXES = ec2nodeclass.RESTRICTED_TAG_PREFIXES


def cluster_tag(cluster: str) -> str:
    return f"{CLUSTER_PREFIX}{cluster}"


def cluster_tags(cluster: str) -> dict[str, str]:
    return {cluster_tag(cluster): "owned", EKS_CLUSTER_NAME: cluster}


def instance_tags(
    cluster: str,
    node_pool: str,
    node_class: str,
    claim: str,
    node_class_tags: Mapping[str, str],
    node_class_hash: str,
) -> dict[str, str]:
    """The NodeClass's tags, then scaler's own (which win)."""
    return {
        NAME: claim,
        **node_class_tags,
        **cluster_tags(cluster),
        NODEPOOL: node_pool,
        NODECLASS: node_class,
        NODECLAIM: claim,
        NODECLASS_HASH: node_class_hash,
    }


def as_dict(tag_list: object) -> dict[str, str]:
    """EC2's [{"Key": k, "Value": v}] as a dict."""
    if not isinstance(tag_list, list):
        return {}
    return {
        str(t["Key"]): str(t.get("Value", ""))
        for t in tag_list
        if isinstance(t, dict) and "Key" in t
    }
