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
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pricing import InstanceType
from scaler.core.disruption.candidates import drift_of
from scaler.core.model import (
    LABEL_CAPACITY_TYPE,
    LABEL_NODEPOOL,
    LABEL_REGION,
    LABEL_ZONE,
    NodePool,
    Taint,
)
from scaler.core.resources import Resources
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.core.scheduling.scheduler import ClaimPlan, Scheduler
from scaler.errors import UserError
from scaler.ports.cloud import (
    CloudError,
    CloudNode,
    CloudProvider,
    InsufficientCapacityError,
    NodeClaimRequest,
    NodeNotFoundError,
)
from scaler.ports.cluster import (
    LABEL_REPLACES,
    ClaimView,
    ClusterError,
    ManagedCluster,
    ObjectRef,
)
from scaler.ports.fence import Fence, NotLeaderError
from scaler.runtime.batcher import Batcher
from scaler.runtime.disruption import (
    Candidate,
    DisruptionPlanner,
    DisruptionView,
    EmptinessPlanner,
)
from scaler.runtime.metrics import MetricsRecorder, NullMetrics
from scaler.runtime.policies import PolicyHolder
from scaler.simulation.provision import check_node_pools

log = logging.getLogger(__name__)

NORMAL, WARNING = "Normal", "Warning"
DISRUPTED_TAINT = Taint("karpenter.sh/disrupted", "NoSchedule")
LABEL_NODECLAIM = "scaler.dev/nodeclaim"


