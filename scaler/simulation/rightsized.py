"""The cluster with right-sizing applied: the same pods asking for the recommended requests.

Two views, each for the current and the right-sized requests: the provisioning plan as
`scaler simulate` makes it (bound pods stay where they are, so only pending pods feel the
change), and a plan from scratch (every pod pending, no nodes) that shows the capacity the
requests call for, the saving a consolidation would reach.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scaler.core.model import Pod, Snapshot
from scaler.core.plan import Plan
from scaler.core.resources import Resources
from scaler.rightsizing.report import Report
from scaler.rightsizing.workloads import Workload, WorkloadIndex, parent_by_name
from scaler.simulation.provision import SimulationInput, run_simulation


@dataclass(frozen=True)
class Comparison:
    current: Plan
    rightsized: Plan
    scratch_current: Plan
    scratch_rightsized: Plan
    pods_changed: int


def deltas(report: Report) -> dict[str, tuple[int, int]]:
    """Workload key -> (millicores, bytes) each of its pods gives back (negative: asks more)."""
    out: dict[str, tuple[int, int]] = {}
    for r in report.rows:
        rec, cur = r.recommendation, r.container.current
        d_cpu = d_mem = 0
        if rec.change_cpu and rec.cpu_request is not None and cur.cpu_request is not None:
            d_cpu = round((cur.cpu_request - rec.cpu_request) * 1000)
        if rec.change_memory and rec.memory_request is not None and cur.memory_request is not None:
            d_mem = round(cur.memory_request - rec.memory_request)
        c, m = out.get(r.workload.key, (0, 0))
        out[r.workload.key] = (c + d_cpu, m + d_mem)
    return out


class _Owners:
    """A pod's workload: by its controller (a ReplicaSet or Job named after its Deployment
    or CronJob), else by its name."""

    def __init__(self, workloads: Sequence[Workload]) -> None:
        self._workloads = workloads
        self._by_key = {(w.kind, w.namespace, w.name): w for w in workloads}
        self._index: dict[str, WorkloadIndex] = {}

    def of(self, pod: Pod) -> Workload | None:
        kind, name, ns = pod.owner_kind, pod.owner_name, pod.namespace
        if kind and name:
            candidates = [(kind, name)]
            guessed = parent_by_name(kind, name)
            if guessed is not None:
                candidates.append(guessed)
            for k, n in candidates:
                w = self._by_key.get((k, ns, n))
                if w is not None:
                    return w
        if ns not in self._index:
            self._index[ns] = WorkloadIndex(self._workloads, ns)
        return self._index[ns].lookup(pod.name)


def apply(snapshot: Snapshot, report: Report) -> tuple[Snapshot, int]:
    """The snapshot with each pod's requests changed by its workload's recommendations."""
    by_key: Mapping[str, tuple[int, int]] = deltas(report)
    workloads = list({r.workload.key: r.workload for r in report.rows}.values())
    pods: list[Pod] = []
    changed = 0
    owners = _Owners(workloads)
    for pod in snapshot.pods:
        w = owners.of(pod)
        d = by_key.get(w.key) if w is not None else None
        if not d or d == (0, 0):
            pods.append(pod)
            continue
        amounts = pod.requests.to_dict()
        amounts["cpu"] = max(0, amounts.get("cpu", 0) - d[0])
        amounts["memory"] = max(0, amounts.get("memory", 0) - d[1])
        pods.append(dataclasses.replace(pod, requests=Resources(amounts)))
        changed += 1
    return dataclasses.replace(snapshot, pods=tuple(pods)), changed


def from_scratch(snapshot: Snapshot) -> Snapshot:
    return dataclasses.replace(
        snapshot,
        nodes=(),
        pods=tuple(dataclasses.replace(p, node_name=None) for p in snapshot.pods),
    )


def compare(inputs: SimulationInput, report: Report) -> Comparison:
    rightsized, changed = apply(inputs.snapshot, report)

    def plan(snap: Snapshot) -> Plan:
        return run_simulation(dataclasses.replace(inputs, snapshot=snap))

    return Comparison(
        current=plan(inputs.snapshot),
        rightsized=plan(rightsized),
        scratch_current=plan(from_scratch(inputs.snapshot)),
        scratch_rightsized=plan(from_scratch(rightsized)),
        pods_changed=changed,
    )
