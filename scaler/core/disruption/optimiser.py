"""Consolidation as one mixed-integer programme over every candidate (HiGHS).

Variables: y[n] in {0, 1}, remove candidate n; x[o] integer, new nodes of kind o (NodePool,
instance type, capacity type, as the provisioning LP builds them); z[k, g] >= 0, displaced
pods of class k placed on the kept nodes of receiver group g (nodes alike but for their
name); w[k, o] >= 0, displaced pods of class k on new nodes of kind o.

    minimise   sum_o price[o] x[o] - sum_n price[n] y[n] (+ a hair of disruption cost)
    subject to sum_g z[k,g] + sum_o w[k,o] = sum_n pods[k,n] y[n]        every class k
               sum_k d[k,r] z[k,g] <= sum_{n in g} free[n,r] (1 - y[n])  every group g, dim r
               sum_k d[k,r] w[k,o] <= cap[o,r] x[o]                      every kind o, dim r
               sum_{n in pool} y[n] <= budget left (Underutilized)      every NodePool
               sum_n evictions[b,n] y[n] <= allowed(b)                  every PDB b
               sum_o price[o] x[o] <= (1 - f) sum_n price[n] y[n]       the churn guard

Pods are fractional inside a group (so a group is one pool of capacity) and topology rules
are left to the scheduler: the chosen removal is then simulated with the real Scheduler,
and nodes whose pods do not all fit, or whose share of the replacements breaks the churn
guard or the spot-to-spot rule, are kept and the rest tried again. The objective plus the
untouched nodes' price is the plan HiGHS found; its dual bound, a lower bound no plan of
this kind can beat.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from scaler.core.disruption.candidates import Candidate
from scaler.core.disruption.cluster_view import Planned
from scaler.core.disruption.methods.context import REASON_UNDERUTILIZED, Command, PassContext
from scaler.core.disruption.methods.multi_node import MultiNode, consolidatable
from scaler.core.disruption.methods.single_node import SingleNode
from scaler.core.model import LABEL_HOSTNAME, SPOT, Node, Pod
from scaler.core.resources import Resources
from scaler.core.scheduling.bound import BoolArray, FloatArray, IntArray, prune_dominated
from scaler.core.scheduling.capacity import ONE_POD, CapacityModel, NewCapacity
from scaler.core.scheduling.predicates import untolerated
from scaler.solvers.highs import solve_milp

REPAIR_ROUNDS = 8
PACK_SECONDS = 0.3  # per kind, for the small packing MILP
WHOLE_POD_ROWS_UP_TO = 50
SMALLER_KINDS = 6


def _vector(dims: Sequence[str], amounts: Resources) -> FloatArray:
    return np.array([amounts.get(d) for d in dims], dtype=np.float64)


def _pack(items: FloatArray, cap: FloatArray) -> tuple[list[list[int]], FloatArray]:
    """Items into as few bins of capacity `cap` as a greedy finds, one bin at a time: into
    the open bin goes the item that fits and leans most the way its room does (dot product
    with the room left, per unit of capacity), so CPU-heavy and memory-heavy items share bins
    and both resources run out together. Returns item indices per bin and the room left."""
    alive = np.ones(len(items), dtype=np.bool_)
    unit = np.where(cap > 0, cap, 1.0)
    bins: list[list[int]] = []
    rooms: list[FloatArray] = []
    while alive.any():
        room = cap.copy()
        mine: list[int] = []
        while True:
            fits = np.flatnonzero(alive & (items <= room + 1e-12).all(axis=1))
            if not len(fits):
                break
            j = int(fits[np.argmax((items[fits] / unit) @ (room / unit))])
            room = room - items[j]
            alive[j] = False
            mine.append(j)
        if not mine:  # an item larger than the bin: alone (the scheduler will object)
            j = int(np.flatnonzero(alive)[0])
            alive[j] = False
            mine.append(j)
        bins.append(mine)
        rooms.append(room)
    return bins, np.array(rooms).reshape(-1, len(cap))


def _repack(bins: list[list[int]], item_class: Sequence[int], demand: FloatArray,
            cap: FloatArray, time_limit: float) -> list[list[int]]:
    """Fewer nodes for the same pods if a small MILP finds them in `time_limit`: counts
    a[k, s] of class k on node s, open[s]; started from the greedy packing."""
    classes = sorted(set(item_class))
    n_s, n_c = len(bins), len(classes)
    col = {k: i for i, k in enumerate(classes)}
    lower_bins = math.ceil(float(max(
        (sum(demand[k] for k in item_class) / np.where(cap > 0, cap, np.inf)).max(), 0)) - 1e-9)
    if lower_bins >= n_s:
        return bins  # the greedy is already optimal
    count = np.zeros(n_c)
    start_a = np.zeros((n_c, n_s))
    for s_no, b in enumerate(bins):
        for j in b:
            start_a[col[item_class[j]], s_no] += 1
    for k in item_class:
        count[col[k]] += 1
    dims = np.flatnonzero(demand[classes].max(axis=0) > 0)
    n_vars = n_c * n_s + n_s  # a[c, s] then open[s]
    cost = np.concatenate([np.zeros(n_c * n_s), np.ones(n_s)])
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lo: list[float] = []
    hi: list[float] = []
    for c in range(n_c):  # every pod placed
        for s_no in range(n_s):
            rows.append(len(lo))
            cols.append(c * n_s + s_no)
            vals.append(1.0)
        lo.append(count[c])
        hi.append(count[c])
    for s_no in range(n_s):  # node capacity, only if open
        for r in dims:
            for c, k in enumerate(classes):
                if demand[k, r] > 0:
                    rows.append(len(lo))
                    cols.append(c * n_s + s_no)
                    vals.append(float(demand[k, r] / cap[r]) if cap[r] > 0 else 1e6)
            rows.append(len(lo))
            cols.append(n_c * n_s + s_no)
            vals.append(-1.0)
            lo.append(-np.inf)
            hi.append(0.0)
    for s_no in range(n_s - 1):  # open nodes first (symmetry)
        rows.extend([len(lo), len(lo)])
        cols.extend([n_c * n_s + s_no, n_c * n_s + s_no + 1])
        vals.extend([1.0, -1.0])
        lo.append(0.0)
        hi.append(np.inf)
    upper = np.concatenate([np.repeat(count, n_s), np.ones(n_s)])
    start = np.concatenate([start_a.ravel(), np.ones(n_s)])
    _, _, _, x = solve_milp(cost, np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64),
                            np.array(vals), np.array(lo), np.array(hi), upper,
                            np.ones(n_vars, dtype=np.bool_), time_limit, start=start)
    if not len(x) or x[n_c * n_s:].sum() > n_s - 0.5:
        return bins
    a = np.rint(x[: n_c * n_s]).reshape(n_c, n_s).astype(np.int64)
    pools: dict[int, list[int]] = {}
    for j, k in enumerate(item_class):
        pools.setdefault(col[k], []).append(j)
    out: list[list[int]] = []
    for s_no in range(n_s):
        mine = [j for c in range(n_c) for j in
                [pools[c].pop() for _ in range(min(int(a[c, s_no]), len(pools[c])))]]
        if mine:
            out.append(mine)
    rest = [j for c in range(n_c) for j in pools.get(c, [])]
    if rest:  # rounding left some: a node of their own
        out.append(rest)
    return out if len(out) < n_s else bins


class Consolidation:
    name = "consolidation"
    reason = REASON_UNDERUTILIZED

    def run(self, ctx: PassContext) -> None:
        cands = ctx.available(consolidatable)
        if not cands:
            return
        started = time.perf_counter()
        # The MILP's two stages get up to 60% of the pass (the first up to 35%); the
        # simulation and repair the rest.
        limit = max(min(ctx.time_left() * 0.6, ctx.settings.time_budget * 0.6), 0.1)
        before = ctx.view.price()
        solved = self._solve(ctx, cands, limit)
        ctx.solver["milpSeconds"] = round(time.perf_counter() - started, 3)
        if solved is None:
            ctx.solver["status"] = "greedy fallback"
            MultiNode().run(ctx)
            SingleNode().run(ctx)
            return
        chosen, objective, bound, status, planned, prefer = solved
        ctx.solver.update(status=status, planPerHour=before + objective)
        if ctx.settings.eviction_price == 0 and math.isfinite(bound):
            # With an eviction price the MILP bounds price plus evictions, not price alone;
            # a first stage stopped by its time limit before any bound reports -inf.
            ctx.solver["lowerBoundPerHour"] = before + bound
        dropped = self._commit(ctx, chosen, planned, prefer)
        if dropped and ctx.time_left() > 0:
            # Nodes the repair kept may still go one at a time.
            single = SingleNode()
            keep = {c.name for c in dropped}
            saved = ctx.candidates
            ctx.candidates = {k: v for k, v in saved.items() if k in keep}
            single.run(ctx)
            ctx.candidates = saved

    def _commit(self, ctx: PassContext, chosen: list[Candidate], planned: Sequence[Planned],
                prefer: Mapping[str, Sequence[str]]) -> list[Candidate]:
        """Simulate the MILP's choice (its new nodes offered as replacements), keep the nodes
        that fail, commit the rest."""
        removal = list(chosen)
        dropped: list[Candidate] = []
        planned = list(planned)
        for _ in range(REPAIR_ROUNDS):
            if not removal:
                return dropped
            trial = ctx.view.trial([c.name for c in removal], planned=planned, prefer=prefer)
            bad: set[str] = set()
            if not trial.ok:
                bad = {trial.origin[p.key] for p in trial.unschedulable if p.key in trial.origin}
            else:
                cmd = Command(self.name, self.reason, tuple(removal), trial)
                unfit = set(ctx.spot_to_spot_claims(cmd))
                if unfit & {p.node.name for p in planned}:
                    # A planned spot replacement with too few cheaper types: offer the
                    # scheduler the rest (and its own, flexible claims) instead.
                    planned = [p for p in planned if p.node.name not in unfit]
                    continue
                bad = set(ctx.consolidation_faults(cmd))
                if not bad and ctx.fits(self.reason, removal):
                    ctx.commit(cmd)
                    return dropped
            if not bad:  # over a budget (cannot happen with the MILP's rows): trim the end
                bad = {removal[-1].name}
            dropped.extend(c for c in removal if c.name in bad)
            removal = [c for c in removal if c.name not in bad]
        ctx.notes.append("consolidation: repair rounds exhausted")
        return dropped + removal

    def _solve(self, ctx: PassContext, cands: list[Candidate], limit: float
               ) -> tuple[list[Candidate], float, float, str, list[Planned],
                          dict[str, list[str]]] | None:
        """The removals, the plan's price change and its bound, the solver status, the
        planned replacements and where each displaced pod should go.

        How the final plan is chosen: stage one picks the removals (y integral, new nodes
        fractional) in up to 60% of `limit`, started from "remove nothing"; on large
        clusters it drops the whole-pod rows to stay fast. Stage two fixes those removals and
        buys whole new nodes (x integral) among the kinds stage one bought and a few cheaper
        smaller ones, started from stage one's counts rounded up when that keeps the churn
        guard. Stage two's plan is reported when it has one (else stage one's); the bound is
        always stage one's. The pods are then shared out as the solution split them and
        each kind's pods packed into whole nodes (`_decode`); `_commit` simulates the result.
        """
        d = _displaced(ctx, cands)
        if d is None:
            return None
        recv = _receiver_groups(ctx, d)
        lay = _layout(ctx, d, recv, _spot_filter(ctx, d))
        rows = _Rows()
        _rows_placed(rows, d, lay)
        _rows_kept_room(rows, d, recv, lay)
        _rows_new_capacity(rows, d, lay)
        cuts = _rows_whole_pods(rows, d, recv, lay)
        _rows_limits(rows, ctx, d, lay)
        solved = _two_stage_solve(ctx, d, recv, lay, rows, cuts, limit)
        if solved is None:
            return None
        x, objective, bound, status = solved
        chosen = [c for i, c in enumerate(d.cands) if x[lay.y0 + i] > 0.5]
        planned, prefer = _decode(ctx, d, recv, lay, x, {c.name for c in chosen})
        # Report prices without the disruption-cost terms.
        chosen_mask = x[lay.y0:lay.x0] > 0.5
        hair = float((1e-5 * lay.dcost + ctx.settings.eviction_price * lay.evicted)
                     @ chosen_mask)
        return chosen, objective - hair, bound - hair, status, planned, prefer


# -- the MILP's parts ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Displaced:
    """The candidates' pods as classes of the capacity model, rows scaled to about a node."""

    cands: list[Candidate]  # those whose every pod the model can hold
    cand_idx: dict[str, int]
    capacity: NewCapacity
    model: CapacityModel
    raw_cap: FloatArray  # kinds x dims, unscaled
    scale: FloatArray  # per dim
    demand: FloatArray  # classes x dims, scaled
    count: FloatArray  # classes x candidates: pods of class k on candidate n
    head: float  # 1 - packing headroom


