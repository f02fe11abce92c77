"""The disruption executor: a queue that carries out a disruption plan's steps.

    executor.submit(plan, now)        # launch each command's replacements
    executor.advance(now, current)    # later passes: finish what may be finished

Per command, in the plan's order (`scaler.core.disruption.plan`): its replacements are
launched, then awaited until their nodes are Ready; after the validation delay the command is
revalidated with the core's `revalidate` on the cluster as it is then (a command that no
longer holds is dropped, its replacements stay for the next pass to judge); then its nodes
are cordoned (tainted `karpenter.sh/disrupted:NoSchedule`), drained through the cluster port
(PodDisruptionBudgets respected; a blocked drain is undone and the command dropped), and
deleted with their instances and claims. Before the drain and the delete the command's nodes
and replacements are checked to be still there.

An interruption (`interrupt`: a Spot warning, a scheduled change, an instance stopping) is a
command of its own, carried out at once: the node is cordoned, capacity for its pods is
launched (the provisioning step, the node left out) before any is evicted, then the node is
drained through the cluster port (budgets respected up to the drain timeout; the instance
goes regardless) and deleted with its instance and claim. It waits neither for the
validation delay nor for its replacements to be Ready: the cloud's deadline (two minutes
for Spot) is not ours to move.

A node whose NodePool sets `terminationGracePeriod` is not given back when its drain is
blocked: it stays cordoned and its drain is retried each pass, and once the grace period,
counted from the first drain, is over the pods still there (held by a PodDisruptionBudget or
`karpenter.sh/do-not-disrupt`) are deleted and the node terminated, as Karpenter's
termination controller does.

It reads and acts only through the cluster and cloud ports, so `scaler run` (Kubernetes or
simulated) and `scaler simulate --timeline` run this same code; `decisions` lists what it did.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from pricing import InstanceType
from scaler.control.provisioning import (
    NORMAL,
    WARNING,
    Decision,
    NullReporter,
    Provisioner,
    Reporter,
)
from scaler.core.disruption.budgets import parse_duration
from scaler.core.disruption.candidates import DisruptionInput, DisruptionSettings
from scaler.core.disruption.plan import Disruption, DisruptionPlan, revalidate
from scaler.core.disruption.safety import evictable
from scaler.core.model import NodePool, Snapshot, Taint
from scaler.core.provisioning import NodeClaimSpec
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.ports.cloud import CloudError, CloudNode, CloudProvider, NodeNotFoundError
from scaler.ports.cluster import ClaimView, ManagedCluster, ObjectRef
from scaler.ports.fence import Fence

log = logging.getLogger(__name__)

DISRUPTED_TAINT = Taint("karpenter.sh/disrupted", "NoSchedule")
REASONS = {"empty": "Empty", "underutilized": "Underutilized", "drifted": "Drifted",
           "expired": "Expired"}


class ChangeTracker:
    """When each node's pods last changed, as far as the loop has looked (Karpenter counts
    consolidateAfter from it). A first look at a node falls back to its creation time."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[frozenset[str], float]] = {}

    def observe(self, snapshot: Snapshot, now: float) -> dict[str, float]:
        pods: dict[str, set[str]] = {}
        for p in snapshot.pods:
            if p.node_name:
                pods.setdefault(p.node_name, set()).add(p.key)
        out: dict[str, float] = {}
        for node in snapshot.nodes:
            now_pods = frozenset(pods.get(node.name, ()))
            seen = self._seen.get(node.name)
            if seen is None or seen[0] != now_pods:
                at = now if seen is not None or node.created is None else node.created
                self._seen[node.name] = (now_pods, at)
            out[node.name] = self._seen[node.name][1]
        for gone in set(self._seen) - {n.name for n in snapshot.nodes}:
            del self._seen[gone]
        return out


def ready_claims(cluster: ManagedCluster) -> dict[str, ClaimView]:
    """Node name -> its claim, for claims whose node is registered and Ready (Initialized)."""
    return {c.node_name: c for c in cluster.claims()
            if c.node_name and c.initialized and not c.deleting}


