"""The inputs of a disruption pass, its settings, and the candidate nodes it may touch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from scaler.core.disruption.budgets import parse_duration
from scaler.core.disruption.drift import drift_of
from scaler.core.disruption.safety import PodGuard, evictable, node_blocker
from scaler.core.model import (
    DaemonSet,
    Node,
    NodePool,
    Pod,
    PodDisruptionBudget,
)
from scaler.core.scheduling.instancetypes import InstanceTypeTable

WHEN_EMPTY = "WhenEmpty"
WHEN_EMPTY_OR_UNDERUTILIZED = "WhenEmptyOrUnderutilized"
# Karpenter v1.14: consolidate an underutilized node only when the saving is worth the
# disruption (see `balanced_score`); `consolidationThreshold` k in 1..3, default 2.
BALANCED = "Balanced"
DEFAULT_CONSOLIDATION_THRESHOLD = 2
# Karpenter's per-node disruption cost in the Balanced score (draining, cordoning, API calls).
NODE_DISRUPTION_COST = 1.0
# Karpenter v1's defaults for a NodePool that leaves them out.
DEFAULT_EXPIRE_AFTER = "720h"
DEFAULT_CONSOLIDATE_AFTER = "0s"

OPTIMAL = "optimal"
KARPENTER = "karpenter"
EMPTINESS = "emptiness"


@dataclass(frozen=True)
class DisruptionSettings:
    """Knobs of a pass. The defaults are scaler's: calmer than Karpenter's."""

    # Churn guard: a consolidation must save at least this fraction of the disrupted nodes'
    # price (deleting a node saves all of it; a replacement must be this much cheaper).
    min_saving_fraction: float = 0.10
    # Calm: USD per hour a move must save for each pod it evicts, on top of the fraction
    # above (0: cost alone decides). It is also what the MILP charges per evicted pod.
    eviction_price: float = 0.0
    # A spot node is replaced by spot only when the replacement has at least this many
    # cheaper instance types to choose from (Karpenter: 15), so it is not the one
    # about-to-be-interrupted cheapest offering.
    spot_to_spot_min_types: int = 15
    # "optimal": one MILP over every candidate (greedy fallback); "karpenter": multi-node
    # then single-node greedy, as Karpenter does; "emptiness": only empty nodes are deleted.
    strategy: str = OPTIMAL
    time_budget: float = 10.0  # seconds for the whole pass's decision
    multi_node_max: int = 100  # Karpenter's cap on candidates in one multi-node command
    # Controller timings, carried into the plan's steps and the timeline simulation.
    validation_delay: float = 15.0
    launch_delay: float = 60.0
    # Fraction of kept nodes' free capacity the MILP may fill (packing is not fractional).
    packing_headroom: float = 0.0
    # An empty node goes only once its pods last changed at least this long ago (on top
    # of its NodePool's consolidateAfter): `scaler run`'s disruption.emptyAfter.
    empty_after: float = 0.0


@dataclass(frozen=True)
class DisruptionInput:
    """The cluster as a pass sees it. `now` and times below are seconds since the epoch."""

    table: InstanceTypeTable
    pools: Sequence[NodePool]
    nodes: Sequence[Node]
    pods: Sequence[Pod]  # bound and pending
    daemonsets: Sequence[DaemonSet] = ()
    pdbs: Sequence[PodDisruptionBudget] = ()
    # Nodes of each pool already being disrupted (count against the budgets).
    disrupting: Mapping[str, int] = field(default_factory=dict)
    # When a pod last arrived on or left each node; consolidateAfter counts from it
    # (from the node's creation when absent; a node with neither is settled).
    last_change: Mapping[str, float] = field(default_factory=dict)
    # Nodes the pass must leave alone (say, the ones a provisioning pass just launched).
    protected: frozenset[str] = frozenset()
    # Nodes not Ready yet (claims in flight, nodes still initializing, claims being deleted).
    # A plan may count on their room (its commands wait for the validation delay), but the
    # revalidation right before a drain does not: a pod evicted towards one would wait
    # pending until it registers.
    unready: frozenset[str] = frozenset()
    # Prefix for the names of replacements, unique per pass (a controller never reuses one).
    claim_prefix: str = ""
    # Node -> why the cloud calls it drifted (its NodeClass: AMI, subnet, ...), as its
    # claim's Drifted condition says; the NodePool's own drift is judged here.
    cloud_drift: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Candidate:
    node: Node
    pool: NodePool
    price: float | None
    pods: tuple[Pod, ...]  # the pods a drain evicts
    evictions: Mapping[str, int]  # PDB key -> pods of it evicted
    cost: float  # Karpenter's disruption cost: what evicting the pods costs
    blocked: str | None  # why it may not be disrupted at all
    consolidatable: bool  # policy and consolidateAfter allow consolidation now
    empty_ok: bool  # policy and consolidateAfter allow deleting it when empty
    drifted: str | None
    expired: bool

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def empty(self) -> bool:
        return not self.pods


def node_price(table: InstanceTypeTable, node: Node) -> float | None:
    itype = node.instance_type
    if not itype:
        return None
    price = table.price_of(itype, node.capacity_type, node.zone)
    return price if price is not None else table.price_of(itype, node.capacity_type, None)


def eviction_cost(pod: Pod) -> float:
    """Karpenter's: 1 per pod, more for higher priority (clamped)."""
    return 1.0 + max(-10.0, min(10.0, pod.priority / 2**25))


