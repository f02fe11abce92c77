"""The loop's parts without I/O: batching windows, emptiness and the executor, settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaler.core.disruption.candidates import DisruptionInput
from scaler.core.model import Node, Pod, Snapshot
from scaler.core.resources import Resources
from scaler.errors import UserError
from scaler.runtime.batcher import Batcher
from scaler.runtime.settings import load_settings


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_batch_closes_after_the_idle_gap() -> None:
    clock = Clock()
    b = Batcher(idle=1.0, maximum=10.0, clock=clock)
    assert not b.take()
    b.trigger()
    clock.now = 0.9
    b.trigger()  # another pending pod: the window stays open
    clock.now = 1.5
    assert not b.take()
    clock.now = 2.0
    assert b.take()
    assert not b.take()  # once per window


def test_batch_closes_at_the_maximum_however_busy() -> None:
    clock = Clock()
    b = Batcher(idle=1.0, maximum=3.0, clock=clock)
    b.trigger()
    for t in (0.5, 1.0, 1.5, 2.0, 2.5):
        clock.now = t
        b.trigger()
        assert not b.take()
    clock.now = 3.0
    assert b.take()


def _emptiness(pods: tuple[Pod, ...], claims: ClaimsAt, now: float,
               initialized: bool = True) -> list[str]:
    """The nodes the core's emptiness pass (scaler run's `emptiness` planner, emptyAfter 30 s)
    would delete now, with the loop's own input: only claimed, Ready nodes are candidates."""
    from pricing import load_catalog
    from scaler.adapters.simulated import SimulatedManagedCluster
    from scaler.control.disruption import disruption_input
    from scaler.core.disruption.candidates import EMPTINESS, DisruptionSettings
    from scaler.core.disruption.plan import plan_disruptions
    from scaler.core.scheduling.instancetypes import InstanceTypeTable
    from scaler.policy import load_policies

    cluster = SimulatedManagedCluster(Snapshot(nodes=(_node("n1"), _node("n2")), pods=pods),
                                      adopt=lambda n: 0.2 if n.name == "n1" else None)
    if not initialized:
        cluster.claim_registered("n1", "n1", False)
    table = InstanceTypeTable(load_catalog("us-east-1").instance_types)
    inp = disruption_input(cluster, table, load_policies(None).node_pools, claims.changes, now)
    settings = DisruptionSettings(strategy=EMPTINESS, empty_after=30)
    return [d.node for d in plan_disruptions(inp, now, settings).disruptions]


class ClaimsAt:
    def __init__(self) -> None:
        from scaler.control.disruption import ChangeTracker

        self.changes = ChangeTracker()


def test_emptiness_waits_for_the_grace_period_and_ignores_daemonset_pods() -> None:
    seen = ClaimsAt()
    ds = Pod("kube-system", "agent", Resources.parse({}), node_name="n1", owner_kind="DaemonSet")
    web = Pod("default", "web", Resources.parse({}), node_name="n1", owner_kind="ReplicaSet")
    _emptiness((ds, web), seen, now=90)
    assert _emptiness((ds,), seen, now=100) == []  # empty since 100
    assert _emptiness((ds,), seen, now=130) == ["n1"]  # n2 is not scaler's: never touched


def test_a_pod_arriving_resets_the_emptiness_clock() -> None:
    seen = ClaimsAt()
    web = Pod("default", "web", Resources.parse({}), node_name="n1", owner_kind="ReplicaSet")
    _emptiness((web,), seen, now=90)
    _emptiness((), seen, now=100)
    assert _emptiness((web,), seen, now=120) == []
    assert _emptiness((), seen, now=140) == []  # empty again only since 140
    assert _emptiness((), seen, now=170) == ["n1"]


def test_a_node_not_yet_initialized_is_not_a_candidate() -> None:
    assert _emptiness((), ClaimsAt(), now=100, initialized=False) == []
    assert _emptiness((), ClaimsAt(), now=100) == ["n1"]  # created at 0, empty since