def _displaced(ctx: PassContext, cands: list[Candidate]) -> _Displaced | None:
    view = ctx.view
    capacity = NewCapacity(view.inp.table, view.inp.pools, view.inp.daemonsets)
    model = capacity.model([p for c in cands for p in c.pods])
    placed = {id(p) for group in model.members for p in group}
    # Candidates with a pod the model cannot hold stay (the scheduler could not either).
    cands = [c for c in cands if all(id(p) in placed for p in c.pods)]
    if not cands or not model.classes:
        return None
    cand_idx = {c.name: i for i, c in enumerate(cands)}
    # Rows per resource are scaled to about one node (bytes of memory next to prices
    # would make the model numerically hopeless).
    kinds = model.kinds
    raw_cap = kinds.capacity.astype(np.float64)
    scale = np.maximum(np.where(np.isfinite(kinds.price)[:, None], raw_cap, 0).max(axis=0),
                       1.0)
    demand = np.array([k.demand for k in model.classes], dtype=np.float64) / scale
    count = np.zeros((len(model.classes), len(cands)))
    for k, group in enumerate(model.members):
        for p in group:
            i = cand_idx.get(p.node_name or "")
            if i is not None:
                count[k, i] += 1
    return _Displaced(cands, cand_idx, capacity, model, raw_cap, scale, demand, count,
                      1.0 - ctx.settings.packing_headroom)


