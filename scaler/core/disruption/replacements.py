"""Whole replacement nodes for a consolidation's displaced pods, by column generation.

Once the removals are chosen, each displaced pod goes to the free room of the kept nodes
(pooled per receiver group, as in the consolidation MILP) or to a new node. A new node is a
*pattern*: one node of a kind holding n_k whole pods of each class k (Gilmore and Gomory's
cutting stock). The master LP covers every class's displaced pods with patterns and kept
room at least price (and at most the churn guard's ceiling); its duals price the classes,
and for every kind a greedy fill (`_balanced`) proposes a node worth much at those prices.
The most improving patterns join the master until none improves or after `MAX_ROUNDS`
rounds. A MIP over the patterns then picks whole node counts, started from the LP rounded
up and stopped after `MAX_NODES` branch-and-bound nodes: the plan depends on the cluster,
not on how busy the machine is (the time limit is only a safety net).

Pure arithmetic on arrays the optimiser builds (scaled demands and capacities).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scaler.core.scheduling.bound import BoolArray, FloatArray, IntArray
from scaler.solvers.highs import solve, solve_milp

MAX_ROUNDS = 60
COLUMNS_PER_ROUND = 24  # the most improving patterns of a round join the master
MIP_COLUMNS = 400  # the MIP chooses among the patterns the LP uses and the next best
MAX_NODES = 2000  # branch-and-bound nodes of the MIP: a work limit, not a time limit
MAX_STEPS = 200  # of the balanced fill, for all kinds at once
MIP_UP_TO = 25.0  # nodes the LP may want for the MIP to place them
EPS = 1e-9


@dataclass(frozen=True)
class Displacement:
    """What the displaced pods need and where they may go (scaled, after headroom)."""

    demand: FloatArray  # classes x dims: one pod
    need: IntArray  # per class: pods displaced
    price: FloatArray  # per kind: a new node's price
    cap: FloatArray  # kinds x dims: a new node's room
    allowed: BoolArray  # classes x kinds
    zk: IntArray  # kept-room pairs: the class ...
    zg: IntArray  # ... and the receiver group
    z_cap: FloatArray  # per pair: whole pods of the class the group's kept nodes hold
    room: FloatArray  # groups x dims: the kept nodes' free room
    ceiling: float  # the new nodes may cost at most this (the churn guard)


@dataclass(frozen=True)
class Replacements:
    nodes: tuple[tuple[int, tuple[tuple[int, int], ...]], ...]  # per node: kind, (class, pods)
    z: FloatArray  # pods per kept-room pair
    per_hour: float  # the new nodes' price
    status: str  # the MIP's ("optimal", "time limit", ...) or "lp rounded up"


Pattern = tuple[int, tuple[tuple[int, int], ...]]


def _balanced(kinds: IntArray, dp: Displacement, dual: FloatArray) -> list[Pattern]:
    """For every kind at once, a node filled step by step: each step adds half of what
    still fits (at least one pod) of the class worth the most per share of the room *left*
    (its tightest resource), so scarce resources go to the classes that need them least
    and CPU-heavy and memory-heavy pods end up sharing nodes."""
    ks = np.flatnonzero((dual > EPS) & (dp.need > 0))
    if not len(ks) or not len(kinds):
        return []
    demand = dp.demand[ks]  # k x d
    room = dp.cap[kinds].copy()  # o x d
    ok = dp.allowed[np.ix_(ks, kinds)].T  # o x k
    left = np.broadcast_to(dp.need[ks].astype(np.float64), ok.shape).copy()
    taken = np.zeros(ok.shape)
    rows = np.arange(len(kinds))
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(MAX_STEPS):
            ratio = np.where(demand[None, :, :] > 0, room[:, None, :] / demand[None, :, :],
                             np.inf)
            fit = np.minimum(np.floor(ratio.min(axis=2) + 1e-9), left)
            fit[~ok] = 0
            if not (fit > 0).any():
                break
            share = np.where(demand[None, :, :] > 0, demand[None, :, :] / room[:, None, :],
                             0.0).max(axis=2)
            score = np.where(fit > 0, dual[ks][None, :] / np.maximum(share, 1e-12), -np.inf)
            best = np.argmax(score, axis=1)
            n = fit[rows, best]
            n = np.where(n > 1, np.ceil(n / 2), n)
            taken[rows, best] += n
            left[rows, best] -= n
            room = room - n[:, None] * demand[best]
    out: list[Pattern] = []
    for i, o in enumerate(kinds.tolist()):
        counts = tuple((int(ks[j]), int(taken[i, j])) for j in np.flatnonzero(taken[i]))
        if counts:
            out.append((int(o), counts))
    return out


def _value(p: Pattern, dual: FloatArray) -> float:
    return float(sum(dual[k] * n for k, n in p[1]))


def _start(dp: Displacement) -> list[Pattern] | None:
    """Per class, its cheapest single-class pattern per pod; None if a class fits no kind
    and no kept room."""
    out: list[Pattern] = []
    for k in np.flatnonzero(dp.need > 0):
        kinds = np.flatnonzero(dp.allowed[k] & np.isfinite(dp.price))
        d = dp.demand[k]
        used = d > 0
        n = (np.floor(dp.cap[kinds][:, used] / d[used] + 1e-9).min(axis=1) if used.any()
             else np.full(len(kinds), float(dp.need[k])))
        n = np.minimum(n, dp.need[k])
        ok = n >= 1
        if not ok.any():
            if not (dp.zk == k).any():
                return None
            continue
        kinds, n = kinds[ok], n[ok]
        best = int(np.argmin(dp.price[kinds] / n))
        out.append((int(kinds[best]), ((int(k), int(n[best])),)))
    return out


@dataclass(frozen=True)
class _Master:
    """The master's rows over columns: patterns first, then the kept-room pairs."""

    rows: IntArray
    cols: IntArray
    vals: FloatArray
    lo: FloatArray
    hi: FloatArray
    cost: FloatArray
    upper: FloatArray
    patterns: list[Pattern]

    @property
    def n_patterns(self) -> int:
        return len(self.patterns)


