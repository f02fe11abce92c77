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
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from scaler.core.disruption.candidates import Candidate
from scaler.core.disruption.cluster_view import Planned
from scaler.core.disruption.methods.context import REASON_UNDERUTILIZED, Command, PassContext
from scaler.core.disruption.methods.multi_node import MultiNode, consolidatable
from scaler.core.disruption.methods.single_node import SingleNode
from scaler.core.disruption.milp import Model, Rows
from scaler.core.disruption.replacements import (
    MIP_UP_TO,
    Displacement,
    Replacements,
    pack_greedy,
    plan_replacements,
    whole_of_lp,
)
from scaler.core.model import LABEL_HOSTNAME, SPOT, Node, Pod
from scaler.core.resources import Resources
from scaler.core.scheduling.bound import BoolArray, FloatArray, IntArray, prune_dominated
from scaler.core.scheduling.capacity import ONE_POD, CapacityModel, NewCapacity
from scaler.core.scheduling.predicates import untolerated

REPAIR_ROUNDS = 8
WHOLE_POD_ROWS_UP_TO = 50
SMALLER_KINDS = 6
# Branch-and-bound nodes per stage: limits on work, so the plan does not depend on load.
STAGE_ONE_NODES = 1000
STAGE_TWO_NODES = 1000
# How far past its budget a pass may run on a busy machine before the solves' time
# limits bite (on an idle one they finish well inside it).
SAFETY = 5.0
# Branch-and-bound nodes for the leftovers of a large move: the root node only. Its
# heuristics find most of what a search would; on the 1,000-node benchmark 200 nodes cost
# 1.8 CPU s more for a plan $0.04/h dearer once launched (each node downsized).
LEFTOVER_NODES = 1


def _vector(dims: Sequence[str], amounts: Resources) -> FloatArray:
    return np.array([amounts.get(d) for d in dims], dtype=np.float64)


