"""The exact consolidation optimum of a small cluster, for bench_consolidate.py.

One MILP over every placement a pass could choose: each existing node is kept or not, each
new node kind (NodePool x instance type x capacity type, priced at its cheapest allowed zone,
after DaemonSet overhead) gets numbered slots that are launched or not, and every pod that is
not a DaemonSet's is put, whole, on a kept node or a launched slot that admits it. Minimum:
the price of the cluster after the pass. Budget 100%, no PDBs, and none of a pass's rules
beyond capacity and node selectors (no churn guard, no spot-to-spot rule), so it is a lower
bound on what any pass can reach on the benchmark's cluster, and the best plan when HiGHS
proves it optimal.

Kept small: kinds dearer than the plan being judged cannot be in a cheaper solution, a kind
that another kind beats on price and every resource (for the same pods) is dropped, and each
kind gets only as many slots as the judged plan's price or the pods' demand allows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scaler.core.disruption.candidates import DisruptionInput, node_price
from scaler.core.resources import Resources
from scaler.core.scheduling.capacity import ONE_POD, NewCapacity
from scaler.solvers.highs import solve_milp


@dataclass(frozen=True)
class Exact:
    value: float  # $/h of the best plan found
    bound: float  # the best lower bound HiGHS proved
    status: str
    kept: int  # existing nodes kept
    launched: int  # new nodes
    variables: int


def _kinds(price: np.ndarray, cap: np.ndarray, allowed: np.ndarray, upper: float) -> list[int]:
    """Kinds worth a slot: cheaper than `upper`, admitting some pod, and not beaten by a kind
    that admits every pod it does, costs no more and holds at least as much of everything
    (any plan using the beaten kind is no cheaper with the other)."""
    alive = [k for k in range(len(price))
             if np.isfinite(price[k]) and price[k] < upper and allowed[:, k].any()]
    keep: list[int] = []
    for k in alive:
        beaten = any(
            j != k and price[j] <= price[k] and (cap[j] >= cap[k]).all()
            and (allowed[:, j] >= allowed[:, k]).all()
            and (price[j] < price[k] or (cap[j] > cap[k]).any()
                 or (allowed[:, j] > allowed[:, k]).any() or j < k)
            for j in alive)
        if not beaten:
            keep.append(k)
    return keep


def exact_consolidation(inp: DisruptionInput, upper: float, time_limit: float) -> Exact:
    """The cheapest cluster the pods fit on (see the module docstring); `upper` is the price
    of a known plan (the pass being judged), which prunes kinds and slots."""
    table = inp.table
    nodes = list(inp.nodes)
    pods = [p for p in inp.pods if p.node_name and p.owner_kind != "DaemonSet"]
    fixed: dict[str, Resources] = {n.name: Resources({}) for n in nodes}
    for p in inp.pods:
        if p.node_name and p.owner_kind == "DaemonSet":
            fixed[p.node_name] = fixed[p.node_name] + p.requests + ONE_POD
    model = NewCapacity(table, inp.pools, inp.daemonsets).model(pods)
    demand = np.array([c.demand for c in model.classes], dtype=np.float64)
    counts = np.array([c.count for c in model.classes], dtype=np.float64)
    allowed = np.array([c.allowed for c in model.classes], dtype=np.bool_)
    price, cap = model.kinds.price, model.kinds.capacity.astype(np.float64)

    # Bins: the existing nodes, then each kind's slots.
    bin_price: list[float] = []
    bin_cap: list[np.ndarray] = []
    bin_ok: list[np.ndarray] = []
    for n in nodes:
        free = table.vector(n.allocatable - fixed[n.name])
        bin_price.append(node_price(table, n) or 0.0)
        bin_cap.append(np.array(free if free is not None else (0,) * len(table.dims),
                                dtype=np.float64))
        bin_ok.append(np.array([m[0].scheduling.node_selector.matches_labels(n.labels)
                                for m in model.members], dtype=np.bool_))
    slot_of: list[int] = []  # kind index of each slot bin, -1 for existing nodes
    slot_of += [-1] * len(nodes)
    for k in _kinds(price, cap, allowed, upper):
        need = demand[allowed[:, k]].T @ counts[allowed[:, k]]
        with np.errstate(divide="ignore", invalid="ignore"):
            by_demand = np.where(cap[k] > 0, need / np.maximum(cap[k], 1e-9), 0).max()
        slots = int(min(math.floor(upper / price[k]), math.ceil(by_demand)))
        for _ in range(slots):
            bin_price.append(float(price[k]))
            bin_cap.append(cap[k])
            bin_ok.append(allowed[:, k])
            slot_of.append(k)
    # The cluster as it is (every node kept, every pod where it runs) starts the search.
    where = {id(p): i for i, p in enumerate(pods)}
    node_no = {n.name: b for b, n in enumerate(nodes)}
    start = np.zeros((len(model.classes), len(nodes)))
    for c, group in enumerate(model.members):
        for p in group:
            if id(p) in where:
                start[c, node_no[p.node_name or ""]] += 1
    return _solve(demand, counts, bin_price, bin_cap, bin_ok, slot_of, len(nodes), start,
                  time_limit)


def _solve(demand: np.ndarray, counts: np.ndarray, bin_price: list[float],
           bin_cap: list[np.ndarray], bin_ok: list[np.ndarray], slot_of: list[int],
           n_existing: int, start: np.ndarray, time_limit: float) -> Exact:
    n_bins, n_dims = len(bin_price), demand.shape[1]
    # Columns: y (one per bin), then x (pods of a class on a bin) for admitted pairs.
    pairs = [(c, b) for b in range(n_bins) for c in np.flatnonzero(bin_ok[b])]
    n_cols = n_bins + len(pairs)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lo: list[float] = []
    hi: list[float] = []
    for c in range(len(counts)):  # every pod placed
        lo.append(counts[c])
        hi.append(counts[c])
    cap_row = len(lo)
    for b in range(n_bins):  # what a bin holds, only when kept / launched
        for d in range(n_dims):
            r = cap_row + b * n_dims + d
            rows.append(r)
            cols.append(b)
            vals.append(-float(bin_cap[b][d]))
            lo.append(-math.inf)
            hi.append(0.0)
    for i, (c, b) in enumerate(pairs):
        col = n_bins + i
        rows.append(int(c))
        cols.append(col)
        vals.append(1.0)
        for d in np.flatnonzero(demand[c]):
            rows.append(cap_row + b * n_dims + int(d))
            cols.append(col)
            vals.append(float(demand[c, d]))
    for b in range(n_existing + 1, n_bins):  # a kind's slots are used in order
        if slot_of[b] == slot_of[b - 1]:
            r = len(lo)
            rows += [r, r]
            cols += [b - 1, b]
            vals += [1.0, -1.0]
            lo.append(0.0)
            hi.append(math.inf)
    cost = np.array(bin_price + [0.0] * len(pairs))
    upper = np.array([1.0] * n_bins + [float(counts[c]) for c, _ in pairs])
    first = np.zeros(n_cols)
    first[:n_existing] = 1.0
    for i, (c, b) in enumerate(pairs):
        if b < n_existing:
            first[n_bins + i] = start[c, b]
    value, bound, status, x = solve_milp(
        cost, np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64),
        np.array(vals), np.array(lo), np.array(hi), upper, np.ones(n_cols, dtype=np.bool_),
        time_limit, start=first)
    used = x[:n_bins] > 0.5 if len(x) else np.zeros(n_bins, dtype=np.bool_)
    return Exact(value, bound, status, int(used[:n_existing].sum()),
                 int(used[n_existing:].sum()), n_cols)