def test_settings_file_with_flags_on_top(tmp_path: Path) -> None:
    path = tmp_path / "scaler.yaml"
    path.write_text("batch: {idle: 2, max: 20}\nleaderElection: {namespace: scaler}\n")
    s = load_settings(str(path), {"batch": {"idle": 0.5}})
    assert (s.batch.idle, s.batch.max, s.leader_election.namespace) == (0.5, 20, "scaler")
    assert (s.leader_election.lease_duration, s.leader_election.renew_deadline,
            s.leader_election.retry_period) == (15, 10, 2)  # client-go's defaults


@pytest.mark.parametrize("text, field, words", [
    ("batchh: {idle: 1}\n", "batchh", "Extra inputs are not permitted"),
    ("batch: {idle: 5, max: 1}\n", "batch", "max must be at least idle"),
    ("leaderElection: {leaseDuration: 5, renewDeadline: 8}\n", "leaderElection",
     "leaseDuration > renewDeadline"),
    ("intervals: {disruption: -1}\n", "intervals.disruption", "greater than 0"),
])
def test_bad_settings_name_the_file_and_field(tmp_path: Path, text: str, field: str,
                                              words: str) -> None:
    path = tmp_path / "scaler.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as err:
        load_settings(str(path), {})
    assert err.value.file == str(path) and err.value.field == field
    assert words in err.value.message


def test_the_charts_environment_variables_and_go_durations(tmp_path: Path) -> None:
    env = {"SCALER_POD_NAME": "scaler-7d9f-abcde", "SCALER_POD_NAMESPACE": "scaler",
           "SCALER_CLUSTER_NAME": "prod", "SCALER_REGION": "eu-west-1",
           "SCALER_BATCH_IDLE_DURATION": "500ms", "SCALER_BATCH_MAX_DURATION": "1m30s",
           "SCALER_LEASE_DURATION": "15s", "SCALER_RENEW_DEADLINE": "10s",
           "SCALER_RETRY_PERIOD": "2s", "SCALER_DRY_RUN": "true", "SCALER_LOG_LEVEL": "debug",
           "SCALER_LEADER_ELECT": "true", "SCALER_LEASE_NAME": "scaler-leader",
           "SCALER_DISRUPTION_ENABLED": "false", "SCALER_PRICE_REFRESH_INTERVAL": "1h",
           # The chart always sets these; with no URL there is no Git source.
           "SCALER_GIT_URL": "", "SCALER_GIT_BRANCH": "main", "SCALER_GIT_PATH": ".",
           "SCALER_STATE_DIR": "/var/lib/scaler", "SCALER_HTTP_PORT": "8080"}
    s = load_settings(None, {"batch": {"max": 20}}, env)
    assert s.leader_election.identity == "scaler-7d9f-abcde"
    assert (s.leader_election.namespace, s.leader_election.name) == ("scaler", "scaler-leader")
    assert (s.aws.cluster_name, s.aws.region) == ("prod", "eu-west-1")
    assert (s.batch.idle, s.batch.max) == (0.5, 20)  # the flag wins over the environment
    assert s.dry_run and s.log_level == "DEBUG" and not s.disruption.enabled
    assert s.intervals.price_refresh == 3600 and s.git is None and s.http_port == 8080
    with pytest.raises(UserError) as err:
        load_settings(None, {}, {"SCALER_BATCH_IDLE_DURATION": "1 second"})
    assert err.value.field == "batch.idle" and "invalid duration '1 second'" in err.value.message


def _node(name: str, itype: str = "m5.xlarge") -> Node:
    from pricing import load_catalog

    it = next(t for t in load_catalog("us-east-1").instance_types if t.name == itype)
    labels = {**it.labels, "karpenter.sh/nodepool": "default",
              "karpenter.sh/capacity-type": "on-demand",
              "topology.kubernetes.io/zone": "us-east-1a", "kubernetes.io/hostname": name}
    return Node(name, labels, Resources(dict(it.allocatable)), created=0.0)