class Consolidation:
    name = "consolidation"
    reason = REASON_UNDERUTILIZED

    def run(self, ctx: PassContext) -> None:
        cands = ctx.available(consolidatable)
        if not cands:
            return
        started = time.perf_counter()
        # Each solve stops at a limit on work (rounds, branch-and-bound nodes), so the plan
        # does not depend on the machine's load. Its time limit, SAFETY times 60% of the
        # pass's budget whatever time is left, is only a safety net: a busy machine
        # overruns the budget rather than lose the plan.
        limit = max(ctx.settings.time_budget * 0.6 * SAFETY, 0.1)
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

        How the final plan is chosen:

        1. Stage one picks the removals: y integral, new nodes fractional (whole-pod rows
           only up to WHOLE_POD_ROWS_UP_TO candidates). The LP relaxation first: integral
           removals there are the answer. Else the MILP, started from the LP's removals
           rounded (else from "remove nothing"), stopped after STAGE_ONE_NODES nodes. Its
           bound (or the LP's value) is the reported lower bound.
        2. If stage one buys at most MIP_UP_TO nodes: whole new nodes by column generation
           over node patterns (`plan_replacements`): which pods share each new node, which
           go to the kept nodes' room. Its plan is reported and decoded pod by pod.
        3. Otherwise (or if the patterns find nothing): integral node counts per kind, pods
           fractional within a kind (`_stage_two_kinds`, reported); then each kind's pods on
           the pattern LP's whole nodes of that kind and the pods left over from all kinds
           planned again by patterns over every kind (`_decode`, `_planned_nodes`).

        Every solve stops at a limit on work, so the plan does not depend on the machine's
        load; time limits are safety nets. `_commit` then simulates the result with the
        real scheduler and repairs it.
        """
        d = _displaced(ctx, cands)
        if d is None:
            return None
        recv = _receiver_groups(ctx, d)
        lay = _layout(ctx, d, recv, _spot_filter(ctx, d))
        rows = Rows()
        _rows_placed(rows, d, lay)
        _rows_kept_room(rows, d, recv, lay)
        _rows_new_capacity(rows, d, lay)
        cuts = _rows_whole_pods(rows, d, recv, lay)
        _rows_limits(rows, ctx, d, lay)
        m = _model(ctx, lay, rows, cuts)
        solved = _stage_one(ctx, d, lay, m, limit)
        ctx.solver.update(candidates=len(d.cands), classes=len(d.model.classes),
                          receiverGroups=len(recv.group_nodes), kinds=lay.n_o,
                          variables=lay.n_vars, rows=len(m.lo))
        if solved is None:
            return None
        x, bound, status = solved
        ystar = x[lay.y0:lay.x0] > 0.5
        chosen = [c for i, c in enumerate(d.cands) if ystar[i]]
        removed = {c.name for c in chosen}
        # Prices without the disruption-cost terms.
        hair = float((1e-5 * lay.dcost + ctx.settings.eviction_price * lay.evicted) @ ystar)
        small = x[lay.x0:lay.z0].sum() <= MIP_UP_TO
        whole = _stage_two_patterns(ctx, d, recv, lay, ystar, limit) if small else None
        if whole is not None:
            planned, prefer = _decode_whole(ctx, d, recv, lay, whole, removed)
            change = whole.per_hour - float(lay.price @ ystar)
            return chosen, change, bound - hair, status, planned, prefer
        x2 = _stage_two_kinds(ctx, lay, m, x, limit)
        if x2 is not None:
            x = x2
        change = float(lay.kprice @ x[lay.x0:lay.z0]) - float(lay.price @ ystar)
        planned, prefer = _decode(ctx, d, recv, lay, x, removed, limit)
        return chosen, change, bound - hair, status, planned, prefer


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


def _rows_placed(rows: Rows, d: _Displaced, lay: _Layout) -> None:
    """Every displaced pod placed: sum_g z[k,g] + sum_o w[k,o] = sum_n pods[k,n] y[n]."""
    n_k = len(d.model.classes)
    rows.add(rows.base + lay.zk, lay.z0 + np.arange(len(lay.zk)), np.ones(len(lay.zk)))
    rows.add(rows.base + lay.wk, lay.w0 + np.arange(len(lay.wk)), np.ones(len(lay.wk)))
    ck, ci = np.nonzero(d.count)
    rows.add(rows.base + ck, lay.y0 + ci, -d.count[ck, ci])
    rows.close(np.zeros(n_k), np.zeros(n_k))


def _rows_kept_room(rows: Rows, d: _Displaced, recv: _Receivers, lay: _Layout) -> None:
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


def _rows_new_capacity(rows: Rows, d: _Displaced, lay: _Layout) -> None:
    """New capacity: kind o, resource r holds what its w's put there."""
    n_d = d.scale.shape[0]
    for r in range(n_d):
        rows.add(rows.base + lay.wo * n_d + r, lay.w0 + np.arange(len(lay.wk)),
                 d.demand[lay.wk, r])
        rows.add(rows.base + np.arange(lay.n_o) * n_d + r, lay.x0 + np.arange(lay.n_o),
                 -lay.kcap[:, r])
    rows.close(np.full(lay.n_o * n_d, -np.inf), np.zeros(lay.n_o * n_d))


def _rows_whole_pods(rows: Rows, d: _Displaced, recv: _Receivers, lay: _Layout) -> slice:
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
    fit = _fit(d, recv)
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


def _fit(d: _Displaced, recv: _Receivers) -> FloatArray:
    """Receivers x classes: whole pods of the class each receiver's free room holds."""
    with np.errstate(divide="ignore", invalid="ignore"):
        fit = np.floor(np.where(d.demand[None, :, :] > 0,
                                recv.node_free[:, None, :] / d.demand[None, :, :], np.inf)
                       .min(axis=2) + 1e-9)
    return np.where(np.isfinite(fit), fit, 1e6)


def _rows_limits(rows: Rows, ctx: PassContext, d: _Displaced, lay: _Layout) -> None:
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


def _model(ctx: PassContext, lay: _Layout, rows: Rows, cuts: slice) -> Model:
    return Model(lay.cost(ctx.settings.eviction_price), np.concatenate(rows.rows),
                  np.concatenate(rows.cols), np.concatenate(rows.vals),
                  np.concatenate(rows.lo), np.concatenate(rows.hi), cuts)


def _stage_one(ctx: PassContext, d: _Displaced, lay: _Layout, m: Model, limit: float
               ) -> tuple[FloatArray, float, str] | None:
    """The removals (y integral, new nodes fractional): the solution, its dual bound and
    status; None: no plan. The LP relaxation first: when its removals are integral it is
    the answer (and its value the bound). Else the MILP, started from the LP's removals
    rounded (`_rounded_start`) or from "remove nothing", stopped after STAGE_ONE_NODES
    branch-and-bound nodes: the choice depends on the cluster, not on the machine's load,
    and the time limit is a safety net that leaves the start's plan at worst."""
    n_vars, y0, x0 = lay.n_vars, lay.y0, lay.x0
    upper = np.full(n_vars, np.inf)
    upper[y0:x0] = 1.0
    integer = np.zeros(n_vars, dtype=np.bool_)
    # The whole-pod rows matter (three pods of 1 vCPU do not fit two 2-vCPU nodes) but
    # slow the choice of removals down a lot on large clusters: stage one keeps them only
    # up to WHOLE_POD_ROWS_UP_TO candidates; the whole nodes are bought afterwards.
    relaxed = len(d.cands) > WHOLE_POD_ROWS_UP_TO
    value, _, status, x = m.solve(np.zeros(n_vars), upper, integer, limit, relaxed=relaxed)
    y = x[y0:x0]
    if len(x) and (np.minimum(y, 1 - y) < 1e-6).all():
        x[y0:x0] = np.rint(y)
        return x, value, status
    start = _rounded_start(lay, m, upper, relaxed, x, limit)
    integer[y0:x0] = True
    _, bound, status, x = m.solve(np.zeros(n_vars), upper, integer, limit,
                                  start if start is not None else np.zeros(n_vars), relaxed,
                                  STAGE_ONE_NODES)
    if len(x) == 0 and start is not None:
        x, status = start, "lp rounded"
    if len(x) == 0:
        ctx.notes.append(f"consolidation: MILP gave no plan ({status})")
        return None
    return x, bound, status


def _rounded_start(lay: _Layout, m: Model, upper: FloatArray, relaxed: bool,
                   lp: FloatArray, limit: float) -> FloatArray | None:
    """A plan to start stage one from: the LP relaxation's removals `lp` rounded (first
    those above one half, else those at one), completed by the LP with them fixed."""
    if len(lp) == 0:
        return None
    n_vars, y0, x0 = lay.n_vars, lay.y0, lay.x0
    continuous = np.zeros(n_vars, dtype=np.bool_)
    for threshold in (0.5, 1.0 - 1e-6):
        y = (lp[y0:x0] > threshold).astype(np.float64)
        if not y.any():
            return None
        lower, fixed = np.zeros(n_vars), upper.copy()
        lower[y0:x0] = fixed[y0:x0] = y
        _, _, _, done = m.solve(lower, fixed, continuous, limit, relaxed=relaxed)
        if len(done):
            done[y0:x0] = y
            return done
    return None


def _stage_two_kinds(ctx: PassContext, lay: _Layout, m: Model, x: FloatArray,
                     limit: float) -> FloatArray | None:
    """The fallback for whole new nodes: removals fixed, integral counts per kind among
    the kinds stage one bought and a few cheaper smaller ones (`_kinds_near`), started from
    stage one's counts rounded up when that keeps the churn guard."""
    n_vars, y0, x0, z0 = lay.n_vars, lay.y0, lay.x0, lay.z0
    ystar = (x[y0:x0] > 0.5).astype(np.float64)
    lower, upper = np.zeros(n_vars), np.full(n_vars, np.inf)
    lower[y0:x0] = upper[y0:x0] = ystar
    integer = np.zeros(n_vars, dtype=np.bool_)
    integer[y0:z0] = True
    upper[x0:z0] = np.where(_kinds_near(lay, x), np.inf, 0.0)
    first = x.copy()
    first[y0:x0] = ystar
    first[x0:z0] = np.ceil(x[x0:z0] - 1e-6)
    frac = ctx.settings.min_saving_fraction
    guard_ok = (float(lay.kprice @ first[x0:z0])
                <= (1 - frac) * float(lay.price @ ystar) + 1e-9)
    _, _, status, x2 = m.solve(lower, upper, integer, limit, first if guard_ok else None,
                               max_nodes=STAGE_TWO_NODES)
    ctx.solver["wholeNodes"] = status
    return x2 if len(x2) else None


def _kinds_near(lay: _Layout, x: FloatArray) -> BoolArray:
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
            removed: set[str], limit: float) -> tuple[list[Planned], dict[str, list[str]]]:
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
    planned = _planned_nodes(ctx, d, lay, on_kind, prefer, limit)
    return planned, prefer


