"""Why a pod cannot be placed, in words a user can act on.

Computed only for pods that failed, so it may re-derive what the scheduler skipped over.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from scaler.core.model import NodePool, NodeSelectorTerm, Pod, Scheduling, is_well_known
from scaler.core.quantity import format_quantity
from scaler.core.requirements import Requirements
from scaler.core.resources import Resources
from scaler.core.scheduling.predicates import narrow, untolerated
from scaler.core.scheduling.preferences import Attempt

_NO_REASON = " could not take the pod"

if TYPE_CHECKING:
    from scaler.core.scheduling.scheduler import Scheduler


def _amount(name: str, value: int) -> str:
    if name == "cpu":
        return f"{value / 1000:g} vCPU"
    if name == "pods":
        return f"{value} pods"
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


def _pool_reason(s: Scheduler, pool: NodePool, term: NodeSelectorTerm, row: tuple[int, ...],
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
    limit_mask = s._limit_mask(pool)
    if limit_mask is not None and not (fits & limit_mask[idx]).any():
        left = s.remaining[pool.name] or {}
        used = ", ".join(f"{k} {_amount(k, max(v, 0))} left" for k, v in sorted(left.items()))
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


def explain_unschedulable(s: Scheduler, pod: Pod, request: Resources, attempt: Attempt) -> str:
    """Why the pod fits nowhere, even with all its preferences given up (`attempt`)."""
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