def balanced_threshold(pool: NodePool) -> int | None:
    """k of a Balanced NodePool (a move passes when score >= 1/k); None for other policies."""
    if pool.disruption.get("consolidationPolicy") != BALANCED:
        return None
    k = pool.disruption.get("consolidationThreshold", DEFAULT_CONSOLIDATION_THRESHOLD)
    return k if isinstance(k, int) else DEFAULT_CONSOLIDATION_THRESHOLD


def balanced_score(savings: float, disruption: float, pool_cost: float,
                   pool_disruption: float) -> float:
    """Karpenter's Balanced score of a move within one NodePool: the share of the pool's
    cost it saves over the share of the pool's disruption cost it causes."""
    if pool_cost <= 0 or pool_disruption <= 0 or disruption <= 0:
        return float("inf") if savings > 0 else 0.0
    return (savings / pool_cost) / (disruption / pool_disruption)


def pool_totals(candidates: Sequence[Candidate]) -> dict[str, tuple[float, float]]:
    """NodePool -> (price per hour, disruption cost) of all its candidates, blocked ones
    too (Karpenter computes the Balanced totals before filtering)."""
    totals: dict[str, tuple[float, float]] = {}
    for c in candidates:
        cost, disruption = totals.get(c.pool.name, (0.0, 0.0))
        totals[c.pool.name] = (cost + (c.price or 0.0),
                               disruption + c.cost + NODE_DISRUPTION_COST)
    return totals


def _seconds(text: object, default: str) -> float | None:
    value = text if isinstance(text, str) else default
    return None if value == "Never" else parse_duration(value)


def build_candidates(inp: DisruptionInput, now: float, guard: PodGuard,
                     empty_after: float = 0.0) -> tuple[list[Candidate], dict[str, list[Pod]]]:
    """Every node a NodePool manages, as a candidate; and all pods by node."""
    pools = {p.name: p for p in inp.pools}
    by_node: dict[str, list[Pod]] = {}
    for pod in inp.pods:
        if pod.node_name:
            by_node.setdefault(pod.node_name, []).append(pod)
    out: list[Candidate] = []
    for node in sorted(inp.nodes, key=lambda n: n.name):
        pool = pools.get(node.node_pool or "")
        if pool is None or node.name in inp.protected:
            continue  # not ours to disrupt
        pods = tuple(p for p in by_node.get(node.name, ()) if evictable(p))
        evictions: dict[str, int] = {}
        for p in pods:
            for key in guard.of(p):
                evictions[key] = evictions.get(key, 0) + 1
        disruption = pool.disruption
        policy = disruption.get("consolidationPolicy", WHEN_EMPTY_OR_UNDERUTILIZED)
        after = _seconds(disruption.get("consolidateAfter"), DEFAULT_CONSOLIDATE_AFTER)
        changed = inp.last_change.get(node.name, node.created)
        settled = after is not None and (changed is None or now - changed >= after)
        expire = _seconds(pool.expire_after, DEFAULT_EXPIRE_AFTER)
        drift = drift_of(node, pool, inp.table)
        out.append(Candidate(
            node=node,
            pool=pool,
            price=node_price(inp.table, node),
            pods=pods,
            evictions=evictions,
            cost=sum(eviction_cost(p) for p in pods),
            blocked=node_blocker(node, pods, guard),
            consolidatable=settled and policy in (WHEN_EMPTY_OR_UNDERUTILIZED, BALANCED),
            empty_ok=settled and (changed is None or now - changed >= empty_after),
            drifted=drift.reason if drift else inp.cloud_drift.get(node.name),
            expired=(expire is not None and node.created is not None
                     and now - node.created >= expire),
        ))
    return out, by_node
