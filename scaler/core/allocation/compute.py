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
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

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


@dataclass(slots=True, eq=False)
class UnitCosts:
    """What one core / one byte cost a container over the intervals it ran (micro-dollars),
    and what its requests cost: enough to price "at requests" vs "at usage" afterwards."""

    seconds: int = 0
    per_core: float = 0.0
    per_byte: float = 0.0
    at_requests: float = 0.0
    # indexes of the samples charged (an array from the columnar path: millions in a month)
    samples: list[int] | npt.NDArray[np.int64] = field(default_factory=list)

    def __eq__(self, other: object) -> bool:
        # by value, whether the samples are a list (the loop) or an array (the columns)
        if not isinstance(other, UnitCosts):
            return NotImplemented
        return (self.seconds, self.per_core, self.per_byte, self.at_requests) == (
            other.seconds, other.per_core, other.per_byte, other.at_requests
        ) and np.array_equal(np.asarray(self.samples), np.asarray(other.samples))

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass default


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


def _as_tuples(c: ContainerInput) -> ContainerInput:
    """The container with tuples of Python numbers: the loop's arithmetic on Python floats
    and ints, whatever the source held."""
    if all(
        isinstance(x, tuple)
        for x in (c.timestamps, c.cpu_request, c.cpu_usage, c.ram_request, c.ram_usage,
                  c.gpu_request)
    ):
        return c
    return replace(
        c,
        timestamps=tuple(np.asarray(c.timestamps).tolist()),
        cpu_request=tuple(np.asarray(c.cpu_request, np.float64).tolist()),
        cpu_usage=tuple(np.asarray(c.cpu_usage, np.float64).tolist()),
        ram_request=tuple(np.asarray(c.ram_request, np.float64).tolist()),
        ram_usage=tuple(np.asarray(c.ram_usage, np.float64).tolist()),
        gpu_request=tuple(np.asarray(c.gpu_request, np.float64).tolist()),
    )


def allocate_loop(
    grid: Grid,
    nodes: Sequence[NodeInput],
    containers: Sequence[ContainerInput],
    ratios: ResourceRatios | None = None,
    cluster: str = "",
    teams: TeamRules | None = None,
) -> Allocated:
    ratios = ratios or ResourceRatios()
    containers = [_as_tuples(c) for c in containers]
    node_by = {n.name: n for n in nodes}
    placed, unplaced = _place(grid, nodes, containers)
    units: dict[tuple[str, str, str], UnitCosts] = {}
    sets: list[AllocationSet] = []
    for s, e in grid.steps():
        charges: dict[int, _Charge] = {}
        ledger = _Ledger(containers, charges, units)
        node_costs: list[NodeCost] = []
        allocations: list[Allocation] = []
        for n in nodes:
            life_s, life_e = max(n.start, grid.start), min(n.end, grid.end)
            if life_e <= s or life_s >= e:
                continue
            node_cost = _charge_node(grid, n, s, e, placed[n.name], ratios, ledger)
            node_costs.append(node_cost)
            allocations.append(
                idle_allocation(node_cost, n.provider_id, cluster, s, e, life_s, life_e)
            )
        for ci, ch in sorted(charges.items()):
            c = containers[ci]
            props = properties_of(c, cluster, teams, _provider(node_by, c.node))
            allocations.append(_workload(c, ch, props, s, e))
        sets.append(AllocationSet(s, e, tuple(allocations), tuple(node_costs)))
    return Allocated(tuple(sets), units, unplaced)


def idle_allocation(
    cost: NodeCost, provider_id: str, cluster: str, s: int, e: int, life_s: int, life_e: int
) -> Allocation:
    """A node's idle cost in the step [s, e) as an allocation (the node ran from life_s to
    life_e within the window)."""
    return Allocation(
        name=IDLE_NAME,
        kind=IDLE,
        properties=Properties(cluster=cluster, node=cost.node, provider_id=provider_id),
        window_start=s,
        window_end=e,
        start=max(s, life_s),
        end=min(e, life_e),
        cpu_micros=cost.idle_cpu_micros,
        ram_micros=cost.idle_ram_micros,
        gpu_micros=cost.idle_gpu_micros,
    )


