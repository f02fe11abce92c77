"""The report's sources with no cluster: a snapshot, a provisioning pass, made-up usage.

The snapshot's nodes and bound pods run for the whole window. Pending pods are first placed
by one provisioning pass (`scaler.simulation.provision`, the same code `scaler simulate`
runs), so the report covers the cluster as it would run; new nodes run for the whole window,
with the snapshot's DaemonSets on them. Usage comes from a CSV file (`--usage`) or is
generated (`scaler.adapters.simulated.inventory.generated_metrics`).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pricing import Catalog
from scaler.adapters.simulated import SimulatedCloud, SimulatedCluster
from scaler.adapters.simulated.inventory import (
    SimulatedContainer,
    StaticInventory,
    generated_metrics,
)
from scaler.adapters.simulated.metrics import SeriesMetricsSource
from scaler.core.model import Node, Pod, Snapshot
from scaler.core.resources import CPU, MEMORY
from scaler.errors import UserError
from scaler.numbers import MAX_TIMESTAMP, MIN_TIMESTAMP, check_finite, parse_float
from scaler.policy import PolicySet
from scaler.ports.inventory import NodeInfo, PodInfo
from scaler.ports.metrics import ContainerRef, MetricsSource, Samples, Window
from scaler.simulation.provision import provision
from scaler.snapshot import load_snapshot
from scaler.snapshot.containers import SnapshotDetails, read_details

GPU = "nvidia.com/gpu"
USAGE_COLUMNS = ("timestamp", "namespace", "pod", "container", "cpu_cores", "memory_bytes")


@dataclass(frozen=True)
class SimulatedSources:
    metrics: MetricsSource
    inventory: StaticInventory
    snapshot: Snapshot  # after the provisioning pass: every placed pod bound
    notes: tuple[str, ...]


def _capacity(node: Node, catalog: Catalog) -> tuple[float, float, float]:
    it = catalog.get(node.instance_type or "")
    res = dict(it.capacity) if it else dict(node.allocatable.items())
    return res.get(CPU, 0) / 1000, float(res.get(MEMORY, 0)), float(res.get(GPU, 0))


def snapshot_sources(
    paths: Sequence[str],
    policies: PolicySet,
    catalog: Catalog,
    window: Window,
    usage_file: str | None = None,
    place_pending: bool = True,
    seed: int = 0,
) -> SimulatedSources:
    snapshot = load_snapshot([Path(p) for p in paths])
    details = read_details([Path(p) for p in paths])
    notes: list[str] = []
    cluster = SimulatedCluster(snapshot)
    new_nodes: set[str] = set()
    if place_pending and snapshot.pending_pods:
        plan = provision(
            cluster, SimulatedCloud(catalog), policies.node_pools, catalog, with_bound=False
        )
        new_nodes = {n.name for n in plan.nodes if not n.existing}
        placed = sum(1 for p in plan.placements if p.new)
        notes.append(
            f"the simulation placed {placed} pending pods"
            + (f" on {len(new_nodes)} new nodes" if new_nodes else "")
            + (
                f"; {len(plan.unschedulable)} could not be placed and are not in the report"
                if plan.unschedulable
                else ""
            )
        )
    after = cluster.snapshot()
    start, end = window.start, window.end + window.step
    nodes = []
    for n in after.nodes:
        cores, ram, gpus = _capacity(n, catalog)
        nodes.append(
            NodeInfo(
                name=n.name,
                cpu_cores=cores,
                ram_bytes=ram,
                gpus=gpus,
                start=start,
                end=end,
                instance_type=n.instance_type,
                capacity_type=n.capacity_type,
                zone=n.zone,
                labels=dict(n.labels),
            )
        )
    running = [p for p in after.pods if p.node_name]
    # DaemonSet pods on the nodes the simulation added (the snapshot has the others).
    for node_name in sorted(new_nodes):
        for ds in after.daemonsets:
            running.append(
                Pod(
                    namespace=ds.namespace,
                    name=f"{ds.name}-{node_name}",
                    requests=ds.requests,
                    node_name=node_name,
                    owner_kind="DaemonSet",
                    owner_name=ds.name,
                )
            )
    pods, containers = _pods_and_containers(running, details, start, end)
    if usage_file:
        metrics: MetricsSource = usage_from_csv(usage_file, containers, window)
        gpu_series = generated_metrics(containers, window, seed).gpu_requests
    else:
        generated = generated_metrics(containers, window, seed)
        metrics, gpu_series = generated.metrics, generated.gpu_requests
        notes.append("usage is generated (no --usage file): figures show the method, not a bill")
    inventory = StaticInventory(nodes, pods, details.namespace_labels, gpu_series)
    return SimulatedSources(
        metrics, inventory, dataclasses.replace(after, pods=tuple(running)), tuple(notes)
    )


def _pods_and_containers(
    running: Sequence[Pod], details: SnapshotDetails, start: float, end: float
) -> tuple[list[PodInfo], list[SimulatedContainer]]:
    pods: list[PodInfo] = []
    containers: list[SimulatedContainer] = []
    for p in running:
        kind, name = details.controller_of(p.namespace, p.owner_kind, p.owner_name)
        pod_details = details.pods.get((p.namespace, p.name))
        pods.append(
            PodInfo(
                namespace=p.namespace,
                pod=p.name,
                node=p.node_name or "",
                labels=dict(p.labels),
                annotations=dict(pod_details.annotations) if pod_details else {},
                controller_kind=kind,
                controller=name,
                start=start,
                end=end,
            )
        )
        for c in details.containers_of(p.namespace, p.name, kind, name, p.requests):
            req = dict(c.requests.items())
            containers.append(
                SimulatedContainer(
                    namespace=p.namespace,
                    pod=p.name,
                    container=c.name,
                    node=p.node_name or "",
                    cpu_request=req.get(CPU, 0) / 1000,
                    ram_request=float(req.get(MEMORY, 0)),
                    gpu_request=float(req.get(GPU, 0)),
                    start=start,
                    end=end,
                )
            )
    return pods, containers


def _time(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        try:
            value = dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
        except OverflowError:
            raise ValueError(f"timestamp {text[:40]!r} is out of range") from None
    return check_finite(value, "timestamp (Unix seconds)", minimum=MIN_TIMESTAMP,
                        maximum=MAX_TIMESTAMP)


def usage_from_csv(
    path: str, containers: Sequence[SimulatedContainer], window: Window
) -> SeriesMetricsSource:
    """Usage samples from a CSV file with the columns USAGE_COLUMNS; requests from the
    snapshot. Rows for containers the snapshot does not run are ignored; containers without
    rows run at their requests with no usage."""
    known = {c.ref: c for c in containers}
    cpu: dict[ContainerRef, list[tuple[float, float]]] = {}
    mem: dict[ContainerRef, list[tuple[float, float]]] = {}
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in USAGE_COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise UserError(
                    f"missing columns {', '.join(missing)} (expected {','.join(USAGE_COLUMNS)})",
                    file=path,
                )
            for line, row in enumerate(reader, start=2):
                try:
                    ref = ContainerRef(row["namespace"], row["pod"], row["container"])
                    t = _time(row["timestamp"])
                    if ref in known:
                        # Finite and not negative: a negative sample makes a negative bill.
                        cpu.setdefault(ref, []).append(
                            (t, parse_float(row["cpu_cores"], "cpu_cores", minimum=0)))
                        mem.setdefault(ref, []).append(
                            (t, parse_float(row["memory_bytes"], "memory_bytes", minimum=0)))
                except UserError as err:
                    raise UserError(err.message, file=path, obj=f"line {line}") from None
                except (ValueError, TypeError, AttributeError) as err:
                    raise UserError(f"line {line}: {' '.join(str(err).split())[:200]}",
                                    file=path) from None
    except UnicodeDecodeError as err:
        raise UserError(f"not UTF-8 text (at byte {err.start})", file=path) from None
    except csv.Error as err:
        raise UserError(f"not a CSV file: {err}", file=path) from None
    except OSError as err:
        raise UserError(err.strerror or str(err), file=path) from None

    def samples(d: dict[ContainerRef, list[tuple[float, float]]]) -> list[Samples]:
        out = []
        for ref, points in d.items():
            points.sort()
            out.append(
                Samples(
                    ref,
                    tuple(t for t, _ in points),
                    tuple(v for _, v in points),
                    {"node": known[ref].node},
                )
            )
        return out

    # Requests for every container the snapshot runs; usage only where the file has it.
    generated = generated_metrics(containers, window)
    base = generated.metrics
    return SeriesMetricsSource(
        cpu=samples(cpu),
        memory=samples(mem),
        requests={
            "cpu": base.requests("cpu", window),
            "memory": base.requests("memory", window),
        },
        lookback=max(window.step, 300.0),
    )

