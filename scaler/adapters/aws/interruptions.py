"""Interruption handling: EventBridge events read from an SQS queue, acted on as Karpenter does.

The queue receives four kinds of events (Karpenter's EventBridge rules), acted on so:

* aws.ec2 "EC2 Spot Instance Interruption Warning": mark the Spot offering unavailable, then
  cordon, replace, drain, delete;
* aws.health "AWS Health Event" (service EC2, category scheduledChange): cordon, replace,
  drain, delete;
* aws.ec2 "EC2 Instance State-change Notification" to stopping, stopped, shutting-down or
  terminated: cordon, replace, drain, delete;
* aws.ec2 "EC2 Instance Rebalance Recommendation": nothing but a log line (Karpenter's
  default).

"Replace" launches capacity for the node's pods before they are evicted (the Spot warning
gives two minutes), so they have somewhere to go; the node's name is its node claim's (how the
provisioning pass registers nodes). A message is deleted from the queue once handled, or at
once if it cannot be parsed; a message whose handling failed stays and comes back after the
queue's visibility timeout.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from pricing import InstanceType
from scaler.adapters.aws import retry
from scaler.adapters.aws.provider import AwsCloudProvider
from scaler.core.model import (
    LABEL_CAPACITY_TYPE,
    LABEL_HOSTNAME,
    LABEL_NODEPOOL,
    LABEL_REGION,
    LABEL_ZONE,
    SPOT,
    Node,
    NodePool,
    Pod,
)
from scaler.core.resources import Resources
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.core.scheduling.scheduler import Scheduler
from scaler.ports.cloud import CloudError, CloudNode, NodeClaimRequest, NodeNotFoundError
from scaler.ports.cluster import Cluster, ClusterError

log = logging.getLogger(__name__)


class Kind(StrEnum):
    SPOT_INTERRUPTION = "SpotInterruption"
    REBALANCE_RECOMMENDATION = "RebalanceRecommendation"
    SCHEDULED_CHANGE = "ScheduledChange"
    STATE_CHANGE = "StateChange"
    NOOP = "NoOp"


# (source, detail-type) of each event kind.
_KINDS = {
    ("aws.ec2", "EC2 Spot Instance Interruption Warning"): Kind.SPOT_INTERRUPTION,
    ("aws.ec2", "EC2 Instance Rebalance Recommendation"): Kind.REBALANCE_RECOMMENDATION,
    ("aws.health", "AWS Health Event"): Kind.SCHEDULED_CHANGE,
    ("aws.ec2", "EC2 Instance State-change Notification"): Kind.STATE_CHANGE,
}
STOPPING_STATES = frozenset({"stopping", "stopped", "shutting-down", "terminated"})
ACTING_KINDS = frozenset({Kind.SPOT_INTERRUPTION, Kind.SCHEDULED_CHANGE, Kind.STATE_CHANGE})


@dataclass(frozen=True, slots=True)
class Message:
    kind: Kind
    instance_ids: tuple[str, ...]
    event_id: str = ""
    time: str = ""
    detail: str = ""  # the state of a state change, the health event type code, ...


def parse_message(body: str) -> Message:
    """An SQS message body (an EventBridge event) as a Message; ValueError if unreadable.

    Events of other kinds, health events of other services or categories, and state changes
    to running or pending are NoOp.
    """
    try:
        event = json.loads(body)
    except ValueError as e:
        raise ValueError(f"not JSON: {e}") from None
    if not isinstance(event, Mapping):
        raise ValueError("not a JSON object")
    kind = _KINDS.get((str(event.get("source")), str(event.get("detail-type"))), Kind.NOOP)
    detail = event.get("detail") or {}
    if not isinstance(detail, Mapping):
        raise ValueError("detail is not an object")
    ids: tuple[str, ...] = ()
    note = ""
    if kind is Kind.SCHEDULED_CHANGE:
        if detail.get("service") != "EC2" or detail.get("eventTypeCategory") != "scheduledChange":
            kind = Kind.NOOP
        ids = tuple(str(e.get("entityValue")) for e in detail.get("affectedEntities") or []
                    if isinstance(e, Mapping) and e.get("entityValue"))
        note = str(detail.get("eventTypeCode", ""))
    elif kind is not Kind.NOOP:
        iid = detail.get("instance-id")
        ids = (str(iid),) if iid else ()
        if kind is Kind.STATE_CHANGE:
            note = str(detail.get("state", "")).lower()
            if note not in STOPPING_STATES:
                kind = Kind.NOOP
        elif kind is Kind.SPOT_INTERRUPTION:
            note = str(detail.get("instance-action", ""))
    if kind is Kind.NOOP:
        ids = ()
    elif not ids:
        raise ValueError(f"{kind} event without an instance id")
    return Message(kind, ids, str(event.get("id", "")), str(event.get("time", "")), note)


@dataclass
class Outcome:
    """What handling one interrupted instance did, in order (for logs and tests)."""

    kind: Kind
    instance_id: str
    node: str | None = None
    actions: list[str] = field(default_factory=list)
    replacements: list[CloudNode] = field(default_factory=list)
    unschedulable: list[str] = field(default_factory=list)


def _node_for(launched: CloudNode, pool: NodePool, it: InstanceType | None, region: str) -> Node:
    labels = dict(it.labels) if it else {}
    labels.update(pool.labels)
    labels.update({
        LABEL_ZONE: launched.zone,
        LABEL_REGION: region,
        LABEL_CAPACITY_TYPE: launched.capacity_type,
        LABEL_NODEPOOL: pool.name,
        LABEL_HOSTNAME: launched.claim_name,
    })
    allocatable = Resources(dict(it.allocatable)) if it else Resources({})
    return Node(name=launched.claim_name, labels=labels, allocatable=allocatable,
                taints=pool.taints)


class InterruptionQueue:
    """The SQS queue EventBridge fills: long polls that parse each message, and deletes.

    An unreadable message is logged and deleted at once (it would only come back); a
    readable one is deleted by the caller once handled, or comes back after the queue's
    visibility timeout.
    """

    def __init__(self, cloud: AwsCloudProvider, queue: str, *, wait_seconds: int = 20,
                 max_messages: int = 10) -> None:
        self.cloud = cloud
        self.queue = queue
        self.wait_seconds = wait_seconds
        self.max_messages = max_messages
        self._url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            if self.queue.startswith(("https://", "http://")):
                self._url = self.queue
            else:
                sqs = self.cloud.clients.sqs
                self._url = str(retry.call(
                    lambda: sqs.get_queue_url(QueueName=self.queue), what="GetQueueUrl",
                    backoff=self.cloud.backoff, retry_on=retry.is_transient)["QueueUrl"])
        return self._url

    def receive(self) -> list[tuple[str, Message]]:
        """One long poll: (receipt handle, message) for each readable message."""
        sqs = self.cloud.clients.sqs
        answer = retry.call(
            lambda: sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=self.max_messages,
                                        WaitTimeSeconds=self.wait_seconds),
            what="ReceiveMessage", backoff=self.cloud.backoff, retry_on=retry.is_transient)
        out: list[tuple[str, Message]] = []
        for raw in answer.get("Messages", []):
            receipt = raw["ReceiptHandle"]
            try:
                out.append((receipt, parse_message(str(raw.get("Body", "")))))
            except ValueError as e:
                log.error("interruption queue: dropping unreadable message %s: %s",
                          raw.get("MessageId"), e)
                self.delete(receipt)
        return out

    def delete(self, receipt: str) -> None:
        sqs = self.cloud.clients.sqs
        retry.call(lambda: sqs.delete_message(QueueUrl=self.url, ReceiptHandle=receipt),
                   what="DeleteMessage", backoff=self.cloud.backoff, retry_on=retry.is_transient)


class InterruptionHandler:
    def __init__(
        self,
        cloud: AwsCloudProvider,
        cluster: Cluster,
        pools: Sequence[NodePool],
        *,
        queue: str | None = None,
        wait_seconds: int = 20,
        max_messages: int = 10,
    ) -> None:
        self.cloud = cloud
        self.cluster = cluster
        self.pools = tuple(pools)
        self.queue = queue or cloud.config.interruption_queue
        if not self.queue:
            raise CloudError("no interruption queue configured (interruptionQueue)")
        self.sqs = InterruptionQueue(cloud, self.queue, wait_seconds=wait_seconds,
                                     max_messages=max_messages)

    # -- SQS ----------------------------------------------------------------------------

    def poll_once(self) -> list[Outcome]:
        """Receive up to `max_messages` messages (long poll), handle and delete them."""
        outcomes: list[Outcome] = []
        for receipt, message in self.sqs.receive():
            try:
                outcomes.extend(self.handle(message))
            except Exception:
                log.exception("interruption queue: handling %s %s failed; it will be retried",
                              message.kind, ",".join(message.instance_ids))
                continue
            self.sqs.delete(receipt)
        return outcomes

    # -- acting -------------------------------------------------------------------------

    def handle(self, message: Message) -> list[Outcome]:
        if message.kind is Kind.NOOP:
            return [Outcome(message.kind, "", actions=["ignored"])]
        outcomes = []
        for iid in message.instance_ids:
            try:
                node = self.cloud.lookup(iid)
            except NodeNotFoundError:  # not an EC2 instance ID
                node = None
            outcome = Outcome(message.kind, iid, node.claim_name if node else None)
            if node is None:
                outcome.actions.append("ignored: not an instance of this cluster")
            elif message.kind in ACTING_KINDS:
                self._cordon_replace_drain_delete(message, node, outcome)
            else:  # a rebalance recommendation: Karpenter only records it
                log.info("%s for %s (node %s): no action", message.kind, iid, node.claim_name)
                outcome.actions.append("recorded rebalance recommendation")
            outcomes.append(outcome)
        return outcomes

    def _pool(self, name: str) -> NodePool | None:
        return next((p for p in self.pools if p.name == name), None)

    def _cordon_replace_drain_delete(self, message: Message, node: CloudNode,
                                     outcome: Outcome) -> None:
        name = node.claim_name
        log.warning("%s for %s (node %s): cordon, replace, drain, delete", message.kind,
                    node.provider_id, name)
        if message.kind is Kind.SPOT_INTERRUPTION and node.capacity_type == SPOT:
            self.cloud.unavailable.mark(node.instance_type, node.zone, SPOT,
                                        "SpotInterruptionWarning")
            outcome.actions.append(
                f"marked {node.instance_type} {node.zone} spot unavailable")
        snap = self.cluster.snapshot()
        registered = any(n.name == name for n in snap.nodes)
        if registered:
            self.cluster.cordon(name)
            outcome.actions.append(f"cordoned {name}")
        displaced = [p for p in snap.pods if p.node_name == name and not p.is_daemonset_pod]
        targets = self._replace(name, displaced, outcome) if displaced else {}
        for pod in displaced:
            self.cluster.evict(pod.key)
            outcome.actions.append(f"evicted {pod.key}")
            target = targets.get(pod.key)
            if target is not None and pod.owner_kind:  # its controller's new pod lands there
                try:
                    self.cluster.bind(pod.key, target)
                except ClusterError as e:
                    log.warning("could not place %s on %s: %s", pod.key, target, e)
        if registered:
            self.cluster.delete_node(name)
            outcome.actions.append(f"deleted node {name}")
        try:
            self.cloud.delete(node.provider_id)
            outcome.actions.append(f"terminated {outcome.instance_id}")
        except NodeNotFoundError:
            outcome.actions.append(f"{outcome.instance_id} already terminated")

    def _replace(self, name: str, displaced: Sequence[Pod], outcome: Outcome) -> dict[str, str]:
        """Launch capacity for the displaced pods; pod key -> the node it should go to."""
        if not self.pools:
            return {}
        snap = self.cluster.snapshot()
        nodes = [n for n in snap.nodes if n.name != name and not n.unschedulable]
        keys = {p.key for p in displaced}
        bound = [p for p in snap.bound_pods if p.key not in keys and p.node_name != name]
        table = InstanceTypeTable(self.cloud.instance_types(self.pools[0]))
        pending = [dataclasses.replace(p, node_name=None) for p in displaced]
        result = Scheduler(table, self.pools, nodes, bound, snap.daemonsets).solve(pending)
        targets: dict[str, str] = {}
        for node_name, pods in result.existing.items():
            for pod in pods:
                targets[pod.key] = node_name
        for claim in result.claims:
            pool = self._pool(claim.node_pool)
            if pool is None:
                continue
            # Claim names must be unique for the life of the cluster (the instance's tag is
            # how a retried launch finds it), so replacements get a fresh suffix.
            claim_name = f"{pool.name}-{secrets.token_hex(3)}"
            request = NodeClaimRequest(claim_name, pool.name, claim.requirements, claim.options,
                                       pool.labels, pool.taints)
            try:
                launched = self.cloud.create(request)
            except CloudError as e:
                log.error("replacement for %s failed: %s", name, e)
                outcome.unschedulable.extend(p.key for p in claim.pods)
                continue
            self.cluster.add_node(_node_for(launched, pool,
                                            self.cloud.live.instance_type(launched.instance_type),
                                            self.cloud.config.region))
            outcome.replacements.append(launched)
            outcome.actions.append(
                f"launched replacement {launched.provider_id.rsplit('/', 1)[-1]} "
                f"({launched.capacity_type} {launched.instance_type} {launched.zone}) as "
                f"{claim_name}")
            for pod in claim.pods:
                targets[pod.key] = claim_name
        outcome.unschedulable.extend(p.key for p, _ in result.unschedulable)
        return targets

