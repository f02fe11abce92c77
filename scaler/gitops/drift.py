"""Drift: nodes that no longer match the NodePool they belong to.

A node launched by Karpenter carries `karpenter.sh/nodepool`. It has drifted when

* its NodePool is gone from the policies (Karpenter removes such nodes);
* a label (its own, or one its instance type implies, such as
  `karpenter.k8s.aws/instance-generation`) no longer satisfies a requirement of the pool: the
  policy changed (`spot` nodes after the pool became on-demand only), or someone edited the
  node by hand;
* a taint the pool puts on its nodes is missing from it.

Drifted nodes are candidates for replacement; the disruption work (a later issue) decides
when, within the pool's disruption budgets. Nodes without a NodePool label are not
Karpenter's and never drift. Requirements on a label the node does not carry and its
instance type does not tell (an instance type missing from the catalog) are not judged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from scaler.core.model import LABEL_NODEPOOL, Node, is_well_known
from scaler.policy import PolicySet

InstanceLabels = Callable[[str], Mapping[str, str] | None]

POLICY_CHANGED = "PolicyChanged"
NODE_OUT_OF_POLICY = "NodeOutOfPolicy"


@dataclass(frozen=True, slots=True)
class NodeDrift:
    node: str
    node_pool: str
    field: str  # the label key, `taints`, or `karpenter.sh/nodepool`
    reason: str

    def to_json(self) -> dict[str, str]:
        return {
            "node": self.node,
            "nodePool": self.node_pool,
            "field": self.field,
            "reason": self.reason,
        }


def catalog_labels(region: str) -> InstanceLabels:
    """Instance-type labels from the bundled catalog of a region."""
    from pricing import load_catalog

    catalog = load_catalog(region)

    def labels(instance_type: str) -> Mapping[str, str] | None:
        it = catalog.get(instance_type)
        return dict(it.labels) if it else None

    return labels


def node_drift(
    node: Node, policies: PolicySet, instance_labels: InstanceLabels | None = None
) -> NodeDrift | None:
    """Why `node` no longer matches its NodePool, or None when it does (or is not managed)."""
    pool_name = node.node_pool
    if not pool_name:
        return None
    pool = policies.node_pool(pool_name)
    if pool is None:
        return NodeDrift(
            node.name,
            pool_name,
            LABEL_NODEPOOL,
            f"NodePool {pool_name} no longer exists",
        )
    implied = None
    if instance_labels is not None and node.instance_type:
        implied = instance_labels(node.instance_type)
    labels = {**(implied or {}), **node.labels}
    for key, req in pool.requirements.items():
        value = labels.get(key)
        if value is None and is_well_known(key) and implied is None:
            continue  # the node does not say and the catalog cannot tell
        if not req.matches(value):
            if value is None:
                reason = f"label {key} is missing; NodePool {pool_name} requires {req.describe()}"
            else:
                reason = (
                    f"label {key}={value} does not satisfy NodePool {pool_name}'s requirement "
                    f"{req.describe()}"
                )
            return NodeDrift(node.name, pool_name, key, reason)
    for taint in pool.taints:
        if taint not in node.taints:
            return NodeDrift(
                node.name,
                pool_name,
                "taints",
                f"taint {taint} of NodePool {pool_name} is missing from the node",
            )
    return None


def find_drift(
    nodes: Sequence[Node], policies: PolicySet, instance_labels: InstanceLabels | None = None
) -> list[NodeDrift]:
    """Every drifted node, in node-name order."""
    ordered = sorted(nodes, key=lambda n: n.name)
    found = (node_drift(n, policies, instance_labels) for n in ordered)
    return [d for d in found if d is not None]