def test_the_executor_deletes_an_underutilized_node_after_validation() -> None:
    """The core plans; the executor waits the validation delay, revalidates, then cordons,
    drains and deletes (node, instance and claim); nominated nodes are left alone."""
    from pricing import load_catalog
    from scaler.adapters.simulated import SimulatedCloud, SimulatedManagedCluster
    from scaler.control.disruption import ChangeTracker, DisruptionExecutor, disruption_input
    from scaler.control.provisioning import Provisioner
    from scaler.core.disruption.candidates import DisruptionSettings
    from scaler.core.disruption.plan import plan_disruptions
    from scaler.core.scheduling.instancetypes import InstanceTypeTable
    from scaler.policy import load_policies
    from scaler.ports.fence import OpenFence

    nodes = (_node("a"), _node("b"))
    pods = tuple(Pod("default", f"web-{n}", Resources.parse({"cpu": "500m", "memory": "1Gi"}),
                     node_name=n, owner_kind="ReplicaSet", owner_name="web") for n in ("a", "b"))
    cluster = SimulatedManagedCluster(Snapshot(nodes=nodes, pods=pods), adopt=lambda n: 0.192)
    catalog = load_catalog("us-east-1")
    cloud = SimulatedCloud(catalog)
    pools = load_policies(None).node_pools
    table = InstanceTypeTable(catalog.instance_types)
    changes = ChangeTracker()
    executor = DisruptionExecutor(cluster, cloud, OpenFence(),
                                  Provisioner(cluster, cloud, OpenFence(), "us-east-1"),
                                  DisruptionSettings(validation_delay=15))
    nominated = disruption_input(cluster, table, pools, changes, 1000,
                                 protected=frozenset({"a", "b"}))
    assert plan_disruptions(nominated, 1000).disruptions == ()  # pods are on their way there

    def now_input() -> DisruptionInput:
        return disruption_input(cluster, table, pools, changes, 1000)

    plan = plan_disruptions(now_input(), 1000)
    [d] = plan.disruptions
    assert d.reason == "underutilized" and d.savings_per_hour > 0 and not plan.replacements
    executor.submit(plan, 1000, pools, {it.name: it for it in catalog.instance_types})
    assert executor.advance(1010, now_input) == 0 and executor.busy  # not yet validated
    assert executor.advance(1016, now_input) == 1 and not executor.busy
    assert [(x.action, x.target) for x in executor.decisions] == [
        ("cordon", d.node), ("drain", d.node), ("delete", d.node)]
    assert [n.name for n in cluster.snapshot().nodes] == [n for n in "ab" if n != d.node]
    assert [c.name for c in cluster.claims()] == [n for n in "ab" if n != d.node]


POOL_YAML = """\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: default}
spec:
  template:
    spec:
      requirements:
        - {key: node.kubernetes.io/instance-type, operator: In, values: [%s]}
        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
"""


def test_the_loop_replaces_an_underutilized_node_before_draining_it(tmp_path: Path) -> None:
    """Simulated cluster and cloud: launch, then a cheaper replacement is launched and Ready
    before the old node is drained and deleted; the pod lands on the replacement."""
    from pricing import load_catalog
    from scaler.adapters.simulated import SimulatedCloud, SimulatedManagedCluster
    from scaler.core.disruption.candidates import DisruptionSettings
    from scaler.policy import load_policies
    from scaler.ports.fence import OpenFence
    from scaler.runtime.controller import Controller, LoopSettings
    from scaler.runtime.policies import PolicyHolder

    def policies(types: str) -> object:
        d = tmp_path / types.replace(",", "_").replace(" ", "")
        d.mkdir()
        (d / "pool.yaml").write_text(POOL_YAML % types)
        return load_policies(d)

    web = Pod("default", "web-0", Resources.parse({"cpu": "500m", "memory": "1Gi"}),
              owner_kind="ReplicaSet", owner_name="web")
    cluster = SimulatedManagedCluster(Snapshot(pods=(web,)))
    holder = PolicyHolder(policies("m5.4xlarge"))  # type: ignore[arg-type]
    controller = Controller(cluster, SimulatedCloud(load_catalog("us-east-1")), holder,
                            OpenFence(), disruption=DisruptionSettings(validation_delay=0),
                            settings=LoopSettings(nomination_ttl=0))
    controller.provision()
    controller.lifecycle()
    [old] = cluster.claims()
    assert old.instance_type == "m5.4xlarge" and old.initialized

    holder.apply(policies("m5.large, m5.4xlarge"), "rev2")  # cheaper types are allowed now
    controller.disrupt()
    assert controller.stats.replacements == 1 and controller.stats.disrupted == 0
    [new] = [c for c in cluster.claims() if c.name != old.name]
    assert new.instance_type == "m5.large"
    assert [p.node_name for p in cluster.snapshot().pods] == [old.node_name]  # not drained yet

    controller.disrupt()  # the replacement is launched but not Ready: nothing happens
    assert controller.stats.disrupted == 0
    controller.lifecycle()  # now it is
    controller.disrupt()
    assert controller.stats.disrupted == 1
    assert [c.name for c in cluster.claims()] == [new.name]
    controller.provision()
    [ready] = cluster.claims()
    assert ready.node_name and [p.node_name for p in cluster.snapshot().pods] == [ready.node_name]
    reasons = [r for ref, _, r, _ in cluster.events if ref.name == old.name]
    assert reasons == ["Launched", "Registered", "DisruptionLaunching",
                       "DisruptionTerminating", "Consolidated"]


