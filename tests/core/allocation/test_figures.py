"""Allocation figures worked out by hand for a one-node cluster over one hour.

Node a: 4 cores, 16 GiB, $0.20/h; with $0.03/core-h and $0.005/GiB-h ratios its hour is
$0.12 of CPU and $0.08 of RAM. Containers (request / usage):

    shop/web-1/app          cpu 1 / 0.5    ram 4 / 2 GiB    1 h   -> 0.03 + 0.02  = 0.05
    shop/web-1/sidecar      cpu 0.5 / 1.5  ram 1 / 0.5 GiB  1 h   -> 0.045 + 0.005 = 0.05
    kube-system/dns/coredns cpu 0.5 / 0.1  ram 2 / 1 GiB    0.5 h -> 0.0075 + 0.005 = 0.0125
    payments/api-1/app      cpu 1 / 1      ram 4 / 4 GiB    1 h   -> 0.03 + 0.02  = 0.05

Idle: CPU 0.12 - 0.1125 = 0.0075, RAM 0.08 - 0.05 = 0.03; 0.0375 in all. Sum: 0.20.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from scaler.core.allocation.aggregate import aggregate
from scaler.core.allocation.compute import allocate
from scaler.core.allocation.model import IDLE_NAME, SHARED_NAME, Allocation, Grid
from scaler.core.allocation.prices import (
    ListPrice,
    PricingRules,
    ReservedRate,
    SavingsPlanRate,
    effective_prices,
    split_node_cost,
)
from scaler.core.allocation.savings import workload_savings
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
from tests.core.allocation.cluster import GIB, ROUND_RATIOS, container, node

GRID = Grid(0, 3600, 1800, 3600)
HALF = [0, 1800]
CONTAINERS = [
    container("shop", "web-1", "app", "a", HALF, 1, 0.5, 4, 2, controller="web", kind="Deployment"),
    container("shop", "web-1", "sidecar", "a", HALF, 0.5, 1.5, 1, 0.5, controller="web",
              kind="Deployment"),
    container("kube-system", "dns", "coredns", "a", [0], 0.5, 0.1, 2, 1),
    container("payments", "api-1", "app", "a", HALF, 1, 1, 4, 4, labels={"tier": "gold"}),
]
TEAMS = TeamRules(namespaces=(("shop", ("shop",)), ("payments", ("pay*",))))


def allocated(share_rules: SharingRules | None = None) -> dict[str, Allocation]:
    result = allocate(GRID, [node("a", 0.20)], CONTAINERS, ROUND_RATIOS, "c1", TEAMS)
    sets = share(result.sets, share_rules or SharingRules(), GRID.start, "c1")
    (step,) = sets
    assert step.total_micros == step.node_micros + step.fixed_shared_micros
    return aggregate(step, ["namespace", "pod", "container"], include_idle=True)


def test_each_container_pays_max_of_request_and_usage_for_the_time_it_ran() -> None:
    got = allocated()
    app = got["shop/web-1/app"]
    assert (app.cpu_micros, app.ram_micros) == (30_000, 20_000)
    sidecar = got["shop/web-1/sidecar"]  # usage above request: charged for usage
    assert (sidecar.cpu_micros, sidecar.ram_micros) == (45_000, 5_000)
    dns = got["kube-system/dns/coredns"]  # ran half the hour
    assert (dns.cpu_micros, dns.ram_micros) == (7_500, 5_000)
    assert dns.cpu_core_seconds == pytest.approx(0.5 * 1800)
    assert got["payments/api-1/app"].total_micros == 50_000


def test_idle_is_node_cost_minus_allocated() -> None:
    idle = allocated()[IDLE_NAME]
    assert (idle.cpu_micros, idle.ram_micros, idle.gpu_micros) == (7_500, 30_000, 0)


def test_efficiency_is_usage_over_request() -> None:
    app = allocated()["shop/web-1/app"]
    assert app.cpu_usage_core_seconds / app.cpu_request_core_seconds == pytest.approx(0.5)
    assert app.ram_usage_byte_seconds / app.ram_request_byte_seconds == pytest.approx(0.5)


def test_shared_namespace_split_evenly_over_teams_then_by_cost_within_a_team() -> None:
    rules = SharingRules(shared=(SharedWorkloads(ShareRule(EVEN), namespaces=("kube-*",)),))
    got = allocated(rules)
    assert "kube-system/dns/coredns" not in got
    # 0.0125 -> 0.00625 per team; shop's half split 50/50 by its two containers' cost.
    assert got["shop/web-1/app"].shared_micros == 3_125
    assert got["shop/web-1/sidecar"].shared_micros == 3_125
    assert got["payments/api-1/app"].shared_micros == 6_250


def test_weighted_and_proportional_splits() -> None:
    weighted = SharedWorkloads(ShareRule(WEIGHTED, {"shop": 3, "payments": 1}), ("kube-system",))
    got = allocated(SharingRules(shared=(weighted,)))
    assert got["payments/api-1/app"].shared_micros == 3_125  # a quarter of 12_500
    by_cost = SharedWorkloads(ShareRule(PROPORTIONAL), ("kube-system",))
    got = allocated(SharingRules(shared=(by_cost,)))
    # shop costs 0.10, payments 0.05: two thirds and one third of 12_500.
    assert got["payments/api-1/app"].shared_micros == 4_167
    assert got["shop/web-1/app"].shared_micros + got["shop/web-1/sidecar"].shared_micros == 8_333


def test_shared_by_label_and_fixed_costs() -> None:
    rules = SharingRules(
        shared=(SharedWorkloads(ShareRule(EVEN), labels={"tier": "gold"}),),
        fixed=(FixedCost("nat", Fraction("0.135"), ShareRule(EVEN)),),
    )
    got = allocated(rules)
    assert "payments/api-1/app" not in got
    # payments's 0.05 goes to the other teams: shop and unallocated (kube-system's team).
    # 0.135 fixed: the same two teams.
    shop = got["shop/web-1/app"].shared_micros + got["shop/web-1/sidecar"].shared_micros
    assert shop == 25_000 + 67_500
    assert got["kube-system/dns/coredns"].shared_micros == 25_000 + 67_500


def test_idle_shared_back_by_cost_of_each_resource() -> None:
    got = allocated(SharingRules(share_idle=True))
    assert IDLE_NAME not in got
    # CPU idle 7_500 by CPU cost 30:45:7.5:30 (of 112.5); RAM idle 30_000 by 20:5:5:20 (of 50).
    assert got["shop/web-1/app"].cpu_micros == 30_000 + 2_000
    assert got["shop/web-1/app"].ram_micros == 20_000 + 12_000
    assert got["shop/web-1/sidecar"].cpu_micros == 45_000 + 3_000
    assert got["kube-system/dns/coredns"].ram_micros == 5_000 + 3_000


def test_shared_costs_nobody_can_take_stay_as_one_line() -> None:
    rules = SharingRules(fixed=(FixedCost("support", Fraction(1000, 730), ShareRule(
        WEIGHTED, {"nobody-here": 1})),))
    got = allocated(rules)
    assert got[SHARED_NAME].shared_micros == round(1_000_000_000 / 730)


def test_aggregation_by_team_and_label() -> None:
    result = allocate(GRID, [node("a", 0.20)], CONTAINERS, ROUND_RATIOS, "c1", TEAMS)
    (step,) = result.sets
    by_team = aggregate(step, ["team"], include_idle=False)
    assert {k: v.total_micros for k, v in by_team.items()} == {
        "shop": 100_000, "payments": 50_000, "unallocated": 12_500}
    by_label = aggregate(step, ["namespace", "label:tier"], include_idle=False)
    assert set(by_label) == {"shop/__unallocated__", "payments/gold",
                             "kube-system/__unallocated__"}


def test_node_price_split_scales_fixed_ratios_to_the_node_price() -> None:
    # OpenCost's example: 1 GPU, 1 CPU, 1 GB at $35 with base prices 30/30/10 -> 15/15/5.
    from scaler.core.allocation.prices import ResourceRatios
    ratios = ResourceRatios(Fraction(30), Fraction(10), Fraction(30))
    assert split_node_cost(35, 3600, 1, GIB, 1, ratios) == (15, 5, 15)
    # A known GPU price comes first; the rest is CPU and RAM in their ratio.
    assert split_node_cost(35, 3600, 1, GIB, 1, ratios, gpu_per_hour_micros=27) == (6, 2, 27)


def test_reserved_instances_savings_plans_and_discount() -> None:
    def lp(name: str, itype: str, ct: str, start: int, end: int) -> ListPrice:
        return ListPrice(name, itype, itype.split(".")[0], ct, 0.192, False, start, end)

    rules = PricingRules(
        discount_percent=10,
        savings_plans=(SavingsPlanRate("ec2-m5", 30, frozenset({"m5"})),
                       SavingsPlanRate("compute", 20)),
        reserved=(ReservedRate("m5.xlarge", 1, 0.121),),
    )
    prices = effective_prices(
        [lp("r1", "m5.xlarge", "on-demand", 0, 100), lp("r2", "m5.xlarge", "on-demand", 50, 200),
         lp("r3", "m5.xlarge", "on-demand", 150, 300), lp("s", "m5.xlarge", "spot", 0, 300),
         lp("c", "c5.xlarge", "on-demand", 0, 300)],
        rules,
    )
    assert (prices["r1"].basis, prices["r1"].per_hour_micros) == ("reserved", 108_900)
    # r2 starts while r1 holds the only reservation: the best Savings Plan (30%) instead.
    assert (prices["r2"].basis, prices["r2"].per_hour_micros) == ("savings-plan:ec2-m5", 120_960)
    assert prices["r3"].basis == "reserved"  # r1 ended at 100: the slot is free again
    assert (prices["s"].basis, prices["s"].per_hour_micros) == ("spot", 172_800)
    assert prices["c"].basis == "savings-plan:compute"


def test_savings_at_usage_against_requests() -> None:
    result = allocate(GRID, [node("a", 0.20)], CONTAINERS, ROUND_RATIOS, "c1", TEAMS)
    by_name = {s.name: s for s in workload_savings(CONTAINERS, result.units)}
    web = by_name["shop/deployment:web"]
    # app: 1 core + 4 GiB requested, uses 0.5 + 2: $0.05 -> $0.025. sidecar: 0.5 core + 1 GiB
    # requested ($0.02), uses 1.5 + 0.5 GiB ($0.0475).
    assert web.cost_at_requests_micros == 50_000 + 20_000
    assert web.cost_at_usage_micros == 25_000 + 47_500
    assert by_name["payments/pod:api-1"].savings_micros == 0


def test_gpu_priced_first_and_charged_by_request() -> None:
    # g-node: 8 cores, 32 GiB, 1 GPU at $1.00/h with a known GPU price of $0.70/h: the GPU
    # part is 0.70; 0.30 left for CPU and RAM in the ratio 8 x 0.03 : 32 x 0.005 = 0.24 : 0.16.
    from tests.core.allocation.cluster import node as make_node

    gnode = replace_gpu(make_node("g", 1.00, cores=8, gib=32, gpus=1), 700_000)
    trainer = container("ml", "trainer-0", "main", "g", [0, 1800], 4, 4, 16, 16, gpu=1)
    result = allocate(GRID, [gnode], [trainer], ROUND_RATIOS, "c1")
    (step,) = result.sets
    (cost,) = step.nodes
    assert (cost.cpu_micros, cost.ram_micros, cost.gpu_micros) == (180_000, 120_000, 700_000)
    got = aggregate(step, ["pod"], include_idle=True)
    assert got["trainer-0"].gpu_micros == 700_000  # its one GPU, the whole hour
    assert got["trainer-0"].cpu_micros == 90_000  # half the cores
    assert got[IDLE_NAME].cpu_micros == 90_000


def replace_gpu(n: object, micros: int) -> object:
    from dataclasses import replace

    return replace(n, gpu_per_hour_micros=micros)  # type: ignore[type-var]


def test_team_from_pod_or_namespace_label_then_namespace_lists() -> None:
    from scaler.core.allocation.model import ContainerInput

    def c(ns: str, labels: dict[str, str], ns_labels: dict[str, str]) -> ContainerInput:
        return ContainerInput(ns, "p", "c", "n", (), (), (), (), (), labels=labels,
                              namespace_labels=ns_labels)

    by_pod = TeamRules(label_key="team", namespaces=(("shop", ("shop-*",)),))
    assert by_pod.team_of(c("shop-eu", {"team": "growth"}, {})) == "growth"
    assert by_pod.team_of(c("shop-eu", {}, {"team": "growth"})) == "shop"
    assert by_pod.team_of(c("other", {}, {})) == "unallocated"
    by_ns = TeamRules(label_key="app.kubernetes.io/part-of", label_object="Namespace")
    # Labels read from kube-state-metrics carry sanitized keys; the rule matches them too.
    assert by_ns.team_of(c("x", {}, {"app_kubernetes_io_part_of": "data"})) == "data"


def test_idle_per_node_when_aggregating_by_node() -> None:
    nodes = [node("a", 0.20), node("b", 0.10, start=1800)]
    result = allocate(GRID, nodes, CONTAINERS, ROUND_RATIOS, "c1", TEAMS)
    (step,) = result.sets
    by_node = aggregate(step, ["node"], include_idle=True)
    assert set(by_node) == {"a", "a/__idle__", "b/__idle__"}
    assert by_node["b/__idle__"].total_micros == 50_000  # half an hour of $0.10, all idle
    assert by_node["a/__idle__"].total_micros == 37_500
    assert IDLE_NAME in aggregate(step, ["namespace"], include_idle=True)
