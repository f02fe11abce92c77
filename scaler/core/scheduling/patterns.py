"""Whole-node plans by column generation: which pods share a node, priced as whole nodes.

The LP bound (`bound.py`) lets a kind's capacity be shared fractionally, so its favourite
kinds can be small nodes that real pods fill badly. Here a column is a *pattern*: one node of
a kind holding n_k whole pods of each class k, as in Gilmore and Gomory's cutting-stock
method. The master LP covers every class's count with patterns at least cost; its duals
price each class, and for each candidate kind a greedy multi-resource knapsack proposes the
pattern worth the most at those prices (between full rounds, only the kinds that produced a
column last time are priced). Patterns that would lower the cost join the master, which HiGHS
re-solves from its last basis, until a full round finds none, or after `MAX_ROUNDS` rounds
(the time budget is a safety net). A MIP over the patterns the LP uses then picks whole node
counts (rounding the LP up if the MIP finds nothing in time).

Pure arithmetic on the classes and kinds the scheduler built; no pods, no requirements.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scaler.core.scheduling.bound import BoolArray, FloatArray, IntArray, Kinds, PodClass
from scaler.solvers.highs import CoverLP, solve

# Candidate kinds per class: its cheapest per whole pod; they make up the pricing's menu.
KINDS_PER_CLASS = 4
MAX_ROUNDS = 40


@dataclass(frozen=True)
class Pattern:
    kind: int
    counts: tuple[tuple[int, int], ...]  # (class index, pods of it on one node)


@dataclass(frozen=True)
class Cap:
    """On a node holding a pod of an `owners` class, at most `limit` pods of the `counted`
    classes (a hostname rule, see `host_caps.py`)."""

    owners: frozenset[int]
    counted: frozenset[int]
    limit: int


class _Caps:
    """The caps by class: which each class owns and which count it."""

    def __init__(self, caps: Sequence[Cap], n_classes: int) -> None:
        self.limit = [c.limit for c in caps]
        self.owns: list[frozenset[int]] = [frozenset()] * n_classes
        self.counts: list[frozenset[int]] = [frozenset()] * n_classes
        for j, c in enumerate(caps):
            for k in c.owners:
                self.owns[k] = self.owns[k] | {j}
            for k in c.counted:
                self.counts[k] = self.counts[k] | {j}
        self.touching = [sorted(o | c) for o, c in zip(self.owns, self.counts, strict=True)]

    def alone(self, k: int) -> int | None:
        """The most pods of class k a node holding only them may carry (None: no cap)."""
        own = [self.limit[j] for j in self.owns[k] if j in self.counts[k]]
        return min(own) if own else None

    def most(self, k: int, n: int, used: list[int], active: list[bool]) -> int:
        """At most n pods of class k joining a node with `used` counted pods per cap and the
        caps an owner there made `active`."""
        for j in self.touching[k]:
            if not (active[j] or j in self.owns[k]):
                continue
            room = self.limit[j] - used[j]
            if j in self.counts[k]:
                n = min(n, room)
            elif room < 0:
                return 0
        return n

    def take(self, k: int, n: int, used: list[int], active: list[bool]) -> None:
        for j in self.counts[k]:
            used[j] += n
        for j in self.owns[k]:
            active[j] = True


@dataclass(frozen=True)
class PatternPlan:
    nodes: tuple[tuple[Pattern, int], ...]  # each pattern and how many nodes of it
    per_hour: float


def _per_node(cap: FloatArray, demand: FloatArray) -> IntArray:
    """Whole pods of one demand vector that fit each capacity row."""
    used = demand > 0
    if not used.any():
        return np.zeros(len(cap), dtype=np.int64)
    n: IntArray = np.floor(cap[:, used] / demand[used]).min(axis=1).astype(np.int64)
    return n


def _candidates(classes: Sequence[PodClass], kinds: Kinds, demand: FloatArray,
                cap: FloatArray, caps: _Caps | None) -> tuple[list[int], dict[int, Pattern]]:
    """The kinds to price, and each class's cheapest single-class pattern (a start basis)."""
    menu: set[int] = set()
    start: dict[int, Pattern] = {}
    for k, c in enumerate(classes):
        allowed = np.flatnonzero(c.allowed & np.isfinite(kinds.price))
        if len(allowed) == 0:
            continue
        n = _per_node(cap[allowed], demand[k])
        alone = caps.alone(k) if caps is not None else None
        if alone is not None:
            n = np.minimum(n, alone)
        ok = n >= 1
        allowed, n = allowed[ok], n[ok]
        if len(allowed) == 0:
            continue
        per_pod = kinds.price[allowed] / np.minimum(n, c.count)
        order = np.argsort(per_pod, kind="stable")[:KINDS_PER_CLASS]
        menu.update(int(o) for o in allowed[order])
        best = int(order[0])
        start[k] = Pattern(int(allowed[best]), ((k, int(min(n[best], c.count))),))
    return sorted(menu), start