@dataclass(frozen=True)
class _Receivers:
    """Schedulable nodes grouped by labels (but hostname) and taints; within a group, pods
    are fractional (the scheduler packs them for real afterwards)."""

    nodes: list[Node]
    node_free: FloatArray  # per node: room left, scaled, after headroom
    node_group: IntArray  # per node: its group
    free: FloatArray  # per group: the room of its nodes together
    group_nodes: list[list[str]]
    compat: BoolArray  # classes x groups: the group may receive the class


def _receiver_groups(ctx: PassContext, d: _Displaced) -> _Receivers:
    view = ctx.view
    dims = view.inp.table.dims
    used: dict[str, FloatArray] = {}
    for p in view.pods.values():
        if p.node_name:
            vec = _vector(dims, p.requests + ONE_POD)
            prev = used.get(p.node_name)
            used[p.node_name] = vec if prev is None else prev + vec
    receivers = [n for n in view.nodes.values() if not n.unschedulable]
    n_d = len(dims)
    node_free = np.zeros((len(receivers), n_d))
    sig_ids: dict[tuple[object, ...], int] = {}
    reps: list[Node] = []
    node_group = np.zeros(len(receivers), dtype=np.int64)
    for g, node in enumerate(receivers):
        room = _vector(dims, node.allocatable)
        if node.name in used:
            room = room - used[node.name]
        node_free[g] = np.maximum(room, 0) * d.head / d.scale
        sig = (frozenset((k, v) for k, v in node.labels.items() if k != LABEL_HOSTNAME),
               node.taints)
        if sig not in sig_ids:
            sig_ids[sig] = len(reps)
            reps.append(node)
        node_group[g] = sig_ids[sig]
    n_g = len(reps)
    free = np.zeros((n_g, n_d))
    np.add.at(free, node_group, node_free)
    biggest = np.zeros((n_g, n_d))
    np.maximum.at(biggest, node_group, node_free)
    group_nodes: list[list[str]] = [[] for _ in range(n_g)]
    for g, node in enumerate(receivers):
        group_nodes[int(node_group[g])].append(node.name)
    compat = np.zeros((len(d.model.classes), n_g), dtype=np.bool_)
    for k, group in enumerate(d.model.members):
        sch = group[0].scheduling
        alts = sch.alternatives()
        if any(t.node_names is not None or LABEL_HOSTNAME in t.requirements for t in alts):
            continue  # pinned to named nodes: left to the scheduler
        for j, rep in enumerate(reps):
            compat[k, j] = not untolerated(sch.tolerations, rep.taints) and any(
                t.requirements.matches_labels(rep.labels) for t in alts)
    # A group receives a class only if one whole pod fits on one of its nodes.
    compat &= (d.demand[:, None, :] <= biggest[None, :, :] + 1e-12).all(axis=2)
    return _Receivers(receivers, node_free, node_group, free, group_nodes, compat)