def _master(dp: Displacement, patterns: list[Pattern]) -> _Master:
    n_k, n_p, n_z = len(dp.need), len(patterns), len(dp.zk)
    n_g, n_d = dp.room.shape
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    vals: list[FloatArray] = []
    for j, (_, counts) in enumerate(patterns):  # class rows: covered
        rows.append(np.array([k for k, _ in counts], dtype=np.int64))
        cols.append(np.full(len(counts), j, dtype=np.int64))
        vals.append(np.array([n for _, n in counts], dtype=np.float64))
    rows.append(dp.zk.astype(np.int64))
    cols.append(n_p + np.arange(n_z, dtype=np.int64))
    vals.append(np.ones(n_z))
    for r in range(n_d):  # kept room per group and dimension
        rows.append(n_k + dp.zg * n_d + r)
        cols.append(n_p + np.arange(n_z, dtype=np.int64))
        vals.append(dp.demand[dp.zk, r])
    price = dp.price[[o for o, _ in patterns]]
    guard = n_k + n_g * n_d
    rows.append(np.full(n_p, guard, dtype=np.int64))  # the churn guard
    cols.append(np.arange(n_p, dtype=np.int64))
    vals.append(price)
    r_a, c_a, v_a = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    keep = v_a != 0
    lo = np.concatenate([dp.need.astype(np.float64), np.full(n_g * n_d + 1, -np.inf)])
    hi = np.concatenate([np.full(n_k, np.inf), dp.room.ravel(), [dp.ceiling]])
    upper = np.concatenate([np.full(n_p, float(dp.need.sum())), dp.z_cap])
    return _Master(r_a[keep], c_a[keep], v_a[keep], lo, hi,
                   np.concatenate([price, np.zeros(n_z)]), upper, patterns)


def _priced(dp: Displacement, patterns: list[Pattern], time_limit: float
            ) -> tuple[_Master, FloatArray, FloatArray, float] | None:
    """The master's LP over `patterns`: the master, its solution, the pods' duals and the
    markup every node's price carries; None when the LP has no solution."""
    m = _master(dp, patterns)
    lp = solve(m.cost, m.rows, m.cols, m.vals, m.lo, m.hi, time_limit)
    if lp.status != "optimal":
        return None
    dual = np.maximum(lp.row_dual[:len(dp.need)], 0.0)
    # The guard's dual (<= 0 on a binding upper row) makes every node dearer.
    markup = 1.0 - min(float(lp.row_dual[-1]), 0.0)
    return m, lp.x, dual, markup


def _generate(dp: Displacement, patterns: list[Pattern], time_limit: float
              ) -> tuple[_Master, FloatArray, FloatArray] | None:
    """Column generation: the master over the patterns found, its LP solution and the
    patterns' reduced costs at the last duals; None when the LP has no solution."""
    seen = set(patterns)
    kinds = np.flatnonzero(dp.allowed[dp.need > 0].any(axis=0) & np.isfinite(dp.price))
    for _ in range(MAX_ROUNDS):
        priced = _priced(dp, patterns, time_limit)
        if priced is None:
            return None
        _, _, dual, markup = priced
        found: list[tuple[float, Pattern]] = []
        for pattern in _balanced(kinds, dp, dual):
            gain = _value(pattern, dual) - markup * float(dp.price[pattern[0]])
            if gain > 1e-7 and pattern not in seen:
                found.append((gain, pattern))
        if not found:
            break
        found.sort(key=lambda t: (-t[0], t[1]))
        for _, pattern in found[:COLUMNS_PER_ROUND]:
            seen.add(pattern)
            patterns.append(pattern)
    priced = _priced(dp, patterns, time_limit)
    if priced is None:
        return None
    m, x, dual, markup = priced
    reduced = np.array([markup * dp.price[o] - sum(dual[k] * n for k, n in c)
                        for o, c in patterns])
    return m, x, reduced


