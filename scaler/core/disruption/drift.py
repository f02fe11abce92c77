"""Drift: whether a node still matches the NodePool it belongs to and, if not, why.

The one judge of drift. The disruption pass replaces the nodes it calls drifted, the
controller keeps each NodeClaim's Drifted condition from it, and `scaler plan` and the Git
reconciler report it. A node carrying `karpenter.sh/nodepool` has drifted when (checked in
this order, the first finding is the reason):

* its NodePool is gone (field `karpenter.sh/nodepool`);
* a label of the node, or one its instance type implies (`karpenter.k8s.aws/instance-
  generation` from the instance-type table), breaks a requirement of the pool: Karpenter's
  requirements drift (field: the label key);
* a label or taint of the pool's template is missing from the node or has another value:
  what Karpenter's static drift (the NodePool hash) catches for them (field: the label key,
  or `taints`).

A requirement on a label the node lacks is judged only when the answer is known: an
instance-type label (architecture, OS, `karpenter.k8s.aws/...`) of a type the table knows
means the type has no such label (`instance-gpu-name` on an m5), which Karpenter also calls
drift. Not judged: placement labels the node lacks (zone, region, capacity type: every
Karpenter node carries them, so only the snapshot is silent); custom labels the node lacks
(Karpenter labels a NodeClaim for each `In`/`Exists` requirement, scaler's launched nodes
only carry the template's labels, so a missing one says nothing about the policy); and keys
that are not node labels (hostname and NodePool, set from metadata; scaler's interruption
band and node-settings keys). Nodes without a NodePool label are not Karpenter's and never
drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scaler.core.model import (
    LABEL_CAPACITY_TYPE,
    LABEL_HOSTNAME,
    LABEL_INTERRUPTION,
    LABEL_NODE_SETTINGS,
    LABEL_NODEPOOL,
    LABEL_REGION,
    LABEL_ZONE,
    LABEL_ZONE_ID,
    Node,
    NodePool,
    is_well_known,
)
from scaler.core.scheduling.instancetypes import InstanceTypeTable

FIELD_TAINTS = "taints"
# Requirement keys that are no node's label: never judged.
NOT_NODE_LABELS = frozenset({LABEL_HOSTNAME, LABEL_NODEPOOL, LABEL_INTERRUPTION,
                             LABEL_NODE_SETTINGS})
# Where and how a node runs, not what its instance type is: the table cannot tell them.
PLACEMENT_LABELS = frozenset({LABEL_ZONE, LABEL_REGION, LABEL_ZONE_ID, LABEL_CAPACITY_TYPE})


@dataclass(frozen=True, slots=True)
class NodeDrift:
    """Why a node no longer matches its NodePool."""

    node: str
    node_pool: str
    field: str  # the label key, `taints`, or `karpenter.sh/nodepool` (the pool is gone)
    reason: str


def drift_of(node: Node, pool: NodePool | None, table: InstanceTypeTable) -> NodeDrift | None:
    """Why `node` no longer matches `pool`, the NodePool its label names (None: that pool is
    gone); None when it matches or is not managed by a NodePool."""
    pool_name = node.node_pool
    if not pool_name:
        return None
    if pool is None:
        return NodeDrift(node.name, pool_name, LABEL_NODEPOOL,
                     f"NodePool {pool_name} no longer exists")
    found = _requirements_drift(node, pool, table) or _template_drift(node, pool)
    return None if found is None else NodeDrift(node.name, pool_name, *found)


def find_drift(nodes: Sequence[Node], pools: Sequence[NodePool],
               table: InstanceTypeTable) -> list[NodeDrift]:
    """Every drifted node, in node-name order."""
    by_name = {p.name: p for p in pools}
    found = (drift_of(n, by_name.get(n.node_pool or ""), table)
             for n in sorted(nodes, key=lambda n: n.name))
    return [d for d in found if d is not None]


def _requirements_drift(node: Node, pool: NodePool,
                        table: InstanceTypeTable) -> tuple[str, str] | None:
    itype = node.instance_type or ""
    known_type = itype in table.index
    labels = {**table.labels_of(itype), **node.labels}
    for key, req in pool.requirements.items():
        if key in NOT_NODE_LABELS:
            continue
        value = labels.get(key)
        if value is None and not (known_type and is_well_known(key)
                                  and key not in PLACEMENT_LABELS):
            continue  # neither the node nor its instance type tells
        if req.matches(value):
            continue
        if value is None:
            return key, f"label {key} is missing; NodePool {pool.name} requires {req.describe()}"
        return key, (f"label {key}={value} does not satisfy NodePool {pool.name}'s "
                     f"requirement {req.describe()}")
    return None


def _template_drift(node: Node, pool: NodePool) -> tuple[str, str] | None:
    for key, value in pool.labels.items():
        have = node.labels.get(key)
        if have is None:
            return key, f"label {key}={value} of NodePool {pool.name} is missing from the node"
        if have != value:
            return key, f"label {key}={have} differs from NodePool {pool.name}'s {key}={value}"
    for taint in pool.taints:
        if taint not in node.taints:
            return FIELD_TAINTS, (f"taint {taint} of NodePool {pool.name} is missing from "
                                  "the node")
    return None