def _spot_filter(ctx: PassContext, d: _Displaced) -> BoolArray:
    """Which kinds each class may use, less spot kinds the spot-to-spot rule would refuse.

    A spot node that another spot node replaces must have `need` types to choose from, so
    spot kinds with fewer types at least as large (say metal sizes) are left out.
    """
    allowed = np.array([k.allowed for k in d.model.classes], dtype=np.bool_)
    need = ctx.settings.spot_to_spot_min_types
    if need <= 0 or not any(c.node.capacity_type == SPOT for c in d.cands):
        return allowed
    meta, raw_cap = d.model.meta, d.raw_cap
    finite = np.isfinite(d.model.kinds.price)
    spot_of: dict[str, BoolArray] = {}
    for q in {m[0].name for m in meta}:
        spot_of[q] = np.array([c2 == SPOT and p2.name == q for p2, _, c2 in meta],
                              dtype=np.bool_) & finite
    for o, (kind_pool, _, ct) in enumerate(meta):
        if ct != SPOT or not finite[o] or not allowed[:, o].any():
            continue
        bigger = spot_of[kind_pool.name] & (raw_cap >= raw_cap[o]).all(axis=1)
        # Per class: the kinds its pods accept (an amd64 pin halves the choice).
        allowed[:, o] &= (allowed & bigger).sum(axis=1) >= need
    return allowed


