"""`plan_disruptions`: one pure disruption pass, and the ordered steps that carry it out.

    plan = plan_disruptions(inputs, now, settings)

reads the cluster (`DisruptionInput`), decides which nodes to delete or replace and where
their pods go, and returns a `DisruptionPlan`. Nothing is changed: the control loop (or the
timeline simulation) executes `plan.steps` in order:

1. `launch`: create the replacement node claims of a command;
2. `await-ready`: wait until they are Ready (the launch delay);
3. `validate`: after the validation delay, call `revalidate(plan, inputs_now, now, ...)`
   and drop the commands whose nodes or pods changed or whose simulation no longer holds;
4. `cordon`, `drain` (evict the listed pods, respecting PDBs), `delete` the old nodes.

Replacements are always launched and Ready before anything is drained.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from scaler.core.disruption.budgets import allowed, parse_budgets
from scaler.core.disruption.candidates import (
    EMPTINESS,
    KARPENTER,
    DisruptionInput,
    DisruptionSettings,
    build_candidates,
    pool_totals,
)
from scaler.core.disruption.cluster_view import ClusterView
from scaler.core.disruption.methods import karpenter_methods
from scaler.core.disruption.methods.context import BUDGET_REASON, Method, PassContext
from scaler.core.disruption.methods.drift import Drift
from scaler.core.disruption.methods.emptiness import Emptiness
from scaler.core.disruption.methods.expiration import Expiration
from scaler.core.disruption.optimiser import Consolidation
from scaler.core.disruption.safety import Ledger, PodGuard, pdb_allowance
from scaler.core.resources import Resources
from scaler.core.scheduling.claim import ClaimPlan


@dataclass(frozen=True)
class Disruption:
    node: str
    reason: str  # empty | underutilized | drifted | expired
    method: str
    command: int  # index of the command (nodes disrupted together)
    replacements: tuple[str, ...]  # new nodes that receive this node's pods
    savings_per_hour: float  # node price less its share of the replacements
    pods: tuple[str, ...]  # pods evicted
    detail: str = ""  # why (drift: what no longer matches)


@dataclass(frozen=True)
class Move:
    pod: str
    source: str
    target: str  # an existing node or a replacement claim


@dataclass(frozen=True)
class Step:
    action: str  # launch | await-ready | validate | cordon | drain | delete
    command: int
    targets: tuple[str, ...]  # claims (launch, await-ready), nodes, or pods (drain)
    wait_seconds: float = 0.0  # how long this step waits before it is done


@dataclass(frozen=True)
class DisruptionPlan:
    disruptions: tuple[Disruption, ...]
    replacements: tuple[ClaimPlan, ...]
    moves: tuple[Move, ...]
    steps: tuple[Step, ...]
    cost_before: float  # per hour, every node
    cost_after: float
    # From the consolidation MILP, when it ran: its plan and the best bound on any plan, as
    # the whole cluster's price per hour; status "optimal", "time limit" or "greedy fallback".
    solver: dict[str, object]
    blocked: tuple[tuple[str, str], ...]  # (node, why it may not be disrupted)
    notes: tuple[str, ...]
    decision_seconds: float
    pod_requests: Mapping[str, Resources] = field(default_factory=dict)  # evicted pods
    replacement_allocatable: Mapping[str, Resources] = field(default_factory=dict)

    @property
    def savings_per_hour(self) -> float:
        return self.cost_before - self.cost_after

    @property
    def removed(self) -> frozenset[str]:
        return frozenset(d.node for d in self.disruptions)

    @property
    def lower_bound(self) -> float | None:
        v = self.solver.get("lowerBoundPerHour")
        return float(v) if isinstance(v, int | float) else None

    @property
    def gap(self) -> float | None:
        lb = self.lower_bound
        if lb is None or lb <= 0:
            return None
        return max(self.cost_after / lb - 1.0, 0.0)


def methods_for(settings: DisruptionSettings) -> list[Method]:
    if settings.strategy == KARPENTER:
        return karpenter_methods()
    if settings.strategy == EMPTINESS:
        return [Emptiness()]
    return [Emptiness(), Drift(), Expiration(), Consolidation()]


def _ledger(inp: DisruptionInput, now: float, guard: PodGuard) -> Ledger:
    totals: dict[str, int] = {}
    for n in inp.nodes:
        if n.node_pool:
            totals[n.node_pool] = totals.get(n.node_pool, 0) + 1
    budget_left: dict[tuple[str, str], int] = {}
    for pool in inp.pools:
        budgets = parse_budgets(pool.disruption)
        for reason in BUDGET_REASON.values():
            budget_left[(pool.name, reason)] = allowed(
                budgets, reason, totals.get(pool.name, 0), inp.disrupting.get(pool.name, 0), now)
    return Ledger(guard.allowance, budget_left, totals)


def _named(inp: DisruptionInput, now: float) -> DisruptionInput:
    """Replacement names must be unique for the cluster's life (a launch is found again by
    its claim's name): without a prefix from the caller, the pass's clock gives one."""
    if inp.claim_prefix:
        return inp
    return dataclasses.replace(inp, claim_prefix=f"{int(now) % 0x1000000:06x}-")


def plan_disruptions(inp: DisruptionInput, now: float,
                     settings: DisruptionSettings | None = None) -> DisruptionPlan:
    """One disruption pass over the cluster at time `now` (seconds since the epoch)."""
    settings = settings or DisruptionSettings()
    started = time.perf_counter()
    inp = _named(inp, now)
    guard = PodGuard(tuple(inp.pdbs), pdb_allowance(inp.pdbs, inp.pods))
    candidates, _ = build_candidates(inp, now, guard, settings.empty_after)
    view = ClusterView(inp)
    ctx = PassContext(
        view=view,
        ledger=_ledger(inp, now, guard),
        settings=settings,
        now=now,
        candidates={c.name: c for c in candidates},
        # A little is kept back for assembling the plan.
        deadline=started + 0.95 * settings.time_budget,
        pool_totals=pool_totals(candidates),
    )
    cost_before = view.price()
    for method in methods_for(settings):
        method.run(ctx)
    return _assemble(ctx, cost_before, started,
                     tuple((c.name, c.blocked) for c in candidates if c.blocked))


def _assemble(ctx: PassContext, cost_before: float, started: float,
              blocked: tuple[tuple[str, str], ...]) -> DisruptionPlan:
    disruptions: list[Disruption] = []
    moves: list[Move] = []
    steps: list[Step] = []
    claims: list[ClaimPlan] = []
    requests: dict[str, Resources] = {}
    s = ctx.settings
    for no, cmd in enumerate(ctx.commands):
        savings = cmd.savings()
        trial = cmd.trial
        receivers: dict[str, set[str]] = {c.name: set() for c in cmd.nodes}
        claim_names = {c.name for c in trial.claims}
        for key, target in trial.placements.items():
            src = trial.origin.get(key)
            if src is None:
                continue
            moves.append(Move(key, src, target))
            if target in claim_names:
                receivers[src].add(target)
        for c in cmd.nodes:
            requests.update((p.key, p.requests) for p in c.pods)
            disruptions.append(Disruption(
                node=c.name,
                reason=cmd.reason,
                method=cmd.method,
                command=no,
                replacements=tuple(sorted(receivers[c.name])),
                savings_per_hour=round(savings[c.name], 6),
                pods=tuple(sorted(p.key for p in c.pods)),
                detail=c.drifted or "" if cmd.reason == "drifted" else "",
            ))
        claims.extend(trial.claims)
        names = tuple(c.name for c in cmd.nodes)
        if trial.claims:
            new = tuple(c.name for c in trial.claims)
            steps.append(Step("launch", no, new))
            steps.append(Step("await-ready", no, new, s.launch_delay))
        steps.append(Step("validate", no, names, s.validation_delay))
        steps.append(Step("cordon", no, names))
        steps.append(Step("drain", no, tuple(sorted(trial.origin))))
        steps.append(Step("delete", no, names))
    return DisruptionPlan(
        disruptions=tuple(disruptions),
        replacements=tuple(claims),
        moves=tuple(moves),
        steps=tuple(steps),
        cost_before=cost_before,
        cost_after=ctx.view.price(),
        solver=dict(ctx.solver),
        blocked=blocked,
        notes=tuple(ctx.notes),
        decision_seconds=time.perf_counter() - started,
        pod_requests=requests,
        replacement_allocatable={c.name: ctx.view.new_nodes[c.name].allocatable
                                 for c in claims if c.name in ctx.view.new_nodes},
    )


def empty_only(plan: DisruptionPlan) -> DisruptionPlan:
    """The plan cut to its empty nodes: what may go while pending pods are nominated to
    capacity (in flight, or with room). They own that room but the planner does not see
    them, so any move could take it and start a churn of evictions and launches."""
    return dataclasses.replace(plan, disruptions=tuple(
        d for d in plan.disruptions if d.reason == "empty" and not d.pods))


def revalidate(plan: DisruptionPlan, inp: DisruptionInput, now: float,
               settings: DisruptionSettings | None = None) -> DisruptionPlan:
    """The plan as still valid after the validation delay, on the cluster as it is now.

    A command survives when its nodes still exist with exactly the pods the plan evicts,
    are still not blocked (annotations, PDBs, budgets) and still consolidatable, and
    simulating its removal again places every pod, on room that is ready (`inp.unready`
    receives none). The replacements it launched count as existing nodes in `inp`. Dropped
    commands are named in `notes`.
    """
    settings = settings or DisruptionSettings()
    started = time.perf_counter()
    inp = _named(inp, now)
    guard = PodGuard(tuple(inp.pdbs), pdb_allowance(inp.pdbs, inp.pods))
    candidates, by_node = build_candidates(inp, now, guard, settings.empty_after)
    by_name = {c.name: c for c in candidates}
    ledger = _ledger(inp, now, guard)
    # The drain follows at once: the pods may only go where room is ready now.
    view = ClusterView(inp, ready_room_only=True)
    cost_before = view.price()
    ctx = PassContext(view, ledger, settings, now, by_name, started + settings.time_budget,
                      pool_totals=pool_totals(candidates))
    commands = sorted({d.command for d in plan.disruptions})
    prefer = {m.pod: [m.target] for m in plan.moves}
    from scaler.core.disruption.cluster_view import Trial
    from scaler.core.disruption.methods.context import Command

    for no in commands:
        mine = [d for d in plan.disruptions if d.command == no]
        cands = [by_name.get(d.node) for d in mine]
        fresh = [c for c in cands if c is not None]
        if len(fresh) != len(mine) or any(
            c.blocked or tuple(sorted(p.key for p in c.pods)) != d.pods
            for c, d in zip(fresh, mine, strict=True)
        ):
            ctx.notes.append(f"command {no} dropped: its nodes or pods changed")
            continue
        reason = mine[0].reason
        if reason == "underutilized" and not all(c.consolidatable for c in fresh):
            ctx.notes.append(f"command {no} dropped: no longer consolidatable")
            continue
        if not ctx.fits(reason, fresh):
            ctx.notes.append(f"command {no} dropped: over a disruption budget or PDB")
            continue
        if all(c.empty for c in fresh):
            trial = Trial(tuple(c.name for c in fresh), (), {}, (), {})
        else:
            # The pods go where the plan put them when they still can (its replacements
            # are existing nodes by now).
            trial = view.trial([c.name for c in fresh], prefer=prefer)
            if not trial.ok:
                ctx.notes.append(f"command {no} dropped: its pods no longer fit")
                continue
        ctx.commit(Command(mine[0].method, reason, tuple(fresh), trial))
    del by_node
    return _assemble(ctx, cost_before, started, ())


__all__: Sequence[str] = (
    "Disruption", "DisruptionPlan", "Move", "Step", "plan_disruptions", "revalidate",
)
