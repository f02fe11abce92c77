"""Step 1 of allocation: each node's cost per interval, charged to the containers on it.

Per interval of the grid (OpenCost's resolution) and per node: the node's cost over the part
of the interval it ran, split into CPU, RAM and GPU (prices.split_node_cost); each resource's
cost split over the containers that ran in the interval, weighted by max(request, usage), and
over idle, weighted by the capacity nobody took. When the containers take more than the node
has (usage above requests can do that), they share the whole cost in proportion and idle is
zero: the node's cost is never exceeded.

Weights are integers (millicores, bytes, milli-GPUs) and every split is exact, so each node's
cost per interval is accounted for to the micro-dollar.

`allocate` does this on numpy arrays (scaler.core.allocation.columnar): the same integer splits
and the same float sums in the same order, so its figures are those of `allocate_loop`, the
per-sample reference kept here for the tests and for inputs the arrays do not take (one
container key on several entries, amounts that could overflow 64-bit products).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

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
from scaler.core.allocation.money import accrued, split
from scaler.core.allocation.prices import ResourceRatios, split_node_cost
from scaler.core.allocation.teams import TeamRules


@dataclass(slots=True)
class _Charge:
    first: int = 0
    last: int = 0
    cpu_core_seconds: float = 0.0
    cpu_request_core_seconds: float = 0.0
    cpu_usage_core_seconds: float = 0.0
    ram_byte_seconds: float = 0.0
    ram_request_byte_seconds: float = 0.0
    ram_usage_byte_seconds: float = 0.0
    gpu_seconds: float = 0.0
    cpu: int = 0
    ram: int = 0
    gpu: int = 0


@dataclass(slots=True)
class UnitCosts:
    """What one core / one byte cost a container over the intervals it ran (micro-dollars),
    and what its requests cost: enough to price "at requests" vs "at usage" afterwards."""

    seconds: int = 0
    per_core: float = 0.0
    per_byte: float = 0.0
    at_requests: float = 0.0
    samples: list[int] = field(default_factory=list)  # indexes of the samples charged


@dataclass(frozen=True, slots=True)
class Allocated:
    sets: tuple[AllocationSet, ...]
    units: dict[tuple[str, str, str], UnitCosts]
    # Container-seconds with no node to charge (node unknown or not running then).
    unplaced_seconds: int = 0


def properties_of(
    c: ContainerInput, cluster: str, teams: TeamRules | None, provider_id: str = ""
) -> Properties:
    return Properties(
        cluster=cluster,
        node=c.node,
        namespace=c.namespace,
        pod=c.pod,
        container=c.container,
        controller_kind=c.controller_kind,
        controller=c.controller,
        team=teams.team_of(c) if teams else "",
        labels=c.labels,
        annotations=c.annotations,
        services=c.services,
        provider_id=provider_id,
        namespace_labels=c.namespace_labels,
    )


def _provider(node_by: dict[str, NodeInput], node: str) -> str:
    n = node_by.get(node)
    return n.provider_id if n else ""


def _milli(x: float) -> int:
    return max(int(round(x * 1000)), 0)


def allocate_loop(
    grid: Grid,
    nodes: Sequence[NodeInput],
    containers: Sequence[ContainerInput],
    ratios: ResourceRatios | None = None,
    cluster: str = "",
    teams: TeamRules | None = None,
) -> Allocated:
    ratios = ratios or ResourceRatios()
    res = grid.resolution
    node_by = {n.name: n for n in nodes}
    # node -> interval start -> [(container index, sample index)]
    placed: dict[str, dict[int, dict[int, int]]] = {n.name: {} for n in nodes}
    unplaced = 0
    for ci, c in enumerate(containers):
        n = node_by.get(c.node)
        for j, t in enumerate(c.timestamps):
            if not grid.start <= t < grid.end:
                continue
            t0 = grid.start + (t - grid.start) // res * res
            if n is None or not (n.start < t0 + res and t0 < n.end):
                unplaced += min(t0 + res, grid.end) - t0
                continue
            placed[c.node].setdefault(t0, {})[ci] = j

    units: dict[tuple[str, str, str], UnitCosts] = {}
    sets: list[AllocationSet] = []
    for s, e in grid.steps():
        charges: dict[int, _Charge] = {}
        node_costs: list[NodeCost] = []
        allocations: list[Allocation] = []
        for n in nodes:
            life_s, life_e = max(n.start, grid.start), min(n.end, grid.end)
            if life_e <= s or life_s >= e:
                continue
            total = [0, 0, 0]
            idle = [0, 0, 0]
            seconds = 0
            cap = (_milli(n.cpu_cores), max(int(n.ram_bytes), 0), _milli(n.gpus))
            for a, b in grid.intervals(s, e):
                lo, hi = max(a, life_s), min(b, life_e)
                if hi <= lo:
                    continue
                secs = hi - lo
                seconds += secs
                per_hour = n.price.per_hour_micros
                cost = accrued(per_hour, hi - life_s) - accrued(per_hour, lo - life_s)
                pools = split_node_cost(
                    cost, secs, n.cpu_cores, n.ram_bytes, n.gpus, ratios, n.gpu_per_hour_micros
                )
                members = sorted(placed[n.name].get(a, {}).items())
                weights: list[list[int]] = [[], [], []]
                for ci, j in members:
                    c = containers[ci]
                    weights[0].append(max(_milli(c.cpu_request[j]), _milli(c.cpu_usage[j])))
                    weights[1].append(
                        max(int(c.ram_request[j]), int(c.ram_usage[j]), 0)
                    )
                    weights[2].append(_milli(c.gpu_request[j]) if c.gpu_request else 0)
                shares: list[list[int]] = []
                for r in range(3):
                    taken = sum(weights[r])
                    spare = max(cap[r] - taken, 0)
                    if taken == 0 and spare == 0:
                        spare = 1  # nobody can take it: idle
                    parts = split(pools[r], [*weights[r], spare])
                    shares.append(parts)
                    total[r] += pools[r]
                    idle[r] += parts[-1]
                for m, (ci, j) in enumerate(members):
                    c = containers[ci]
                    ch = charges.get(ci)
                    if ch is None:
                        ch = charges[ci] = _Charge(first=lo, last=hi)
                    ch.first, ch.last = min(ch.first, lo), max(ch.last, hi)
                    ch.cpu_core_seconds += weights[0][m] / 1000 * secs
                    ch.cpu_request_core_seconds += c.cpu_request[j] * secs
                    ch.cpu_usage_core_seconds += c.cpu_usage[j] * secs
                    ch.ram_byte_seconds += weights[1][m] * secs
                    ch.ram_request_byte_seconds += c.ram_request[j] * secs
                    ch.ram_usage_byte_seconds += c.ram_usage[j] * secs
                    ch.gpu_seconds += weights[2][m] / 1000 * secs
                    ch.cpu += shares[0][m]
                    ch.ram += shares[1][m]
                    ch.gpu += shares[2][m]
                    u = units.get(c.key)
                    if u is None:
                        u = units[c.key] = UnitCosts()
                    per_core = pools[0] / n.cpu_cores if n.cpu_cores > 0 else 0.0
                    per_byte = pools[1] / n.ram_bytes if n.ram_bytes > 0 else 0.0
                    u.seconds += secs
                    u.per_core += per_core
                    u.per_byte += per_byte
                    u.at_requests += c.cpu_request[j] * per_core + c.ram_request[j] * per_byte
                    u.samples.append(j)
            node_costs.append(
                NodeCost(
                    n.name, seconds, total[0], total[1], total[2], idle[0], idle[1], idle[2],
                    n.price,
                )
            )
            allocations.append(
                Allocation(
                    name=IDLE_NAME,
                    kind=IDLE,
                    properties=Properties(
                        cluster=cluster, node=n.name, provider_id=n.provider_id
                    ),
                    window_start=s,
                    window_end=e,
                    start=max(s, life_s),
                    end=min(e, life_e),
                    cpu_micros=idle[0],
                    ram_micros=idle[1],
                    gpu_micros=idle[2],
                )
            )
        for ci, ch in sorted(charges.items()):
            c = containers[ci]
            allocations.append(
                Allocation(
                    name="/".join(c.key),
                    kind=WORKLOAD,
                    properties=properties_of(c, cluster, teams, _provider(node_by, c.node)),
                    window_start=s,
                    window_end=e,
                    start=ch.first,
                    end=ch.last,
                    cpu_core_seconds=ch.cpu_core_seconds,
                    cpu_request_core_seconds=ch.cpu_request_core_seconds,
                    cpu_usage_core_seconds=ch.cpu_usage_core_seconds,
                    ram_byte_seconds=ch.ram_byte_seconds,
                    ram_request_byte_seconds=ch.ram_request_byte_seconds,
                    ram_usage_byte_seconds=ch.ram_usage_byte_seconds,
                    gpu_seconds=ch.gpu_seconds,
                    cpu_micros=ch.cpu,
                    ram_micros=ch.ram,
                    gpu_micros=ch.gpu,
                )
            )
        sets.append(AllocationSet(s, e, tuple(allocations), tuple(node_costs)))
    return Allocated(tuple(sets), units, unplaced)


def allocate(
    grid: Grid,
    nodes: Sequence[NodeInput],
    containers: Sequence[ContainerInput],
    ratios: ResourceRatios | None = None,
    cluster: str = "",
    teams: TeamRules | None = None,
) -> Allocated:
    from scaler.core.allocation.columnar import allocate_columnar

    done = allocate_columnar(grid, nodes, containers, ratios or ResourceRatios(), cluster, teams)
    if done is None:
        return allocate_loop(grid, nodes, containers, ratios, cluster, teams)
    return done