@dataclass(frozen=True)
class _Layout:
    """The variables: y (removals), x (new nodes per kept kind), z (class x group), w (class
    x kind), one after the other from y0, x0, z0, w0; and what the cost is made of."""

    cols: IntArray  # the model's kinds the MILP keeps
    kprice: FloatArray
    kcap: FloatArray  # kept kinds x dims, scaled, after headroom
    kallowed: BoolArray  # classes x kept kinds
    zk: IntArray
    zg: IntArray
    wk: IntArray
    wo: IntArray
    y0: int
    x0: int
    z0: int
    w0: int
    n_vars: int
    price: FloatArray  # per candidate
    dcost: FloatArray  # per candidate: Karpenter's disruption cost
    evicted: FloatArray  # per candidate: pods evicted

    @property
    def n_o(self) -> int:
        return len(self.cols)

    def cost(self, eviction_price: float) -> FloatArray:
        """New nodes' price less removed nodes' price, plus a hair of disruption cost."""
        cost = np.zeros(self.n_vars)
        cost[self.y0:self.x0] = (-self.price + eviction_price * self.evicted
                                 + 1e-5 * self.dcost)
        cost[self.x0:self.z0] = self.kprice
        return cost


def _layout(ctx: PassContext, d: _Displaced, recv: _Receivers, allowed: BoolArray) -> _Layout:
    cols = prune_dominated(d.model.kinds, allowed)
    n_o = len(cols)
    kallowed = allowed[:, cols]
    zk, zg = np.nonzero(recv.compat)
    wk, wo = np.nonzero(kallowed)
    y0, x0 = 0, len(d.cands)
    z0 = x0 + n_o
    w0 = z0 + len(zk)
    return _Layout(
        cols=cols, kprice=d.model.kinds.price[cols], kcap=d.raw_cap[cols] / d.scale * d.head,
        kallowed=kallowed, zk=zk, zg=zg, wk=wk, wo=wo, y0=y0, x0=x0, z0=z0, w0=w0,
        n_vars=w0 + len(wk),
        price=np.array([c.price or 0.0 for c in d.cands]),
        dcost=np.array([c.cost for c in d.cands]),
        evicted=np.array([len(c.pods) for c in d.cands], dtype=np.float64),
    )


class _Rows:
    """The constraint matrix as triplets, built block by block; `base` is the next row."""

    def __init__(self) -> None:
        self.rows: list[IntArray] = []
        self.cols: list[IntArray] = []
        self.vals: list[FloatArray] = []
        self.lo: list[FloatArray] = []
        self.hi: list[FloatArray] = []
        self.base = 0

    def add(self, r: IntArray, c: IntArray, v: FloatArray) -> None:
        keep = v != 0
        self.rows.append(r[keep])
        self.cols.append(c[keep])
        self.vals.append(v[keep])

    def close(self, lo: FloatArray, hi: FloatArray) -> None:
        """End a block of len(lo) rows."""
        self.lo.append(lo)
        self.hi.append(hi)
        self.base += len(lo)


def _rows_placed(rows: _Rows, d: _Displaced, lay: _Layout) -> None:
    """Every displaced pod placed: sum_g z[k,g] + sum_o w[k,o] = sum_n pods[k,n] y[n]."""
    n_k = len(d.model.classes)
    rows.add(rows.base + lay.zk, lay.z0 + np.arange(len(lay.zk)), np.ones(len(lay.zk)))
    rows.add(rows.base + lay.wk, lay.w0 + np.arange(len(lay.wk)), np.ones(len(lay.wk)))
    ck, ci = np.nonzero(d.count)
    rows.add(rows.base + ck, lay.y0 + ci, -d.count[ck, ci])
    rows.close(np.zeros(n_k), np.zeros(n_k))


