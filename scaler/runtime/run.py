"""`scaler run`: assemble the controller and run its jobs on APScheduler until stopped.

Jobs (intervals in `RunSettings.intervals`):

    provisioning tick   batches pending pods (idle/max window), then provisions
    lifecycle           node claims: registration, initialization, liveness
    disruption          scale-in through the disruption planner
    garbage collection  instances no node claim owns
    policy sync         the local policy path or the Git source    (I/O executor)
    price refresh       live prices from the cloud                 (I/O executor)
    cost accrual        what scaler's nodes cost, per NodePool
    interruptions       the SQS interruption queue, when one is set  (its own executor)
    simulated warnings  --simulate: `simulatedInterruptions`, each once at its time

Decision jobs share one worker thread, so two passes never interleave; the I/O jobs have
their own, so a slow Git fetch never delays a launch. Decision jobs run only on the leader,
and every mutating call is fenced again. SIGTERM or SIGINT stops the scheduler after the
running job, stops the watches and releases the Lease.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor  # type: ignore[import-untyped]
from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]

from pricing import CatalogError, load_catalog
from scaler.adapters.simulated import SimulatedCloud, SimulatedManagedCluster
from scaler.core.disruption.candidates import EMPTINESS, DisruptionSettings, node_price
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.errors import UserError
from scaler.gitops.git import GitRef
from scaler.gitops.status import SourceSpec
from scaler.policy import PolicySet
from scaler.ports.cloud import CloudProvider
from scaler.ports.cluster import ManagedCluster
from scaler.runtime.batcher import Batcher
from scaler.runtime.controller import Controller, LoopSettings
from scaler.runtime.fence import ActionFence
from scaler.runtime.policies import GitPolicies, LocalPolicies, PolicyHolder
from scaler.runtime.reporters import HealthReporter, MetricsRecorder, NullHealth, NullMetrics
from scaler.runtime.settings import RunSettings
from scaler.simulation.interruptions import (
    DETAIL,
    REASON,
    Interruption,
    check_nodes,
    interrupted_instance,
)

log = logging.getLogger("scaler.run")


def _policies(settings: RunSettings) -> PolicyHolder:
    if settings.git is not None:
        g = settings.git
        ref = GitRef(branch=g.branch, tag=g.tag) if (g.branch or g.tag) else GitRef()
        spec = SourceSpec(url=g.url, ref=ref, path=g.path, interval_seconds=g.interval,
                          credentials_dir=g.credentials_dir)
        return GitPolicies(spec, g.state_dir)
    return LocalPolicies(settings.policies)


def _aws_cloud(settings: RunSettings, policies: PolicySet) -> CloudProvider:
    from scaler.adapters.aws import AwsCloudProvider, AwsConfig, node_classes_from_documents
    from scaler.adapters.aws.offerings import UnavailableOfferings

    a = settings.aws
    if not a.cluster_name:
        raise UserError("the AWS cloud needs the cluster name", field="aws.clusterName")
    config = AwsConfig(a.region, a.cluster_name, endpoint_url=a.endpoint_url,
                       endpoint_urls=dict(a.endpoint_urls),
                       interruption_queue=a.interruption_queue,
                       kubernetes_version=a.kubernetes_version)
    classes = node_classes_from_documents((o.file, o.document) for o in policies.objects)
    return AwsCloudProvider(config, classes, zones=a.zones,
                            unavailable=UnavailableOfferings(ttl=a.unavailable_offerings_ttl))


def _update_node_classes(cloud: CloudProvider) -> Callable[[PolicySet, str], None]:
    def update(policies: PolicySet, revision: str) -> None:
        from scaler.adapters.aws import node_classes_from_documents

        updater = getattr(cloud, "update_node_classes", None)
        if updater is not None:
            classes = node_classes_from_documents((o.file, o.document) for o in policies.objects)
            if classes.classes:
                updater(classes)
    return update


class Runtime:
    def __init__(self, settings: RunSettings, metrics: MetricsRecorder | None = None,
                 health: HealthReporter | None = None) -> None:
        self.settings = settings
        self.metrics: MetricsRecorder = metrics or NullMetrics()
        self.health: HealthReporter = health or NullHealth()
        self._elector: Any = None
        self.stop_event = threading.Event()
        self.lost_lease = False
        self._stopping = False
        self._closers: list[Callable[[], None]] = []
        self.controller: Controller | None = None
        self.interruptions: Any = None  # an InterruptionPoller when a queue is configured
        self.fence: ActionFence | None = None

    # -- assembly ------------------------------------------------------------------------

    def _loop_settings(self) -> LoopSettings:
        d = self.settings.disruption
        return LoopSettings(region=self.settings.aws.region, drain_timeout=d.drain_timeout,
                            registration_ttl=d.registration_ttl,
                            nomination_ttl=d.nomination_ttl)

    def _disruption(self) -> DisruptionSettings:
        """The core's pass: every method, or (planner `emptiness`) only empty nodes, gone
        once `emptyAfter` has passed since their pods last changed."""
        d = self.settings.disruption
        if d.planner == "emptiness":
            return DisruptionSettings(strategy=EMPTINESS, empty_after=d.empty_after,
                                      validation_delay=d.validation_delay)
        return DisruptionSettings(validation_delay=d.validation_delay)

    def _batcher(self) -> Batcher:
        return Batcher(self.settings.batch.idle, self.settings.batch.max)

    def build(self) -> Controller:
        s = self.settings
        policies = _policies(s)
        if s.simulate:
            controller = self._build_simulated(policies)
        else:
            controller = self._build_kubernetes(policies)
        policies.listen(lambda p, rev: self.metrics.set_policy_revision(rev))
        self.metrics.set_policy_ready(policies.ready)
        self.health.set_policies_loaded(policies.ready)
        policies.listen(lambda p, rev: self.metrics.set_policy_ready(True))
        policies.listen(lambda p, rev: self.health.set_policies_loaded(True))
        self.controller = controller
        return controller

    def _simulated_cloud(self) -> SimulatedCloud:
        s = self.settings
        try:
            catalog = load_catalog(s.aws.region, s.aws.zones)
        except CatalogError as e:
            raise UserError(str(e), field=f"aws.{e.param}") from None
        return SimulatedCloud(catalog)

    def _cloud(self, policies: PolicyHolder) -> CloudProvider:
        s = self.settings
        if s.cloud == "simulated" or s.simulate:
            return self._simulated_cloud()
        cloud = _aws_cloud(s, policies.current)
        policies.listen(_update_node_classes(cloud))
        return cloud

    def _wire_interruptions(self, cloud: CloudProvider, controller: Controller) -> None:
        queue = self.settings.aws.interruption_queue
        if not queue or self.settings.simulate or self.settings.cloud != "aws":
            return
        from scaler.adapters.aws import AwsCloudProvider
        from scaler.runtime.interruptions import InterruptionPoller

        if isinstance(cloud, AwsCloudProvider):
            self.interruptions = InterruptionPoller(
                cloud, controller, queue,
                wait_seconds=max(0, min(20, round(self.settings.intervals.interruptions))))

    def _build_simulated(self, policies: PolicyHolder) -> Controller:
        from scaler.snapshot import load_snapshot

        snapshot = load_snapshot([Path(p) for p in self.settings.snapshots])
        cloud = self._simulated_cloud()
        table = InstanceTypeTable(cloud.catalog.instance_types)
        # The snapshot's NodePool nodes are the loop's, as they are in `simulate --timeline`.
        cluster = SimulatedManagedCluster(snapshot, adopt=lambda n: node_price(table, n) or 0.0)
        self.fence = ActionFence(dry_run=self.settings.dry_run)
        check_nodes(cluster, [Interruption(i.after, i.node)
                              for i in self.settings.simulated_interruptions],
                    "simulatedInterruptions")
        return Controller(cluster, cloud, policies, self.fence,
                          settings=self._loop_settings(), metrics=self.metrics,
                          batcher=self._batcher(), disruption=self._disruption())

    @staticmethod
    def _interruption(controller: Controller, node: str) -> Callable[[], None]:
        """A simulated Spot warning, handed over as the queue poller hands a real one."""
        def warn() -> None:
            instance = interrupted_instance(controller.cluster, node)
            if instance is None:
                log.warning("simulated interruption of %s: the node is gone", node)
            elif not controller.interrupted(instance, REASON, DETAIL):
                log.warning("simulated interruption of %s: not handled", node)
        return warn

    def _build_kubernetes(self, policies: PolicyHolder) -> Controller:
        from scaler.adapters.kubernetes import (
            WATCHED,
            ClusterCache,
            ElectionSettings,
            EventRecorder,
            Informers,
            Kube,
            KubernetesCluster,
            KubeSettings,
            LeaderElector,
            WatchSettings,
            load_configuration,
        )
        from scaler.adapters.kubernetes.cache import PODS

        s = self.settings
        kube_settings = KubeSettings(kubeconfig=s.kubeconfig, context=s.context)
        config = load_configuration(kube_settings)
        kube = Kube(config, kube_settings)
        le = s.leader_election
        identity = le.identity or f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"
        elector = None
        if le.enabled:
            elector = LeaderElector(
                config,
                ElectionSettings(name=le.name, namespace=le.namespace, identity=identity,
                                 lease_duration=le.lease_duration,
                                 renew_deadline=le.renew_deadline,
                                 retry_period=le.retry_period),
                on_started_leading=lambda: self.metrics.set_leader(True),
                on_stopped_leading=self._lease_lost,
            )
        self.fence = ActionFence(dry_run=s.dry_run,
                                 is_leader=elector.is_leader if elector else None)
        self._elector = elector
        cache = ClusterCache()
        w = s.watch
        informers = Informers(kube, cache, WATCHED, WatchSettings(
            page_size=w.page_size, watch_timeout=w.timeout, read_timeout=w.read_timeout,
            relist_period=w.relist))
        events = EventRecorder(kube, self.fence, instance=identity)
        self._closers.append(lambda: None if events.flush(5.0) else log.warning(
            "events not all written before shutdown"))
        self._closers.append(kube.close)
        cluster: ManagedCluster = KubernetesCluster(kube, cache, self.fence, events)
        cloud = self._cloud(policies)
        controller = Controller(cluster, cloud, policies, self.fence,
                                settings=self._loop_settings(), metrics=self.metrics,
                                batcher=self._batcher(), disruption=self._disruption())
        self._wire_interruptions(cloud, controller)

        def on_change(kind: Any, event: str, obj: Mapping[str, Any]) -> None:
            # A new or changed pending pod keeps the batch window open.
            if kind is PODS and event in ("ADDED", "MODIFIED") and not (
                    obj.get("spec") or {}).get("nodeName"):
                controller.batcher.trigger()

        cache.listen(on_change)
        self._start_kubernetes = (informers, elector)
        return controller

    # -- running -------------------------------------------------------------------------

    def _lease_lost(self) -> None:
        self.metrics.set_leader(False)
        if not self._stopping:
            # client-go's convention: a replica that lost its lease exits, and its restart
            # rejoins as a follower with a fresh cache.
            log.error("lost the lease: stopping")
            self.lost_lease = True
            self.stop_event.set()

    def _role(self) -> str | None:
        if self._elector is not None and self._elector.attempts == 0:
            return None  # the election has not answered yet
        return "leader" if self.fence is None or self.fence.leading() else "standby"

    def _leading_only(self, fn: Callable[[], None]) -> Callable[[], None]:
        def job() -> None:
            # Every replica beats: a standby is healthy while its loop runs.
            self.health.heartbeat()
            self.health.set_role(self._role())
            if self.fence is not None and not self.fence.leading():
                return
            fn()
        return job

    def scheduler(self, controller: Controller, policies_sync: Callable[[], None]
                  ) -> Any:
        iv = self.settings.intervals
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        sched = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(1), "io": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        lead = self._leading_only
        sched.add_job(lead(controller.provision_tick), "interval", id="provisioning",
                      seconds=iv.provisioning_tick)
        sched.add_job(lead(controller.lifecycle), "interval", id="lifecycle",
                      seconds=iv.lifecycle)
        if self.settings.disruption.enabled:
            sched.add_job(lead(controller.disrupt), "interval", id="disruption",
                          seconds=iv.disruption)
        sched.add_job(lead(controller.garbage_collect), "interval", id="garbage-collection",
                      seconds=iv.garbage_collection)
        sched.add_job(lead(controller.accrue_costs), "interval", id="cost-accrual",
                      seconds=iv.cost_accrual)
        sched.add_job(policies_sync, "interval", id="policy-sync", seconds=iv.policy_sync,
                      executor="io")
        if self.interruptions is not None:
            # Its own thread: a long poll must not hold up the other jobs.
            sched.add_executor(ThreadPoolExecutor(1), "interruptions")
            sched.add_job(self.interruptions.poll_once, "interval", id="interruptions",
                          seconds=iv.interruptions, executor="interruptions")
        sched.add_job(controller.refresh_prices, "interval", id="price-refresh",
                      seconds=iv.price_refresh, executor="io")
        started = datetime.now(UTC)
        for n, i in enumerate(self.settings.simulated_interruptions):
            sched.add_job(self._interruption(controller, i.node), "date",
                          id=f"interruption-{n}",
                          run_date=started + timedelta(seconds=i.after))
        return sched

    def run(self, install_signals: bool = True) -> int:
        controller = self.controller or self.build()
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.stop_event.set())
        started = getattr(self, "_start_kubernetes", None)
        if started is not None:
            informers, elector = started
            if elector is not None:
                elector.start()
                self._closers.insert(0, lambda: elector.stop(release=True))
            informers.start()
            self._closers.insert(0, informers.stop)
            while not informers.wait_synced(5.0):
                if self.stop_event.is_set():
                    return self._shutdown(None)
                log.warning("waiting for the cache to sync: %s", "; ".join(
                    r.last_error or f"{r.kind.plural} not listed yet"
                    for r in informers.reflectors if not r.synced.is_set()))
            log.info("cache synced")
        self.health.set_caches_synced(True)
        sched = self.scheduler(controller, controller.policies.sync)
        sched.start()
        log.info("scaler running%s%s", " (dry run)" if self.settings.dry_run else "",
                 " on the simulated cluster and cloud" if self.settings.simulate else "")
        deadline = (time.monotonic() + self.settings.run_for) if self.settings.run_for else None
        while not self.stop_event.is_set():
            timeout = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
            self.stop_event.wait(timeout)
            if deadline is not None and time.monotonic() >= deadline:
                break
        return self._shutdown(sched)

    def _shutdown(self, sched: Any) -> int:
        self._stopping = True
        log.info("shutting down")
        if sched is not None:
            sched.shutdown(wait=True)  # the running pass finishes; no new one starts
        for close in self._closers:
            try:
                close()
            except Exception as e:  # shutting down: report, do not stop the others
                log.warning("while shutting down: %s", e)
        c = self.controller
        if c is not None:
            st = c.stats
            log.info("summary: %d provisioning passes, %d nodes launched, %d registered, "
                     "%d disrupted, %d disruptions blocked, %d interrupted",
                     st.provision_passes, st.launched, st.registered, st.disrupted, st.blocked,
                     st.interrupted)
        return 1 if self.lost_lease else 0