@dataclass(frozen=True)
class _Menu:
    """What pricing needs of one kind, computed once: the classes it may hold and their sizes."""

    kind: int
    classes: IntArray
    sizes: tuple[FloatArray, FloatArray]  # bottleneck fraction, and sum of fractions


def _menu(o: int, cap: FloatArray, demand: FloatArray, allowed: BoolArray) -> _Menu:
    ks = np.flatnonzero(allowed[:, o])
    frac = demand[ks] / np.maximum(cap[o], 1e-12)
    return _Menu(o, ks, (frac.max(axis=1), frac.sum(axis=1)))


@dataclass(frozen=True)
class _Rows:
    """The classes' demand and counts as Python numbers: the knapsack steps through a few
    resources per class, where numpy's per-call cost would dominate."""

    demand: list[list[float]]
    used: list[list[int]]  # the resources each class asks for
    counts: list[int]

    @staticmethod
    def of(demand: FloatArray, counts: IntArray) -> _Rows:
        rows = demand.tolist()
        return _Rows(rows, [[j for j, v in enumerate(r) if v > 0] for r in rows],
                     counts.tolist())


def _knapsack(m: _Menu, cap: FloatArray, demand: FloatArray, rows: _Rows,
              dual: FloatArray, caps: _Caps | None = None,
              zones: Sequence[int] = ()) -> tuple[float, Pattern | None]:
    """The most dual value a node of the kind can hold, by two greedy orders (within the
    caps, and with classes that share a zone, when there are any)."""
    priced = dual[m.classes] > 1e-12
    if not priced.any():
        return 0.0, None
    ks = m.classes[priced]
    best_value, best = 0.0, None
    smallest = demand[ks].min(axis=0).tolist()
    dims = range(len(smallest))
    for size in m.sizes:
        order = ks[np.argsort(-dual[ks] / np.maximum(size[priced], 1e-12), kind="stable")]
        room = cap[m.kind].tolist()
        value = 0.0
        taken: list[tuple[int, int]] = []
        held = [0] * len(caps.limit) if caps is not None else []
        active = [False] * len(held)
        where = -1  # the zones every class taken so far allows (bits)
        for k in order.tolist():
            if zones and not where & zones[k]:
                continue
            d = rows.demand[k]
            used = rows.used[k]
            n = min(rows.counts[k], min(math.floor(room[j] / d[j]) for j in used)) \
                if used else 0
            if caps is not None and n > 0:
                n = caps.most(k, n, held, active)
            if n <= 0:
                continue
            if caps is not None:
                caps.take(k, n, held, active)
            if zones:
                where &= zones[k]
            for j in dims:
                room[j] -= n * d[j]
            value += n * float(dual[k])
            taken.append((k, n))
            if any(room[j] < smallest[j] for j in dims):
                break  # not even the smallest pod fits any more
        if value > best_value:
            best_value, best = value, Pattern(m.kind, tuple(sorted(taken)))
    return best_value, best


def _column(p: Pattern) -> tuple[IntArray, FloatArray]:
    return (np.array([k for k, _ in p.counts], dtype=np.int64),
            np.array([n for _, n in p.counts], dtype=np.float64))