class Calls:
    """Records every call made on it (a metrics recorder or health reporter stand-in)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[object, ...]]] = []

    def __getattr__(self, name: str) -> object:
        return lambda *args: self.calls.append((name, args))

    def names(self) -> set[str]:
        return {n for n, _ in self.calls}


def test_the_loop_reports_to_the_metrics_recorder_and_the_probes() -> None:
    from scaler.runtime.run import Runtime

    small = Path(__file__).resolve().parents[1] / "fixtures" / "snapshots" / "small"
    settings = load_settings(None, {"simulate": True, "snapshots": [str(small)],
                                    "runFor": 1.5, "batch": {"idle": 0.2, "max": 1}}, {})
    metrics, health = Calls(), Calls()
    assert Runtime(settings, metrics, health).run(install_signals=False) == 0  # type: ignore
    assert ("record_launch", ("default", "provisioning")) in metrics.calls
    assert {"set_pending", "observe_scheduling", "set_policy_ready"} <= metrics.names()
    assert ("set_caches_synced", (True,)) in health.calls
    assert ("set_policies_loaded", (True,)) in health.calls
    assert ("set_role", ("leader",)) in health.calls and "heartbeat" in health.names()


def test_an_interruption_before_registration_still_removes_the_node(tmp_path: Path) -> None:
    """The instance's node has joined but the claim has not recorded it yet when the Spot
    warning arrives: the node is found by its providerID and deleted with its instance."""
    from pricing import load_catalog
    from scaler.adapters.simulated import SimulatedCloud, SimulatedManagedCluster
    from scaler.policy import load_policies
    from scaler.ports.fence import OpenFence
    from scaler.runtime.controller import Controller
    from scaler.runtime.policies import PolicyHolder

    (tmp_path / "pool.yaml").write_text(POOL_YAML % "m5.large")
    web = Pod("default", "web-0", Resources.parse({"cpu": "500m", "memory": "1Gi"}),
              owner_kind="ReplicaSet", owner_name="web")
    cluster = SimulatedManagedCluster(Snapshot(pods=(web,)))
    cloud = SimulatedCloud(load_catalog("us-east-1"))
    controller = Controller(cluster, cloud, PolicyHolder(load_policies(tmp_path)),
                            OpenFence())
    controller.provision()  # launched; no lifecycle pass yet, so not registered
    [claim] = cluster.claims()
    assert not claim.registered and claim.node_name == ""
    [instance] = cloud.list()
    assert controller.interrupted(instance, "SpotInterrupted", "SpotInterruption")
    # Gone with its instance and claim (a replacement for the pod was launched first).
    assert claim.name not in {n.name for n in cluster.snapshot().nodes}
    assert instance.provider_id not in {n.provider_id for n in cloud.list()}
    assert claim.name not in {c.name for c in cluster.claims()}


def test_a_new_leader_finishes_a_replacement_launched_before_it(tmp_path: Path) -> None:
    """The leader launched a cheaper replacement and died before draining: the replacement
    claim names the claim it replaces (scaler.dev/replaces), and a new controller on the same
    cluster drains the old node onto it once Ready instead of planning again."""
    from pricing import load_catalog
    from scaler.adapters.simulated import SimulatedCloud, SimulatedManagedCluster
    from scaler.core.disruption.candidates import DisruptionSettings
    from scaler.policy import load_policies
    from scaler.ports.fence import OpenFence
    from scaler.runtime.controller import Controller, LoopSettings
    from scaler.runtime.policies import PolicyHolder

    def policies(types: str) -> object:
        d = tmp_path / types.replace(",", "_").replace(" ", "")
        d.mkdir()
        (d / "pool.yaml").write_text(POOL_YAML % types)
        return load_policies(d)

    web = Pod("default", "web-0", Resources.parse({"cpu": "500m", "memory": "1Gi"}),
              owner_kind="ReplicaSet", owner_name="web")
    cluster = SimulatedManagedCluster(Snapshot(pods=(web,)))
    cloud = SimulatedCloud(load_catalog("us-east-1"))

    def controller(holder: PolicyHolder) -> Controller:
        return Controller(cluster, cloud, holder, OpenFence(),
                          disruption=DisruptionSettings(validation_delay=0),
                          settings=LoopSettings(nomination_ttl=0))

    first = controller(PolicyHolder(policies("m5.4xlarge")))  # type: ignore[arg-type]
    first.provision()
    first.lifecycle()
    [old] = cluster.claims()
    first.policies.apply(policies("m5.large, m5.4xlarge"), "rev2")  # type: ignore[arg-type]
    first.disrupt()
    [new] = [c for c in cluster.claims() if c.name != old.name]
    assert new.replaces == old.name and first.stats.replacements == 1

    second = controller(first.policies)  # the new leader: nothing in memory
    second.lifecycle()  # the replacement is Ready now
    second.disrupt()
    assert second.stats.replacements == 0 and second.stats.disrupted == 1
    assert [c.name for c in cluster.claims()] == [new.name]
    assert len(cloud.list()) == 1


def test_a_claim_whose_launch_was_not_recorded_adopts_its_instance(tmp_path: Path) -> None:
    """CreateFleet answered but the claim's status was never written (a crash, a failed
    write): the next pass adopts the instance (found by its claim tag) instead of launching
    a second one; a claim with no instance, older than the nomination TTL, goes."""
    from pricing import load_catalog
    from scaler.adapters.simulated import SimulatedCloud, SimulatedManagedCluster
    from scaler.core.requirements import Requirements
    from scaler.policy import load_policies
    from scaler.ports.fence import OpenFence
    from scaler.runtime.controller import Controller, LoopSettings
    from scaler.runtime.policies import PolicyHolder

    (tmp_path / "pool.yaml").write_text(POOL_YAML % "m5.large")
    web = Pod("default", "web-0", Resources.parse({"cpu": "500m", "memory": "1Gi"}),
              owner_kind="ReplicaSet", owner_name="web")
    cloud = SimulatedCloud(load_catalog("us-east-1"))
    holder = PolicyHolder(load_policies(tmp_path))
    before = SimulatedManagedCluster(Snapshot(pods=(web,)))
    Controller(before, cloud, holder, OpenFence()).provision()  # the launch that was lost
    [claim] = before.claims()
    [instance] = cloud.list()
    # The cluster as the crash left it: the claim created, its launch not recorded, the
    # pod still pending; and a claim whose instance was never created.
    cluster = SimulatedManagedCluster(Snapshot(pods=(web,)))
    cluster.create_claim(claim.name, "default", Requirements(), (), Resources({}), {})
    cluster.create_claim("never-launched", "default", Requirements(), (), Resources({}), {})
    controller = Controller(cluster, cloud, holder, OpenFence(),
                            settings=LoopSettings(nomination_ttl=20))
    controller.clock = lambda: cluster.clock() + 30  # past the nomination TTL
    controller.provision()
    [adopted] = cluster.claims()
    assert adopted.name == claim.name and adopted.launched
    assert adopted.provider_id == instance.provider_id
    assert [n.provider_id for n in cloud.list()] == [instance.provider_id]  # no second one
    assert [p.node_name for p in cluster.snapshot().pods] == [claim.name]


def test_the_lifecycle_pass_releases_a_disrupted_taint_a_dead_pass_left(tmp_path: Path) -> None:
    """A disruption that died between the cordon and the delete left its node tainted
    karpenter.sh/disrupted: the next lifecycle pass releases it (the pods may come back)."""
    from pricing import load_catalog
    from scaler.adapters.simulated import SimulatedCloud, SimulatedManagedCluster
    from scaler.control.disruption import DISRUPTED_TAINT
    from scaler.policy import load_policies
    from scaler.ports.fence import OpenFence
    from scaler.runtime.controller import Controller
    from scaler.runtime.policies import PolicyHolder

    (tmp_path / "pool.yaml").write_text(POOL_YAML % "m5.large")
    web = Pod("default", "web-0", Resources.parse({"cpu": "500m", "memory": "1Gi"}),
              owner_kind="ReplicaSet", owner_name="web")
    cluster = SimulatedManagedCluster(Snapshot(pods=(web,)))
    controller = Controller(cluster, SimulatedCloud(load_catalog("us-east-1")),
                            PolicyHolder(load_policies(tmp_path)), OpenFence())
    controller.provision()
    controller.lifecycle()
    [claim] = cluster.claims()
    cluster.taint(claim.node_name, DISRUPTED_TAINT)  # the pass died here
    controller.lifecycle()
    [node] = cluster.snapshot().nodes
    assert node.name == claim.node_name and node.taints == ()


def test_a_consolidation_sends_no_pod_to_a_node_not_ready_yet(tmp_path: Path) -> None:
    """A node launched for pods that went away before it was Ready (a scale-down; after a
    restart nothing remembers it was nominated) is room in flight, not room ready: the pods
    of an underutilized node are not evicted towards it, where they would wait for it to
    register, however often the consolidation is planned. Once it is Ready, they move."""
    from pricing import load_catalog
    from scaler.adapters.simulated import SimulatedCloud, SimulatedManagedCluster
    from scaler.core.disruption.candidates import DisruptionSettings
    from scaler.policy import load_policies
    from scaler.ports.fence import OpenFence
    from scaler.runtime.controller import Controller, LoopSettings
    from scaler.runtime.policies import PolicyHolder

    (tmp_path / "pool.yaml").write_text(POOL_YAML % "m5.large")
    clock = [1000.0]

    def pod(name: str) -> Pod:
        return Pod("default", name, Resources.parse({"cpu": "1200m", "memory": "1Gi"}),
                   owner_kind="ReplicaSet", owner_name="web")

    cluster = SimulatedManagedCluster(Snapshot(pods=(pod("web-0"),)), clock=lambda: clock[0],
                                      launch_delay=30)
    controller = Controller(cluster, SimulatedCloud(load_catalog("us-east-1")),
                            PolicyHolder(load_policies(tmp_path)), OpenFence(),
                            disruption=DisruptionSettings(validation_delay=0),
                            settings=LoopSettings(nomination_ttl=0), clock=lambda: clock[0])
    controller.provision()
    clock[0] += 30
    controller.lifecycle()
    [a] = cluster.claims()
    assert a.initialized
    cluster.inner.add_pod(pod("web-1"))  # the Deployment grows: a second node is launched
    controller.provision()
    [b] = [c for c in cluster.claims() if c.name != a.name]
    cluster.inner.remove_pod("default/web-1")  # and shrinks before that node is Ready
    clock[0] += 10
    controller.lifecycle()
    assert not [c for c in cluster.claims() if c.name == b.name][0].initialized

    for _ in range(3):  # plan, validate, carry out: web-0 would have been evicted towards b
        controller.disrupt()
        clock[0] += 5
    assert [(d.action, d.target) for d in controller.decisions] == [
        ("launch", a.name), ("launch", b.name)]
    assert [(p.name, p.node_name) for p in cluster.snapshot().pods] == [("web-0", a.node_name)]

    clock[0] += 30
    controller.lifecycle()  # b is Ready now
    [b] = [c for c in cluster.claims() if c.name == b.name]
    assert b.initialized
    for _ in range(3):
        controller.disrupt()
        controller.provision()
        clock[0] += 5
    assert [(d.action, d.target) for d in controller.decisions][2:] == [
        ("cordon", a.node_name), ("drain", a.node_name), ("delete", a.node_name)]
    assert [c.name for c in cluster.claims()] == [b.name]
    assert [(p.name, p.node_name) for p in cluster.snapshot().pods] == [("web-0", b.node_name)]
