"""Step 1 of allocation on numpy arrays: what compute.allocate_loop does per sample, done per
column, with the same results to the micro-dollar and to the last bit of every float.

* Samples become columns (container, interval, weights), node lifetimes a node x interval
  table of seconds and accrued cost (integer arithmetic: accrued() is a floor of integers).
* Each node-interval's pools split over its members and the spare capacity by the largest
  remainder: integer products and divisions per item, the leftover units handed out by one
  stable sort on (group, remainder descending) so ties go to the earlier member, as
  money.split does.
* Float sums (core-seconds, unit prices) go through np.bincount, which adds in array order:
  the samples are kept in (container, time) order, the order the loop adds them in.

Returns None when the inputs fall outside what the arrays take (a container key or node name
twice, non-integral timestamps, series of unequal length, non-finite values, amounts whose
products could pass 2**62); the caller then runs the loop.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from scaler.core.allocation.compute import (
    Allocated,
    UnitCosts,
    properties_of,
)
from scaler.core.allocation.model import (
    IDLE,
    IDLE_NAME,
    WORKLOAD,
    Allocation,
    AllocationSet,
    ContainerInput,
    Grid,
    NodeCost,
    NodeInput,
    Properties,
)
from scaler.core.allocation.money import split
from scaler.core.allocation.prices import ResourceRatios, split_node_cost
from scaler.core.allocation.teams import TeamRules

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
SAFE = 2**62
MAX_CELLS = 50_000_000  # node x interval cells held at once


def _milli(x: F64) -> I64:
    return np.maximum(np.rint(x * 1000), 0).astype(np.int64)


def _column(containers: Sequence[ContainerInput], attr: str, total: int) -> F64:
    return np.fromiter(
        itertools.chain.from_iterable(getattr(c, attr) for c in containers), np.float64, total
    )


def _split_groups(
    pools: I64, member_w: I64, member_g: I64, cap: I64, n_groups: int
) -> tuple[I64, I64] | None:
    """Largest-remainder split of pools[g] over the members of group g (in the order given,
    grouped) and one spare item per group; (member parts, spare parts), or None when a part
    itself would not fit 62 bits."""
    n_m = len(member_w)
    # Items: members, then each group's spare, ordered by group with the spare last.
    gi = np.concatenate([member_g, np.arange(n_groups, dtype=np.int64)])
    last = np.concatenate([np.zeros(n_m, np.int64), np.ones(n_groups, np.int64)])
    order = np.lexsort((last, gi))  # members keep their order within a group
    g_sorted = gi[order]
    starts = np.searchsorted(g_sorted, np.arange(n_groups, dtype=np.int64))
    w = np.concatenate([member_w, np.zeros(n_groups, np.int64)])[order]
    taken = np.add.reduceat(w, starts)
    spare = np.maximum(cap - taken, 0)
    spare = np.where((taken == 0) & (spare == 0), 1, spare)
    spare_pos = starts + np.diff(np.append(starts, len(w))) - 1
    w[spare_pos] = spare
    whole = taken + spare
    # Groups whose products could pass 64 bits (a huge node's RAM in bytes times a large
    # pool) are split by money.split on Python integers; the rest on arrays.
    max_w = np.maximum.reduceat(w, starts) if len(w) else np.zeros(0, np.int64)
    big = pools.astype(np.float64) * max_w.astype(np.float64) >= float(SAFE)
    pools_in = np.where(big, 0, pools)
    t = pools_in[g_sorted]
    prod = t * w
    q = prod // whole[g_sorted]
    rem = prod % whole[g_sorted]
    left = pools_in - np.add.reduceat(q, starts)
    r_max = int(rem.max(initial=0))
    if n_groups * (r_max + 1) < SAFE:
        rank_order = np.argsort(g_sorted * (r_max + 1) + (r_max - rem), kind="stable")
    else:
        rank_order = np.lexsort((np.arange(len(w)), -rem, g_sorted))
    rank = np.empty(len(w), np.int64)
    rank[rank_order] = np.arange(len(w), dtype=np.int64) - starts[g_sorted[rank_order]]
    parts = q + (rank < left[g_sorted]).astype(np.int64)
    ends = np.append(starts[1:], len(w))
    for g in np.flatnonzero(big).tolist():
        lo_, hi_ = int(starts[g]), int(ends[g])
        exact = split(int(pools[g]), w[lo_:hi_].tolist())
        if max(abs(x) for x in exact) >= SAFE:
            return None
        parts[lo_:hi_] = exact
    out = np.empty(len(w), np.int64)
    out[order] = parts
    return out[:n_m], out[n_m:]


def allocate_columnar(
    grid: Grid,
    nodes: Sequence[NodeInput],
    containers: Sequence[ContainerInput],
    ratios: ResourceRatios,
    cluster: str,
    teams: TeamRules | None,
) -> Allocated | None:
    keys = [c.key for c in containers]
    if len(set(keys)) != len(keys) or len({n.name for n in nodes}) != len(nodes):
        return None
    for c in containers:
        n_ts = len(c.timestamps)
        lengths = (len(c.cpu_request), len(c.cpu_usage), len(c.ram_request), len(c.ram_usage))
        if any(x != n_ts for x in lengths) or (c.gpu_request and len(c.gpu_request) != n_ts):
            return None
    res, n_c, n_n = grid.resolution, len(containers), len(nodes)
    n_int = -(-(grid.end - grid.start) // res)
    per_step = grid.step // res
    if n_n * n_int > MAX_CELLS:
        return None

    counts = np.fromiter((len(c.timestamps) for c in containers), np.int64, n_c)
    total = int(counts.sum())
    ts_f = _column(containers, "timestamps", total)
    if not np.all(np.isfinite(ts_f)) or np.any(ts_f != np.floor(ts_f)):
        return None
    ts = ts_f.astype(np.int64)
    cpu_req = _column(containers, "cpu_request", total)
    cpu_use = _column(containers, "cpu_usage", total)
    ram_req = _column(containers, "ram_request", total)
    ram_use = _column(containers, "ram_usage", total)
    gpu_req = np.fromiter(
        itertools.chain.from_iterable(
            c.gpu_request if c.gpu_request else itertools.repeat(0.0, len(c.timestamps))
            for c in containers
        ),
        np.float64,
        total,
    )
    for col in (cpu_req, cpu_use, ram_req, ram_use, gpu_req):
        if not np.all(np.isfinite(col)) or np.any(np.abs(col) * 1000 >= SAFE):
            return None
    ci = np.repeat(np.arange(n_c, dtype=np.int64), counts)
    first_of = np.cumsum(counts) - counts
    j = np.arange(total, dtype=np.int64) - np.repeat(first_of, counts)

    node_of = {n.name: k for k, n in enumerate(nodes)}
    c_node = np.fromiter((node_of.get(c.node, -1) for c in containers), np.int64, n_c)
    n_start = np.array([n.start for n in nodes], dtype=np.int64)
    n_end = np.array([n.end for n in nodes], dtype=np.int64)

    inside = (ts >= grid.start) & (ts < grid.end)
    i_all = (ts - grid.start) // res
    t0 = grid.start + i_all * res
    nk = c_node[ci]
    has_node = nk >= 0
    nk_safe = np.where(has_node, nk, 0)
    if n_n:
        alive = has_node & (n_start[nk_safe] < t0 + res) & (t0 < n_end[nk_safe])
    else:
        alive = np.zeros(total, bool)
    lost = inside & ~alive
    unplaced = int((np.minimum(t0[lost] + res, grid.end) - t0[lost]).sum())

    # One sample per container and interval: the last one, as the loop's dict keeps.
    placed = np.flatnonzero(inside & alive)
    key = ci[placed] * n_int + i_all[placed]
    order = np.argsort(key, kind="stable")
    key_sorted = key[order]
    keep_last = np.ones(len(key_sorted), bool)
    keep_last[:-1] = key_sorted[1:] != key_sorted[:-1]
    sel = placed[order[keep_last]]  # in (container, interval) order

    # The node x interval table.
    a = grid.start + np.arange(n_int, dtype=np.int64) * res
    b = np.minimum(a + res, grid.end)
    life_s = np.maximum(n_start, grid.start)
    life_e = np.minimum(n_end, grid.end)
    lo = np.maximum(a[None, :], life_s[:, None])
    hi = np.minimum(b[None, :], life_e[:, None])
    valid = hi > lo
    secs = np.where(valid, hi - lo, 0)
    per_hour = np.array([n.price.per_hour_micros for n in nodes], dtype=np.int64)
    if np.any(per_hour < 0) or (
        n_n and int(per_hour.max()) * 2 * max(grid.end - grid.start, 1) >= SAFE
    ):
        return None

    def accrued(x: I64) -> I64:
        return (2 * per_hour[:, None] * x + 3600) // 7200

    cost = np.where(valid, accrued(hi - life_s[:, None]) - accrued(lo - life_s[:, None]), 0)
    pools = np.zeros((n_n, n_int, 3), np.int64)
    for k, n in enumerate(nodes):
        row = np.flatnonzero(valid[k])
        if not len(row):
            continue
        pairs = np.stack([cost[k, row], secs[k, row]], axis=1)
        uniq, inverse = np.unique(pairs, axis=0, return_inverse=True)
        split = np.array(
            [
                split_node_cost(
                    int(cc), int(ss), n.cpu_cores, n.ram_bytes, n.gpus, ratios,
                    n.gpu_per_hour_micros,
                )
                for cc, ss in uniq
            ],
            dtype=np.int64,
        ).reshape(-1, 3)
        pools[k, row] = split[np.asarray(inverse).reshape(-1)]

    cells = np.flatnonzero(valid.reshape(-1))  # dense group id -> flat cell
    group_of_cell = np.full(n_n * n_int, -1, np.int64)
    group_of_cell[cells] = np.arange(len(cells), dtype=np.int64)
    cell_of = nk[sel] * n_int + i_all[sel]
    g_sel = group_of_cell[cell_of]
    charged = g_sel >= 0
    sel, g_sel = sel[charged], g_sel[charged]

    weights = (
        np.maximum(_milli(cpu_req[sel]), _milli(cpu_use[sel])),
        np.maximum(np.maximum(np.trunc(ram_req[sel]), np.trunc(ram_use[sel])), 0).astype(
            np.int64
        ),
        _milli(gpu_req[sel]),
    )
    cap_node = np.array(
        [
            [
                int(_milli(np.array([n.cpu_cores]))[0]),
                max(int(n.ram_bytes), 0),
                int(_milli(np.array([n.gpus]))[0]),
            ]
            for n in nodes
        ],
        dtype=np.int64,
    ).reshape(-1, 3)
    node_of_group = cells // n_int
    pools_g = pools.reshape(-1, 3)[cells]
    member_parts: list[I64] = []
    idle_cells = np.zeros((n_n * n_int, 3), np.int64)
    for r in range(3):
        done = _split_groups(
            pools_g[:, r], weights[r], g_sel, cap_node[node_of_group, r], len(cells)
        )
        if done is None:
            return None
        member_parts.append(done[0])
        idle_cells[cells, r] = done[1]

    # Per step and node: seconds, cost and idle (integer sums: any order is exact).
    n_steps = len(grid.steps())
    pad = n_steps * per_step - n_int

    def by_step(x: I64) -> I64:
        out: I64 = np.pad(x, ((0, 0), (0, pad))).reshape(n_n, n_steps, per_step).sum(axis=2)
        return out

    step_secs = by_step(secs)
    step_total = [by_step(pools[:, :, r]) for r in range(3)]
    idle3 = idle_cells.reshape(n_n, n_int, 3)
    step_idle = [by_step(idle3[:, :, r]) for r in range(3)]

    # Per container and step, in time order.
    s_ci = ci[sel]
    s_i = i_all[sel]
    s_step = s_i // per_step
    s_lo = lo[nk[sel], s_i]
    s_hi = hi[nk[sel], s_i]
    s_secs = s_hi - s_lo
    boundary = np.ones(len(sel), bool)
    if len(sel):
        boundary[1:] = (s_ci[1:] != s_ci[:-1]) | (s_step[1:] != s_step[:-1])
    run = np.cumsum(boundary) - 1
    n_runs = int(run[-1]) + 1 if len(sel) else 0
    starts = np.flatnonzero(boundary)
    ends = np.append(starts[1:], len(sel)) - 1

    def fsum(x: F64, idx: I64 = run, n: int = n_runs) -> F64:
        out: F64 = np.bincount(idx, weights=x, minlength=n).astype(np.float64)
        return out

    def isum(x: I64) -> I64:
        return np.add.reduceat(x, starts) if len(sel) else np.zeros(0, np.int64)

    secs_f = s_secs.astype(np.float64)
    run_cpu_cs = fsum(weights[0].astype(np.float64) / 1000 * secs_f)
    run_cpu_req = fsum(cpu_req[sel] * secs_f)
    run_cpu_use = fsum(cpu_use[sel] * secs_f)
    run_ram_bs = fsum((weights[1] * s_secs).astype(np.float64))
    run_ram_req = fsum(ram_req[sel] * secs_f)
    run_ram_use = fsum(ram_use[sel] * secs_f)
    run_gpu_s = fsum(weights[2].astype(np.float64) / 1000 * secs_f)
    run_money = [isum(member_parts[r]) for r in range(3)]

    # Unit costs per container over every interval it was charged in.
    cores = np.array([n.cpu_cores for n in nodes], dtype=np.float64)
    ram_b = np.array([n.ram_bytes for n in nodes], dtype=np.float64)
    s_node = nk[sel]
    s_pools = pools[s_node, s_i]
    per_core = np.where(cores[s_node] > 0, s_pools[:, 0] / np.where(cores > 0, cores, 1)[s_node],
                        0.0)
    per_byte = np.where(ram_b[s_node] > 0, s_pools[:, 1] / np.where(ram_b > 0, ram_b, 1)[s_node],
                        0.0)
    at_req = cpu_req[sel] * per_core + ram_req[sel] * per_byte
    u_seconds = np.bincount(s_ci, weights=secs_f, minlength=n_c)
    u_core = fsum(per_core, s_ci, n_c)
    u_byte = fsum(per_byte, s_ci, n_c)
    u_req = fsum(at_req, s_ci, n_c)
    s_j = j[sel]
    c_bounds = np.searchsorted(s_ci, np.arange(n_c + 1, dtype=np.int64))
    units: dict[tuple[str, str, str], UnitCosts] = {}
    for k in np.unique(s_ci).tolist():
        c = containers[k]
        units[c.key] = UnitCosts(
            seconds=int(u_seconds[k]),
            per_core=float(u_core[k]),
            per_byte=float(u_byte[k]),
            at_requests=float(u_req[k]),
            samples=s_j[c_bounds[k]:c_bounds[k + 1]].tolist(),
        )

    props: dict[int, Properties] = {}
    runs_by_step: list[list[int]] = [[] for _ in range(n_steps)]
    run_step = s_step[starts] if len(sel) else np.zeros(0, np.int64)
    run_ci = s_ci[starts] if len(sel) else np.zeros(0, np.int64)
    for rr in np.lexsort((run_ci, run_step)).tolist():
        runs_by_step[int(run_step[rr])].append(rr)

    sets: list[AllocationSet] = []
    for si, (s, e) in enumerate(grid.steps()):
        node_costs: list[NodeCost] = []
        allocations: list[Allocation] = []
        for k, n in enumerate(nodes):
            if life_e[k] <= s or life_s[k] >= e:
                continue
            node_costs.append(
                NodeCost(
                    n.name,
                    int(step_secs[k, si]),
                    int(step_total[0][k, si]),
                    int(step_total[1][k, si]),
                    int(step_total[2][k, si]),
                    int(step_idle[0][k, si]),
                    int(step_idle[1][k, si]),
                    int(step_idle[2][k, si]),
                    n.price,
                )
            )
            allocations.append(
                Allocation(
                    name=IDLE_NAME,
                    kind=IDLE,
                    properties=Properties(cluster=cluster, node=n.name, provider_id=n.provider_id),
                    window_start=s,
                    window_end=e,
                    start=max(s, int(life_s[k])),
                    end=min(e, int(life_e[k])),
                    cpu_micros=int(step_idle[0][k, si]),
                    ram_micros=int(step_idle[1][k, si]),
                    gpu_micros=int(step_idle[2][k, si]),
                )
            )
        for rr in runs_by_step[si]:
            k = int(run_ci[rr])
            c = containers[k]
            p = props.get(k)
            if p is None:
                node = node_of.get(c.node)
                p = props[k] = properties_of(
                    c, cluster, teams, nodes[node].provider_id if node is not None else ""
                )
            allocations.append(
                Allocation(
                    name="/".join(c.key),
                    kind=WORKLOAD,
                    properties=p,
                    window_start=s,
                    window_end=e,
                    start=int(s_lo[starts[rr]]),
                    end=int(s_hi[ends[rr]]),
                    cpu_core_seconds=float(run_cpu_cs[rr]),
                    cpu_request_core_seconds=float(run_cpu_req[rr]),
                    cpu_usage_core_seconds=float(run_cpu_use[rr]),
                    ram_byte_seconds=float(run_ram_bs[rr]),
                    ram_request_byte_seconds=float(run_ram_req[rr]),
                    ram_usage_byte_seconds=float(run_ram_use[rr]),
                    gpu_seconds=float(run_gpu_s[rr]),
                    cpu_micros=int(run_money[0][rr]),
                    ram_micros=int(run_money[1][rr]),
                    gpu_micros=int(run_money[2][rr]),
                )
            )
        sets.append(AllocationSet(s, e, tuple(allocations), tuple(node_costs)))
    return Allocated(tuple(sets), units, unplaced)