def _place(
    grid: Grid, nodes: Sequence[NodeInput], containers: Sequence[ContainerInput]
) -> tuple[dict[str, dict[int, dict[int, int]]], int]:
    """Each sample on the node it ran on, as node -> interval start -> {container index:
    sample index} (the last sample of an interval wins), and the container-seconds with no
    node running to charge."""
    res = grid.resolution
    node_by = {n.name: n for n in nodes}
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
    return placed, unplaced


@dataclass(frozen=True, slots=True)
class _Ledger:
    """The containers (as tuples) and where their charges go: per container index its charge
    in this step, per container key its unit costs (which run across steps)."""

    containers: Sequence[ContainerInput]
    charges: dict[int, _Charge]
    units: dict[tuple[str, str, str], UnitCosts]


def _charge_node(
    grid: Grid, n: NodeInput, s: int, e: int, placed: dict[int, dict[int, int]],
    ratios: ResourceRatios, ledger: _Ledger,
) -> NodeCost:
    """Node `n`'s cost in the step [s, e), interval by interval, split over the containers
    placed on it (charged into `ledger`) and idle."""
    life_s, life_e = max(n.start, grid.start), min(n.end, grid.end)
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
        members = sorted(placed.get(a, {}).items())
        weights = _weights(ledger.containers, members)
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
        per_core = pools[0] / n.cpu_cores if n.cpu_cores > 0 else 0.0
        per_byte = pools[1] / n.ram_bytes if n.ram_bytes > 0 else 0.0
        for m, (ci, j) in enumerate(members):
            ch = ledger.charges.get(ci)
            if ch is None:
                ch = ledger.charges[ci] = _Charge(first=lo, last=hi)
            ch.first, ch.last = min(ch.first, lo), max(ch.last, hi)
            _charge_sample(ch, ledger, ci, j, secs, [w[m] for w in weights],
                           [p[m] for p in shares], per_core, per_byte)
    return NodeCost(
        n.name, seconds, total[0], total[1], total[2], idle[0], idle[1], idle[2], n.price
    )


def _weights(
    containers: Sequence[ContainerInput], members: list[tuple[int, int]]
) -> list[list[int]]:
    """What each member sample takes of its node: max(request, usage) in millicores, bytes
    and milli-GPUs."""
    weights: list[list[int]] = [[], [], []]
    for ci, j in members:
        c = containers[ci]
        weights[0].append(max(_milli(c.cpu_request[j]), _milli(c.cpu_usage[j])))
        weights[1].append(max(int(c.ram_request[j]), int(c.ram_usage[j]), 0))
        weights[2].append(_milli(c.gpu_request[j]) if len(c.gpu_request) else 0)
    return weights


def _charge_sample(
    ch: _Charge, ledger: _Ledger, ci: int, j: int, secs: int, weight: list[int],
    share: list[int], per_core: float, per_byte: float,
) -> None:
    """Adds sample j of container ci, over `secs` seconds of an interval, to its charge and
    its unit costs."""
    c = ledger.containers[ci]
    ch.cpu_core_seconds += weight[0] / 1000 * secs
    ch.cpu_request_core_seconds += c.cpu_request[j] * secs
    ch.cpu_usage_core_seconds += c.cpu_usage[j] * secs
    ch.ram_byte_seconds += weight[1] * secs
    ch.ram_request_byte_seconds += c.ram_request[j] * secs
    ch.ram_usage_byte_seconds += c.ram_usage[j] * secs
    ch.gpu_seconds += weight[2] / 1000 * secs
    ch.cpu += share[0]
    ch.ram += share[1]
    ch.gpu += share[2]
    u = ledger.units.get(c.key)
    if u is None:
        u = ledger.units[c.key] = UnitCosts()
    u.seconds += secs
    u.per_core += per_core
    u.per_byte += per_byte
    u.at_requests += c.cpu_request[j] * per_core + c.ram_request[j] * per_byte
    assert isinstance(u.samples, list)
    u.samples.append(j)


def _workload(c: ContainerInput, ch: _Charge, props: Properties, s: int, e: int) -> Allocation:
    """Container c's charge in the step [s, e) as a workload allocation."""
    return Allocation(
        name="/".join(c.key),
        kind=WORKLOAD,
        properties=props,
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
