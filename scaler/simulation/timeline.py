"""`scaler simulate --timeline`: the control loop in simulated time.

The workload changes as a timeline file says (replica counts of the snapshot's controllers
over time); every `step` the loop provisions pending pods (new nodes become Ready after the
launch delay) and, when no disruption is in flight, plans one disruption pass. A pass's
replacements launch at once; after the launch and validation delays the plan is revalidated
against the cluster as it is then, and the commands that still hold are carried out: pods
move to their planned nodes, the old nodes go.

Timeline file (CSV; `#` starts a comment):

    time,workload,replicas
    0,shop/api,4
    10m,shop/api,30        # time: seconds, or a duration such as 10m or 1h30m
    40m,shop/api,4

`workload` is `namespace/name` of a controller whose pods are in the snapshot (a Deployment
matches the pods of its ReplicaSets): new replicas are copies of one of its pods; when it
shrinks, pending replicas go first, then the newest.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from scaler import limits
from scaler.core.disruption.candidates import DisruptionInput, DisruptionSettings, node_price
from scaler.core.disruption.cluster_view import node_from_claim
from scaler.core.disruption.plan import DisruptionPlan, plan_disruptions, revalidate
from scaler.core.model import Node, Pod
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.core.scheduling.scheduler import Scheduler
from scaler.errors import UserError
from scaler.kube_yaml import read_text
from scaler.limits import LimitError
from scaler.numbers import MAX_TIMESTAMP, check_finite
from scaler.simulation.consolidate import check_budgets
from scaler.simulation.provision import SimulationInput, check_node_pools

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
    rows: list[Row] = field(default_factory=list)
    disruptions: list[DisruptionEvent] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # commands revalidation dropped
    total_cost: float = 0.0  # USD over the run
    pending_pod_seconds: float = 0.0
    decision_seconds: float = 0.0  # summed over the disruption passes
    passes: int = 0


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
    def __init__(self, inputs: SimulationInput, settings: DisruptionSettings, step: float,
                 start: float, path: str, events: Sequence[Event]) -> None:
        self.inputs = inputs
        self.settings = settings
        self.step = step
        self.start = start
        self.pools = list(inputs.policies.node_pools)
        self.table = InstanceTypeTable(inputs.catalog.instance_types)
        check_node_pools(self.table, self.pools, inputs.catalog.region)
        check_budgets(self.pools)
        snap = inputs.snapshot
        self.nodes: dict[str, Node] = {
            n.name: n if n.created is not None else dataclasses.replace(n, created=start - 86400)
            for n in snap.nodes}
        self.ready_at: dict[str, float] = {}
        self.prices: dict[str, float] = {}
        self.pods: dict[str, Pod] = {p.key: p for p in snap.pods}
        self.seq: dict[str, int] = {}
        self.last_change: dict[str, float] = {}
        self.templates: dict[str, Pod] = {}
        for e in events:
            tpl = next((p for p in snap.pods if _owned(p, e.workload)), None)
            if tpl is None:
                raise UserError(f"no pod of {e.workload} in the snapshot to copy",
                                file=path, obj=f"line {e.line}", field="workload")
            self.templates.setdefault(e.workload, tpl)
        self.inflight: tuple[DisruptionPlan, float] | None = None
        self.claims = 0
        self.passes = 0
        self.idle: tuple[object, float] | None = None

    def price(self, node: Node) -> float:
        p = self.prices.get(node.name)
        return p if p is not None else node_price(self.table, node) or 0.0

    def ready(self, name: str, now: float) -> bool:
        return self.ready_at.get(name, -math.inf) <= now

    def scale(self, workload: str, replicas: int, now: float) -> None:
        mine = [p for p in self.pods.values() if _owned(p, workload)]
        if len(mine) < replicas:
            tpl = self.templates[workload]
            for _ in range(replicas - len(mine)):
                n = self.seq[workload] = self.seq.get(workload, 0) + 1
                name = f"{workload.split('/')[1]}-t{n:05d}"
                pod = dataclasses.replace(tpl, name=name, node_name=None)
                self.pods[pod.key] = pod
        elif len(mine) > replicas:
            order = sorted(mine, key=lambda p: (p.node_name is not None, p.name), reverse=False)
            pending_first = [p for p in order if p.node_name is None]
            newest = sorted((p for p in order if p.node_name), key=lambda p: p.name,
                            reverse=True)
            for p in (pending_first + newest)[: len(mine) - replicas]:
                if p.node_name:
                    self.last_change[p.node_name] = now
                del self.pods[p.key]

    def launch(self, node: Node, price: float, now: float) -> None:
        self.nodes[node.name] = dataclasses.replace(node, created=now)
        self.ready_at[node.name] = now + self.settings.launch_delay
        self.prices[node.name] = price

    def provision(self, now: float) -> None:
        pending = [p for p in self.pods.values() if not p.node_name]
        if not pending:
            return
        self.claims += 1
        bound = [p for p in self.pods.values() if p.node_name]
        s = Scheduler(self.table, self.pools, list(self.nodes.values()), bound,
                      self.inputs.snapshot.daemonsets, claim_prefix=f"t{self.claims}-")
        result = s.solve(pending)
        pools = {p.name: p for p in self.pools}
        for name, pods in result.existing.items():
            for p in pods:
                self.pods[p.key] = dataclasses.replace(p, node_name=name)
            self.last_change[name] = now
        for c in result.claims:
            if not c.options:
                continue
            self.launch(node_from_claim(c, pools[c.node_pool], self.table), c.options[0].price,
                        now)
            for p in c.pods:
                self.pods[p.key] = dataclasses.replace(p, node_name=c.name)
            self.last_change[c.name] = now

    def disruption_input(self, now: float) -> DisruptionInput:
        launching = frozenset(n for n in self.nodes if not self.ready(n, now))
        return DisruptionInput(
            table=self.table, pools=self.pools, nodes=list(self.nodes.values()),
            pods=list(self.pods.values()), daemonsets=self.inputs.snapshot.daemonsets,
            pdbs=self.inputs.snapshot.disruption_budgets, last_change=dict(self.last_change),
            protected=launching, claim_prefix=f"p{self.passes}-")

    def disrupt(self, now: float, result: TimelineResult) -> int:
        """Finish the pass in flight once its replacements are Ready, or plan a new one."""
        done = 0
        if self.inflight is not None:
            plan, decided = self.inflight
            wait = max(self.settings.validation_delay,
                       self.settings.launch_delay if plan.replacements else 0.0)
            if now < decided + wait:
                return 0
            self.inflight = None
            still = revalidate(plan, self.disruption_input(now), now, self.settings)
            result.dropped.extend(f"at {int(now - self.start)} s: {n}" for n in still.notes)
            if still.replacements:  # the cluster moved on: new capacity would be needed
                result.dropped.append("a revalidated command needed new replacements")
                return 0
            target = {m.pod: m.target for m in still.moves}
            for d in still.disruptions:
                for p in [p for p in self.pods.values() if p.node_name == d.node]:
                    if p.key in target:
                        self.pods[p.key] = dataclasses.replace(p, node_name=target[p.key])
                        self.last_change[target[p.key]] = now
                    else:
                        del self.pods[p.key]
                del self.nodes[d.node]
                done += 1
                result.disruptions.append(DisruptionEvent(
                    now - self.start, d.node, d.reason, d.savings_per_hour, d.replacements))
            return done
        # As Karpenter does: no new pass while the cluster is as the last fruitless pass saw
        # it, unless five minutes went by (budgets' windows and consolidateAfter move on).
        state = (frozenset(self.nodes), frozenset((p.key, p.node_name) for p in
                                                  self.pods.values()))
        if self.idle is not None and self.idle[0] == state and now - self.idle[1] < 300:
            return 0
        self.passes += 1
        plan = plan_disruptions(self.disruption_input(now), now, self.settings)
        result.passes += 1
        self.idle = None if plan.disruptions else (state, now)
        result.decision_seconds += plan.decision_seconds
        if plan.disruptions:
            pools = {p.name: p for p in self.pools}
            for c in plan.replacements:
                self.launch(node_from_claim(c, pools[c.node_pool], self.table),
                            c.options[0].price, now)
            self.inflight = (plan, now)
        return 0

    def record(self, now: float, disrupted: int, result: TimelineResult) -> None:
        pending = sum(1 for p in self.pods.values()
                      if not p.node_name or not self.ready(p.node_name, now))
        cost = sum(self.price(n) for n in self.nodes.values())
        replicas = sum(1 for p in self.pods.values()
                       if any(_owned(p, w) for w in self.templates))
        launching = sum(1 for n in self.nodes if not self.ready(n, now))
        result.rows.append(Row(now - self.start, replicas, len(self.nodes), launching,
                               round(cost, 6), pending, disrupted))
        result.total_cost += cost * self.step / 3600
        result.pending_pod_seconds += pending * self.step


def run_timeline(inputs: SimulationInput, events: Sequence[Event],
                 settings: DisruptionSettings, step: float = 60.0, start: float | None = None,
                 path: str = "", until: float | None = None) -> TimelineResult:
    """Run the loop from the first event to `until` (default: the last event plus 15 steps,
    so the consolidation after the last change shows)."""
    begin = DEFAULT_START if start is None else start
    end = until if until is not None else max(e.at for e in events) + 15 * step
    # Every step is a provisioning and a disruption pass: bound them before starting.
    cap = limits.current().timeline_steps
    check_finite(step, "step", minimum=1e-3, field="--timeline-step")
    if end / step > cap:
        raise LimitError(f"{end / step:.0f} steps (the last event plus 15 steps, at "
                         f"{step:g} s each)", "timeline-steps", cap, file=path or None)
    check_finite(begin + end, "the end of the timeline (Unix seconds)", minimum=0,
                 maximum=MAX_TIMESTAMP, file=path or None)
    loop = _Loop(inputs, settings, step, begin, path, events)
    result = TimelineResult(step)
    queue = list(events)
    t = 0.0
    while t <= end + 1e-9:
        now = begin + t
        while queue and queue[0].at <= t + 1e-9:
            e = queue.pop(0)
            loop.scale(e.workload, e.replicas, now)
        disrupted = loop.disrupt(now, result)
        loop.provision(now)
        loop.record(now, disrupted, result)
        t += step
    return result