def _rounded_up(dp: Displacement, patterns: list[Pattern], x: FloatArray) -> FloatArray:
    """The LP's pattern counts rounded up, kept room rounded down, and each class still
    short covered by its cheapest single-class pattern: a whole-node plan (maybe over the
    churn guard)."""
    n_p = len(patterns)
    out = np.concatenate([np.ceil(x[:n_p] - 1e-6), np.floor(x[n_p:] + 1e-6)])
    have = np.zeros(len(dp.need))
    for j, (_, counts) in enumerate(patterns):
        for k, n in counts:
            have[k] += n * out[j]
    np.add.at(have, dp.zk, out[n_p:])
    singles = {c[0][0]: j for j, (_, c) in enumerate(patterns) if len(c) == 1}
    for k in np.flatnonzero(have < dp.need - 1e-9).tolist():
        single = singles.get(k)
        if single is not None:
            out[single] += math.ceil((dp.need[k] - have[k]) / patterns[single][1][0][1])
    return out


def plan_replacements(dp: Displacement, time_limit: float, known: Sequence[Pattern] = (),
                      max_nodes: int = MAX_NODES) -> Replacements | None:
    """The cheapest whole new nodes found for the displaced pods (see the module
    docstring); None when some class fits nowhere, the churn guard cannot hold, or the LP
    wants more than MIP_UP_TO nodes (a MIP over thousands of pods in a few dozen patterns
    closes its gap slowly; over a few nodes it is quick and exact). `known`: the nodes of
    a plan already found (say a greedy packing, no room kept), which the MIP starts from
    when it is cheaper than the LP rounded up, so the result is never dearer. `max_nodes`:
    the MIP's branch-and-bound nodes."""
    patterns = _start(dp)
    if patterns is None:
        return None
    generated = _generate(dp, list(dict.fromkeys([*patterns, *known])), time_limit)
    if generated is None:
        return None
    m, x_lp, reduced = generated
    n_p = m.n_patterns
    if x_lp[:n_p].sum() > MIP_UP_TO:
        return None
    order = np.lexsort((np.arange(n_p), reduced))
    chosen = sorted(set(np.flatnonzero(x_lp[:n_p] > 1e-9).tolist())
                    | set(order[:MIP_COLUMNS].tolist()))
    sub = list(dict.fromkeys([*[m.patterns[j] for j in chosen], *known]))
    at = {p: j for j, p in enumerate(m.patterns)}
    on_sub = np.array([x_lp[at[p]] if p in at else 0.0 for p in sub])
    z_lp = x_lp[n_p:]
    m = _master(dp, sub)
    firsts = [_rounded_up(dp, sub, np.concatenate([on_sub, z_lp]))]
    if known:
        mine = np.zeros(len(m.cost))
        for p in known:
            mine[sub.index(p)] += 1
        firsts.append(mine)
    fits = [f for f in firsts if _feasible(m, f)]
    first = min(fits, key=lambda f: float(m.cost @ f)) if fits else None
    integer = np.ones(len(m.cost), dtype=np.bool_)
    _, _, status, x = solve_milp(m.cost, m.rows, m.cols, m.vals, m.lo, m.hi, m.upper,
                                 integer, time_limit, start=first, max_nodes=max_nodes,
                                 presolve=False)
    if not len(x):
        if first is None:
            return None
        x, status = first, "lp rounded up"
    counts = np.rint(x[:len(sub)]).astype(np.int64)
    nodes = tuple(p for p, c in zip(sub, counts, strict=True) for _ in range(int(c)))
    return Replacements(nodes, np.rint(x[len(sub):]), float(m.cost[:len(sub)] @ counts),
                        status)


def _feasible(m: _Master, x: FloatArray) -> bool:
    activity = np.zeros(len(m.lo))
    np.add.at(activity, m.rows, m.vals * x[m.cols])
    return bool((activity >= m.lo - 1e-7).all() and (activity <= m.hi + 1e-7).all()
                and (x <= m.upper + 1e-9).all())


def whole_of_lp(dp: Displacement, time_limit: float) -> tuple[list[Pattern], IntArray] | None:
    """The pattern LP's whole nodes (its counts rounded down) and the pods per class they
    leave over; None when the LP has no solution. On a kind the LP fills with many nodes
    this is nearly all of them, and the rest is small enough for `plan_replacements`."""
    patterns = _start(dp)
    if patterns is None:
        return None
    generated = _generate(dp, list(dict.fromkeys(patterns)), time_limit)
    if generated is None:
        return None
    m, x_lp, _ = generated
    take = np.floor(x_lp[:m.n_patterns] + 1e-6).astype(np.int64)
    nodes = [m.patterns[j] for j in np.flatnonzero(take) for _ in range(int(take[j]))]
    left = dp.need.copy()
    for _, counts in nodes:
        for k, n in counts:
            left[k] -= n
    return nodes, np.maximum(left, 0)


def pack_greedy(items: FloatArray, cap: FloatArray) -> tuple[list[list[int]], FloatArray]:
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