def disruption_input(cluster: ManagedCluster, table: InstanceTypeTable,
                     pools: Sequence[NodePool], changes: ChangeTracker, now: float,
                     protected: frozenset[str] = frozenset(),
                     claim_prefix: str = "") -> DisruptionInput:
    """The cluster as a disruption pass sees it. Only nodes of a claim that is registered
    and Ready are candidates; `protected` (nodes or claims) are left alone too."""
    snap = cluster.snapshot()
    claims = ready_claims(cluster)
    return DisruptionInput(
        table=table, pools=pools, nodes=snap.nodes, pods=snap.pods,
        daemonsets=snap.daemonsets, pdbs=snap.disruption_budgets,
        last_change=changes.observe(snap, now),
        protected=frozenset(n.name for n in snap.nodes
                            if n.name not in claims or n.name in protected
                            or claims[n.name].name in protected),
        claim_prefix=claim_prefix)


def grace_seconds(pool: NodePool | None) -> float | None:
    """The NodePool's terminationGracePeriod in seconds, None when it sets none."""
    if pool is None or not pool.termination_grace_period:
        return None
    return parse_duration(pool.termination_grace_period)


def delete_left_pods(cluster: ManagedCluster, ref: ObjectRef, node: str,
                     blocked: Mapping[str, str], grace: float) -> None:
    """The terminationGracePeriod is over: the pods a drain could not evict are deleted
    (no eviction, so no budget is asked), each with an event saying why."""
    for pod in sorted(blocked):
        cluster.delete_pod(pod)
        cluster.event(ObjectRef.pod(pod), WARNING, "Deleted",
                      f"terminationGracePeriod {grace:.0f}s of node/{node} is over: "
                      f"{blocked[pod]}")
    cluster.event(ref, WARNING, "TerminationGracePeriodExpired",
                  f"deleted {len(blocked)} pod(s) left on node/{node} after {grace:.0f}s")


@dataclass
class _Command:
    plan: DisruptionPlan  # this command only
    reason: str  # Karpenter's spelling: Empty, Underutilized, ...
    decided: float
    claims: dict[str, ClaimView]  # node -> its claim when decided
    replacements: tuple[str, ...] = ()
    detail: str = ""
    # node -> its NodePool's terminationGracePeriod in seconds (absent: none set)
    grace: dict[str, float] = field(default_factory=dict)

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(d.node for d in self.plan.disruptions)


@dataclass
class _Draining:
    """A node whose blocked drain waits out its NodePool's terminationGracePeriod."""

    cmd: _Command
    disruption: Disruption
    claim: ClaimView | None
    started: float  # when its drain began

    @property
    def deadline(self) -> float:
        return self.started + self.cmd.grace[self.disruption.node]


@dataclass
class ExecutorStats:
    replacements: int = 0
    disrupted: int = 0
    blocked: int = 0
    dropped: int = 0
    interrupted: int = 0