def _planned_nodes(ctx: PassContext, d: _Displaced, lay: _Layout,
                   on_kind: Mapping[int, list[tuple[Pod, int]]],
                   prefer: dict[str, list[str]], limit: float) -> list[Planned]:
    """Each kind's pods on whole nodes of that kind: the pattern LP's whole nodes
    (`whole_of_lp`); the pods they leave over, from every kind together, planned again by
    node patterns over every kind (`_repacked`: a kind whose nodes the LP fills by
    fractions, say a few large ones, leaves all its pods to that). The planned
    replacements, each pod steered to its own (in `prefer`); one spare per kind takes what
    the scheduler cannot fit as planned (never launched when it stays empty)."""
    nodes: list[tuple[int, list[Pod]]] = []
    loose: list[tuple[int, list[tuple[Pod, int]]]] = []
    for o, items in sorted(on_kind.items()):
        need = np.bincount([k for _, k in items], minlength=len(d.model.classes))
        only = np.zeros_like(lay.kallowed)
        only[:, o] = lay.kallowed[:, o]
        empty = np.zeros(0, dtype=np.int64)
        dp = Displacement(d.demand, need.astype(np.int64), lay.kprice, lay.kcap, only,
                          empty, empty, np.zeros(0), np.zeros((0, d.scale.shape[0])),
                          math.inf)
        whole = whole_of_lp(dp, limit)
        pods: list[list[Pod]] = [[] for _ in range(len(need))]
        for p, k in items:
            pods[k].append(p)
        for _, counts in whole[0] if whole is not None else []:
            nodes.append((o, [p for k, n in counts for p in pods[k][:n]]))
            for k, n in counts:
                pods[k] = pods[k][n:]
        loose.append((o, [(p, k) for k, group in enumerate(pods) for p in group]))
    nodes += _repacked(d, lay, loose, limit)
    return _as_planned(ctx, d, lay, nodes, prefer)


