"""`scaler simulate --timeline`: the control loop in simulated time.

The workload changes as a timeline file says (replica counts of the snapshot's controllers
over time); every `step` the loop runs `scaler run`'s own steps on the simulated cluster and
cloud: the provisioning step launches for pending pods (new nodes become Ready after the
launch delay), then the disruption executor carries the plan in flight further (or, when
none is, the core plans one pass), then the provisioning step places what a drain evicted.
A plan's replacements launch at once; once they are Ready and the validation delay is over,
each command is revalidated against the cluster as it is then and, if it still holds, its
nodes are cordoned, drained and deleted (`scaler.control.disruption`).

Timeline file (CSV; `#` starts a comment):

    time,workload,replicas
    0,shop/api,4
    10m,shop/api,30        # time: seconds, or a duration such as 10m or 1h30m
    40m,shop/api,4

`workload` is `namespace/name` of a controller whose pods are in the snapshot (a Deployment
matches the pods of its ReplicaSets): new replicas are copies of one of its pods; when it
shrinks, pending replicas go first, then the newest.

Spot interruptions (`--interrupt NODE@TIME`, `scaler.simulation.interruptions`) come at the
start of the step that reaches their time, before the provisioning step, and go to the
disruption executor as `scaler run` hands it a warning from the interruption queue.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from scaler import limits
from scaler.adapters.simulated import SimulatedCloud, SimulatedManagedCluster
from scaler.control.disruption import ChangeTracker, DisruptionExecutor, disruption_input
from scaler.control.provisioning import Decision, Provisioner, register_ready
from scaler.core.disruption.candidates import DisruptionInput, DisruptionSettings, node_price
from scaler.core.disruption.plan import plan_disruptions
from scaler.core.model import Node, Pod
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.errors import UserError
from scaler.kube_yaml import read_text
from scaler.limits import LimitError
from scaler.numbers import MAX_TIMESTAMP, check_finite
from scaler.ports.fence import OpenFence
from scaler.simulation.disruption_pass import check_budgets
from scaler.simulation.interruptions import (
    DETAIL,
    REASON,
    Interruption,
    check_nodes,
    interrupted_instance,
)
from scaler.simulation.provision import SimulationInput

DEFAULT_START = 1_767_225_600.0  # 2026-01-01T00:00:00Z: a fixed clock keeps runs repeatable


@dataclass(frozen=True)
class Event:
    at: float  # seconds from the start
    workload: str  # namespace/name
    replicas: int
    line: int = 0


@dataclass(frozen=True)
class Row:
    at: float  # seconds from the start
    replicas: int
    nodes: int  # Ready and launching
    launching: int
    cost_per_hour: float
    pending_pods: int  # not running: unplaced, or on a node not Ready yet
    disrupted: int  # nodes removed at this step


@dataclass(frozen=True)
class DisruptionEvent:
    at: float
    node: str
    reason: str
    savings_per_hour: float
    replacements: tuple[str, ...]


@dataclass
class TimelineResult:
    step: float
    start: float = DEFAULT_START  # the clock at time 0 (decisions carry the clock's time)
    rows: list[Row] = field(default_factory=list)
    disruptions: list[DisruptionEvent] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # commands revalidation dropped
    total_cost: float = 0.0  # USD over the run
    pending_pod_seconds: float = 0.0
    decision_seconds: float = 0.0  # summed over the disruption passes
    passes: int = 0
    # Launches, cordons, drains and deletes in the order the loop made them.
    decisions: list[Decision] = field(default_factory=list)


def _duration(text: str) -> float:
    from scaler.core.disruption.budgets import ScheduleError, parse_duration

    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        return parse_duration(text)
    except ScheduleError as err:
        raise ValueError(str(err)) from None


def load_timeline(path: str) -> list[Event]:
    lim = limits.current()
    text = read_text(Path(path), path)
    if "\x00" in text:
        raise UserError("not a text file (it holds NUL bytes)", file=path)
    events: list[Event] = []
    lines = [(n, line.split("#", 1)[0].strip()) for n, line in enumerate(text.splitlines(), 1)]
    rows = [(n, line) for n, line in lines if line]
    if len(rows) - 1 > lim.timeline_rows:
        raise LimitError(f"{len(rows) - 1} rows", "timeline-rows", lim.timeline_rows, file=path)
    if not rows or [c.strip() for c in rows[0][1].split(",")] != ["time", "workload",
                                                                    "replicas"]:
        raise UserError("expected a header line: time,workload,replicas", file=path)
    for n, line in rows[1:]:
        cells = next(csv.reader([line]))
        where = f"line {n}"
        if len(cells) != 3:
            raise UserError(f"expected 3 columns (time,workload,replicas), got {len(cells)}",
                            file=path, obj=where)
        try:
            at = _duration(cells[0])
        except ValueError as err:
            raise UserError(str(err), file=path, obj=where, field="time") from None
        check_finite(at, "seconds from the start", minimum=0,
                     maximum=MAX_TIMESTAMP - DEFAULT_START, file=path, obj=where, field="time")
        workload = cells[1].strip()
        if workload.count("/") != 1 or not all(workload.split("/")):
            raise UserError(f"expected namespace/name, got {workload!r}", file=path, obj=where,
                            field="workload")
        if not cells[2].strip().isdigit():
            raise UserError(f"expected a replica count, got {cells[2].strip()!r}", file=path,
                            obj=where, field="replicas")
        replicas = cells[2].strip()
        if len(replicas) > 15 or int(replicas) > lim.timeline_replicas:
            raise LimitError(f"{replicas[:20]} replicas", "timeline-replicas",
                             lim.timeline_replicas, file=path, obj=where, field="replicas")
        events.append(Event(at, workload, int(replicas), n))
    if not events:
        raise UserError("no events", file=path)
    return sorted(events, key=lambda e: (e.at, e.line))


def _owned(pod: Pod, workload: str) -> bool:
    ns, name = workload.split("/")
    if pod.namespace != ns or not pod.owner_name:
        return False
    return pod.owner_name == name or (
        pod.owner_kind == "ReplicaSet" and pod.owner_name.rsplit("-", 1)[0] == name)


class _Loop:
    """The control loop's own steps on the simulated adapters, at simulated time `now`:
    the provisioning step, and the disruption executor carrying out the core's plans."""

    def __init__(self, inputs: SimulationInput, settings: DisruptionSettings, step: float,
                 start: float, path: str, events: Sequence[Event]) -> None:
        self.inputs = inputs
        self.settings = settings
        self.step = step
        self.start = start
        self.now = start
        self.pools = list(inputs.policies.node_pools)
        # `load_inputs` left idle NodePools out already (they launch nothing, as Karpenter's).
        self.table = InstanceTypeTable(inputs.catalog.instance_types)
        check_budgets(self.pools)
        snap = inputs.snapshot
        snap = dataclasses.replace(snap, nodes=tuple(
            n if n.created is not None else dataclasses.replace(n, created=start - 86400)
            for n in snap.nodes))
        self.cluster = SimulatedManagedCluster(
            snap, clock=self.clock, launch_delay=settings.launch_delay, keep_events=False,
            # The snapshot's NodePool nodes are the loop's to disrupt, as if it launched them.
            adopt=lambda n: node_price(self.table, n) or 0.0)
        cloud = SimulatedCloud(inputs.catalog)
        fence = OpenFence()
        self.provisioner = Provisioner(self.cluster, cloud, fence, inputs.catalog.region,
                                       clock=self.clock)
        self.executor = DisruptionExecutor(self.cluster, cloud, fence, self.provisioner,
                                           settings)
        self.catalog = {it.name: it for it in inputs.catalog.instance_types}
        self.changes = ChangeTracker()
        self.seq: dict[str, int] = {}
        self.templates: dict[str, Pod] = {}
        for e in events:
            tpl = next((p for p in snap.pods if _owned(p, e.workload)), None)
            if tpl is None:
                raise UserError(f"no pod of {e.workload} in the snapshot to copy",
                                file=path, obj=f"line {e.line}", field="workload")
            self.templates.setdefault(e.workload, tpl)
        self.claims = 0
        self.passes = 0
        self.idle: tuple[object, float] | None = None

    def clock(self) -> float:
        return self.now

    def price(self, node: Node, claims: dict[str, float]) -> float:
        p = claims.get(node.name)
        return p if p is not None else node_price(self.table, node) or 0.0

    def scale(self, workload: str, replicas: int) -> None:
        pods = self.cluster.inner
        mine = [p for p in pods.snapshot().pods if _owned(p, workload)]
        if len(mine) < replicas:
            tpl = self.templates[workload]
            for _ in range(replicas - len(mine)):
                n = self.seq[workload] = self.seq.get(workload, 0) + 1
                name = f"{workload.split('/')[1]}-t{n:05d}"
                pods.add_pod(dataclasses.replace(tpl, name=name, node_name=None))
        elif len(mine) > replicas:
            pending_first = sorted((p for p in mine if p.node_name is None),
                                   key=lambda p: p.name)
            newest = sorted((p for p in mine if p.node_name), key=lambda p: p.name,
                            reverse=True)
            for p in (pending_first + newest)[: len(mine) - replicas]:
                pods.remove_pod(p.key)

    def provision(self) -> None:
        snap = self.cluster.snapshot()
        if not snap.pending_pods:
            return
        self.claims += 1
        self.provisioner.provision(self.pools, snap, snap.pending_pods,
                                   claim_prefix=f"t{self.claims}-")

    def interrupt(self, node: str, result: TimelineResult) -> None:
        """The node's instance is going away: the executor's interruption command."""
        at = self.now - self.start
        instance = interrupted_instance(self.cluster, node)
        if instance is None:
            result.dropped.append(f"at {int(at)} s: interruption of {node}: the node is gone")
            return
        self.claims += 1
        launched = self.executor.interrupt(instance, REASON, DETAIL, self.pools, self.now,
                                           claim_prefix=f"i{self.claims}-")
        result.disruptions.append(DisruptionEvent(at, node, "interrupted", 0.0, launched))

    def disruption_input(self) -> DisruptionInput:
        return disruption_input(self.cluster, self.table, self.pools, self.changes, self.now,
                                claim_prefix=f"p{self.passes}-")

    def disrupt(self, result: TimelineResult) -> int:
        """Carry the plan in flight as far as it goes, or plan a new one."""
        now = self.now
        if self.executor.busy:
            notes = len(self.executor.notes)
            completed = len(self.executor.completed)
            done = self.executor.advance(now, self.disruption_input)
            result.dropped.extend(f"at {int(now - self.start)} s: {n}"
                                  for n in self.executor.notes[notes:])
            for at, d in self.executor.completed[completed:]:
                result.disruptions.append(DisruptionEvent(
                    at - self.start, d.node, d.reason, d.savings_per_hour, d.replacements))
            return done
        # As Karpenter does: no new pass while the cluster is as the last fruitless pass saw
        # it, unless five minutes went by (budgets' windows and consolidateAfter move on).
        snap = self.cluster.snapshot()
        state = (frozenset(n.name for n in snap.nodes),
                 frozenset((p.key, p.node_name) for p in snap.pods))
        if self.idle is not None and self.idle[0] == state and now - self.idle[1] < 300:
            return 0
        self.passes += 1
        plan = plan_disruptions(self.disruption_input(), now, self.settings)
        result.passes += 1
        self.idle = None if plan.disruptions else (state, now)
        result.decision_seconds += plan.decision_seconds
        if plan.disruptions:
            self.executor.submit(plan, now, self.pools, self.catalog)
        return 0

    def record(self, disrupted: int, result: TimelineResult) -> None:
        snap = self.cluster.snapshot()
        self.changes.observe(snap, self.now)  # the step's own changes count from now
        pending = sum(1 for p in snap.pods
                      if not p.node_name or not self.cluster.ready(p.node_name))
        prices = {c.node_name or c.name: c.price_per_hour for c in self.cluster.claims()}
        cost = sum(self.price(n, prices) for n in snap.nodes)
        replicas = sum(1 for p in snap.pods if any(_owned(p, w) for w in self.templates))
        launching = sum(1 for n in snap.nodes if not self.cluster.ready(n.name))
        result.rows.append(Row(self.now - self.start, replicas, len(snap.nodes), launching,
                               round(cost, 6), pending, disrupted))
        result.total_cost += cost * self.step / 3600
        result.pending_pod_seconds += pending * self.step
        result.decisions = list(self.provisioner.decisions)


