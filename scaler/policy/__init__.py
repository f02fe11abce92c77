"""Policies: the Karpenter NodePools (and neighbours) a team commits, loaded for the core."""

from scaler.policy.defaults import DEFAULT_NODE_POOL_YAML, default_node_pool
from scaler.policy.loader import (
    PolicyBundleError,
    PolicyObject,
    PolicySet,
    load_policies,
    read_objects,
)
from scaler.policy.nodepool import KarpenterNodePool, parse_node_pool

__all__ = [
    "DEFAULT_NODE_POOL_YAML",
    "KarpenterNodePool",
    "PolicyBundleError",
    "PolicyObject",
    "PolicySet",
    "default_node_pool",
    "load_policies",
    "parse_node_pool",
    "read_objects",
]