def _rows_kept_room(rows: _Rows, d: _Displaced, recv: _Receivers, lay: _Layout) -> None:
    """What a group's kept nodes still hold: a removed candidate takes its room away."""
    n_d = d.scale.shape[0]
    n_g = len(recv.group_nodes)
    base = rows.base
    for r in range(n_d):
        rows.add(base + lay.zg * n_d + r, lay.z0 + np.arange(len(lay.zk)), d.demand[lay.zk, r])
    cand_nodes = np.array([g for g, n in enumerate(recv.nodes) if n.name in d.cand_idx],
                          dtype=np.int64)
    cand_cols = np.array([d.cand_idx[recv.nodes[g].name] for g in cand_nodes],
                         dtype=np.int64)
    cand_rows = recv.node_group[cand_nodes]
    for r in range(n_d):
        rows.add(base + cand_rows * n_d + r, lay.y0 + cand_cols,
                 recv.node_free[cand_nodes, r])
    rows.close(np.full(n_g * n_d, -np.inf), recv.free.ravel())


def _rows_new_capacity(rows: _Rows, d: _Displaced, lay: _Layout) -> None:
    """New capacity: kind o, resource r holds what its w's put there."""
    n_d = d.scale.shape[0]
    for r in range(n_d):
        rows.add(rows.base + lay.wo * n_d + r, lay.w0 + np.arange(len(lay.wk)),
                 d.demand[lay.wk, r])
        rows.add(rows.base + np.arange(lay.n_o) * n_d + r, lay.x0 + np.arange(lay.n_o),
                 -lay.kcap[:, r])
    rows.close(np.full(lay.n_o * n_d, -np.inf), np.zeros(lay.n_o * n_d))


def _rows_whole_pods(rows: _Rows, d: _Displaced, recv: _Receivers, lay: _Layout) -> slice:
    """Whole pods: a node holds at most floor(room / pod) pods of a class, so fractional
    pods cannot fill the gaps whole pods leave (w[k,o] <= fit * x[o]; z likewise over the
    group's kept nodes). Returns the rows (stage one may leave them out)."""
    demand, wk, wo = d.demand, lay.wk, lay.wo
    with np.errstate(divide="ignore", invalid="ignore"):
        per_kind = np.where(demand[wk] > 0, lay.kcap[wo] / demand[wk], np.inf).min(axis=1)
    per_kind = np.floor(per_kind + 1e-9)
    tight = np.flatnonzero(np.isfinite(per_kind))
    cuts_from = rows.base
    rows.add(rows.base + np.arange(len(tight)), lay.w0 + tight, np.ones(len(tight)))
    rows.add(rows.base + np.arange(len(tight)), lay.x0 + wo[tight], -per_kind[tight])
    rows.close(np.full(len(tight), -np.inf), np.zeros(len(tight)))
    with np.errstate(divide="ignore", invalid="ignore"):
        fit = np.floor(np.where(demand[None, :, :] > 0,
                                recv.node_free[:, None, :] / demand[None, :, :], np.inf)
                       .min(axis=2) + 1e-9)  # receivers x classes
    fit = np.where(np.isfinite(fit), fit, 1e6)
    in_group: list[list[int]] = [[] for _ in range(len(recv.group_nodes))]
    for g in range(len(recv.nodes)):
        in_group[int(recv.node_group[g])].append(g)
    z_hi = np.zeros(len(lay.zk))
    zr: list[int] = []
    zc: list[int] = []
    zv: list[float] = []
    for j in range(len(lay.zk)):
        k = int(lay.zk[j])
        members_g = in_group[int(lay.zg[j])]
        z_hi[j] = float(fit[members_g, k].sum())
        zr.append(rows.base + j)
        zc.append(lay.z0 + j)
        zv.append(1.0)
        for g in members_g:
            i = d.cand_idx.get(recv.nodes[g].name)
            if i is not None and fit[g, k] > 0:
                zr.append(rows.base + j)
                zc.append(lay.y0 + i)
                zv.append(float(fit[g, k]))
    rows.add(np.array(zr, dtype=np.int64), np.array(zc, dtype=np.int64), np.array(zv))
    rows.close(np.full(len(lay.zk), -np.inf), z_hi)
    return slice(cuts_from, rows.base)


