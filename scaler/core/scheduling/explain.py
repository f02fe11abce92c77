"""Why a pod cannot be placed, in words a user can act on.

Computed only for pods that failed, so it may re-derive what the scheduler skipped over.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from scaler.core.model import NodePool, NodeSelectorTerm, Pod, Scheduling, is_well_known
from scaler.core.quantity import format_quantity
from scaler.core.requirements import Requirements
from scaler.core.resources import Resources
from scaler.core.scheduling.capacity import NODES, limit_mask
from scaler.core.scheduling.claim import CORDONED, HOST_PORT, NO_ROOM, SELECTOR, TAINT, TOPOLOGY
from scaler.core.scheduling.existing import ExistingNode
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.core.scheduling.predicates import narrow, untolerated
from scaler.core.scheduling.preferences import Attempt
from scaler.core.scheduling.topology import Target, Topology

_NO_REASON = " could not take the pod"


@dataclass(frozen=True)
class ExplainContext:
    """What an explanation looks at: the catalog and the NodePools as the pass left them."""

    table: InstanceTypeTable
    pools: Sequence[NodePool]  # heaviest first
    launch_reqs: Mapping[str, Requirements]
    overhead: Mapping[str, Resources]  # DaemonSet overhead per NodePool
    remaining: Mapping[str, Mapping[str, int] | None]  # what is left of each pool's limits
    # The cluster's nodes as the pass left them, and the topology counts, for the
    # kube-scheduler style summary of why each refused the pod.
    existing: Sequence[ExistingNode] = field(default_factory=tuple)
    topology: Topology | None = None


def _amount(name: str, value: int) -> str:
    if name == "cpu":
        return f"{value / 1000:g} vCPU"
    if name == "pods":
        return f"{value} pods"
    if name == NODES:
        return f"{value} nodes"
    return f"{format_quantity(name, value)} {name}"


def _qualifier(term: NodeSelectorTerm) -> str:
    wk = [r.describe() for k, r in term.requirements.items() if is_well_known(k)]
    return f" with {' and '.join(wk)}" if wk else ""


def _conflict(pool: NodePool, term: NodeSelectorTerm) -> str:
    if term.node_names is not None:
        return "the pod's node affinity names existing nodes (matchFields metadata.name)"
    for key, req in term.requirements.items():
        have = pool.requirements.get(key)
        if have is not None and have.intersect(req).is_empty():
            return (
                f"the pod requires {req.describe()} but NodePool {pool.name} allows "
                f"{have.describe()}"
            )
        if have is None and not is_well_known(key) and not req.matches(None):
            return (
                f"the pod requires {req.describe()} but NodePool {pool.name} does not set "
                f"label {key}"
            )
    return f"the pod's node selector conflicts with NodePool {pool.name}"


def _pool_reason(s: ExplainContext, pool: NodePool, term: NodeSelectorTerm, row: tuple[int, ...],
                 reqs: Requirements, request: Resources) -> str:
    table = s.table
    mask = table.mask(reqs)
    qual = _qualifier(term)
    if not mask.any():
        return f"no instance type in NodePool {pool.name} matches{qual or ' its requirements'}"
    overhead = table.vector(s.overhead[pool.name]) or (0,) * len(table.dims)
    need = np.array(row, dtype=np.int64) + np.array(overhead, dtype=np.int64)
    idx = np.flatnonzero(mask)
    alloc = table.allocatable[idx]
    fits = (alloc >= need).all(axis=1)
    if not fits.any():
        short = [j for j in range(len(table.dims)) if alloc[:, j].max() < need[j] and row[j] > 0]
        if short:
            # The request as written: `row` saturates amounts no instance type holds.
            asks = " and ".join(_amount(table.dims[j], request.get(table.dims[j]))
                                for j in short)
            best = ", ".join(
                _amount(table.dims[j], int(alloc[:, j].max() - overhead[j])) for j in short
            )
            return (
                f"no instance type in NodePool {pool.name}{qual} has {asks} "
                f"(the most any offers after DaemonSet overhead: {best})"
            )
        asks = ", ".join(_amount(table.dims[j], row[j]) for j in range(len(row)) if row[j] > 0)
        return f"no single instance type in NodePool {pool.name}{qual} has {asks} together"
    within = limit_mask(table, s.remaining[pool.name])
    if within is not None and not (fits & within[idx]).any():
        left = s.remaining[pool.name] or {}
        used = ", ".join(f"{_amount(k, max(v, 0))} left" for k, v in sorted(left.items()))
        return f"NodePool {pool.name} would exceed its limits ({used})"
    fitting = idx[fits]
    for key, req in reqs.items():
        if req.min_values is not None:
            have = table.distinct(key, fitting)
            if have < req.min_values:
                return (
                    f"NodePool {pool.name} requires minValues {req.min_values} for {key}, "
                    f"but the instance types that fit the pod span only {have}"
                )
    return f"NodePool {pool.name}{_NO_REASON}"


def _insufficient(en: ExistingNode, request: Resources) -> list[str]:
    out = []
    for name, value in sorted(request.items()):
        if value > 0 and en.free.get(name) < value:
            out.append("Too many pods" if name == "pods" else f"Insufficient {name}")
    return out


def _taint_reason(en: ExistingNode, attempt: Attempt) -> str:
    bad = untolerated(attempt.sched.tolerations, en.node.taints, attempt.avoid_prefer_no_schedule)
    t = bad[0] if bad else None
    return ("node(s) had untolerated taint {" + f"{t.key}: {t.value}" + "}") if t else \
        "node(s) had untolerated taint"


def _topology_reason(s: ExplainContext, pod: Pod, attempt: Attempt, en: ExistingNode) -> str:
    """Which of the pod's topology rules the node breaks, as kube-scheduler says it."""
    topo = s.topology
    labels = {"spread": "node(s) didn't match pod topology spread constraints",
              "affinity": "node(s) didn't match pod affinity rules",
              "anti": "node(s) didn't match pod anti-affinity rules",
              "owner-anti": "node(s) didn't satisfy existing pods anti-affinity rules"}
    if topo is not None:
        target = Target(en.node.name, labels=en.node.labels)
        reqs = next((t.requirements for t in attempt.sched.alternatives()
                     if t.requirements.matches_labels(en.node.labels)), Requirements())
        for rule in topo.rules(pod.namespace, pod.labels, attempt.sched):
            d = target.domain(rule.group.key)
            if d is None:
                if rule.kind in ("anti", "owner-anti"):
                    continue
                return labels[rule.kind]
            self_match = rule.group.picks(pod.namespace, pod.labels)
            if not topo.allowed(rule, self_match, reqs, [d]):
                return labels[rule.kind]
    return "node(s) didn't match the pod's topology rules"


