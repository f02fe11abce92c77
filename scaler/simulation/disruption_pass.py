"""`scaler simulate --consolidate`: provisioning, then one disruption pass over the result.

The pass may disrupt the snapshot's own nodes only; nodes the provisioning pass launched are
receivers. Its replacements are launched on the simulated cloud like any claim, and the
provisioning plan is rewritten as the cluster would be after the pass: removed nodes leave
`nodes` (their price stays in today's cost), displaced pods move in `placements`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

from scaler.adapters.simulated import SimulatedCloud, SimulatedCluster
from scaler.core.disruption.budgets import ScheduleError, parse_budgets
from scaler.core.disruption.candidates import DisruptionInput, DisruptionSettings
from scaler.core.disruption.plan import DisruptionPlan, plan_disruptions
from scaler.core.model import NodePool
from scaler.core.plan import Placement, Plan, PlannedNode
from scaler.core.resources import ZERO, Resources
from scaler.core.scheduling.capacity import ONE_POD
from scaler.core.scheduling.pool_fit import pool_table
from scaler.errors import UserError
from scaler.simulation.provision import SimulationInput, provision


def check_budgets(pools: Sequence[NodePool]) -> None:
    """A budget schedule the pass cannot read is reported against its NodePool."""
    for pool in pools:
        try:
            parse_budgets(pool.disruption)
        except ScheduleError as err:
            raise UserError(str(err), file=pool.source or None, obj=f"NodePool {pool.name}",
                            field="spec.disruption.budgets") from None


def run_consolidation(inputs: SimulationInput, settings: DisruptionSettings,
                      now: float | None = None) -> tuple[Plan, DisruptionPlan]:
    pools = inputs.policies.node_pools
    check_budgets(pools)
    cluster = SimulatedCluster(inputs.snapshot)
    cloud = SimulatedCloud(inputs.catalog)
    plan = provision(cluster, cloud, pools, inputs.catalog, idle=inputs.idle_pools)
    after = cluster.snapshot()
    table, pools = pool_table(pools, lambda _pool: inputs.catalog.instance_types)
    launched = frozenset(n.name for n in plan.new_nodes)
    dinput = DisruptionInput(
        table=table,
        pools=pools,
        nodes=after.nodes,
        pods=after.pods,
        daemonsets=after.daemonsets,
        pdbs=after.disruption_budgets,
        protected=launched,
    )
    dplan = plan_disruptions(dinput, time.time() if now is None else now, settings)
    return apply_to_plan(plan, dplan), dplan


def apply_to_plan(plan: Plan, dplan: DisruptionPlan) -> Plan:
    """The provisioning plan as the cluster is after the disruption pass."""
    if not dplan.disruptions:
        return plan
    removed = dplan.removed
    target = {m.pod: m.target for m in dplan.moves}
    placements = []
    for p in plan.placements:
        if p.pod in target:
            placements.append(Placement(p.pod, target[p.pod], True))
        elif p.node not in removed:
            placements.append(p)  # DaemonSet pods of removed nodes go with them
    pods_on: dict[str, list[str]] = {}
    for p in placements:
        pods_on.setdefault(p.node, []).append(p.pod)
    requests: dict[str, Resources] = {}
    nodes: list[PlannedNode] = []
    for n in plan.nodes:
        if n.name in removed:
            continue
        moved_in = [m for m in dplan.moves if m.target == n.name]
        extra = ZERO
        for m in moved_in:
            extra = extra + _requests_of(dplan, m.pod) + ONE_POD
        requests[n.name] = n.requests + extra
        nodes.append(dataclasses.replace(n, pods=tuple(pods_on.get(n.name, ())),
                                         requests=requests[n.name]))
    for c in dplan.replacements:
        o = c.options[0]
        nodes.append(PlannedNode(
            name=c.name, existing=False, instance_type=o.instance_type,
            capacity_type=o.capacity_type, zone=o.zone, arch=o.arch, node_pool=c.node_pool,
            price_per_hour=o.price, price_estimated=o.price_estimated,
            pods=tuple(pods_on.get(c.name, ())), requests=c.requests,
            allocatable=_allocatable(dplan, c.name), alternatives=c.options,
        ))
    return Plan(
        region=plan.region,
        placements=tuple(placements),
        nodes=tuple(nodes),
        unschedulable=plan.unschedulable,
        # The bound covers provisioning's pods only; replacements hold others.
        new_lower_bound_per_hour=None if dplan.replacements else plan.new_lower_bound_per_hour,
        removed=tuple(n for n in plan.nodes if n.name in removed),
    )


def _requests_of(dplan: DisruptionPlan, pod: str) -> Resources:
    return dplan.pod_requests.get(pod, ZERO)


def _allocatable(dplan: DisruptionPlan, claim: str) -> Resources:
    return dplan.replacement_allocatable.get(claim, ZERO)