def _as_planned(ctx: PassContext, d: _Displaced, lay: _Layout,
                nodes: list[tuple[int, list[Pod]]], prefer: dict[str, list[str]]
                ) -> list[Planned]:
    """Planned replacements for (kind, pods) nodes, each pod steered to its own, and one
    spare per kind for what the scheduler cannot fit as planned (launched only if used)."""
    planned: list[Planned] = []
    for o, pods_o in [*nodes, *[(o, []) for o in sorted({o for o, _ in nodes})]]:
        kind_pool, i, ct = d.model.meta[int(lay.cols[o])]
        made = ctx.view.planned(kind_pool, i, ct, d.capacity.overhead[kind_pool.name])
        if made is None:
            continue
        planned.append(made if pods_o else dataclasses.replace(made, spare=True))
        for pod in pods_o:
            prefer[pod.key] = [made.node.name]
    return planned


def _packed(d: _Displaced, lay: _Layout, loose: list[tuple[int, list[tuple[Pod, int]]]]
            ) -> list[tuple[int, list[Pod]]]:
    """Each kind's pods packed greedily into nodes of that kind (`pack_greedy`)."""
    out: list[tuple[int, list[Pod]]] = []
    for o, items in loose:
        vecs = np.array([d.demand[k] for _, k in items]).reshape(-1, d.scale.shape[0])
        out.extend((o, [items[j][0] for j in b]) for b in pack_greedy(vecs, lay.kcap[o])[0])
    return out


def _repacked(d: _Displaced, lay: _Layout, loose: list[tuple[int, list[tuple[Pod, int]]]],
              limit: float) -> list[tuple[int, list[Pod]]]:
    """The pods left over by each kind's whole nodes, planned over every kind together by
    node patterns; each kind's packed greedily when that is cheaper or patterns fail."""
    loose = [(o, items) for o, items in loose if items]
    greedy = _packed(d, lay, loose)
    need = np.zeros(len(d.model.classes), dtype=np.int64)
    pods: list[list[Pod]] = [[] for _ in range(len(need))]
    for _, items in loose:
        for p, k in items:
            need[k] += 1
            pods[k].append(p)
    empty = np.zeros(0, dtype=np.int64)
    dp = Displacement(d.demand, need, lay.kprice, lay.kcap, lay.kallowed, empty, empty,
                      np.zeros(0), np.zeros((0, d.scale.shape[0])), math.inf)
    cls = {id(p): k for _, items in loose for p, k in items}
    known = [(o, tuple(sorted(Counter(cls[id(p)] for p in b).items()))) for o, b in greedy]
    whole = plan_replacements(dp, limit, known, LEFTOVER_NODES)
    if whole is None or _launched(lay, d, whole.nodes) >= _launched(lay, d, known) - 1e-9:
        return greedy
    out: list[tuple[int, list[Pod]]] = []
    for o, counts in whole.nodes:
        out.append((o, [p for k, n in counts for p in pods[k][:n]]))
        for k, n in counts:
            pods[k] = pods[k][n:]
    return out


