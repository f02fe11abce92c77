"""`scaler simulate`'s provisioning: the loop's provisioning step on the simulated adapters,
reported as a plan; and loading a simulation's inputs."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pricing import Catalog, CatalogError, load_catalog
from scaler.adapters.simulated import SimulatedCloud, SimulatedCluster, SimulatedManagedCluster
from scaler.control.provisioning import Provisioner
from scaler.core.model import NodePool, Snapshot
from scaler.core.overlays import apply_overlays
from scaler.core.plan import Placement, Plan, PlannedNode, Unschedulable
from scaler.core.requirements import Requirements
from scaler.core.resources import ZERO, Resources
from scaler.core.scheduling.capacity import ONE_POD
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.core.scheduling.pool_fit import IdlePool, split_pools
from scaler.errors import UserError
from scaler.policy import PolicySet, load_policies
from scaler.ports.cloud import CloudProvider
from scaler.ports.fence import OpenFence
from scaler.simulation.catalog_file import load_catalog_file
from scaler.snapshot import load_snapshot

LABEL_HYPERVISOR = "karpenter.k8s.aws/instance-hypervisor"


@dataclass(frozen=True)
class SimulationInput:
    snapshot: Snapshot
    policies: PolicySet
    catalog: Catalog
    snapshot_paths: tuple[str, ...] = ()
    # NodePools no instance type of the catalog satisfies: left out of `policies`, reported.
    idle_pools: tuple[IdlePool, ...] = ()


def fit_node_pools(
    table: InstanceTypeTable, pools: Sequence[NodePool], region: str
) -> tuple[tuple[NodePool, ...], tuple[IdlePool, ...]]:
    """The pools some instance type of `table` satisfies, and the idle rest (Karpenter keeps
    an unfit NodePool idle and provisions from the others)."""
    return split_pools(pools, lambda _pool: table, region)


def region_warnings(policies: PolicySet, region: str) -> list[str]:
    """What `run` and `simulate` would warn about this bundle in `region` (idle NodePools)."""
    try:
        catalog = load_catalog(region, None)
    except CatalogError as err:
        raise UserError(str(err), field=f"--{err.param}") from None
    _fit, idle = fit_node_pools(
        InstanceTypeTable(catalog.instance_types), policies.node_pools, catalog.region
    )
    return [i.warning() for i in idle]


def provision(
    cluster: SimulatedCluster | SimulatedManagedCluster,
    cloud: CloudProvider,
    pools: Sequence[NodePool],
    catalog: Catalog,
    with_bound: bool = True,
    claim_prefix: str = "",
    idle: Sequence[IdlePool] = (),
) -> Plan:
    """One provisioning step (the loop's own, `scaler.control.provisioning`) on the simulated
    cluster, as a plan: where every pod runs, the nodes launched and what they cost."""
    managed = (cluster if isinstance(cluster, SimulatedManagedCluster)
               else SimulatedManagedCluster(cluster, keep_events=False))
    snap = managed.snapshot()
    step = Provisioner(managed, cloud, OpenFence(), catalog.region)
    outcome = step.provision(pools, snap, snap.pending_pods, claim_prefix, idle=idle)
    decision = outcome.decision
    table = decision.scheduler.table
    bound = None
    if with_bound:
        bound = decision.scheduler.lower_bound([p for c in decision.claims for p in c.pods])

    placements = [Placement(p.key, p.node_name, False) for p in snap.bound_pods if p.node_name]
    unschedulable = [Unschedulable(p.key, reason) for p, reason in decision.unschedulable]
    for node_name, pods in decision.existing.items():
        placements.extend(Placement(pod.key, node_name, True) for pod in pods)
    failed = {spec.name: err for spec, err in outcome.failed}
    launched = {x.spec.name: x for x in outcome.launched}
    new_nodes: list[PlannedNode] = []
    for claim in decision.claims:
        if claim.name in failed:
            unschedulable.extend(Unschedulable(p.key, f"launch failed: {failed[claim.name]}")
                                 for p in claim.pods)
            continue
        x = launched[claim.name]
        placements.extend(Placement(pod.key, claim.name, True) for pod in claim.pods)
        new_nodes.append(
            PlannedNode(
                name=claim.name,
                existing=False,
                instance_type=x.cloud_node.instance_type,
                capacity_type=x.cloud_node.capacity_type,
                zone=x.cloud_node.zone,
                arch=x.cloud_node.arch,
                node_pool=claim.node_pool,
                price_per_hour=x.cloud_node.price_per_hour,
                price_estimated=x.cloud_node.price_estimated,
                pods=tuple(p.key for p in claim.pods),
                requests=claim.requests,
                allocatable=x.node.allocatable,
                alternatives=claim.options,
            )
        )

    pods_on: dict[str, list[str]] = {}
    requests_on: dict[str, Resources] = {}
    after = managed.snapshot()
    for pod in after.pods:
        if pod.node_name:
            pods_on.setdefault(pod.node_name, []).append(pod.key)
            prev = requests_on.get(pod.node_name, ZERO)
            requests_on[pod.node_name] = prev + pod.requests + ONE_POD
    existing_nodes: list[PlannedNode] = []
    for n in snap.nodes:
        itype = n.instance_type
        price = None
        if itype:
            price = table.price_of(itype, n.capacity_type, n.zone)
            if price is None:
                price = table.price_of(itype, n.capacity_type, None)
        existing_nodes.append(
            PlannedNode(
                name=n.name,
                existing=True,
                instance_type=itype,
                capacity_type=n.capacity_type,
                zone=n.zone,
                arch=n.arch,
                node_pool=n.node_pool,
                price_per_hour=price,
                price_estimated=price is not None and n.capacity_type == "spot",
                pods=tuple(pods_on.get(n.name, ())),
                requests=requests_on.get(n.name, Resources({})),
                allocatable=n.allocatable,
            )
        )
    return Plan(
        region=catalog.region,
        placements=tuple(placements),
        nodes=tuple(existing_nodes + new_nodes),
        unschedulable=tuple(unschedulable),
        new_lower_bound_per_hour=(
            bound.per_hour if bound is not None and bound.status == "optimal" else None
        ),
    )


def load_inputs(
    snapshot_paths: Sequence[str],
    policies_path: str | None,
    region: str,
    zones: Sequence[str] | None = None,
    catalog_file: str | None = None,
) -> SimulationInput:
    if catalog_file is not None:
        if zones:
            raise UserError("--zones cannot be combined with --catalog: the file names its "
                            "zones", field="--zones")
        catalog = load_catalog_file(Path(catalog_file))
    else:
        try:
            catalog = load_catalog(region, zones)
        except CatalogError as err:
            raise UserError(str(err), field=f"--{err.param}") from None
    policies = load_policies(Path(policies_path) if policies_path else None)
    if policies.node_overlays:
        catalog = dataclasses.replace(
            catalog, instance_types=apply_overlays(catalog.instance_types, policies.node_overlays)
        )
    if catalog_file is not None and policies.defaulted:
        # The default NodePool's "no bare metal" rule reads an AWS label a catalog file's
        # types need not carry; everything else in it still applies.
        pools = tuple(
            dataclasses.replace(p, requirements=Requirements(
                r for k, r in p.requirements.items() if k != LABEL_HYPERVISOR))
            for p in policies.node_pools)
        policies = dataclasses.replace(policies, node_pools=pools)
    fit, idle = fit_node_pools(
        InstanceTypeTable(catalog.instance_types), policies.node_pools, catalog.region
    )
    if idle:
        policies = dataclasses.replace(policies, node_pools=fit)
    snapshot = load_snapshot([Path(p) for p in snapshot_paths])
    return SimulationInput(snapshot, policies, catalog, tuple(snapshot_paths), idle)


def run_simulation(inputs: SimulationInput) -> Plan:
    cluster = SimulatedCluster(inputs.snapshot)
    cloud = SimulatedCloud(inputs.catalog)
    return provision(cluster, cloud, inputs.policies.node_pools, inputs.catalog,
                     idle=inputs.idle_pools)