@dataclass
class DisruptionExecutor:
    cluster: ManagedCluster
    cloud: CloudProvider
    fence: Fence
    provisioner: Provisioner
    settings: DisruptionSettings = field(default_factory=DisruptionSettings)
    drain_timeout: float = 60.0
    reporter: Reporter = field(default_factory=NullReporter)
    notes: list[str] = field(default_factory=list)  # why commands were dropped
    stats: ExecutorStats = field(default_factory=ExecutorStats)
    completed: list[tuple[float, Disruption]] = field(default_factory=list)  # (when, what)
    queue: list[_Command] = field(default_factory=list)
    draining: list[_Draining] = field(default_factory=list)
    # Replacement claims this executor launched or recalled (each is recalled once).
    known: set[str] = field(default_factory=set)

    @property
    def decisions(self) -> list[Decision]:
        """Shared with the provisioning step, so launches and disruptions are in one order."""
        return self.provisioner.decisions

    @property
    def busy(self) -> bool:
        return bool(self.queue or self.draining)

    # -- launch ---------------------------------------------------------------------------

    def submit(self, plan: DisruptionPlan, now: float, pools: Sequence[NodePool],
               catalog: Mapping[str, InstanceType]) -> None:
        """Queue the plan's commands and launch their replacements."""
        claims = ready_claims(self.cluster)
        specs = {c.name: c for c in plan.replacements}
        pool_of = {p.name: p for p in pools}
        for no in sorted({d.command for d in plan.disruptions}):
            mine = tuple(d for d in plan.disruptions if d.command == no)
            nodes = {d.node for d in mine}
            sub = dataclasses.replace(
                plan, disruptions=mine,
                moves=tuple(m for m in plan.moves if m.source in nodes),
                replacements=tuple(specs[r] for r in sorted({r for d in mine
                                                             for r in d.replacements})
                                   if r in specs))
            reason = REASONS.get(mine[0].reason, mine[0].reason.capitalize())
            cmd = _Command(sub, reason, now, {n: claims[n] for n in nodes if n in claims},
                           detail=self._detail(sub))
            for n, claim in cmd.claims.items():
                grace = grace_seconds(pool_of.get(claim.node_pool))
                if grace is not None:
                    cmd.grace[n] = grace
            if not self._launch(cmd, catalog, pool_of):
                continue
            self.queue.append(cmd)

    def _detail(self, plan: DisruptionPlan) -> str:
        d = plan.disruptions[0]
        reason = REASONS.get(d.reason, d.reason.capitalize())
        pods = sum(len(x.pods) for x in plan.disruptions)
        where = (f"to {len(plan.replacements)} cheaper replacement(s)" if plan.replacements
                 else "to other nodes")
        what = d.detail or (f"{d.method}: {pods} pods move {where}" if pods
                            else f"node {d.node} holds no pods")
        return f"{reason}: {what}"

    def _launch(self, cmd: _Command, catalog: Mapping[str, InstanceType],
                pools: Mapping[str, NodePool]) -> bool:
        if not cmd.plan.replacements:
            return True
        first = next(iter(cmd.claims.values()), None)
        ref = ObjectRef.nodeclaim(first.name if first else cmd.nodes[0])
        if not self.fence.allow(f"launch {len(cmd.plan.replacements)} replacement(s) for "
                                f"node(s) {', '.join(cmd.nodes)} ({cmd.detail})"):
            self.cluster.event(ref, NORMAL, "DisruptionLaunching",
                               f"dry run: would launch replacements: {cmd.detail}")
            self.reporter.record_disruption_decision(cmd.reason.lower(), "dry_run")
            return False
        names = []
        # Kept on each replacement claim: the claim of the command's first node.
        replaces = first.name if first else ""
        for claim in cmd.plan.replacements:
            pool = pools.get(claim.node_pool)
            if pool is None:
                self._drop(cmd, f"NodePool {claim.node_pool} is gone")
                return False
            try:
                launched = self.provisioner.launch(NodeClaimSpec.of(claim, pool), catalog,
                                                   "disruption", replaces=replaces)
            except CloudError as e:
                self._drop(cmd, f"replacement {claim.name} failed to launch: {e}")
                return False
            if launched is None:
                return False
            names.append(claim.name)
            self.known.add(claim.name)
        cmd.replacements = tuple(names)
        self.stats.replacements += len(names)
        self.reporter.record_disruption_decision(cmd.reason.lower(), "replace")
        self.cluster.event(ref, NORMAL, "DisruptionLaunching",
                           f"Launching NodeClaim {', '.join(names)}: {cmd.detail}")
        return True

    def recall(self, now: float) -> int:
        """Queue again the replacements a previous leader (or this process before a restart)
        launched and did not finish, read back from their claims' label (LABEL_REPLACES):
        the old node is drained onto them once they are Ready and its command revalidates,
        as if this executor had launched them; meanwhile nothing else is planned, so they
        are not consolidated away and no second replacement is launched. A recalled command
        that no longer holds is dropped like any other (its replacements are judged by the
        next pass). The commands recalled."""
        claims = {c.name: c for c in self.cluster.claims()}
        known = self.known | {r for cmd in self.queue for r in cmd.replacements}
        found: dict[str, list[ClaimView]] = {}
        for c in claims.values():
            old = claims.get(c.replaces) if c.replaces else None
            if c.name in known or c.deleting or old is None or old.deleting \
                    or not old.node_name:
                continue
            found.setdefault(old.name, []).append(c)
        if not found:
            return 0
        pods: dict[str, list[str]] = {}
        for p in self.cluster.snapshot().pods:
            if p.node_name and evictable(p):
                pods.setdefault(p.node_name, []).append(p.key)
        for old_name, mine in sorted(found.items()):
            old = claims[old_name]
            names = tuple(sorted(c.name for c in mine))
            self.known.update(names)
            reason = "drifted" if old.drifted else "underutilized"
            d = Disruption(old.node_name, reason, "drift" if old.drifted else "single-node", 0,
                           names, 0.0, tuple(sorted(pods.get(old.node_name, ()))),
                           "finishing a replacement launched earlier")
            plan = DisruptionPlan(disruptions=(d,), replacements=(), moves=(), steps=(),
                                  cost_before=0.0, cost_after=0.0, solver={}, blocked=(),
                                  notes=(), decision_seconds=0.0)
            cmd = _Command(plan, REASONS[reason], min(c.created_at for c in mine),
                           {old.node_name: old}, replacements=names,
                           detail=f"{REASONS[reason]}: replaced by {', '.join(names)}, "
                                  f"launched earlier")
            log.info("recalled the replacement of node %s by %s", old.node_name,
                     ", ".join(names))
            self.queue.append(cmd)
        return len(found)

    # -- the rest of the steps -----------------------------------------------------------

    def advance(self, now: float, current: Callable[[], DisruptionInput]) -> int:
        """Carry every queued command as far as it may go now; the nodes deleted."""
        done = 0
        for waiting in list(self.draining):
            done += self._drain_more(waiting, now)
        for cmd in list(self.queue):
            state = self._waiting(cmd, now)
            if state == "wait":
                continue
            self.queue.remove(cmd)
            if state == "gone":
                continue
            done += self._carry_out(cmd, now, current)
        return done

    def _waiting(self, cmd: _Command, now: float) -> str:
        """wait: not yet; gone: a replacement was given up (the next pass decides again);
        go: every replacement Ready and the validation delay over."""
        if cmd.replacements:
            claims = {c.name: c for c in self.cluster.claims()}
            for name in cmd.replacements:
                claim = claims.get(name)
                if claim is None or claim.deleting:
                    self._drop(cmd, f"replacement {name} is gone")
                    return "gone"
                if not claim.initialized:
                    return "wait"
        return "go" if now >= cmd.decided + self.settings.validation_delay else "wait"

    def _carry_out(self, cmd: _Command, now: float,
                   current: Callable[[], DisruptionInput]) -> int:
        still = revalidate(cmd.plan, current(), now, self.settings)
        if len(still.disruptions) != len(cmd.plan.disruptions) or still.replacements:
            why = "; ".join(still.notes) or "it needs new replacements"
            self._drop(cmd, why)
            return 0
        done = 0
        for d in cmd.plan.disruptions:
            claim = cmd.claims.get(d.node)
            ref = ObjectRef.nodeclaim(claim.name if claim else d.node)
            if not self.fence.allow(f"disrupt node {d.node} ({cmd.detail})"):
                self.cluster.event(ref, NORMAL, "DisruptionTerminating",
                                   f"dry run: would disrupt NodeClaim: {cmd.detail}")
                self.reporter.record_disruption_decision(cmd.reason.lower(), "dry_run")
                continue
            if not self._present(cmd, d.node):
                continue
            self.cluster.event(ref, NORMAL, "DisruptionTerminating",
                               f"Disrupting NodeClaim: {cmd.detail}")
            self.cluster.taint(d.node, DISRUPTED_TAINT)
            self.provisioner.decide("cordon", d.node, now)
            if not self._present(cmd, d.node):
                self.cluster.untaint(d.node, DISRUPTED_TAINT.key)
                continue
            drained = self.cluster.drain(d.node, self.drain_timeout)
            self.provisioner.decide("drain", d.node, now)
            if not drained.done and d.node in cmd.grace:
                # Karpenter's terminationGracePeriod: the node stays cordoned and draining.
                self.draining.append(_Draining(cmd, d, claim, now))
                self.cluster.event(ref, WARNING, "DisruptionBlocked",
                                   f"Draining NodeClaim: {self._blocked(drained.blocked)}; "
                                   f"pods left after {self._grace_text(cmd, d.node)} "
                                   "(terminationGracePeriod) will be deleted")
                continue
            if not drained.done:
                self.cluster.untaint(d.node, DISRUPTED_TAINT.key)
                why = "; ".join(sorted(set(drained.blocked.values())))
                self.cluster.event(ref, WARNING, "DisruptionBlocked",
                                   f"Cannot disrupt NodeClaim: {why}")
                for pod in drained.blocked:
                    self.cluster.event(ObjectRef.pod(pod), WARNING, "DisruptionBlocked",
                                       drained.blocked[pod])
                self.stats.blocked += 1
                self.reporter.record_disruption_decision(cmd.reason.lower(), "blocked")
                continue
            if not self._present(cmd, d.node):
                continue
            done += self._terminate(cmd, d, claim, now)
        return done

    @staticmethod
    def _blocked(blocked: Mapping[str, str]) -> str:
        return "; ".join(sorted(set(blocked.values())))

    @staticmethod
    def _grace_text(cmd: _Command, node: str) -> str:
        return f"{cmd.grace[node]:.0f}s"

    def _drain_more(self, waiting: _Draining, now: float) -> int:
        """One more drain of a node waiting out its grace period; past the deadline, the
        pods still there are deleted (no eviction, so no budget is asked) and the node goes."""
        cmd, d, claim = waiting.cmd, waiting.disruption, waiting.claim
        ref = ObjectRef.nodeclaim(claim.name if claim else d.node)
        if d.node not in {n.name for n in self.cluster.snapshot().nodes}:
            self.draining.remove(waiting)
            self._drop(cmd, f"node {d.node} is gone")
            return 0
        drained = self.cluster.drain(d.node, 0.0)  # one round: the next pass tries again
        if not drained.done:
            if now < waiting.deadline:
                return 0
            delete_left_pods(self.cluster, ref, d.node, drained.blocked, cmd.grace[d.node])
        self.draining.remove(waiting)
        return self._terminate(cmd, d, claim, now)

    def _terminate(self, cmd: _Command, d: Disruption, claim: ClaimView | None,
                   now: float) -> int:
        """The drained node, its instance and its claim go."""
        ref = ObjectRef.nodeclaim(claim.name if claim else d.node)
        self.cluster.delete_node(d.node)
        if claim is not None:
            if claim.provider_id:
                self.delete_instance(claim.provider_id)
            self.cluster.delete_claim(claim.name)
        self.provisioner.decide("delete", d.node, now)
        self.completed.append((now, d))
        self.stats.disrupted += 1
        self.reporter.record_termination(claim.node_pool if claim else "",
                                         cmd.reason.lower())
        self.reporter.record_disruption_decision(cmd.reason.lower(), "delete")
        self.cluster.event(ref, NORMAL, "Consolidated",
                           f"{cmd.detail}; removed node/{d.node}, saving "
                           f"${d.savings_per_hour:.4f}/h")
        return 1

    def _present(self, cmd: _Command, node: str) -> bool:
        """The node and the command's replacements are still there (between two steps a
        user, an interruption or a crash may have taken one away)."""
        names = {n.name for n in self.cluster.snapshot().nodes}
        claims = {c.name for c in self.cluster.claims()}
        if node not in names:
            self._drop(cmd, f"node {node} is gone")
            return False
        missing = [r for r in cmd.replacements if r not in claims]
        if missing:
            self._drop(cmd, f"replacement {missing[0]} is gone")
            return False
        return True

    # -- interruptions ------------------------------------------------------------------

    def interrupt(self, node: CloudNode, reason: str, detail: str, pools: Sequence[NodePool],
                  now: float, claim_prefix: str = "") -> tuple[str, ...]:
        """The instance is going away: cordon its node, launch capacity for the node's pods,
        drain (blocked pods are reported and left to the cloud) and delete the node,
        terminate the instance, delete the claim. `pools` empty: nothing is launched. The
        claims launched for the node's pods."""
        claim = next((c for c in self.cluster.claims() if c.name == node.claim_name
                      or (c.provider_id and c.provider_id == node.provider_id)), None)
        ref = ObjectRef.nodeclaim(claim.name if claim else node.claim_name)
        self.cluster.event(ref, WARNING, reason, f"{detail}: {node.provider_id} is going away")
        if not self.fence.allow(f"terminate interrupted node claim {ref.name}"):
            return ()
        node_name = claim.node_name if claim else ""
        if not node_name:
            # The node may have joined before the lifecycle pass recorded it on the claim:
            # find it by the instance's providerID, or it would outlive its instance.
            found = self.cluster.node_for_provider_id(node.provider_id)
            node_name = found[0] if found else ""
        launched: tuple[str, ...] = ()
        if node_name:
            # Cordoned before the launch, so nothing new lands on it meanwhile.
            self.cluster.taint(node_name, DISRUPTED_TAINT)
            self.provisioner.decide("cordon", node_name, now)
            launched = self._launch_ahead(node_name, pools, claim_prefix)
            drained = self.cluster.drain(node_name, self.drain_timeout)
            self.provisioner.decide("drain", node_name, now)
            for pod, why in drained.blocked.items():
                self.cluster.event(ObjectRef.pod(pod), WARNING, "DisruptionBlocked",
                                   f"{why}; the instance is going away regardless")
            self.cluster.delete_node(node_name)
        self.delete_instance(node.provider_id)
        if claim is not None:
            self.cluster.delete_claim(claim.name)
        if node_name:
            self.provisioner.decide("delete", node_name, now)
        self.reporter.record_termination(node.node_pool, "interrupted")
        self.stats.interrupted += 1
        return launched

    def _launch_ahead(self, node_name: str, pools: Sequence[NodePool],
                      claim_prefix: str) -> tuple[str, ...]:
        """Launch capacity for the pods of a node about to go, before they are evicted: their
        replacements, pending, find it in flight."""
        snap = self.cluster.snapshot()
        displaced = [dataclasses.replace(p, node_name=None) for p in snap.pods
                     if p.node_name == node_name and not p.is_daemonset_pod
                     and p.owner_kind not in (None, "Node")]  # only what a controller recreates
        if not displaced or not pools:
            return ()
        rest = dataclasses.replace(
            snap, nodes=tuple(n for n in snap.nodes if n.name != node_name),
            pods=tuple(p for p in snap.bound_pods if p.node_name != node_name))
        # Pods already pending own the room in flight for them (another node's replacement):
        # solved with them, the displaced pods get room of their own.
        outcome = self.provisioner.provision(pools, rest, [*snap.pending_pods, *displaced],
                                             claim_prefix=claim_prefix,
                                             purpose="interruption", bind=False)
        return tuple(x.spec.name for x in outcome.launched)

    def delete_instance(self, provider_id: str) -> None:
        if not self.fence.allow(f"terminate instance {provider_id}"):
            return
        try:
            self.cloud.delete(provider_id)
        except NodeNotFoundError:
            pass
        except CloudError as e:
            self.reporter.record_cloud_error("delete", type(e).__name__)
            raise

    def _drop(self, cmd: _Command, why: str) -> None:
        self.stats.dropped += 1
        self.notes.append(f"{', '.join(cmd.nodes)}: {why}")
        log.info("disruption of %s dropped: %s", ", ".join(cmd.nodes), why)
