"""A lower bound on what any plan for the same pods must cost: one linear programme.

Variables: x[o] >= 0, how many nodes of kind o (instance type, capacity type, NodePool) are
bought, fractionally; z[k, o] >= 0, how many pods of class k sit on kind o, only where class
k allows o. Every class is placed in full (sum_o z[k, o] = n_k) and the classes share each
kind's capacity after DaemonSet overhead (sum_k z[k, o] d[k, r] <= x[o] a[o, r]). Minimising
sum_o price[o] x[o] with HiGHS gives a bound no integral plan can beat: topology rules and
whole nodes only add cost. Classes are not merged (that would force one split on pods of different
shapes), except classes with the same demand and allowed kinds, and a kind another allowed
kind beats in price and every resource is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scaler.solvers.highs import solve_lp

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class PodClass:
    demand: tuple[int, ...]  # one pod's request in the table's dims (pods included)
    count: int
    allowed: BoolArray  # which kinds may hold it


@dataclass(frozen=True)
class Kinds:
    price: FloatArray  # per node and hour
    capacity: IntArray  # kinds x dims, after DaemonSet overhead


@dataclass(frozen=True)
class Bound:
    per_hour: float
    status: str  # "optimal", or why there is no bound
    classes: int
    kinds: int
    # The optimal fractional plan: (class index, kind index) -> pods of that class there.
    assignment: dict[tuple[int, int], float] | None = None


def prune_dominated(kinds: Kinds, allowed: BoolArray) -> IntArray:
    """Kinds worth keeping: drop one beaten by another with the same allowing classes."""
    n = len(kinds.price)
    keep = np.zeros(n, dtype=np.bool_)
    used = allowed.any(axis=0)
    signature: dict[bytes, list[int]] = {}
    for o in np.flatnonzero(used):
        signature.setdefault(allowed[:, o].tobytes(), []).append(int(o))
    for members in signature.values():
        idx = np.array(sorted(members, key=lambda o: kinds.price[o]), dtype=np.int64)
        caps = kinds.capacity[idx]
        best: list[int] = []
        for i, o in enumerate(idx):
            # Beaten when a cheaper-or-equal kind kept before has at least this capacity.
            if best and (caps[best] >= caps[i]).all(axis=1).any():
                continue
            best.append(i)
            keep[o] = True
    return np.flatnonzero(keep)


def lower_bound(classes: Sequence[PodClass], kinds: Kinds, time_limit: float = 10.0) -> Bound:
    """The bound; classes with the same demand and the same allowed kinds are one LP class
    (interchangeable pods: the optimum is the same), split back in the assignment."""
    if not classes:
        return Bound(0.0, "optimal", 0, 0)
    groups: dict[tuple[tuple[int, ...], bytes], list[int]] = {}
    for k, c in enumerate(classes):
        groups.setdefault((c.demand, c.allowed.tobytes()), []).append(k)
    if len(groups) == len(classes):
        return _lower_bound(classes, kinds, time_limit)
    members = list(groups.values())
    merged = [PodClass(classes[ks[0]].demand, sum(classes[k].count for k in ks),
                       classes[ks[0]].allowed) for ks in members]
    b = _lower_bound(merged, kinds, time_limit)
    if b.assignment is None:
        return Bound(b.per_hour, b.status, len(classes), b.kinds)
    assignment: dict[tuple[int, int], float] = {}
    left = {k: float(classes[k].count) for k in range(len(classes))}
    for (g, o), amount in sorted(b.assignment.items()):
        for k in members[g]:  # fill the group's classes in turn
            take = min(amount, left[k])
            if take > 1e-9:
                assignment[(k, o)] = assignment.get((k, o), 0.0) + take
                left[k] -= take
                amount -= take
            if amount <= 1e-9:
                break
    return Bound(b.per_hour, b.status, len(classes), b.kinds, assignment)


def _lower_bound(classes: Sequence[PodClass], kinds: Kinds, time_limit: float) -> Bound:
    allowed = np.array([c.allowed for c in classes], dtype=np.bool_)
    cols = prune_dominated(kinds, allowed)
    if any(not allowed[k, cols].any() for k in range(len(classes))):
        return Bound(float("inf"), "infeasible: a class fits no kind", len(classes), len(cols))
    price = kinds.price[cols]
    cap = kinds.capacity[cols].astype(np.float64)
    n_kinds, n_dims = cap.shape
    # Variable layout: x[0..n_kinds), then one z per allowed (class, kind) pair.
    pairs = [(k, j) for k in range(len(classes)) for j in np.flatnonzero(allowed[k, cols])]
    cost = np.concatenate([price, np.zeros(len(pairs))])
    # Capacity: sum_k z[k,j] d[k,r] - x[j] a[j,r] <= 0, one row per (kind, resource).
    kind_of = np.array([j for _, j in pairs], dtype=np.int64)
    demand = np.array([classes[k].demand for k, _ in pairs], dtype=np.float64).reshape(
        len(pairs), n_dims)
    pr, dr = np.nonzero(demand)
    rows = np.concatenate([np.repeat(np.arange(n_kinds) * n_dims, n_dims)
                           + np.tile(np.arange(n_dims), n_kinds),
                           kind_of[pr] * n_dims + dr])
    cidx = np.concatenate([np.repeat(np.arange(n_kinds), n_dims), n_kinds + pr])
    vals = np.concatenate([-cap.ravel(), demand[pr, dr]])
    # Demand: sum_j z[k,j] = n_k, rows after the capacity rows.
    n_cap = n_kinds * n_dims
    eq_rows = n_cap + np.array([k for k, _ in pairs], dtype=np.int64)
    rows = np.concatenate([rows, eq_rows])
    cidx = np.concatenate([cidx, n_kinds + np.arange(len(pairs))])
    vals = np.concatenate([vals, np.ones(len(pairs))])
    counts = np.array([c.count for c in classes], dtype=np.float64)
    row_lower = np.concatenate([np.full(n_cap, -np.inf), counts])
    row_upper = np.concatenate([np.zeros(n_cap), counts])
    value, status, x = solve_lp(cost, rows, cidx, vals, row_lower, row_upper, time_limit)
    if status != "optimal":
        return Bound(float("nan"), f"no bound: {status}", len(classes), n_kinds)
    assignment = {
        (k, int(cols[j])): float(x[n_kinds + v])
        for v, (k, j) in enumerate(pairs)
        if x[n_kinds + v] > 1e-9
    }
    return Bound(value, "optimal", len(classes), n_kinds, assignment)