@dataclass(frozen=True)
class LoopSettings:
    region: str = ""
    empty_grace: float = 30.0  # an empty node is removed after this long (consolidateAfter)
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
                 planner: DisruptionPlanner | None = None,
                 batcher: Batcher | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.cluster = cluster
        self.cloud = cloud
        self.policies = policies
        self.fence = fence
        self.settings = settings or LoopSettings()
        self.metrics: MetricsRecorder = metrics or NullMetrics()
        self.planner: DisruptionPlanner = planner or EmptinessPlanner(self.settings.empty_grace)
        self.batcher = batcher or Batcher()
        self.clock = clock
        self.stats = PassStats()
        self.accrued: dict[str, float] = {}  # dollars per NodePool since start
        self._accrued_at: float | None = None
        self._lock = threading.Lock()  # one decision pass at a time
        self._nominated: dict[str, float] = {}  # node or claim -> when pods were last sent
        self._pending_checked = float("-inf")
        # Node being replaced -> (its replacement claims, when they were launched).
        self._replacing: dict[str, tuple[frozenset[str], float]] = {}

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
        types = {p.name: list(self.cloud.instance_types(p)) for p in pools}
        table = InstanceTypeTable(types[pools[0].name])
        check_node_pools(table, pools, self.settings.region or "the cloud's region")
        scheduler = Scheduler(table, pools, snap.nodes, snap.bound_pods, snap.daemonsets,
                              claim_prefix=f"{secrets.token_hex(3)}-")
        result = scheduler.solve(pending)
        self.metrics.observe_scheduling(time.perf_counter() - started, len(pending))
        self.stats.provision_passes += 1
        now = self.clock()
        for node_name, pods in result.existing.items():
            self._nominated[node_name] = now
            for pod in pods:
                self.cluster.bind(pod.key, node_name)
        for pod, reason in result.unschedulable:
            self.cluster.event(ObjectRef.pod(pod.key), WARNING, "FailedScheduling",
                               f"Failed to schedule pod, {reason}")
        by_pool = {p.name: p for p in pools}
        for claim in result.claims:
            catalog = {it.name: it for it in types.get(claim.node_pool, ())}
            self._launch(claim, by_pool[claim.node_pool], catalog)

    def _launch(self, claim: ClaimPlan, pool: NodePool,
                catalog: Mapping[str, InstanceType], nominate: bool = True,
                replaces: str = "") -> bool:
        first = claim.options[0] if claim.options else None
        what = (f"launch node claim {claim.name} for {len(claim.pods)} pods "
                f"({first.instance_type} {first.capacity_type} in {first.zone} "
                f"at ${first.price:.4f}/h first)" if first else f"launch {claim.name}")
        if not self.fence.allow(what):
            for pod in claim.pods if nominate else ():
                self.cluster.event(ObjectRef.pod(pod.key), NORMAL, "Nominated",
                                   f"dry run: pod would schedule on nodeclaim/{claim.name}")
            return False
        self.cluster.create_claim(claim.name, pool.name, claim.requirements, pool.taints,
                                  claim.requests, {**pool.labels, LABEL_REPLACES: replaces}
                                  if replaces else pool.labels)
        request = NodeClaimRequest(claim.name, pool.name, claim.requirements, claim.options,
                                   pool.labels, pool.taints)
        ref = ObjectRef.nodeclaim(claim.name)
        try:
            self.fence.allow(f"create instance for node claim {claim.name}")
            node = self.cloud.create(request)
        except CloudError as e:
            reason = ("InsufficientCapacityError" if isinstance(e, InsufficientCapacityError)
                      else "LaunchFailed")
            self.metrics.record_cloud_error("create", type(e).__name__)
            self.cluster.event(ref, WARNING, reason, str(e))
            for pod in claim.pods:
                self.cluster.event(ObjectRef.pod(pod.key), WARNING, "FailedScheduling",
                                   f"launching nodeclaim/{claim.name} failed: {e}")
            self.cluster.delete_claim(claim.name)
            return False
        self._record_launch(claim.name, pool, node, catalog)
        self.stats.launched += 1
        self.metrics.record_launch(pool.name, "provisioning")
        self.cluster.event(ref, NORMAL, "Launched",
                           f"Launched {node.instance_type} ({node.capacity_type}) in {node.zone}"
                           f" as {node.provider_id} at ${node.price_per_hour:.4f}/h")
        if nominate:
            self._nominated[claim.name] = self.clock()
            for pod in claim.pods:
                self.cluster.bind(pod.key, claim.name)
        return True

    def _record_launch(self, name: str, pool: NodePool, node: CloudNode,
                       catalog: Mapping[str, InstanceType]) -> None:
        it = catalog.get(node.instance_type)
        labels = dict(it.labels) if it else {}
        labels.update(pool.labels)
        labels.update({LABEL_ZONE: node.zone, LABEL_CAPACITY_TYPE: node.capacity_type,
                       LABEL_NODEPOOL: pool.name, LABEL_NODECLAIM: name})
        if self.settings.region:
            labels[LABEL_REGION] = self.settings.region
        allocatable = Resources(dict(it.allocatable)) if it else Resources({})
        self.cluster.claim_launched(name, node, labels, allocatable)

    def _finish_launches(self) -> None:
        """A claim whose instance exists but whose launch was never recorded (the status
        write failed, or the process died right after CreateFleet) adopts its instance,
        found by the claim tag: otherwise its pods, still pending, would get a second one.
        A claim with no instance was never launched (a failed write or a crash before
        CreateFleet): its pods are provisioned again, so it goes, once it is older than the
        nomination TTL (an instance a previous leader was still launching for it is then
        the garbage collector's)."""
        open_claims = [c for c in self.cluster.claims() if not c.launched and not c.deleting]
        if not open_claims or not self.policies.ready:
            return
        by_claim = {n.claim_name: n for n in self.cloud.list() if n.claim_name}
        pools = {p.name: p for p in self.policies.current.node_pools}
        now = self.clock()
        for claim in open_claims:
            node = by_claim.get(claim.name)
            pool = pools.get(claim.node_pool)
            if node is None:
                if now - claim.created_at > self.settings.nomination_ttl and \
                        self.fence.allow(f"drop node claim {claim.name}: never launched"):
                    self.cluster.delete_claim(claim.name)
                continue
            if pool is None:
                continue
            catalog = {it.name: it for it in self.cloud.instance_types(pool)}
            self._record_launch(claim.name, pool, node, catalog)
            self.cluster.event(ObjectRef.nodeclaim(claim.name), NORMAL, "Launched",
                               f"Adopted {node.provider_id} ({node.instance_type}, "
                               f"{node.capacity_type} in {node.zone}), launched earlier")

    # -- node claim lifecycle ------------------------------------------------------------

    def lifecycle(self) -> None:
        with self._lock:
            self._guarded("node claim lifecycle", self._lifecycle)

    def _lifecycle(self) -> None:
        self._finish_launches()
        self._release_stale_taints()
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

    def _release_stale_taints(self) -> None:
        """A disruption taints, drains and deletes within one pass; a node still carrying
        the taint between passes is left from a pass that died (a crash, an API error) and
        would stay cordoned: it is released, unless its claim is being deleted."""
        deleting = {c.node_name for c in self.cluster.claims() if c.deleting}
        for node in self.cluster.snapshot().nodes:
            if node.name not in deleting and node.source != "nodeclaim" and any(
                    t.key == DISRUPTED_TAINT.key for t in node.taints):
                self.cluster.untaint(node.name, DISRUPTED_TAINT.key)

    def _terminate(self, claim: ClaimView, node_name: str) -> None:
        """A claim someone deleted: drain its node (PDBs respected; a blocked drain waits for
        the next pass), delete the node, terminate the instance, release the claim."""
        ref = ObjectRef.nodeclaim(claim.name)
        if not self.fence.allow(f"terminate deleted node claim {claim.name}"):
            return
        if node_name:
            self.cluster.taint(node_name, DISRUPTED_TAINT)
            drained = self.cluster.drain(node_name, min(self.settings.drain_timeout, 10.0))
            if not drained.done:
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
        if not self.fence.allow(f"terminate instance {provider_id}"):
            return
        try:
            self.cloud.delete(provider_id)
        except NodeNotFoundError:
            pass
        except CloudError as e:
            self.metrics.record_cloud_error("delete", type(e).__name__)
            raise

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
        pools = self.policies.current.node_pools
        now = self.clock()
        for name, at in list(self._nominated.items()):
            if now - at >= self.settings.nomination_ttl:
                del self._nominated[name]
        claims = {c.name: c for c in self.cluster.claims()}
        self._recall_replacements(claims)
        for node, (names, at) in list(self._replacing.items()):
            if now - at > self.settings.registration_ttl or not names <= set(claims):
                del self._replacing[node]  # a replacement failed or was given up: re-decide
        replacements = {n for names, _ in self._replacing.values() for n in names}
        view = DisruptionView(
            self.cluster.snapshot(), list(claims.values()), pools,
            self.cloud.instance_types(pools[0]) if pools else (),
            frozenset(self._nominated) | replacements)
        self._mark_drift(view)
        launched: dict[str, str] = {}  # the planner's replacement claim -> the launched one
        # Pending pods nominated to capacity (in flight or with room) own that room; the
        # planner does not see them, so a move now could take it and start a churn of
        # evictions and launches. Only empty nodes go until they are bound.
        reserved = bool(view.snapshot.pending_pods) and bool(self._nominated)
        for cand in self.planner.plan(view, now):
            if reserved and cand.reason != "Empty":
                continue
            ref = ObjectRef.nodeclaim(cand.claim)
            detail = f"{cand.reason}: {cand.message}" if cand.message else cand.reason
            if cand.replacements:
                self._replace(cand, view, detail, launched, now)
                continue
            waiting = self._replacing.get(cand.node)
            if waiting is not None and not all(claims[n].initialized for n in waiting[0]):
                continue  # its replacements are not Ready yet
            if not self.fence.allow(f"disrupt node {cand.node} ({detail})"):
                self.cluster.event(ref, NORMAL, "DisruptionTerminating",
                                   f"dry run: would disrupt NodeClaim: {detail}")
                self.metrics.record_disruption_decision(cand.reason.lower(), "dry_run")
                continue
            self.cluster.event(ref, NORMAL, "DisruptionTerminating",
                               f"Disrupting NodeClaim: {detail}")
            self.cluster.taint(cand.node, DISRUPTED_TAINT)
            drained = self.cluster.drain(cand.node, self.settings.drain_timeout)
            if not drained.done:
                self.cluster.untaint(cand.node, DISRUPTED_TAINT.key)
                why = "; ".join(sorted(set(drained.blocked.values())))
                self.cluster.event(ref, WARNING, "DisruptionBlocked",
                                   f"Cannot disrupt NodeClaim: {why}")
                for pod in drained.blocked:
                    self.cluster.event(ObjectRef.pod(pod), WARNING, "DisruptionBlocked",
                                       drained.blocked[pod])
                self.stats.blocked += 1
                self.metrics.record_disruption_decision(cand.reason.lower(), "blocked")
                continue
            self.cluster.delete_node(cand.node)
            self._delete_instance(cand.provider_id)
            self.cluster.delete_claim(cand.claim)
            self._replacing.pop(cand.node, None)
            self.stats.disrupted += 1
            self.metrics.record_termination(cand.node_pool, cand.reason.lower())
            self.metrics.record_disruption_decision(cand.reason.lower(), "delete")
            self.cluster.event(ref, NORMAL, "Consolidated",
                               f"{detail}; removed node/{cand.node}, saving "
                               f"${cand.savings_per_hour:.4f}/h")

    # -- interruptions ------------------------------------------------------------------

    def interrupted(self, node: CloudNode, reason: str, detail: str) -> bool:
        """The instance is going away: drain and delete its node, terminate it, drop its
        claim (the evicted pods are provisioned for again). False: retry later."""
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
        claim = next((c for c in self.cluster.claims() if c.name == node.claim_name
                      or (c.provider_id and c.provider_id == node.provider_id)), None)
        ref = ObjectRef.nodeclaim(claim.name if claim else node.claim_name)
        self.cluster.event(ref, WARNING, reason, f"{detail}: {node.provider_id} is going away")
        if not self.fence.allow(f"terminate interrupted node claim {ref.name}"):
            return
        node_name = claim.node_name if claim else ""
        if not node_name:
            # The node may have joined before the lifecycle pass recorded it on the claim:
            # find it by the instance's providerID, or it would outlive its instance.
            found = self.cluster.node_for_provider_id(node.provider_id)
            node_name = found[0] if found else ""
        if node_name:
            self.cluster.taint(node_name, DISRUPTED_TAINT)
            self._launch_ahead(node_name)
            drained = self.cluster.drain(node_name, self.settings.drain_timeout)
            for pod, why in drained.blocked.items():
                self.cluster.event(ObjectRef.pod(pod), WARNING, "DisruptionBlocked",
                                   f"{why}; the instance is going away regardless")
            self.cluster.delete_node(node_name)
        self._delete_instance(node.provider_id)
        if claim is not None:
            self.cluster.delete_claim(claim.name)
        self.metrics.record_termination(node.node_pool, "interrupted")
        self.stats.interrupted += 1

    def _replace(self, cand: Candidate, view: DisruptionView, detail: str,
                 launched: dict[str, str], now: float) -> None:
        """Launch the node's replacements; it is drained only once they are Ready (a later
        pass proposes deleting it then)."""
        if cand.node in self._replacing:
            return
        ref = ObjectRef.nodeclaim(cand.claim)
        if not self.fence.allow(f"launch {len(cand.replacements)} replacement(s) for node "
                                f"{cand.node} ({detail})"):
            self.cluster.event(ref, NORMAL, "DisruptionLaunching",
                               f"dry run: would launch replacements: {detail}")
            self.metrics.record_disruption_decision(cand.reason.lower(), "dry_run")
            return
        pools = {p.name: p for p in view.node_pools}
        catalog = {it.name: it for it in view.instance_types}
        names = []
        for claim in cand.replacements:
            if claim.name not in launched:
                pool = pools.get(claim.node_pool)
                if pool is None:
                    return
                # Claim names must never repeat (a launch is found again by its name).
                fresh = dataclasses.replace(
                    claim, name=f"{pool.name}-{secrets.token_hex(3)}-r{len(launched) + 1}")
                if not self._launch(fresh, pool, catalog, nominate=False,
                                    replaces=cand.claim):
                    return
                launched[claim.name] = fresh.name
            names.append(launched[claim.name])
        self._replacing[cand.node] = (frozenset(names), now)
        self.stats.replacements += len(names)
        self.metrics.record_disruption_decision(cand.reason.lower(), "replace")
        self.cluster.event(ref, NORMAL, "DisruptionLaunching",
                           f"Launching NodeClaim {', '.join(names)}: {detail}")

    def _recall_replacements(self, claims: Mapping[str, ClaimView]) -> None:
        """Replacements a previous leader (or this process before a restart) launched, read
        back from their claims' label: their old node is drained once they are Ready, as
        if this process had launched them, and they are not consolidated away meanwhile."""
        known = {n for names, _ in self._replacing.values() for n in names}
        found: dict[str, tuple[set[str], float]] = {}
        for c in claims.values():
            old = claims.get(c.replaces) if c.replaces else None
            if c.name in known or old is None or not old.node_name or c.deleting:
                continue
            names, at = found.setdefault(old.node_name, (set(), c.created_at))
            names.add(c.name)
            found[old.node_name] = (names, min(at, c.created_at))
        for node, (names, at) in found.items():
            if node not in self._replacing:
                self._replacing[node] = (frozenset(names), at)

    def _mark_drift(self, view: DisruptionView) -> None:
        """Keep each registered claim's Drifted condition true to its NodePool as it is now
        (requirements, labels, taints): what `kubectl get nodeclaims` and the planner see."""
        if not view.instance_types:
            return
        table = InstanceTypeTable(view.instance_types)
        pools = {p.name: p for p in view.node_pools}
        nodes = {n.name: n for n in view.snapshot.nodes}
        for claim in view.claims:
            node = nodes.get(claim.node_name)
            pool = pools.get(claim.node_pool)
            if node is None or pool is None:
                continue
            reason = drift_of(node, pool, table)
            if (reason is not None) != claim.drifted:
                self.cluster.claim_drifted(claim.name, reason)
                if reason is not None:
                    self.cluster.event(ObjectRef.nodeclaim(claim.name), NORMAL, "Drifted",
                                       f"NodeClaim drifted: {reason}")

    def _launch_ahead(self, node_name: str) -> None:
        """Launch capacity for the pods of a node about to go, before they are evicted (the
        Spot warning gives two minutes): their replacements, pending, find it in flight."""
        pools = list(self.policies.current.node_pools)
        snap = self.cluster.snapshot()
        displaced = [dataclasses.replace(p, node_name=None) for p in snap.pods
                     if p.node_name == node_name and not p.is_daemonset_pod
                     and p.owner_kind not in (None, "Node")]  # only what a controller recreates
        if not displaced or not pools or not self.policies.ready:
            return
        types = {p.name: list(self.cloud.instance_types(p)) for p in pools}
        table = InstanceTypeTable(types[pools[0].name])
        nodes = [n for n in snap.nodes if n.name != node_name]
        bound = [p for p in snap.bound_pods if p.node_name != node_name]
        # Pods already pending own the room in flight for them (another node's
        # replacement): solved with them, the displaced pods get room of their own.
        result = Scheduler(table, pools, nodes, bound, snap.daemonsets,
                           claim_prefix=f"{secrets.token_hex(3)}-").solve(
                               [*snap.pending_pods, *displaced])
        by_pool = {p.name: p for p in pools}
        for claim in result.claims:
            catalog = {it.name: it for it in types.get(claim.node_pool, ())}
            if self._launch(claim, by_pool[claim.node_pool], catalog, nominate=False):
                self._nominated[claim.name] = self.clock()  # its pods are on their way

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
