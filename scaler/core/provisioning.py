"""One provisioning decision: pending pods -> pods for existing nodes, and node claims to launch.

The live controller and every simulation make it here, and turn a launched claim into the
node it becomes (`launched_node`) here, so the two cannot drift apart. Acting on the decision
(creating claims, calling the cloud, binding) is `scaler.control.provisioning`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pricing import InstanceType
from scaler.core.model import (
    LABEL_CAPACITY_TYPE,
    LABEL_HOSTNAME,
    LABEL_NODEPOOL,
    LABEL_REGION,
    LABEL_ZONE,
    DaemonSet,
    Node,
    NodePool,
    Pod,
    Taint,
)
from scaler.core.requirements import Requirements
from scaler.core.resources import Resources
from scaler.core.scheduling.claim import ClaimPlan
from scaler.core.scheduling.instancetypes import InstanceTypeTable, LaunchOption
from scaler.core.scheduling.pool_fit import IdlePool, idle_note, split_pools
from scaler.core.scheduling.scheduler import Scheduler

LABEL_NODECLAIM = "scaler.dev/nodeclaim"


@dataclass(frozen=True, slots=True)
class NodeClaimSpec:
    """A node claim to create and launch: what the scheduler planned, with its NodePool's
    labels and taints (the launch options ranked cheapest first)."""

    name: str
    node_pool: str
    requirements: Requirements
    options: tuple[LaunchOption, ...]
    labels: Mapping[str, str]
    taints: tuple[Taint, ...]
    requests: Resources
    pods: tuple[Pod, ...]

    @staticmethod
    def of(claim: ClaimPlan, pool: NodePool) -> NodeClaimSpec:
        return NodeClaimSpec(claim.name, pool.name, claim.requirements, claim.options,
                             dict(pool.labels), pool.taints, claim.requests, claim.pods)


@dataclass(frozen=True)
class ProvisioningDecision:
    existing: Mapping[str, tuple[Pod, ...]]  # node -> pending pods that fit there now
    claims: tuple[NodeClaimSpec, ...]
    unschedulable: tuple[tuple[Pod, str], ...]
    # The scheduler that decided (for the lower bound a plan reports); not part of the value.
    scheduler: Scheduler = field(compare=False, repr=False)
    # NodePools no instance type satisfies: they launch nothing (Karpenter keeps them idle).
    idle: tuple[IdlePool, ...] = ()


def decide_provisioning(table: InstanceTypeTable, pools: Sequence[NodePool],
                        nodes: Sequence[Node], bound: Sequence[Pod],
                        daemonsets: Sequence[DaemonSet], pending: Sequence[Pod], region: str,
                        claim_prefix: str = "",
                        idle: Sequence[IdlePool] = ()) -> ProvisioningDecision:
    """`idle`: pools already found unfit upstream, named in the unschedulable reasons too."""
    pools, unfit = split_pools(pools, lambda _pool: table, region)
    all_idle = (*idle, *unfit)
    scheduler = Scheduler(table, pools, nodes, bound, daemonsets, claim_prefix=claim_prefix)
    result = scheduler.solve(pending)
    by_pool = {p.name: p for p in pools}
    note = idle_note(all_idle)
    return ProvisioningDecision(
        existing=result.existing,
        claims=tuple(NodeClaimSpec.of(c, by_pool[c.node_pool]) for c in result.claims),
        unschedulable=tuple((p, reason + note) for p, reason in result.unschedulable),
        scheduler=scheduler,
        idle=tuple(unfit),
    )


def node_labels(claim: str, node_pool: str, pool_labels: Mapping[str, str],
                instance_type: InstanceType | None, zone: str, capacity_type: str,
                region: str) -> dict[str, str]:
    """The labels a launched claim's node carries: its instance type's, its NodePool's, then
    where and how it launched. The hostname is the claim's name until a kubelet says
    otherwise (topology by hostname must see one)."""
    labels = dict(instance_type.labels) if instance_type else {}
    labels.update(pool_labels)
    labels.update({LABEL_ZONE: zone, LABEL_CAPACITY_TYPE: capacity_type,
                   LABEL_NODEPOOL: node_pool, LABEL_NODECLAIM: claim, LABEL_HOSTNAME: claim})
    if region:
        labels[LABEL_REGION] = region
    return labels


def launched_node(spec: NodeClaimSpec, instance_type: InstanceType | None, zone: str,
                  capacity_type: str, region: str) -> Node:
    """The node a launched claim becomes (named after the claim)."""
    labels = node_labels(spec.name, spec.node_pool, spec.labels, instance_type, zone,
                         capacity_type, region)
    allocatable = Resources(dict(instance_type.allocatable)) if instance_type else Resources({})
    return Node(name=spec.name, labels=labels, allocatable=allocatable, taints=spec.taints)
