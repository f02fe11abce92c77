"""Interruption messages on an SQS queue (moto_server) carried out by the loop's own path: the
queue poller `scaler run` wires (`InterruptionPoller`) hands each acting message to
`Controller.interrupted`, i.e. `DisruptionExecutor.interrupt`, on the AWS provider and the
simulated cluster: cordon, replacement capacity launched, drain, delete, terminate; and every
AWS call made is in the IAM policy."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from scaler.adapters.aws import AwsCloudProvider
from scaler.adapters.aws.iam import all_actions, controller_policy, policy_actions
from scaler.adapters.aws.instances import instance_id
from scaler.adapters.simulated import SimulatedManagedCluster
from scaler.core.model import Pod, Snapshot
from scaler.policy import load_policies
from scaler.ports.fence import OpenFence
from scaler.runtime.controller import Controller, LoopSettings
from scaler.runtime.interruptions import InterruptionPoller
from scaler.runtime.policies import PolicyHolder
from tests.integration.aws.conftest import CLUSTER, NODE_CLASS, REGION, ZONES, Rig
from tests.support.builders import pod

EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "aws" / "events"
PLACEHOLDER = "i-0123456789abcdef0"
POOL = """\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: default}
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
        - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.large, m5.xlarge]}
        - {key: karpenter.sh/capacity-type, operator: In, values: [spot]}
