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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pricing import Catalog
from scaler.adapters.simulated import SimulatedCloud, SimulatedCluster
from scaler.adapters.simulated.inventory import (
    SimulatedContainer,
    StaticInventory,
    generated_metrics,
    request_series,
)
from scaler.adapters.simulated.metrics import SeriesMetricsSource
from scaler.adapters.simulated.usage_file import COLUMNS, usage_columns
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
from scaler.times import parse_seconds_or_rfc3339

GPU = "nvidia.com/gpu"
USAGE_COLUMNS = COLUMNS  # one usage file shape for report and rightsize


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
                f"; {len(plan.unschedulable)} could not be placed and "
                + ("is" if len(plan.unschedulable) == 1 else "are")
                + " not in the report"
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
        metrics: MetricsSource = usage_from_csv(usage_file, containers, window, notes)
        gpu_series = tuple(request_series(containers, window)[2])
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
        value = parse_seconds_or_rfc3339(text)
    except OverflowError:
        raise ValueError(f"timestamp {text[:40]!r} is out of range") from None
    return check_finite(value, "timestamp (Unix seconds)", minimum=MIN_TIMESTAMP,
                        maximum=MAX_TIMESTAMP)


def _read_columns(
    path: str, known: dict[ContainerRef, SimulatedContainer], notes: list[str] | None
) -> tuple[list[Samples], list[Samples]] | None:
    """The file read by pandas in one pass: CPU and memory Samples per known container (points
    in time order, as the row reader sorts them), or None when pandas cannot read it cleanly
    (the row-by-row reader then names the bad line) or is not installed (the container image
    leaves it out: the controller never reads usage files)."""
    import numpy as np

    try:
        import pandas as pd
    except ImportError:
        return None

    try:
        df = pd.read_csv(
            path,
            # categories: a few thousand distinct names, not one string object per row
            dtype={"namespace": "category", "pod": "category", "container": "category"},
            keep_default_na=False,
            na_filter=False,
        )
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError):
        return None
    try:
        col, note = usage_columns([str(c) for c in df.columns], path)
    except UserError:
        return None  # the row reader says which column is missing
    if not all(pd.api.types.is_numeric_dtype(df[col[c]]) for c in ("cpu", "memory")):
        return None
    stamps = df["timestamp"]
    if pd.api.types.is_numeric_dtype(stamps):
        t = stamps.to_numpy(dtype=np.float64)
    else:
        try:
            parsed = pd.to_datetime(stamps, utc=True, format="ISO8601")
        except (ValueError, TypeError):
            return None
        # seconds since the epoch, whatever unit pandas holds the times in
        t = ((parsed - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy(
            dtype=np.float64
        )
    cpu_v = df[col["cpu"]].to_numpy(dtype=np.float64)
    mem_v = df[col["memory"]].to_numpy(dtype=np.float64)
    if not (np.isfinite(cpu_v).all() and np.isfinite(mem_v).all()
            and (cpu_v >= 0).all() and (mem_v >= 0).all()
            and ((t >= MIN_TIMESTAMP) & (t <= MAX_TIMESTAMP)).all()):
        return None  # the row reader names the first bad line
    groups = df.groupby(["namespace", "pod", "container"], sort=False, observed=True).indices
    del df
    cpu: list[Samples] = []
    mem: list[Samples] = []
    for (ns, pod, name), rows in groups.items():
        ref = ContainerRef(ns, pod, name)
        c = known.get(ref)
        if c is None:
            continue
        ts, cv, mv = t[rows], cpu_v[rows], mem_v[rows]
        by_cpu = np.lexsort((cv, ts))  # (t, value) order, as sorting the pairs would give
        by_mem = np.lexsort((mv, ts))
        # arrays, not tuples of floats: 8 bytes a point instead of 32
        times = ts[by_cpu]
        labels = {"node": c.node}
        cpu.append(Samples(ref, times, cv[by_cpu], labels))
        mem_times = times if np.array_equal(by_cpu, by_mem) else ts[by_mem]
        mem.append(Samples(ref, mem_times, mv[by_mem], labels))
    if note and notes is not None:
        notes.append(note)
    return cpu, mem


def usage_from_csv(
    path: str,
    containers: Sequence[SimulatedContainer],
    window: Window,
    notes: list[str] | None = None,
) -> SeriesMetricsSource:
    """Usage samples from a usage file (scaler.adapters.simulated.usage_file's columns, a
    note in `notes` for old column names); requests from the
    snapshot. Rows for containers the snapshot does not run are ignored; containers without
    rows run at their requests with no usage. Read by pandas; a file pandas cannot read
    cleanly is read row by row, so the error names its line."""
    known = {c.ref: c for c in containers}
    fast = _read_columns(path, known, notes) if Path(path).is_file() else None
    if fast is not None:
        req_cpu, req_mem, _ = request_series(containers, window)
        return SeriesMetricsSource(
            cpu=fast[0],
            memory=fast[1],
            requests={"cpu": req_cpu, "memory": req_mem},
            lookback=max(window.step, 300.0),
        )
    cpu: dict[ContainerRef, list[tuple[float, float]]] = {}
    mem: dict[ContainerRef, list[tuple[float, float]]] = {}
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            col, note = usage_columns(reader.fieldnames, path)
            if note and notes is not None:
                notes.append(note)
            cpu_col, mem_col = col["cpu"], col["memory"]
            for line, row in enumerate(reader, start=2):
                try:
                    ref = ContainerRef(row["namespace"], row["pod"], row["container"])
                    t = _time(row["timestamp"])
                    if ref in known:
                        # Finite and not negative: a negative sample makes a negative bill.
                        cpu.setdefault(ref, []).append(
                            (t, parse_float(row[cpu_col], cpu_col, minimum=0)))
                        mem.setdefault(ref, []).append(
                            (t, parse_float(row[mem_col], mem_col, minimum=0)))
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
    return _usage_source(cpu, mem, containers, window)


def _usage_source(
    cpu: dict[ContainerRef, list[tuple[float, float]]],
    mem: dict[ContainerRef, list[tuple[float, float]]],
    containers: Sequence[SimulatedContainer],
    window: Window,
) -> SeriesMetricsSource:
    known = {c.ref: c for c in containers}

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
    req_cpu, req_mem, _ = request_series(containers, window)
    return SeriesMetricsSource(
        cpu=samples(cpu),
        memory=samples(mem),
        requests={"cpu": req_cpu, "memory": req_mem},
        lookback=max(window.step, 300.0),
    )