def _rows_limits(rows: _Rows, ctx: PassContext, d: _Displaced, lay: _Layout) -> None:
    """Disruption budgets per NodePool, PodDisruptionBudgets, and the churn guard."""
    cands, y0 = d.cands, lay.y0
    extra: list[tuple[list[tuple[int, float]], float]] = []
    for pool in {c.pool.name for c in cands}:  # budgets
        members_of = [i for i, c in enumerate(cands) if c.pool.name == pool]
        left = ctx.ledger.left(pool, "Underutilized")
        if left < len(members_of):
            extra.append(([(y0 + i, 1.0) for i in members_of], float(left)))
    for key, left in ctx.ledger.pdb_left.items():  # PDBs
        e = [(y0 + i, float(c.evictions.get(key, 0))) for i, c in enumerate(cands)
             if c.evictions.get(key)]
        if e and sum(v for _, v in e) > left:
            extra.append((e, float(left)))
    frac = ctx.settings.min_saving_fraction  # churn guard
    extra.append(([(lay.x0 + o, float(lay.kprice[o])) for o in range(lay.n_o)]
                  + [(y0 + i, -(1 - frac) * float(lay.price[i])) for i in range(len(cands))],
                  0.0))
    for n, (entries, _) in enumerate(extra):
        rows.add(np.full(len(entries), rows.base + n, dtype=np.int64),
                 np.array([c for c, _ in entries], dtype=np.int64),
                 np.array([v for _, v in entries], dtype=np.float64))
    rows.close(np.full(len(extra), -np.inf), np.array([h for _, h in extra], dtype=np.float64))


def _two_stage_solve(ctx: PassContext, d: _Displaced, recv: _Receivers, lay: _Layout,
                     rows: _Rows, cuts: slice, limit: float
                     ) -> tuple[FloatArray, float, float, str] | None:
    """Stage one chooses the removals, stage two whole new nodes for them (see `_solve`):
    the solution, the objective, stage one's bound and its status; None: no plan."""
    n_vars, y0, x0, z0 = lay.n_vars, lay.y0, lay.x0, lay.z0
    cost = lay.cost(ctx.settings.eviction_price)
    row_lo, row_hi = np.concatenate(rows.lo), np.concatenate(rows.hi)
    upper = np.full(n_vars, np.inf)
    upper[y0:x0] = 1.0
    integer = np.zeros(n_vars, dtype=np.bool_)
    # Only removals are integral: new capacity is packed by the scheduler afterwards
    # (whole nodes, real constraints), so fractional new nodes keep the MILP small and
    # its bound valid.
    integer[y0:x0] = True
    rows_a, cols_a = np.concatenate(rows.rows), np.concatenate(rows.cols)
    vals_a = np.concatenate(rows.vals)
    began = time.perf_counter()
    # The whole-pod rows matter (three pods of 1 vCPU do not fit two 2-vCPU nodes) but
    # slow the choice of removals down a lot on large clusters: the first stage keeps
    # them only up to WHOLE_POD_ROWS_UP_TO candidates, the second always. Started from
    # "remove nothing", so there is always a plan.
    n_c = len(d.cands)
    relaxed_hi = row_hi.copy()
    if n_c > WHOLE_POD_ROWS_UP_TO:
        relaxed_hi[cuts] = np.inf
    objective, bound, status, x = solve_milp(
        cost, rows_a, cols_a, vals_a, row_lo, relaxed_hi, upper, integer, limit * 0.6,
        start=np.zeros(n_vars))
    ctx.solver.update(candidates=n_c, classes=len(d.model.classes),
                      receiverGroups=len(recv.group_nodes), kinds=lay.n_o,
                      variables=n_vars, rows=len(row_lo))
    if len(x) == 0:
        ctx.notes.append(f"consolidation: MILP gave no plan ({status})")
        return None
    # Second stage: removals fixed, whole new nodes (integral counts), started from the
    # first stage's plan with each count rounded up. The bound stays the first stage's.
    ystar = (x[y0:x0] > 0.5).astype(np.float64)
    lower = np.zeros(n_vars)
    lower[y0:x0] = upper[y0:x0] = ystar
    integer[x0:z0] = True
    upper[x0:z0] = np.where(_stage_two_kinds(lay, x), np.inf, 0.0)
    first = x.copy()
    first[x0:z0] = np.ceil(x[x0:z0] - 1e-6)
    frac = ctx.settings.min_saving_fraction
    guard_ok = (float(lay.kprice @ first[x0:z0])
                <= (1 - frac) * float(lay.price @ ystar) + 1e-9)
    budget2 = max(limit - (time.perf_counter() - began), 0.2)
    _, _, status2, x2 = solve_milp(cost, rows_a, cols_a, vals_a, row_lo, row_hi, upper,
                                   integer, budget2, lower, first if guard_ok else None)
    ctx.solver["wholeNodes"] = status2
    if len(x2):
        x = x2
        # In stage one's terms (disruption-cost terms included): `_solve` takes them off.
        objective = (float(lay.kprice @ x[x0:z0]) - float(lay.price @ ystar)
                     + float((1e-5 * lay.dcost + ctx.settings.eviction_price * lay.evicted)
                             @ ystar))
    return x, objective, bound, status