"""


def event(name: str, instance: str) -> str:
    return (EVENTS / f"{name}.json").read_text().replace(PLACEHOLDER, instance)


def web_pods(n: int) -> tuple[Pod, ...]:
    return tuple(pod(f"web-{i}", "500m", "512Mi", owner=("ReplicaSet", "web")) for i in range(n))


class Loop:
    """The controller on the AWS provider (through the fault proxy to moto_server) and the
    simulated cluster, after one provisioning and one lifecycle pass: three pods on one
    new, registered spot node; and the poller on the cluster's interruption queue."""

    def __init__(self, rig: Rig, policies: Path) -> None:
        policies.mkdir()
        (policies / "nodeclass.yaml").write_text(NODE_CLASS)
        (policies / "pool.yaml").write_text(POOL)
        self.rig = rig
        self.provider: AwsCloudProvider = rig.make()
        self.cluster = SimulatedManagedCluster(Snapshot(pods=web_pods(3)))
        self.controller = Controller(self.cluster, self.provider,
                                     PolicyHolder(load_policies(policies)), OpenFence(),
                                     settings=LoopSettings(region=REGION))
        self.controller.provision()
        self.controller.lifecycle()
        [claim] = self.cluster.claims()
        assert claim.registered
        self.node = claim.node_name
        self.instance = instance_id(claim.provider_id)
        # The queue by name, as `aws.interruptionQueue` may give it: the poller looks its
        # URL up. No long poll: the messages are on the queue before each poll.
        self.poller = InterruptionPoller(self.provider, self.controller,
                                         f"{CLUSTER}-interruptions", wait_seconds=0)

    def send(self, *bodies: str) -> None:
        for body in bodies:
            self.rig.world.sqs.send_message(QueueUrl=self.rig.world.queue_url,
                                            MessageBody=body)

    def decisions(self) -> list[tuple[str, str]]:
        return [(d.action, d.target) for d in self.controller.decisions]

    def messages(self) -> int:
        """Messages waiting or in flight (a message received but not deleted comes back
        after the visibility timeout)."""
        attrs = self.rig.world.sqs.get_queue_attributes(
            QueueUrl=self.rig.world.queue_url,
            AttributeNames=["ApproximateNumberOfMessages",
                            "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attrs.values())


@pytest.fixture
def loop(rig: Rig, tmp_path: Path) -> Loop:
    return Loop(rig, tmp_path / "policies")


def test_spot_interruption_launches_a_replacement_before_draining_then_deletes(
        loop: Loop) -> None:
    provider, cluster = loop.provider, loop.cluster
    before = provider.get(loop.instance)
    assert (before.instance_type, before.zone, before.capacity_type) == (
        "m5.large", ZONES[0], "spot")
    assert {p.node_name for p in cluster.snapshot().pods} == {loop.node}
    assert loop.decisions() == [("launch", loop.node)]
    loop.send(event("spot_interruption", loop.instance))

    loop.poller.poll_once()

    print(loop.decisions())
    [replacement] = [c for c in cluster.claims() if c.name != loop.node]
    # Karpenter's order: cordoned, capacity launched for the pods, and only then drained
    # (the pods evicted), the node deleted.
    assert loop.decisions()[1:] == [("cordon", loop.node), ("launch", replacement.name),
                                    ("drain", loop.node), ("delete", loop.node)]
    assert loop.controller.stats.interrupted == 1
    assert any(ref.name == loop.node and reason == "SpotInterrupted"
               for ref, _, reason, _ in cluster.events)
    # The interrupted offering is marked unavailable, and the replacement avoids it.
    assert provider.unavailable.is_unavailable("m5.large", ZONES[0], "spot")
    assert replacement.capacity_type == "spot"
    assert (replacement.instance_type, replacement.zone) != ("m5.large", ZONES[0])
    # The node and its claim are gone, the instance is terminated, the replacement runs.
    assert [n.name for n in cluster.snapshot().nodes] == [replacement.name]
    assert [c.name for c in cluster.claims()] == [replacement.name]
    assert loop.rig.world.state(loop.instance) in ("shutting-down", "terminated")
    new_id = instance_id(replacement.provider_id)
    assert loop.rig.world.state(new_id) == "running"
    assert loop.messages() == 0
    # The evicted pods' controller recreated them (pending); the next pass sends them to
    # the replacement, launched no more.
    assert {p.node_name for p in cluster.snapshot().pods} == {None}
    loop.controller.provision()
    assert {p.node_name for p in cluster.snapshot().pods} == {replacement.name}
    assert len(provider.list()) == 1

    # Every AWS call made on the way (launch, prices, types, lifecycle, queue) is one the
    # least-privilege IAM policy grants.
    provider.garbage_collect({replacement.name})
    made = loop.rig.proxy.actions() | (
        {"pricing:GetProducts"} if loop.rig.pricing.requests else set())
    print("calls made:", sorted(made))
    assert {"sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:DeleteMessage",
            "ec2:TerminateInstances", "ec2:CreateFleet"} <= made
    assert made <= all_actions()
    assert made <= policy_actions(controller_policy())


def test_messages_that_call_for_no_action_change_nothing(
        loop: Loop, caplog: pytest.LogCaptureFixture) -> None:
    world = loop.rig.world
    other = world.ec2.run_instances(ImageId=world.amis["amd64"], InstanceType="t3.micro",
                                    MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    loop.send(event("rebalance_recommendation", loop.instance),  # Karpenter's: no action
              event("state_change_running", loop.instance),
              event("health_other_service", loop.instance),  # about RDS
              event("scheduled_change", other))  # not this cluster's instance
    caplog.set_level(logging.INFO, logger="scaler.runtime.interruptions")

    loop.poller.poll_once()

    print(caplog.messages)
    assert f"RebalanceRecommendation for {loop.instance} (claim {loop.node}): no action" \
        in caplog.messages
    assert f"ScheduledChange for {other}: not an instance of this cluster" in caplog.messages
    assert loop.decisions() == [("launch", loop.node)]  # nothing cordoned, drained, deleted
    [node] = loop.cluster.snapshot().nodes
    assert node.name == loop.node and not node.taints and not node.unschedulable
    assert {p.node_name for p in loop.cluster.snapshot().pods} == {loop.node}
    assert not loop.provider.unavailable.active()
    assert world.state(loop.instance) == "running" and world.state(other) == "running"
    assert loop.controller.stats.interrupted == 0
    assert loop.messages() == 0  # all handled


def test_a_stopping_instance_is_replaced_and_unreadable_messages_are_dropped(
        loop: Loop) -> None:
    loop.send("not json at all", event("state_change_running", loop.instance),
              event("state_change_stopping", loop.instance))

    loop.poller.poll_once()

    print(loop.decisions())
    [replacement] = [c.name for c in loop.cluster.claims() if c.name != loop.node]
    assert loop.decisions()[1:] == [("cordon", loop.node), ("launch", replacement),
                                    ("drain", loop.node), ("delete", loop.node)]
    assert loop.controller.stats.interrupted == 1  # the running one ignored
    assert not loop.provider.unavailable.active()  # not a Spot warning: no offering marked
    assert [n.name for n in loop.cluster.snapshot().nodes] == [replacement]
    assert loop.rig.world.state(loop.instance) in ("shutting-down", "terminated")
    assert loop.messages() == 0  # the unreadable message was dropped, not retried forever


def test_a_message_whose_handling_failed_stays_on_the_queue_and_is_retried(
        loop: Loop) -> None:
    world = loop.rig.world
    # Back at once after a failure (the queue's visibility timeout), not in 30 s.
    world.sqs.set_queue_attributes(QueueUrl=world.queue_url,
                                   Attributes={"VisibilityTimeout": "0"})
    loop.send(event("spot_interruption", loop.instance))
    # EC2 refuses every attempt (the provider's backoff gives up after 5) to terminate.
    loop.rig.proxy.throttle("TerminateInstances", 5)

    loop.poller.poll_once()

    assert world.state(loop.instance) == "running"
    assert loop.controller.stats.interrupted == 0
    assert loop.messages() == 1  # kept

    loop.poller.poll_once()  # EC2 answers again

    print(loop.decisions())
    assert world.state(loop.instance) in ("shutting-down", "terminated")
    assert loop.controller.stats.interrupted == 1
    assert loop.node not in {c.name for c in loop.cluster.claims()}
    assert loop.node not in {n.name for n in loop.cluster.snapshot().nodes}
    # Capacity was launched for the pods once, not again on the retry.
    assert [a for a, _ in loop.decisions()].count("launch") == 2
    assert loop.messages() == 0
