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

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scaler.core.allocation.compute import (
    Allocated,
    UnitCosts,
    idle_allocation,
    properties_of,
)
from scaler.core.allocation.model import (
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
    """One field of every container, end to end (arrays joined without Python floats)."""
    if not total:
        return np.zeros(0, np.float64)
    return np.concatenate([np.asarray(getattr(c, attr), dtype=np.float64) for c in containers])


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
    del gi, last  # (temporaries are freed as soon as done: these arrays are samples long)
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
    prod = pools_in[g_sorted] * w
    whole_s = whole[g_sorted]
    q = prod // whole_s
    rem = prod % whole_s
    del prod, whole_s
    left = pools_in - np.add.reduceat(q, starts)
    r_max = int(rem.max(initial=0))
    if n_groups * (r_max + 1) < SAFE:
        rank_order = np.argsort(g_sorted * (r_max + 1) + (r_max - rem), kind="stable")
    else:
        rank_order = np.lexsort((np.arange(len(w)), -rem, g_sorted))
    rank = np.empty(len(w), np.int64)
    rank[rank_order] = np.arange(len(w), dtype=np.int64) - starts[g_sorted[rank_order]]
    del rank_order, rem
    parts = q + (rank < left[g_sorted]).astype(np.int64)
    del q, rank
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


@dataclass(frozen=True, slots=True)
class _NodeTable:
    """Each node x interval cell of the grid: the part of it the node ran (lo, hi), its
    seconds and its cost split into CPU, RAM and GPU pools; `cells` are the flat indexes of
    the cells the node ran in (a dense group id each)."""

    n_int: int
    life_s: I64  # when each node ran, cut to the window
    life_e: I64
    lo: I64  # node x interval
    hi: I64
    secs: I64
    pools: I64  # node x interval x (cpu, ram, gpu)
    cells: I64


@dataclass(frozen=True, slots=True)
class _Charged:
    """The samples charged to a node, one per container and interval (the last, as the
    loop's dict keeps), in (container, interval) order."""

    container: I64
    interval: I64
    node: I64
    sample: I64  # the sample's index in its container's series
    group: I64  # the node x interval cell it is charged in, as a dense group id
    unplaced: int  # container-seconds with no node to charge


@dataclass(frozen=True, slots=True)
class _Values:
    """The charged samples' requests and usage, one column each."""

    cpu_req: F64
    cpu_use: F64
    ram_req: F64
    ram_use: F64
    gpu_req: F64


@dataclass(frozen=True, slots=True)
class _Runs:
    """One run per container and step: its charged samples, consecutive in (container,
    time) order, and what they add up to (the loop's float sums, in its order)."""

    step: I64
    container: I64
    start: I64  # when the run's first interval starts and its last ends
    end: I64
    cpu_core_seconds: F64
    cpu_request_core_seconds: F64
    cpu_usage_core_seconds: F64
    ram_byte_seconds: F64
    ram_request_byte_seconds: F64
    ram_usage_byte_seconds: F64
    gpu_seconds: F64
    money: tuple[I64, I64, I64]  # micro-dollars of CPU, RAM, GPU


@dataclass(frozen=True, slots=True)
class _StepSums:
    """Per node and step: seconds run, cost per resource and the idle part of it."""

    secs: I64
    total: tuple[I64, I64, I64]
    idle: tuple[I64, I64, I64]


def allocate_columnar(
    grid: Grid,
    nodes: Sequence[NodeInput],
    containers: Sequence[ContainerInput],
    ratios: ResourceRatios,
    cluster: str,
    teams: TeamRules | None,
) -> Allocated | None:
    if not _columns_take(nodes, containers):
        return None
    n_int = -(-(grid.end - grid.start) // grid.resolution)
    if len(nodes) * n_int > MAX_CELLS:
        return None
    table = _node_table(grid, nodes, ratios, n_int)
    if table is None:
        return None
    found = _charged_samples(grid, nodes, containers, table)
    if found is None:
        return None
    charged, sel = found
    values = _charged_values(containers, sel)
    del found, sel  # (samples-long arrays are let go as soon as done)
    if values is None:
        return None
    weights = _weights(values)
    shares = _shares(nodes, table, charged, weights)
    if shares is None:
        return None
    member_parts, idle_cells = shares
    secs = table.hi[charged.node, charged.interval] - table.lo[charged.node, charged.interval]
    secs_f = secs.astype(np.float64)
    runs = _runs(grid, table, charged, values, weights, member_parts, secs, secs_f)
    del member_parts, weights
    units = _unit_costs(nodes, containers, table, charged, values, secs_f)
    sums = _step_sums(grid, table, idle_cells)
    sets = _allocation_sets(grid, nodes, containers, table, sums, runs, cluster, teams)
    return Allocated(tuple(sets), units, charged.unplaced)


def _columns_take(nodes: Sequence[NodeInput], containers: Sequence[ContainerInput]) -> bool:
    """Whether the inputs fit the arrays: each container key and node name once, and every
    series of a container as long as its timestamps."""
    keys = [c.key for c in containers]
    if len(set(keys)) != len(keys) or len({n.name for n in nodes}) != len(nodes):
        return False
    for c in containers:
        n_ts = len(c.timestamps)
        lengths = (len(c.cpu_request), len(c.cpu_usage), len(c.ram_request), len(c.ram_usage))
        if any(x != n_ts for x in lengths) or (len(c.gpu_request) and len(c.gpu_request) != n_ts):
            return False
    return True


def _node_table(
    grid: Grid, nodes: Sequence[NodeInput], ratios: ResourceRatios, n_int: int
) -> _NodeTable | None:
    """The node x interval table (integer arithmetic: the loop's accrued() is a floor of
    integers); None when a price is negative or its products could pass 62 bits."""
    res, n_n = grid.resolution, len(nodes)
    n_start = np.array([n.start for n in nodes], dtype=np.int64)
    n_end = np.array([n.end for n in nodes], dtype=np.int64)
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
    pools = _pools(nodes, ratios, valid, cost, secs)
    cells = np.flatnonzero(valid.reshape(-1))
    return _NodeTable(n_int, life_s, life_e, lo, hi, secs, pools, cells)


def _pools(
    nodes: Sequence[NodeInput], ratios: ResourceRatios, valid: npt.NDArray[np.bool_],
    cost: I64, secs: I64,
) -> I64:
    """Each cell's cost split into CPU, RAM and GPU (prices.split_node_cost), computed once
    per distinct (cost, seconds) of a node."""
    pools = np.zeros((len(nodes), valid.shape[1], 3), np.int64)
    for k, n in enumerate(nodes):
        row = np.flatnonzero(valid[k])
        if not len(row):
            continue
        pairs = np.stack([cost[k, row], secs[k, row]], axis=1)
        uniq, inverse = np.unique(pairs, axis=0, return_inverse=True)
        splits = np.array(
            [
                split_node_cost(
                    int(cc), int(ss), n.cpu_cores, n.ram_bytes, n.gpus, ratios,
                    n.gpu_per_hour_micros,
                )
                for cc, ss in uniq
            ],
            dtype=np.int64,
        ).reshape(-1, 3)
        pools[k, row] = splits[np.asarray(inverse).reshape(-1)]
    return pools


def _charged_samples(
    grid: Grid, nodes: Sequence[NodeInput], containers: Sequence[ContainerInput],
    table: _NodeTable,
) -> tuple[_Charged, I64] | None:
    """The samples charged to a node-interval, and their indexes among all samples (to cut
    the value columns with); None when a timestamp is not a whole number."""
    res, n_c, n_int = grid.resolution, len(containers), table.n_int
    counts = np.fromiter((len(c.timestamps) for c in containers), np.int64, n_c)
    total = int(counts.sum())
    ts_f = _column(containers, "timestamps", total)
    if not np.all(np.isfinite(ts_f)) or np.any(ts_f != np.floor(ts_f)):
        return None
    ts = ts_f.astype(np.int64)
    del ts_f
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
    if len(nodes):
        alive = has_node & (n_start[nk_safe] < t0 + res) & (t0 < n_end[nk_safe])
    else:
        alive = np.zeros(total, bool)
    lost = inside & ~alive
    unplaced = int((np.minimum(t0[lost] + res, grid.end) - t0[lost]).sum())
    placed = np.flatnonzero(inside & alive)
    del inside, alive, lost, has_node, nk_safe, t0, ts
    sel = _last_per_interval(placed, ci[placed] * n_int + i_all[placed])
    del placed

    group_of_cell = np.full(len(nodes) * n_int, -1, np.int64)
    group_of_cell[table.cells] = np.arange(len(table.cells), dtype=np.int64)
    g_sel = group_of_cell[nk[sel] * n_int + i_all[sel]]
    charged = g_sel >= 0
    sel, g_sel = sel[charged], g_sel[charged]
    return _Charged(ci[sel], i_all[sel], nk[sel], j[sel], g_sel, unplaced), sel


def _last_per_interval(placed: I64, key: I64) -> I64:
    """Of the placed samples, the last per container and interval (`key`), as the loop's
    dict keeps, in (container, interval) order."""
    keep_last = np.ones(len(key), bool)
    if len(key) < 2 or bool(np.all(key[1:] >= key[:-1])):
        # already in order (series ascending, as sources give them): the stable sort would
        # be the identity
        keep_last[:-1] = key[1:] != key[:-1]
        return placed[keep_last]
    order = np.argsort(key, kind="stable")
    key_sorted = key[order]
    keep_last[:-1] = key_sorted[1:] != key_sorted[:-1]
    return placed[order[keep_last]]


def _charged_values(containers: Sequence[ContainerInput], sel: I64) -> _Values | None:
    """The value columns cut to the charged samples, built one at a time (a month of a large
    cluster is millions of samples, each column tens of MB); None for any value the arrays
    cannot take (not finite, or its thousandth could pass 62 bits)."""
    total = sum(len(c.timestamps) for c in containers)
    charged_cols: list[F64] = []
    for attr in ("cpu_request", "cpu_usage", "ram_request", "ram_usage", "gpu_request"):
        if attr == "gpu_request":
            full = (
                np.concatenate(
                    [
                        np.asarray(c.gpu_request, np.float64)
                        if len(c.gpu_request)
                        else np.zeros(len(c.timestamps), np.float64)
                        for c in containers
                    ]
                )
                if total
                else np.zeros(0, np.float64)
            )
        else:
            full = _column(containers, attr, total)
        if not np.all(np.isfinite(full)) or np.any(np.abs(full) * 1000 >= SAFE):
            return None
        charged_cols.append(full[sel])
        del full
    return _Values(*charged_cols)


def _weights(v: _Values) -> tuple[I64, I64, I64]:
    """What each charged sample takes of its node: max(request, usage) in millicores, bytes
    and milli-GPUs."""
    return (
        np.maximum(_milli(v.cpu_req), _milli(v.cpu_use)),
        np.maximum(np.maximum(np.trunc(v.ram_req), np.trunc(v.ram_use)), 0).astype(np.int64),
        _milli(v.gpu_req),
    )


def _shares(
    nodes: Sequence[NodeInput], table: _NodeTable, charged: _Charged,
    weights: tuple[I64, I64, I64],
) -> tuple[list[I64], I64] | None:
    """Each cell's pools split over its samples and the capacity nobody took: (the
    samples' parts per resource, the idle parts as a flat cell x resource table)."""
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
    cells = table.cells
    node_of_group = cells // table.n_int
    pools_g = table.pools.reshape(-1, 3)[cells]
    member_parts: list[I64] = []
    idle_cells = np.zeros((len(nodes) * table.n_int, 3), np.int64)
    for r in range(3):
        done = _split_groups(
            pools_g[:, r], weights[r], charged.group, cap_node[node_of_group, r], len(cells)
        )
        if done is None:
            return None
        member_parts.append(done[0])
        idle_cells[cells, r] = done[1]
    return member_parts, idle_cells


def _runs(
    grid: Grid, table: _NodeTable, charged: _Charged, v: _Values,
    weights: tuple[I64, I64, I64], member_parts: list[I64], secs: I64, secs_f: F64,
) -> _Runs:
    """The charged samples gathered per container and step, their figures summed by
    np.bincount (which adds in array order: the loop's order)."""
    s_ci = charged.container
    s_step = charged.interval // (grid.step // grid.resolution)
    boundary = np.ones(len(s_ci), bool)
    if len(s_ci):
        boundary[1:] = (s_ci[1:] != s_ci[:-1]) | (s_step[1:] != s_step[:-1])
    run = np.cumsum(boundary) - 1
    n_runs = int(run[-1]) + 1 if len(s_ci) else 0
    starts = np.flatnonzero(boundary)
    ends = np.append(starts[1:], len(s_ci)) - 1 if len(s_ci) else starts
    del boundary

    def fsum(x: F64) -> F64:
        out: F64 = np.bincount(run, weights=x, minlength=n_runs).astype(np.float64)
        return out

    def isum(x: I64) -> I64:
        return np.add.reduceat(x, starts) if len(s_ci) else np.zeros(0, np.int64)

    first, last = charged.interval[starts], charged.interval[ends]
    return _Runs(
        step=s_step[starts],
        container=s_ci[starts],
        start=table.lo[charged.node[starts], first],
        end=table.hi[charged.node[ends], last],
        cpu_core_seconds=fsum(weights[0].astype(np.float64) / 1000 * secs_f),
        cpu_request_core_seconds=fsum(v.cpu_req * secs_f),
        cpu_usage_core_seconds=fsum(v.cpu_use * secs_f),
        ram_byte_seconds=fsum((weights[1] * secs).astype(np.float64)),
        ram_request_byte_seconds=fsum(v.ram_req * secs_f),
        ram_usage_byte_seconds=fsum(v.ram_use * secs_f),
        gpu_seconds=fsum(weights[2].astype(np.float64) / 1000 * secs_f),
        money=(isum(member_parts[0]), isum(member_parts[1]), isum(member_parts[2])),
    )


def _unit_costs(
    nodes: Sequence[NodeInput], containers: Sequence[ContainerInput], table: _NodeTable,
    charged: _Charged, v: _Values, secs_f: F64,
) -> dict[tuple[str, str, str], UnitCosts]:
    """Unit costs per container over every interval it was charged in."""
    n_c = len(containers)
    cores = np.array([n.cpu_cores for n in nodes], dtype=np.float64)
    ram_b = np.array([n.ram_bytes for n in nodes], dtype=np.float64)
    s_ci, s_node = charged.container, charged.node
    s_pools = table.pools[s_node, charged.interval]
    per_core = np.where(cores[s_node] > 0, s_pools[:, 0] / np.where(cores > 0, cores, 1)[s_node],
                        0.0)
    per_byte = np.where(ram_b[s_node] > 0, s_pools[:, 1] / np.where(ram_b > 0, ram_b, 1)[s_node],
                        0.0)
    del s_pools
    at_req = v.cpu_req * per_core + v.ram_req * per_byte

    def fsum(x: F64) -> F64:
        out: F64 = np.bincount(s_ci, weights=x, minlength=n_c).astype(np.float64)
        return out

    u_seconds = np.bincount(s_ci, weights=secs_f, minlength=n_c)
    u_core, u_byte, u_req = fsum(per_core), fsum(per_byte), fsum(at_req)
    c_bounds = np.searchsorted(s_ci, np.arange(n_c + 1, dtype=np.int64))
    units: dict[tuple[str, str, str], UnitCosts] = {}
    for k in np.unique(s_ci).tolist():
        units[containers[k].key] = UnitCosts(
            seconds=int(u_seconds[k]),
            per_core=float(u_core[k]),
            per_byte=float(u_byte[k]),
            at_requests=float(u_req[k]),
            samples=charged.sample[c_bounds[k]:c_bounds[k + 1]],
        )
    return units


def _step_sums(grid: Grid, table: _NodeTable, idle_cells: I64) -> _StepSums:
    """Per step and node: seconds, cost and idle (integer sums: any order is exact)."""
    n_n, n_int = table.secs.shape
    per_step = grid.step // grid.resolution
    n_steps = len(grid.steps())
    pad = n_steps * per_step - n_int

    def by_step(x: I64) -> I64:
        out: I64 = np.pad(x, ((0, 0), (0, pad))).reshape(n_n, n_steps, per_step).sum(axis=2)
        return out

    idle3 = idle_cells.reshape(n_n, n_int, 3)
    return _StepSums(
        by_step(table.secs),
        (by_step(table.pools[:, :, 0]), by_step(table.pools[:, :, 1]),
         by_step(table.pools[:, :, 2])),
        (by_step(idle3[:, :, 0]), by_step(idle3[:, :, 1]), by_step(idle3[:, :, 2])),
    )


def _allocation_sets(
    grid: Grid, nodes: Sequence[NodeInput], containers: Sequence[ContainerInput],
    table: _NodeTable, sums: _StepSums, runs: _Runs, cluster: str, teams: TeamRules | None,
) -> list[AllocationSet]:
    """One set per step: each node's cost and idle allocation, then the containers' runs
    in container order."""
    runs_by_step: list[list[int]] = [[] for _ in grid.steps()]
    for rr in np.lexsort((runs.container, runs.step)).tolist():
        runs_by_step[int(runs.step[rr])].append(rr)
    node_of = {n.name: k for k, n in enumerate(nodes)}
    props: dict[int, Properties] = {}
    sets: list[AllocationSet] = []
    for si, (s, e) in enumerate(grid.steps()):
        node_costs, allocations = _node_rows(nodes, table, sums, si, s, e, cluster)
        for rr in runs_by_step[si]:
            k = int(runs.container[rr])
            c = containers[k]
            p = props.get(k)
            if p is None:
                node = node_of.get(c.node)
                p = props[k] = properties_of(
                    c, cluster, teams, nodes[node].provider_id if node is not None else ""
                )
            allocations.append(_workload(runs, rr, "/".join(c.key), p, s, e))
        sets.append(AllocationSet(s, e, tuple(allocations), tuple(node_costs)))
    return sets


def _node_rows(
    nodes: Sequence[NodeInput], table: _NodeTable, sums: _StepSums, si: int, s: int, e: int,
    cluster: str,
) -> tuple[list[NodeCost], list[Allocation]]:
    """The cost of each node that ran in step `si` ([s, e)), and its idle allocation."""
    node_costs: list[NodeCost] = []
    allocations: list[Allocation] = []
    total, idle = sums.total, sums.idle
    for k, n in enumerate(nodes):
        if table.life_e[k] <= s or table.life_s[k] >= e:
            continue
        cost = NodeCost(
            n.name,
            int(sums.secs[k, si]),
            int(total[0][k, si]),
            int(total[1][k, si]),
            int(total[2][k, si]),
            int(idle[0][k, si]),
            int(idle[1][k, si]),
            int(idle[2][k, si]),
            n.price,
        )
        node_costs.append(cost)
        allocations.append(idle_allocation(
            cost, n.provider_id, cluster, s, e, int(table.life_s[k]), int(table.life_e[k])
        ))
    return node_costs, allocations


def _workload(runs: _Runs, rr: int, name: str, p: Properties, s: int, e: int) -> Allocation:
    """Run `rr` as a workload allocation of the step [s, e)."""
    return Allocation(
        name=name,
        kind=WORKLOAD,
        properties=p,
        window_start=s,
        window_end=e,
        start=int(runs.start[rr]),
        end=int(runs.end[rr]),
        cpu_core_seconds=float(runs.cpu_core_seconds[rr]),
        cpu_request_core_seconds=float(runs.cpu_request_core_seconds[rr]),
        cpu_usage_core_seconds=float(runs.cpu_usage_core_seconds[rr]),
        ram_byte_seconds=float(runs.ram_byte_seconds[rr]),
        ram_request_byte_seconds=float(runs.ram_request_byte_seconds[rr]),
        ram_usage_byte_seconds=float(runs.ram_usage_byte_seconds[rr]),
        gpu_seconds=float(runs.gpu_seconds[rr]),
        cpu_micros=int(runs.money[0][rr]),
        ram_micros=int(runs.money[1][rr]),
        gpu_micros=int(runs.money[2][rr]),
    )