def _launched(lay: _Layout, d: _Displaced,
              nodes: Sequence[tuple[int, tuple[tuple[int, int], ...]]]) -> float:
    """What the nodes cost once each is launched as the cheapest kind that holds its pods
    and that they all accept (as the trial's launch does with a planned node)."""
    total = 0.0
    for o, counts in nodes:
        ks = [k for k, _ in counts]
        used = sum(n * d.demand[k] for k, n in counts)
        ok = lay.kallowed[ks].all(axis=0) & (lay.kcap >= used - 1e-9).all(axis=1)
        total += float(lay.kprice[ok].min()) if ok.any() else float(lay.kprice[o])
    return total


def _stage_two_patterns(ctx: PassContext, d: _Displaced, recv: _Receivers, lay: _Layout,
                        ystar: BoolArray, limit: float) -> Replacements | None:
    """Whole new nodes for the chosen removals by node patterns (`plan_replacements`):
    the pods that leave, the kept nodes' room (without the removed nodes'), the guard."""
    need = np.rint(d.count @ ystar.astype(np.float64)).astype(np.int64)
    kept = np.array([not ystar[d.cand_idx[n.name]] if n.name in d.cand_idx else True
                     for n in recv.nodes], dtype=np.bool_)
    n_g = len(recv.group_nodes)
    room = np.zeros((n_g, recv.node_free.shape[1]))
    np.add.at(room, recv.node_group[kept], recv.node_free[kept])
    fit = _fit(d, recv)
    per_group = np.zeros((n_g, len(d.model.classes)))
    np.add.at(per_group, recv.node_group[kept], fit[kept])
    z_cap = per_group[lay.zg, lay.zk]
    pairs = np.flatnonzero((z_cap > 0) & (need[lay.zk] > 0))  # the kept room of use
    frac = ctx.settings.min_saving_fraction
    dp = Displacement(d.demand, need, lay.kprice, lay.kcap, lay.kallowed, lay.zk[pairs],
                      lay.zg[pairs], z_cap[pairs], room,
                      (1 - frac) * float(lay.price @ ystar) + 1e-9)
    whole = plan_replacements(dp, limit)
    ctx.solver["wholeNodes"] = whole.status if whole is not None else "no pattern plan"
    if whole is None:
        return None
    z = np.zeros(len(lay.zk))
    z[pairs] = whole.z
    return dataclasses.replace(whole, z=z)


def _decode_whole(ctx: PassContext, d: _Displaced, recv: _Receivers, lay: _Layout,
                  whole: Replacements, removed: set[str]
                  ) -> tuple[list[Planned], dict[str, list[str]]]:
    """Each pattern node becomes a planned replacement holding its pods; the pods left go
    to the kept groups as the plan shares them out."""
    moving = [[p for p in group if p.node_name in removed] for group in d.model.members]
    at = [0] * len(moving)
    prefer: dict[str, list[str]] = {}
    nodes: list[tuple[int, list[Pod]]] = []
    for o, counts in whole.nodes:
        nodes.append((o, [p for k, n in counts for p in moving[k][at[k]:at[k] + n]]))
        for k, n in counts:
            at[k] += n
    for j in np.flatnonzero(whole.z > 0.5):
        k, g = int(lay.zk[j]), int(lay.zg[j])
        names = [n for n in recv.group_nodes[g] if n not in removed]
        for pod in moving[k][at[k]:at[k] + int(whole.z[j])]:
            prefer[pod.key] = names
        at[k] += int(whole.z[j])
    return _as_planned(ctx, d, lay, nodes, prefer), prefer