def _stage_two_kinds(lay: _Layout, x: FloatArray) -> BoolArray:
    """Only the kinds the first stage bought and, for each, the few cheapest smaller kinds
    its classes accept (to take remainders): a far smaller search."""
    n_o = lay.n_o
    used_kinds = np.flatnonzero(x[lay.x0:lay.z0] > 1e-6)
    keep = np.zeros(n_o, dtype=np.bool_)
    keep[used_kinds] = True
    for uk in used_kinds:
        users = lay.wk[(lay.wo == uk) & (x[lay.w0:] > 1e-6)]
        ok = (lay.kallowed[users].all(axis=0) if len(users)
              else np.zeros(n_o, dtype=np.bool_))
        ok &= (lay.kcap <= lay.kcap[uk] + 1e-12).all(axis=1)
        smaller = np.flatnonzero(ok)
        keep[smaller[np.argsort(lay.kprice[smaller])[:SMALLER_KINDS]]] = True
    return keep


def _decode(ctx: PassContext, d: _Displaced, recv: _Receivers, lay: _Layout, x: FloatArray,
            removed: set[str]) -> tuple[list[Planned], dict[str, list[str]]]:
    """Which displaced pods go where: each class's pods shared out over the kept groups (z)
    and new kinds (w) as the MILP split them, largest share first; then each kind's pods
    packed into whole planned nodes. Returns the planned replacements and, per pod key,
    the nodes to try first."""
    targets: list[list[tuple[float, int, int]]] = [[] for _ in range(len(d.model.classes))]
    for jz in np.flatnonzero(x[lay.z0:lay.w0] > 1e-6):
        targets[int(lay.zk[jz])].append((float(x[lay.z0 + jz]), 0, int(lay.zg[jz])))
    for jw in np.flatnonzero(x[lay.w0:] > 1e-6):
        targets[int(lay.wk[jw])].append((float(x[lay.w0 + jw]), 1, int(lay.wo[jw])))
    prefer: dict[str, list[str]] = {}
    on_kind: dict[int, list[tuple[Pod, int]]] = {}
    for k, group in enumerate(d.model.members):
        moving = [p for p in group if p.node_name in removed]
        at = 0
        for amount, is_kind, where in sorted(targets[k], key=lambda t: -t[0]):
            share = moving[at:at + max(round(amount), 1)]
            at += len(share)
            if is_kind:
                on_kind.setdefault(where, []).extend((p, k) for p in share)
            else:
                names = [n for n in recv.group_nodes[where] if n not in removed]
                for p in share:
                    prefer[p.key] = names
    planned = _planned_nodes(ctx, d, lay, on_kind, prefer)
    return planned, prefer


def _planned_nodes(ctx: PassContext, d: _Displaced, lay: _Layout,
                   on_kind: Mapping[int, list[tuple[Pod, int]]],
                   prefer: dict[str, list[str]]) -> list[Planned]:
    """Each kind's pods packed into whole nodes of that kind (best fit, largest first): the
    planned replacements, each pod steered to its own (in `prefer`). One spare per kind
    takes what the scheduler cannot fit as planned (never launched when it stays empty)."""
    planned: list[Planned] = []
    n_d = d.scale.shape[0]
    for o, items in sorted(on_kind.items()):
        kind_pool, i, ct = d.model.meta[int(lay.cols[o])]
        overhead = d.capacity.overhead[kind_pool.name]
        cap = lay.kcap[o]
        vecs = np.array([d.demand[k] for _, k in items]).reshape(-1, n_d)
        bins, _ = _pack(vecs, cap)
        if len(bins) > 1 and ctx.time_left() > 0.2 * ctx.settings.time_budget:
            bins = _repack(bins, [k for _, k in items], d.demand, cap,
                           min(PACK_SECONDS, ctx.time_left() * 0.05))
        bins_pods = [[items[j][0] for j in b] for b in bins]
        for n, members_b in enumerate([*bins_pods, []]):
            made = ctx.view.planned(kind_pool, i, ct, overhead)
            if made is None:
                continue
            if n == len(bins_pods):
                made = dataclasses.replace(made, spare=True)
            planned.append(made)
            for pod in members_b:
                prefer[pod.key] = [made.node.name]
    return planned