def run_timeline(inputs: SimulationInput, events: Sequence[Event],
                 settings: DisruptionSettings, step: float = 60.0, start: float | None = None,
                 path: str = "", until: float | None = None,
                 interruptions: Sequence[Interruption] = ()) -> TimelineResult:
    """Run the loop from the first event to `until` (default: the last event or interruption
    plus 15 steps, so the consolidation after the last change shows)."""
    begin = DEFAULT_START if start is None else start
    end = until if until is not None else max(
        [e.at for e in events] + [i.at for i in interruptions]) + 15 * step
    # Every step is a provisioning and a disruption pass: bound them before starting.
    cap = limits.current().timeline_steps
    check_finite(step, "step", minimum=1e-3, field="--timeline-step")
    if end / step > cap:
        raise LimitError(f"{end / step:.0f} steps (the last event plus 15 steps, at "
                         f"{step:g} s each)", "timeline-steps", cap, file=path or None)
    check_finite(begin + end, "the end of the timeline (Unix seconds)", minimum=0,
                 maximum=MAX_TIMESTAMP, file=path or None)
    loop = _Loop(inputs, settings, step, begin, path, events)
    check_nodes(loop.cluster, interruptions)
    result = TimelineResult(step, begin)
    queue = list(events)
    warnings = sorted(interruptions, key=lambda i: i.at)
    t = 0.0
    while t <= end + 1e-9:
        now = begin + t
        loop.now = now
        while queue and queue[0].at <= t + 1e-9:
            e = queue.pop(0)
            loop.scale(e.workload, e.replicas)
        while warnings and warnings[0].at <= t + 1e-9:
            loop.interrupt(warnings.pop(0).node, result)
        # As the live loop's jobs come round: provisioning, the lifecycle pass (registration),
        # disruption; then provisioning again for the pods a drain just evicted.
        loop.provision()
        register_ready(loop.cluster)
        disrupted = loop.disrupt(result)
        loop.provision()
        loop.record(disrupted, result)
        t += step
    return result
