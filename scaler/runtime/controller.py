"""The control loop's passes: provision, register, disrupt, collect garbage, prices, cost.

Each pass reads the cluster through the `ManagedCluster` port (the Kubernetes adapter, or
the simulated one) and acts through it and the cloud port. Every mutating call passes the
fence first (leadership, then dry-run), so a replica that lost its lease stops between any
two calls. A pass that fails logs one line and leaves the next pass to try again.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pricing import InstanceType
from scaler.control.disruption import (
    DISRUPTED_TAINT,
    ChangeTracker,
    DisruptionExecutor,
    delete_left_pods,
    disruption_input,
    grace_seconds,
)
from scaler.control.provisioning import Decision, Provisioner
from scaler.core.disruption.candidates import DisruptionInput, DisruptionSettings
from scaler.core.disruption.drift import drift_of
from scaler.core.disruption.plan import empty_only, plan_disruptions
from scaler.core.model import NodePool, Snapshot
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.core.scheduling.pool_fit import CONDITION_REASON, CONDITION_TYPE, IdlePool
from scaler.errors import UserError
from scaler.ports.cloud import STOPPED_STATES, CloudError, CloudNode, CloudProvider
from scaler.ports.cluster import ClaimView, ClusterError, ManagedCluster, ObjectRef
from scaler.ports.fence import Fence, NotLeaderError
from scaler.runtime.batcher import Batcher
from scaler.runtime.policies import PolicyHolder
from scaler.runtime.reporters import MetricsRecorder, NullMetrics

log = logging.getLogger(__name__)

NORMAL, WARNING = "Normal", "Warning"
# A NodePool some instance type satisfies again (Karpenter's root condition, True).
READY_AGAIN: Mapping[str, str] = {"type": CONDITION_TYPE, "status": "True", "reason": "Ready",
                                  "message": ""}


@dataclass(frozen=True)
class LoopSettings:
    region: str = ""
    drain_timeout: float = 60.0
    registration_ttl: float = 900.0  # launched but no node after this: give the instance up
    launch_ttl: float = 300.0  # a claim never launched (a crash mid-launch) is dropped
    # A node or claim pods were nominated to is not disrupted for this long (the pods are
    # on their way; until kube-scheduler binds them the node looks empty).
    nomination_ttl: float = 20.0


@dataclass
class PassStats:
    provision_passes: int = 0
    launched: int = 0
    registered: int = 0
    disrupted: int = 0
    blocked: int = 0
    interrupted: int = 0
    replacements: int = 0


class Controller:
    def __init__(self, cluster: ManagedCluster, cloud: CloudProvider, policies: PolicyHolder,
                 fence: Fence, *, settings: LoopSettings | None = None,
                 metrics: MetricsRecorder | None = None,
                 disruption: DisruptionSettings | None = None,
                 batcher: Batcher | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.cluster = cluster
        self.cloud = cloud
        self.policies = policies
        self.fence = fence
        self.settings = settings or LoopSettings()
        self.metrics: MetricsRecorder = metrics or NullMetrics()
        self.batcher = batcher or Batcher()
        self.clock = clock
        self.stats = PassStats()
        self.accrued: dict[str, float] = {}  # dollars per NodePool since start
        self._accrued_at: float | None = None
        self._lock = threading.Lock()  # one decision pass at a time
        self._nominated: dict[str, float] = {}  # node or claim -> when pods were last sent
        self._pending_checked = float("-inf")
        # The same provisioning step and disruption executor the simulations run.
        self.provisioner = Provisioner(cluster, cloud, fence, self.settings.region,
                                       self.metrics, clock)
        self.executor = DisruptionExecutor(
            cluster, cloud, fence, self.provisioner, disruption or DisruptionSettings(),
            self.settings.drain_timeout, self.metrics)
        self.changes = ChangeTracker()
        # Idle NodePools (no instance type satisfies them) -> their Ready=False condition.
        self.pool_conditions: dict[str, Mapping[str, str]] = {}
        # Node -> why the cloud calls it drifted (its NodeClass), as of the last pass.
        self.cloud_drift: dict[str, str] = {}

    @property
    def decisions(self) -> list[Decision]:
        """Launches, cordons, drains and deletes, in the order they were made."""
        return self.provisioner.decisions

    # -- provisioning --------------------------------------------------------------------

    def provision_tick(self) -> None:
        """Called often: open a batch when pods are pending, provision when it closes.

        Watch events open the window at once; this look at the whole cluster (pods still
        pending after a pass, a simulation without events) is made once per idle period."""
        now = time.monotonic()
        if not self.batcher.open and now - self._pending_checked >= self.batcher.idle:
            self._pending_checked = now
            if self.cluster.snapshot().pending_pods:
                self.batcher.trigger()
        if self.batcher.take():
            self.provision()

    def provision(self) -> None:
        with self._lock:
            self._guarded("provisioning", self._provision)

    def _provision(self) -> None:
        self._finish_launches()
        snap = self.cluster.snapshot()
        pending = snap.pending_pods
        self.metrics.set_pending(len(pending))
        if not pending:
            return
        if not self.policies.ready:
            log.warning("%d pods pending, but no policy bundle has been applied yet",
                        len(pending))
            return
        pools = list(self.policies.current.node_pools)
        if not pools:
            return
        started = time.perf_counter()
        self.provisioner.overlays = self.policies.current.node_overlays
        outcome = self.provisioner.provision(pools, snap, pending,
                                             claim_prefix=f"{secrets.token_hex(3)}-")
        self._idle_pools(outcome.decision.idle)
        self.metrics.observe_scheduling(time.perf_counter() - started, len(pending))
        self.stats.provision_passes += 1
        now = self.clock()
        # Until kube-scheduler binds the pods there, these look empty: keep them.
        for node_name in outcome.decision.existing:
            self._nominated[node_name] = now
        for launched in outcome.launched:
            self._nominated[launched.spec.name] = now
        self.stats.launched += len(outcome.launched)

    def _idle_pools(self, idle: Sequence[IdlePool]) -> None:
        """Each NodePool that became idle gets a warning, a Warning event and a `Ready=False`
        condition (kept in `pool_conditions` and written to its status); one that is fit
        again gets `Ready=True` back."""
        now_idle = {i.name: i for i in idle}
        for name, i in now_idle.items():
            if self.pool_conditions.get(name) != i.condition():
                log.warning("%s", i.warning())
                self.cluster.event(ObjectRef("NodePool", name, "", "karpenter.sh/v1"), WARNING,
                                   CONDITION_REASON, i.message)
                self._pool_status(name, i.condition())
            self.pool_conditions[name] = i.condition()
        for name in [n for n in self.pool_conditions if n not in now_idle]:
            del self.pool_conditions[name]
            self._pool_status(name, READY_AGAIN)

    def _pool_status(self, name: str, condition: Mapping[str, str]) -> None:
        """The launches are made by now: a status the API refuses is logged, not fatal."""
        try:
            self.cluster.node_pool_condition(name, condition)
        except ClusterError as e:
            log.warning("nodepool %s: status condition not written: %s", name, e)

    # -- node claim lifecycle ------------------------------------------------------------

    def lifecycle(self) -> None:
        with self._lock:
            self._guarded("node claim lifecycle", self._lifecycle)

    def _lifecycle(self) -> None:
        self._finish_launches()
        self._release_stale_taints()
        self._replace_stopped()
        now = self.clock()
        for claim in self.cluster.claims():
            ref = ObjectRef.nodeclaim(claim.name)
            found = (self.cluster.node_for_provider_id(claim.provider_id)
                     if claim.provider_id else None)
            if claim.deleting:
                self._terminate(claim, found[0] if found else "")
            elif claim.launched and not claim.registered:
                if found is not None:
                    node, ready = found
                    self.cluster.claim_registered(claim.name, node, ready)
                    self.stats.registered += 1
                    self.cluster.event(ref, NORMAL, "Registered", f"Registered as node/{node}")
                elif now - claim.created_at > self.settings.registration_ttl:
                    ttl = self.settings.registration_ttl
                    self._give_up(claim, "LivenessTimeout",
                                  f"no node registered within {ttl:.0f}s")
            elif claim.registered and found is None:
                # The node was deleted (by a user, or a previous disruption pass that died
                # halfway): the instance and the claim go too.
                self._give_up(claim, "NodeDeleted", f"node/{claim.node_name} is gone")
            elif claim.registered and not claim.initialized and found is not None and found[1]:
                self.cluster.claim_registered(claim.name, found[0], True)
            elif not claim.launched and now - claim.created_at > self.settings.launch_ttl:
                self.cluster.delete_claim(claim.name)

    def _finish_launches(self) -> None:
        """Claims whose launch was never recorded adopt their instance or go (the
        provisioning step's `finish_launches`), before anything counts their pods."""
        if not self.policies.ready:
            return
        self.provisioner.overlays = self.policies.current.node_overlays
        self.provisioner.finish_launches(self.policies.current.node_pools, self.clock(),
                                         self.settings.nomination_ttl)

    def _release_stale_taints(self) -> None:
        """The disruption executor taints, drains and deletes a node (for a plan's command
        or an interruption) within one locked call (a blocked drain is untainted there); a
        node still carrying the taint between passes is left from a call that died (a
        crash, an API error) and would stay cordoned: it is released, unless its claim is
        being deleted (termination waits for its drain across passes)."""
        deleting = {c.node_name for c in self.cluster.claims() if c.deleting}
        for node in self.cluster.snapshot().nodes:
            if node.name not in deleting and node.source != "nodeclaim" and any(
                    t.key == DISRUPTED_TAINT.key for t in node.taints) and \
                    self.fence.allow(f"release node {node.name} left tainted "
                                     f"{DISRUPTED_TAINT.key}"):
                self.cluster.untaint(node.name, DISRUPTED_TAINT.key)

    def _replace_stopped(self) -> None:
        """Claims whose instance stopped under them (a failed zone, a user's StopInstances):
        their node will not be Ready again, yet it would hold its pods and count as a zone
        for their spread. Each is replaced at once: its offering is kept out of the choices
        for a while (like a Spot interruption's), its node drained and deleted, its instance
        terminated, its claim deleted; the evicted pods are provisioned for again.

        The cloud is asked only when some launched claim has no Ready node: a NotReady node,
        or none yet (an instance may stop before its node registers). An instance the cloud
        no longer lists counts as gone only once its node had registered (a fresh instance
        may not be listed yet)."""
        suspects: list[tuple[ClaimView, str]] = []
        for claim in self.cluster.claims():
            if claim.deleting or not claim.launched or not claim.provider_id:
                continue
            found = self.cluster.node_for_provider_id(claim.provider_id)
            if found is None or not found[1]:
                suspects.append((claim, found[0] if found else ""))
        if not suspects:
            return
        try:
            listed = {n.provider_id: n for n in self.cloud.list()}
        except CloudError as e:  # the rest of the lifecycle pass goes on; the next one asks
            log.warning("could not list instances to check %d claims without a Ready node: %s",
                        len(suspects), e)
            return
        for claim, node_name in suspects:
            inst = listed.get(claim.provider_id)
            if inst is not None and inst.state in STOPPED_STATES:
                state = inst.state
            elif inst is None and node_name:
                state = "gone"
            else:
                continue
            ref = ObjectRef.nodeclaim(claim.name)
            if not self.fence.allow(f"replace node claim {claim.name}: instance {state}"):
                return
            if inst is not None:
                self.cloud.mark_unavailable(inst.instance_type, inst.zone, inst.capacity_type,
                                            f"instance {claim.provider_id} {state}")
            self.cluster.event(ref, WARNING, "InstanceStopped",
                               f"{claim.provider_id} is {state}: node/{node_name or '-'} will "
                               "not be Ready again; replacing it")
            if node_name:
                self.cluster.taint(node_name, DISRUPTED_TAINT)
                # Its pods run nowhere: one round of evictions (their controllers make them
                # again at once), then the node goes whatever a budget says.
                self.cluster.drain(node_name, 0.0)
                self.cluster.delete_node(node_name)
            self._delete_instance(claim.provider_id)
            self.cluster.delete_claim(claim.name)
            self.metrics.record_termination(claim.node_pool, "instance_stopped")

    def _terminate(self, claim: ClaimView, node_name: str) -> None:
        """A claim someone deleted: drain its node (PDBs respected; a blocked drain waits for
        the next pass, until its NodePool's terminationGracePeriod from the deletion is over:
        then the pods left are deleted), delete the node, terminate the instance, release
        the claim."""
        ref = ObjectRef.nodeclaim(claim.name)
        if not self.fence.allow(f"terminate deleted node claim {claim.name}"):
            return
        if node_name:
            self.cluster.taint(node_name, DISRUPTED_TAINT)
            drained = self.cluster.drain(node_name, min(self.settings.drain_timeout, 10.0))
            grace = grace_seconds(self.policies.current.node_pool(claim.node_pool))
            over = (grace is not None and claim.deleted_at is not None
                    and self.clock() >= claim.deleted_at + grace)
            if not drained.done and over and grace is not None:
                delete_left_pods(self.cluster, ref, node_name, drained.blocked, grace)
            elif not drained.done:
                why = "; ".join(sorted(set(drained.blocked.values())))
                self.cluster.event(ref, WARNING, "DisruptionBlocked",
                                   f"Cannot terminate NodeClaim yet: {why}")
                return
            self.cluster.delete_node(node_name)
        if claim.provider_id:
            self._delete_instance(claim.provider_id)
        self.cluster.delete_claim(claim.name)
        self.cluster.event(ref, NORMAL, "Terminated",
                           f"Deleted node/{node_name or '-'} and {claim.provider_id or '-'}")
        self.metrics.record_termination(claim.node_pool, "deleted")

    def _give_up(self, claim: ClaimView, reason: str, message: str) -> None:
        if not self.fence.allow(f"give node claim {claim.name} up ({reason}: {message})"):
            return
        self.cluster.event(ObjectRef.nodeclaim(claim.name), WARNING, reason, message)
        if claim.provider_id:
            self._delete_instance(claim.provider_id)
        self.cluster.delete_claim(claim.name)
        self.metrics.record_termination(claim.node_pool, reason.lower())

    def _delete_instance(self, provider_id: str) -> None:
        self.executor.delete_instance(provider_id)

    def garbage_collect(self) -> None:
        with self._lock:
            self._guarded("garbage collection", self._garbage_collect)

    def _garbage_collect(self) -> None:
        live = {c.name for c in self.cluster.claims()}
        if not self.fence.allow(f"garbage-collect instances no node claim owns "
                                f"({len(live)} live claims)"):
            return
        for node in self.cloud.garbage_collect(live):
            log.warning("terminated %s: node claim %s does not exist", node.provider_id,
                        node.claim_name)

    # -- disruption ----------------------------------------------------------------------

    def disrupt(self) -> None:
        with self._lock:
            self._guarded("disruption", self._disrupt)

    def _disrupt(self) -> None:
        """Carry the plan in flight as far as it may go (the executor); when none is, plan
        the next one with the core and hand it over."""
        pools = list(self.policies.current.node_pools)
        now = self.clock()
        for name, at in list(self._nominated.items()):
            if now - at >= self.settings.nomination_ttl:
                del self._nominated[name]
        types = list(self.cloud.instance_types(pools[0])) if pools else []
        snap = self.cluster.snapshot()
        self._mark_drift(snap, self.cluster.claims(), pools, types)
        if not types:
            return
        table = InstanceTypeTable(types)
        nominated = frozenset(self._nominated)

        def current() -> DisruptionInput:
            inp = disruption_input(self.cluster, table, pools, self.changes, now, nominated,
                                   claim_prefix=f"{secrets.token_hex(3)}-")
            return dataclasses.replace(inp, cloud_drift=self.cloud_drift)

        # Replacements launched before a failover or a restart are finished, not redone.
        self.executor.recall(now)
        self.executor.advance(now, current)
        if not self.executor.busy:
            plan = plan_disruptions(current(), now, self.executor.settings)
            if plan.disruptions and snap.pending_pods and nominated:
                plan = empty_only(plan)  # until the nominated pods are bound
            if plan.disruptions:
                self.executor.submit(plan, now, pools, {it.name: it for it in types})
        ex = self.executor.stats
        self.stats.disrupted, self.stats.blocked = ex.disrupted, ex.blocked
        self.stats.replacements = ex.replacements

    # -- interruptions ------------------------------------------------------------------

    def interrupted(self, node: CloudNode, reason: str, detail: str) -> bool:
        """The instance is going away: capacity for its node's pods is launched, the node
        drained and deleted, the instance terminated, the claim dropped. False: retry later."""
        with self._lock:
            try:
                self._interrupted(node, reason, detail)
            except NotLeaderError as e:
                log.info("interruption handling stopped: %s", e)
                return False
            except (ClusterError, CloudError) as e:
                log.error("handling %s of %s failed: %s", reason, node.provider_id, e)
                return False
            return True

    def _interrupted(self, node: CloudNode, reason: str, detail: str) -> None:
        """The disruption executor carries it out at once (`DisruptionExecutor.interrupt`);
        the claims it launched for the node's pods are kept from disruption as nominated."""
        ready = self.policies.ready
        pools = list(self.policies.current.node_pools) if ready else []
        if ready:
            self.provisioner.overlays = self.policies.current.node_overlays
        launched = self.executor.interrupt(node, reason, detail, pools, self.clock(),
                                           claim_prefix=f"{secrets.token_hex(3)}-")
        for name in launched:
            self._nominated[name] = self.clock()  # its pods are on their way
        self.stats.interrupted = self.executor.stats.interrupted

    def _mark_drift(self, snap: Snapshot, claims: Sequence[ClaimView],
                    node_pools: Sequence[NodePool], types: Sequence[InstanceType]) -> None:
        """Keep each registered claim's Drifted condition true to its NodePool as it is now
        (requirements, labels, taints: the core's judge) and, when that finds nothing, to
        the cloud's NodeClass (`CloudProvider.is_drifted`: AMI, subnet, ...; one `list` per
        pass): what `kubectl get nodeclaims` and the planner see."""
        if not types:
            return
        table = InstanceTypeTable(types)
        pools = {p.name: p for p in node_pools}
        nodes = {n.name: n for n in snap.nodes}
        judged: list[tuple[ClaimView, NodePool, str | None]] = []
        for claim in claims:
            node = nodes.get(claim.node_name)
            pool = pools.get(claim.node_pool)
            if node is not None and pool is not None:
                drift = drift_of(node, pool, table)
                judged.append((claim, pool, drift.reason if drift else None))
        cloud = self._ask_cloud_drift([(c, p) for c, p, r in judged if r is None])
        for claim, _, reason in judged:
            if reason is None and cloud is None:
                continue  # the cloud could not tell this pass: the condition stays
            reason = reason or (cloud or {}).get(claim.name)
            if (reason is not None) != claim.drifted:
                self.cluster.claim_drifted(claim.name, reason)
                if reason is not None:
                    self.cluster.event(ObjectRef.nodeclaim(claim.name), NORMAL, "Drifted",
                                       f"NodeClaim drifted: {reason}")

    def _ask_cloud_drift(self, claims: Sequence[tuple[ClaimView, NodePool]]
                         ) -> dict[str, str] | None:
        """Claim -> why the cloud calls its node drifted; kept in `cloud_drift` (by node)
        for the disruption pass. None when the cloud could not be asked (the last answer
        is kept)."""
        launched = [(c, p) for c, p in claims if c.launched and c.provider_id]
        if not launched:
            self.cloud_drift = {}
            return {}
        try:
            listed = {n.provider_id: n for n in self.cloud.list()}
            found: dict[str, str] = {}
            for claim, pool in launched:
                node = listed.get(claim.provider_id)
                reason = self.cloud.is_drifted(node, pool) if node is not None else None
                if reason:
                    found[claim.name] = reason
        except (CloudError, UserError) as e:
            text = e.render() if isinstance(e, UserError) else str(e)
            log.warning("cloud drift check failed (keeping the last answer): %s", text)
            return None
        by_name = {c.name: c.node_name for c, _ in launched}
        self.cloud_drift = {by_name[name]: reason for name, reason in found.items()}
        return found

    # -- prices and cost -----------------------------------------------------------------

    def refresh_prices(self) -> None:
        refresh = getattr(self.cloud, "refresh_prices", None)
        if refresh is None:
            return
        try:
            refresh()
        except (CloudError, UserError) as e:
            self.metrics.record_cloud_error("refresh_prices", type(e).__name__)
            log.warning("price refresh failed (keeping the last prices): %s", e)
            return
        self.metrics.mark_price_refresh(self.clock())

    def accrue_costs(self) -> None:
        """Add what scaler's nodes cost since the last call, per NodePool and capacity type;
        report each NodePool's usage (its nodes' allocatable) and hourly cost."""
        now = self.clock()
        last, self._accrued_at = self._accrued_at, now
        per_hour: dict[tuple[str, str], float] = {}
        for claim in self.cluster.claims():
            if claim.launched:
                key = (claim.node_pool, claim.capacity_type or "unknown")
                per_hour[key] = per_hour.get(key, 0.0) + claim.price_per_hour
        for (pool, ct), rate in per_hour.items():
            self.metrics.set_nodepool_cost(pool, ct, rate)
            if last is not None:
                dollars = rate * (now - last) / 3600
                self.accrued[pool] = self.accrued.get(pool, 0.0) + dollars
                self.metrics.record_cost(pool, ct, dollars)
        usage: dict[str, dict[str, float]] = {}
        for node in self.cluster.snapshot().nodes:
            if node.node_pool:
                u = usage.setdefault(node.node_pool, {"nodes": 0.0})
                u["nodes"] += 1
                for name, amount in node.allocatable.items():
                    # The model keeps CPU in millicores; the metric is in cores.
                    u[name] = u.get(name, 0.0) + (amount / 1000 if name == "cpu" else amount)
        for pool, resources in usage.items():
            for name, value in resources.items():
                self.metrics.set_nodepool_usage(pool, name, value)
        if per_hour:
            rates: dict[str, float] = {}
            for (pool, _), rate in per_hour.items():
                rates[pool] = rates.get(pool, 0.0) + rate
            log.info("cost: %s", ", ".join(
                f"{p} ${r:.4f}/h (${self.accrued.get(p, 0.0):.4f} so far)"
                for p, r in sorted(rates.items())))

    # -- errors --------------------------------------------------------------------------

    def _guarded(self, what: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except NotLeaderError as e:
            log.info("%s stopped: %s", what, e)
        except (ClusterError, CloudError) as e:
            log.error("%s failed: %s", what, e)
        except UserError as e:
            log.error("%s failed: %s", what, e.render())