def _whole_nodes(patterns: Sequence[Pattern], price: FloatArray, counts: IntArray,
                 time_limit: float) -> FloatArray | None:
    """Whole node counts per pattern covering every class's count at least cost (MIP, 1%)."""
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for j, p in enumerate(patterns):
        for k, n in p.counts:
            rows.append(k)
            cols.append(j)
            vals.append(float(n))
    cost = np.array([price[p.kind] for p in patterns], dtype=np.float64)
    lower = counts.astype(np.float64)
    upper = np.full(len(counts), np.inf)
    r = solve(cost, np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64),
              np.array(vals, dtype=np.float64), lower, upper, time_limit, integer=True,
              mip_gap=0.01)
    return r.x if r.status in ("optimal", "feasible") else None


def plan_patterns(classes: Sequence[PodClass], kinds: Kinds, time_limit: float = 2.0,
                  caps: Sequence[Cap] = (), zones: Sequence[int] = ()) -> PatternPlan | None:
    """Whole nodes covering every class's pods, or None if some class fits no kind.

    `caps` limit what a node holding some classes may carry of others (hostname rules);
    every pattern respects them. `zones` (one bit set per class, bit z: the class may run in
    zone z) keep classes pinned to different zones apart: kinds carry no zone, and a node
    whose pods share no zone is seated as several nodes.
    """
    if not classes:
        return None
    capped = _Caps(caps, len(classes)) if caps else None
    deadline = time.monotonic() + time_limit
    demand = np.array([c.demand for c in classes], dtype=np.float64)
    cap = kinds.capacity.astype(np.float64)
    counts = np.array([c.count for c in classes], dtype=np.int64)
    allowed = np.array([c.allowed for c in classes], dtype=np.bool_)
    kinds_menu, start = _candidates(classes, kinds, demand, cap, capped)
    menu = [_menu(o, cap, demand, allowed) for o in kinds_menu]
    rows = _Rows.of(demand, counts)
    if len(start) < len(classes):
        return None
    patterns = list(dict.fromkeys(start.values()))
    seen = set(patterns)
    master = CoverLP(counts.astype(np.float64), max(time_limit, 0.1))
    master.add(np.array([kinds.price[p.kind] for p in patterns]), [_column(p) for p in patterns])
    rounds = 0
    # Partial pricing: after a full round, only the kinds that yielded a column are priced
    # again, until they yield none; then a full round decides whether to stop.
    active = menu
    while rounds < MAX_ROUNDS and time.monotonic() < deadline:
        rounds += 1
        solved = master.solve()
        if solved.status != "optimal":
            return None
        dual = np.maximum(solved.row_dual, 0.0)
        new: list[Pattern] = []
        productive: list[_Menu] = []
        for m in active:
            value, pattern = _knapsack(m, cap, demand, rows, dual, capped, zones)
            if pattern is not None and value > kinds.price[m.kind] * (1 + 1e-9) + 1e-12 \
                    and pattern not in seen:
                seen.add(pattern)
                new.append(pattern)
                productive.append(m)
        if not new:
            if active is menu:
                break
            active = menu
            continue
        active = productive
        patterns.extend(new)
        master.add(np.array([kinds.price[p.kind] for p in new]), [_column(p) for p in new])
    # Whole nodes: a MIP over the patterns the LP uses (a basis: about one per class, so it
    # solves fast), in what time is left; else the LP rounded up.
    lp = master.solve()
    if lp.status != "optimal":
        return None
    basis = [p for p, v in zip(patterns, lp.x, strict=True) if v > 1e-9]
    mip = _whole_nodes(basis, kinds.price, counts,
                       min(max(deadline - time.monotonic(), 0.2), 1.0))
    if mip is not None:
        patterns, x = basis, np.round(mip).astype(np.int64)
    else:
        x = np.ceil(lp.x - 1e-9).astype(np.int64)
    nodes = tuple((p, int(n)) for p, n in zip(patterns, x, strict=True) if n > 0)
    per_hour = float(sum(kinds.price[p.kind] * n for p, n in nodes))
    return PatternPlan(nodes, per_hour)
