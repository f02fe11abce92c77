"""Interruption events: EventBridge events read from an SQS queue and classified.

The queue receives four kinds of events (Karpenter's EventBridge rules):

* aws.ec2 "EC2 Spot Instance Interruption Warning";
* aws.health "AWS Health Event" (acted on for service EC2, category scheduledChange);
* aws.ec2 "EC2 Instance State-change Notification" (acted on for stopping, stopped,
  shutting-down or terminated);
* aws.ec2 "EC2 Instance Rebalance Recommendation" (recorded only: Karpenter's default).

This module only reads and classifies them (`ACTING_KINDS`: the kinds that take the node
away); the loop carries them out (`scaler.runtime.interruptions.InterruptionPoller` hands
each to `scaler.control.disruption.DisruptionExecutor.interrupt`). A message is deleted by
the caller once handled, or here at once if it cannot be parsed; one whose handling failed
stays and comes back after the queue's visibility timeout.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from scaler.adapters.aws import retry
from scaler.adapters.aws.provider import AwsCloudProvider

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
