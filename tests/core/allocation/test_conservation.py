"""Property: for random clusters, usage and windows, every step's allocations + idle
(+ unabsorbed shared) equal the nodes' cost (+ fixed shared costs), to the micro-dollar,
and the nodes' cost is their price over the time they ran."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from scaler.core.allocation.aggregate import aggregate
from scaler.core.allocation.compute import allocate
from scaler.core.allocation.model import ContainerInput, Grid, NodeInput
from scaler.core.allocation.money import accrued
from scaler.core.allocation.prices import NodePrice
from scaler.core.allocation.sharing import (
    EVEN,
    PROPORTIONAL,
    WEIGHTED,
    FixedCost,
    SharedWorkloads,
    ShareRule,
    SharingRules,
    share,
)
from scaler.core.allocation.teams import TeamRules

GIB = 1024**3
NAMESPACES = ("shop", "payments", "kube-system", "ml")


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Grid, list[NodeInput], list[ContainerInput], SharingRules]:
    resolution = draw(st.sampled_from([60, 300, 900, 3600]))
    steps = draw(st.integers(1, 4))
    per_step = draw(st.integers(1, 6))
    start = draw(st.integers(0, 10**6))
    start -= start % resolution
    end = start + resolution * per_step * steps - draw(st.integers(0, resolution - 1))
    grid = Grid(start, end, resolution, resolution * per_step)
    nodes = []
    for i in range(draw(st.integers(1, 4))):
        s = draw(st.integers(start - 7200, end))
        e = draw(st.integers(s + 1, end + 7200))
        price = draw(st.integers(0, 40_000_000))
        nodes.append(NodeInput(
            name=f"n{i}", cpu_cores=draw(st.sampled_from([0, 0.5, 2, 4, 96])),
            ram_bytes=draw(st.sampled_from([0, 1, 4, 768])) * GIB,
            gpus=draw(st.sampled_from([0, 0, 1, 8])), start=s, end=e,
            price=NodePrice(price / 1e6, price, "on-demand", False),
            gpu_per_hour_micros=draw(st.sampled_from([None, 500_000, 90_000_000])),
        ))
    containers = []
    grid_points = list(range(start, end, resolution))
    for j in range(draw(st.integers(0, 8))):
        times = sorted(draw(st.sets(st.sampled_from(grid_points), max_size=len(grid_points))))
        n = len(times)
        vals = st.floats(0, 64, allow_nan=False)
        containers.append(ContainerInput(
            namespace=draw(st.sampled_from(NAMESPACES)), pod=f"p{j}", container="c",
            node=draw(st.sampled_from([*(x.name for x in nodes), "gone"])),
            timestamps=tuple(times),
            cpu_request=tuple(draw(vals) for _ in range(n)),
            cpu_usage=tuple(draw(vals) for _ in range(n)),
            ram_request=tuple(draw(vals) * GIB for _ in range(n)),
            ram_usage=tuple(draw(vals) * GIB for _ in range(n)),
            gpu_request=tuple(draw(st.sampled_from([0, 1])) for _ in range(n)),
            labels={"tier": draw(st.sampled_from(["gold", "bronze"]))},
        ))
    rule = draw(st.sampled_from([
        ShareRule(EVEN), ShareRule(PROPORTIONAL), ShareRule(WEIGHTED, {"shop": 2, "ml": 1}),
        ShareRule(WEIGHTED, {"absent": 1}),
    ]))
    rules = SharingRules(
        share_idle=draw(st.booleans()),
        shared=draw(st.sampled_from([(), (SharedWorkloads(rule, namespaces=("kube-*",)),),
                                     (SharedWorkloads(rule, labels={"tier": "gold"}),)])),
        fixed=draw(st.sampled_from([(), (FixedCost("nat", Fraction("0.135"), rule),),
                                    (FixedCost("plan", Fraction(1000, 730), rule),)])),
    )
    return grid, nodes, containers, rules


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_every_step_adds_up_to_node_cost_and_fixed_costs(
    scenario: tuple[Grid, list[NodeInput], list[ContainerInput], SharingRules],
) -> None:
    grid, nodes, containers, rules = scenario
    teams = TeamRules(namespaces=(("shop", ("shop",)), ("ml", ("ml",))))
    result = allocate(grid, nodes, containers, cluster="c", teams=teams)
    sets = share(result.sets, rules, grid.start, "c")
    assert len(sets) == len(grid.steps())
    for raw, step in zip(result.sets, sets, strict=True):
        assert raw.total_micros == raw.node_micros
        assert step.total_micros == step.node_micros + step.fixed_shared_micros
        for key in (["namespace"], ["team", "label:tier"], ["cluster"]):
            named = aggregate(step, key, include_idle=True)
            assert sum(a.total_micros for a in named.values()) == step.total_micros
        assert all(a.total_micros >= 0 for a in step.allocations)
    # The nodes' cost over the window is their price for the time they ran in it.
    for n in nodes:
        lo, hi = max(n.start, grid.start), min(n.end, grid.end)
        billed = sum(c.total_micros for s in sets for c in s.nodes if c.node == n.name)
        assert billed == (accrued(n.price.per_hour_micros, hi - lo) if hi > lo else 0)


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_columnar_allocation_is_the_loop_to_the_bit(
    scenario: tuple[Grid, list[NodeInput], list[ContainerInput], SharingRules],
) -> None:
    """The numpy allocation gives every figure of the per-sample loop: the same integer
    micro-dollars and the same floats, step by step, and the same unit costs for savings."""
    from scaler.core.allocation.columnar import allocate_columnar
    from scaler.core.allocation.compute import allocate_loop
    from scaler.core.allocation.prices import ResourceRatios

    grid, nodes, containers, _ = scenario
    teams = TeamRules(namespaces=(("shop", ("shop",)), ("ml", ("ml",))))
    loop = allocate_loop(grid, nodes, containers, cluster="c", teams=teams)
    columns = allocate_columnar(grid, nodes, containers, ResourceRatios(), "c", teams)
    assert columns is not None  # the scenarios stay within what the columns take
    assert columns.sets == loop.sets
    assert columns.units == loop.units
    assert columns.unplaced_seconds == loop.unplaced_seconds
    # and with no node inventory at all, everything is unplaced, as in the loop
    bare = allocate_columnar(grid, [], containers, ResourceRatios(), "c", teams)
    assert bare is not None
    assert bare.unplaced_seconds == allocate_loop(grid, [], containers).unplaced_seconds
