"""Interruption messages on an SQS queue (moto_server) acted on against the simulated cluster:
cordon, replacement capacity, drain, delete; and every AWS call made is in the IAM policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scaler.adapters.aws import InterruptionHandler, Kind
from scaler.adapters.aws.iam import all_actions, controller_policy, policy_actions
from scaler.adapters.aws.instances import instance_id
from scaler.adapters.simulated import SimulatedCluster
from scaler.core.model import NodePool, Pod, Snapshot
from scaler.simulation.provision import provision
from tests.integration.aws.conftest import CLUSTER, ZONES, Rig
from tests.support.builders import karpenter_pool, pod, requirement_in

EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "aws" / "events"
PLACEHOLDER = "i-0123456789abcdef0"
POOL = karpenter_pool([requirement_in("node.kubernetes.io/instance-type", "m5.large", "m5.xlarge"),
                       requirement_in("karpenter.sh/capacity-type", "spot")])


def event(name: str, instance: str) -> str:
    return (EVENTS / f"{name}.json").read_text().replace(PLACEHOLDER, instance)


def web_pods(n: int) -> tuple[Pod, ...]:
    return tuple(pod(f"web-{i}", "500m", "512Mi", owner=("ReplicaSet", "web")) for i in range(n))


def launched_cluster(rig: Rig, pool: NodePool = POOL) -> tuple[Any, SimulatedCluster, str, str]:
    """A provisioning pass on the AWS provider: three pods on one new spot node."""
    provider = rig.make()
    cluster = SimulatedCluster(Snapshot(pods=web_pods(3)))
    plan = provision(cluster, provider, [pool], provider.catalog)
    [node] = plan.new_nodes
    [cloud_node] = provider.list()
    return provider, cluster, node.name, instance_id(cloud_node.provider_id)


def queue_is_empty(rig: Rig) -> bool:
    """No message waiting and none in flight (a message handled but not deleted would come
    back after the visibility timeout)."""
    attrs = rig.world.sqs.get_queue_attributes(
        QueueUrl=rig.world.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return attrs == {"ApproximateNumberOfMessages": "0",
                     "ApproximateNumberOfMessagesNotVisible": "0"}


def test_spot_interruption_leads_to_replacement_then_deletion(rig: Rig) -> None:
    provider, cluster, node_name, interrupted = launched_cluster(rig)
    before = provider.get(interrupted)
    assert (before.instance_type, before.zone, before.capacity_type) == (
        "m5.large", ZONES[0], "spot")
    rig.world.sqs.send_message(QueueUrl=rig.world.queue_url,
                               MessageBody=event("spot_interruption", interrupted))
    # The queue by name: the handler looks its URL up.
    handler = InterruptionHandler(provider, cluster, [POOL], queue=f"{CLUSTER}-interruptions",
                                  wait_seconds=0)

    [outcome] = handler.poll_once()

    for action in outcome.actions:
        print(" ", action)
    assert outcome.kind is Kind.SPOT_INTERRUPTION and outcome.node == node_name
    [replacement] = outcome.replacements
    new_id = instance_id(replacement.provider_id)
    assert outcome.actions == [
        f"marked m5.large {ZONES[0]} spot unavailable",
        f"cordoned {node_name}",
        f"launched replacement {new_id} (spot {replacement.instance_type} {replacement.zone}) "
        f"as {replacement.claim_name}",
        "evicted default/web-0", "evicted default/web-1", "evicted default/web-2",
        f"deleted node {node_name}",
        f"terminated {interrupted}",
    ]
    # The replacement avoids the interrupted offering.
    assert (replacement.instance_type, replacement.zone) != ("m5.large", ZONES[0])
    snap = cluster.snapshot()
    assert [n.name for n in snap.nodes] == [replacement.claim_name]
    assert {p.node_name for p in snap.pods} == {replacement.claim_name}
    assert rig.world.state(interrupted) in ("shutting-down", "terminated")
    assert rig.world.state(new_id) == "running"
    assert queue_is_empty(rig)

    # Every AWS call made on the way (launch, prices, types, lifecycle, queue) is one the
    # least-privilege IAM policy grants.
    provider.garbage_collect({replacement.claim_name})
    made = rig.proxy.actions() | ({"pricing:GetProducts"} if rig.pricing.requests else set())
    print("calls made:", sorted(made))
    assert made <= all_actions()
    assert made <= policy_actions(controller_policy())


def test_messages_that_call_for_no_action_change_nothing(rig: Rig) -> None:
    provider, cluster, node_name, instance = launched_cluster(rig)
    other = rig.world.ec2.run_instances(ImageId=rig.world.amis["amd64"], InstanceType="t3.micro",
                                        MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    for body in (event("rebalance_recommendation", instance),  # Karpenter's default: no action
                 event("state_change_running", instance),
                 event("health_other_service", instance),
                 event("scheduled_change", other)):  # not this cluster's instance
        rig.world.sqs.send_message(QueueUrl=rig.world.queue_url, MessageBody=body)
    handler = InterruptionHandler(provider, cluster, [POOL], wait_seconds=0)

    outcomes = handler.poll_once()

    print([(o.kind.value, o.instance_id, o.actions) for o in outcomes])
    assert sorted((o.kind.value, o.actions[0]) for o in outcomes) == [
        ("NoOp", "ignored"),  # the instance is running
        ("NoOp", "ignored"),  # a health event about RDS
        ("RebalanceRecommendation", "recorded rebalance recommendation"),
        ("ScheduledChange", "ignored: not an instance of this cluster"),
    ]
    assert [n.name for n in cluster.snapshot().nodes] == [node_name]
    assert not cluster.snapshot().nodes[0].unschedulable
    assert rig.world.state(instance) == "running" and rig.world.state(other) == "running"
    assert queue_is_empty(rig)


def test_a_stopping_instance_is_replaced_and_unreadable_messages_are_dropped(
        rig: Rig) -> None:
    provider, cluster, node_name, instance = launched_cluster(rig)
    for body in ("not json at all", event("state_change_running", instance),
                 event("state_change_stopping", instance)):
        rig.world.sqs.send_message(QueueUrl=rig.world.queue_url, MessageBody=body)
    handler = InterruptionHandler(provider, cluster, [POOL], wait_seconds=0)

    outcomes = handler.poll_once()

    print([(o.kind.value, o.actions) for o in outcomes])
    acted = [o for o in outcomes if o.kind is Kind.STATE_CHANGE]
    assert [o.kind for o in outcomes if o.kind is Kind.NOOP] == [Kind.NOOP]  # running: ignored
    [stopping] = acted
    assert stopping.actions[0] == f"cordoned {node_name}"  # no Spot offering marked
    assert len(stopping.replacements) == 1 and stopping.actions[-1] == f"terminated {instance}"
    assert [n.name for n in cluster.snapshot().nodes] == [stopping.replacements[0].claim_name]
    assert queue_is_empty(rig)  # the unreadable message was dropped, not retried forever