def existing_summary(s: ExplainContext, pod: Pod, request: Resources, attempt: Attempt) -> str:
    """kube-scheduler's FitError: `0/12 nodes are available: 5 Insufficient cpu, ...`."""
    if not s.existing:
        return ""
    counts: Counter[str] = Counter()
    alternatives = attempt.sched.alternatives()
    for en in s.existing:
        why = en.admits(request, attempt, alternatives)
        if why is None and s.topology is not None:
            why = en.can_add(pod, request, attempt, alternatives, s.topology)
        if why is None:
            continue
        if why is NO_ROOM:
            counts.update(_insufficient(en, request) or ["Insufficient resources"])
        elif why is CORDONED:
            counts["node(s) were unschedulable"] += 1
        elif why is TAINT:
            counts[_taint_reason(en, attempt)] += 1
        elif why is HOST_PORT:
            counts["node(s) didn't have free ports for the requested pod ports"] += 1
        elif why is SELECTOR:
            counts["node(s) didn't match Pod's node affinity/selector"] += 1
        elif why is TOPOLOGY:
            counts[_topology_reason(s, pod, attempt, en)] += 1
        else:
            counts[why.reason] += 1
    parts = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    listed = ", ".join(f"{n} {text}" for text, n in parts)
    return f"0/{len(s.existing)} nodes are available: {listed}" if listed else ""


def explain_unschedulable(s: ExplainContext, pod: Pod, request: Resources, attempt: Attempt) -> str:
    """Why the pod fits nowhere, even with all its preferences given up (`attempt`): the
    existing nodes as kube-scheduler says it, then the NodePools."""
    head = existing_summary(s, pod, request, attempt)
    tail = _pools_reason(s, pod, request, attempt)
    return f"{head}; {tail}" if head else tail


def _pools_reason(s: ExplainContext, pod: Pod, request: Resources, attempt: Attempt) -> str:
    sched = attempt.sched
    if not s.pools:
        return "no existing node fits the pod and there is no NodePool to launch one"
    row = s.table.vector(request)
    if row is None:
        missing = [n for n, v in request.items() if v > 0 and n not in s.table.dim_index]
        return f"no instance type offers {', '.join(missing)}"
    reasons: list[str] = []
    for pool in s.pools:
        bad = untolerated(sched.tolerations, pool.taints)
        if bad:
            reasons.append(
                f"NodePool {pool.name} has taint {bad[0]} that the pod does not tolerate"
            )
            continue
        for term in sched.alternatives():
            reqs = narrow(s.launch_reqs[pool.name], term)
            if reqs is None:
                reasons.append(_conflict(pool, term))
            else:
                reasons.append(_pool_reason(s, pool, term, row, reqs, request))
    unique = [r for r in dict.fromkeys(reasons) if not r.endswith(_NO_REASON)]
    if len(unique) < len(set(reasons)):
        # Some NodePool had room and still could not take it: its topology rules decided.
        rules = _topology_rules(sched)
        if rules:
            unique.append(f"no node or new node satisfies its {rules}")
        elif not unique:
            unique.append("no existing node fits and no NodePool could take the pod")
    return "; ".join(unique)


def _topology_rules(sched: Scheduling) -> str:
    parts = [f"topology spread on {c.topology_key} (maxSkew {c.max_skew})"
             for c in sched.topology_spread]
    parts += [f"pod affinity on {t.topology_key}" for t in sched.pod_affinity]
    parts += [f"pod anti-affinity on {t.topology_key}" for t in sched.pod_anti_affinity]
    if sched.host_ports:
        parts.append("host ports " + ", ".join(f"{p.port}/{p.protocol}" for p in sched.host_ports))
    return (", ".join(parts) + " (or anti-affinity of pods already placed)") if parts else ""
