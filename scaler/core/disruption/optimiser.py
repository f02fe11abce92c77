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

import time
from collections.abc import Sequence

import numpy as np

from scaler.core.disruption.candidates import Candidate
from scaler.core.disruption.methods import (
    REASON_UNDERUTILIZED,
    Command,
    MultiNode,
    PassContext,
    SingleNode,
    consolidatable,
)
from scaler.core.model import LABEL_HOSTNAME, Node
from scaler.core.resources import Resources
from scaler.core.scheduling.bound import FloatArray, _prune
from scaler.core.scheduling.predicates import untolerated
from scaler.core.scheduling.scheduler import ONE_POD, Scheduler
from scaler.solvers.highs import solve_milp

REPAIR_ROUNDS = 6


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
        limit = max(min(ctx.time_left() * 0.5, ctx.settings.time_budget * 0.5), 0.1)
        before = ctx.view.price()
        solved = self._solve(ctx, cands, limit)
        ctx.solver["milpSeconds"] = round(time.perf_counter() - started, 3)
        if solved is None:
            ctx.solver["status"] = "greedy fallback"
            MultiNode().run(ctx)
            SingleNode().run(ctx)
            return
        chosen, objective, bound, status = solved
        ctx.solver.update(status=status, planPerHour=before + objective,
                          lowerBoundPerHour=before + bound)
        dropped = self._commit(ctx, chosen)
        if dropped and ctx.time_left() > 0:
            # Nodes the repair kept may still go one at a time.
            single = SingleNode()
            keep = {c.name for c in dropped}
            saved = ctx.candidates
            ctx.candidates = {k: v for k, v in saved.items() if k in keep}
            single.run(ctx)
            ctx.candidates = saved

    def _commit(self, ctx: PassContext, chosen: list[Candidate]) -> list[Candidate]:
        """Simulate the MILP's choice, keep the nodes that fail, commit the rest."""
        removal = list(chosen)
        dropped: list[Candidate] = []
        for _ in range(REPAIR_ROUNDS):
            if not removal:
                return dropped
            trial = ctx.view.trial([c.name for c in removal])
            bad: set[str] = set()
            if not trial.ok:
                bad = {trial.origin[p.key] for p in trial.unschedulable if p.key in trial.origin}
            else:
                cmd = Command(self.name, self.reason, tuple(removal), trial)
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

    def _solve(self, ctx: PassContext, cands: list[Candidate],
               limit: float) -> tuple[list[Candidate], float, float, str] | None:
        view = ctx.view
        table = view.inp.table
        dims = table.dims
        sched = Scheduler(table, view.inp.pools, (), (), view.inp.daemonsets, improve=False)
        pods = [p for c in cands for p in c.pods]
        classes, kinds, _, members = sched.capacity_model(pods)
        placed = {id(p) for group in members for p in group}
        # Candidates with a pod the model cannot hold stay (the scheduler could not either).
        cands = [c for c in cands if all(id(p) in placed for p in c.pods)]
        if not cands or not classes:
            return None
        cand_idx = {c.name: i for i, c in enumerate(cands)}
        n_c, n_k = len(cands), len(classes)
        demand = np.array([k.demand for k in classes], dtype=np.float64)
        count = np.zeros((n_k, n_c))
        for k, group in enumerate(members):
            for p in group:
                i = cand_idx.get(p.node_name or "")
                if i is not None:
                    count[k, i] += 1

        # Receivers: every schedulable node, grouped by labels (but hostname) and taints.
        used: dict[str, FloatArray] = {}
        for p in view.pods.values():
            if p.node_name:
                vec = _vector(dims, p.requests + ONE_POD)
                prev = used.get(p.node_name)
                used[p.node_name] = vec if prev is None else prev + vec
        head = 1.0 - ctx.settings.packing_headroom
        groups: dict[tuple[object, ...], list[Node]] = {}
        for node in view.nodes.values():
            if node.unschedulable:
                continue
            sig = (frozenset((k, v) for k, v in node.labels.items() if k != LABEL_HOSTNAME),
                   node.taints)
            groups.setdefault(sig, []).append(node)
        group_list = list(groups.values())
        n_g = len(group_list)
        free = {}
        for nodes in group_list:
            for node in nodes:
                room = _vector(dims, node.allocatable)
                if node.name in used:
                    room = room - used[node.name]
                free[node.name] = np.maximum(room, 0) * head
        compat = np.zeros((n_k, n_g), dtype=np.bool_)
        for k, group in enumerate(members):
            s = group[0].scheduling
            alts = s.alternatives()
            if any(t.node_names is not None or LABEL_HOSTNAME in t.requirements for t in alts):
                continue  # pinned to named nodes: left to the scheduler
            for g, nodes in enumerate(group_list):
                rep = nodes[0]
                compat[k, g] = not untolerated(s.tolerations, rep.taints) and any(
                    t.requirements.matches_labels(rep.labels) for t in alts)

        allowed = np.array([k.allowed for k in classes], dtype=np.bool_)
        cols = _prune(kinds, allowed)
        n_o = len(cols)
        kprice = kinds.price[cols]
        kcap = kinds.capacity[cols].astype(np.float64)
        kallowed = allowed[:, cols]

        z_pairs = [(k, int(g)) for k in range(n_k) for g in np.flatnonzero(compat[k])]
        w_pairs = [(k, int(o)) for k in range(n_k) for o in np.flatnonzero(kallowed[k])]
        y0, x0 = 0, n_c
        z0 = x0 + n_o
        w0 = z0 + len(z_pairs)
        n_vars = w0 + len(w_pairs)
        price = np.array([c.price or 0.0 for c in cands])
        cost = np.zeros(n_vars)
        dcost = np.array([c.cost for c in cands])
        cost[y0:x0] = -price + 1e-5 * dcost
        cost[x0:z0] = kprice
        rows: list[int] = []
        cidx: list[int] = []
        vals: list[float] = []
        lo: list[float] = []
        hi: list[float] = []

        def row(entries: list[tuple[int, float]], low: float, high: float) -> None:
            r = len(lo)
            for c, v in entries:
                if v != 0:
                    rows.append(r)
                    cidx.append(c)
                    vals.append(float(v))
            lo.append(low)
            hi.append(high)

        inf = float("inf")
        for k in range(n_k):  # every displaced pod placed
            e = [(z0 + j, 1.0) for j, (kk, _) in enumerate(z_pairs) if kk == k]
            e += [(w0 + j, 1.0) for j, (kk, _) in enumerate(w_pairs) if kk == k]
            e += [(y0 + int(i), -float(count[k, i])) for i in np.flatnonzero(count[k])]
            row(e, 0.0, 0.0)
        z_by_g: dict[int, list[int]] = {}
        for j, (_, gg) in enumerate(z_pairs):
            z_by_g.setdefault(gg, []).append(j)
        for g, nodes in enumerate(group_list):  # kept capacity
            total = sum((free[n.name] for n in nodes), np.zeros(len(dims)))
            for r in range(len(dims)):
                e = [(z0 + j, float(demand[z_pairs[j][0], r])) for j in z_by_g.get(g, [])]
                e += [(y0 + cand_idx[n.name], float(free[n.name][r])) for n in nodes
                      if n.name in cand_idx]
                if e:
                    row(e, -inf, float(total[r]))
        w_by_o: dict[int, list[int]] = {}
        for j, (_, oo) in enumerate(w_pairs):
            w_by_o.setdefault(oo, []).append(j)
        for o in range(n_o):  # new capacity
            for r in range(len(dims)):
                e = [(w0 + j, float(demand[w_pairs[j][0], r])) for j in w_by_o.get(o, [])]
                if e:
                    row(e + [(x0 + o, -float(kcap[o, r]))], -inf, 0.0)
        for pool in {c.pool.name for c in cands}:  # budgets
            members_of = [i for i, c in enumerate(cands) if c.pool.name == pool]
            left = ctx.ledger.left(pool, "Underutilized")
            if left < len(members_of):
                row([(y0 + i, 1.0) for i in members_of], -inf, float(left))
        for key, left in ctx.ledger.pdb_left.items():  # PDBs
            e = [(y0 + i, float(c.evictions.get(key, 0))) for i, c in enumerate(cands)
                 if c.evictions.get(key)]
            if e and sum(v for _, v in e) > left:
                row(e, -inf, float(left))
        frac = ctx.settings.min_saving_fraction  # churn guard
        row([(x0 + o, float(kprice[o])) for o in range(n_o)]
            + [(y0 + i, -(1 - frac) * float(price[i])) for i in range(n_c)], -inf, 0.0)

        upper = np.full(n_vars, inf)
        upper[y0:x0] = 1.0
        integer = np.zeros(n_vars, dtype=np.bool_)
        integer[y0:z0] = True
        objective, bound, status, x = solve_milp(
            cost, np.array(rows, dtype=np.int64), np.array(cidx, dtype=np.int64),
            np.array(vals), np.array(lo), np.array(hi), upper, integer, limit,
        )
        ctx.solver.update(candidates=n_c, classes=n_k, receiverGroups=n_g, kinds=n_o,
                          variables=n_vars, rows=len(lo))
        if len(x) == 0:
            ctx.notes.append(f"consolidation: MILP gave no plan ({status})")
            return None
        chosen = [c for i, c in enumerate(cands) if x[y0 + i] > 0.5]
        # Report prices without the disruption-cost hair.
        hair = 1e-5 * float(dcost @ (x[y0:x0] > 0.5))
        return chosen, objective - hair, bound - hair, status
