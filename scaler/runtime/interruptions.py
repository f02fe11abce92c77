"""Interruptions in the loop: EventBridge events from the SQS queue (the AWS adapter parses
them) turned into the loop's own termination of the affected node claims.

Karpenter's order, on NodeClaims: an acting event (Spot interruption warning, scheduled
change, instance stopping or terminating) marks a Spot offering unavailable, then the claim's
node is tainted, drained through the Eviction API (PDBs respected up to the drain timeout;
the instance goes away regardless) and deleted, the instance terminated and the claim
deleted. The evicted pods' controllers recreate them, and the next provisioning batch
launches their replacement through a new NodeClaim, away from the interrupted offering.
A message is deleted once handled, or at once if unreadable; one whose handling failed
comes back after the queue's visibility timeout.
"""

from __future__ import annotations

import logging
from typing import Any

from scaler.adapters.aws import retry
from scaler.adapters.aws.interruptions import ACTING_KINDS, Kind, parse_message
from scaler.adapters.aws.provider import AwsCloudProvider
from scaler.ports.cloud import CloudError, NodeNotFoundError
from scaler.runtime.controller import Controller

log = logging.getLogger(__name__)

# Karpenter's event reasons for each kind.
REASONS = {
    Kind.SPOT_INTERRUPTION: "SpotInterrupted",
    Kind.SCHEDULED_CHANGE: "InstanceUnhealthy",
    Kind.STATE_CHANGE: "InstanceStopping",
    Kind.REBALANCE_RECOMMENDATION: "SpotRebalanceRecommendation",
}


class InterruptionPoller:
    def __init__(self, cloud: AwsCloudProvider, controller: Controller, queue: str, *,
                 wait_seconds: int = 5, max_messages: int = 10) -> None:
        self.cloud = cloud
        self.controller = controller
        self.queue = queue
        self.wait_seconds = wait_seconds
        self.max_messages = max_messages
        self._url: str | None = None
        self.handled = 0

    @property
    def queue_url(self) -> str:
        if self._url is None:
            if self.queue.startswith(("https://", "http://")):
                self._url = self.queue
            else:
                sqs = self.cloud.clients.sqs
                self._url = str(retry.call(
                    lambda: sqs.get_queue_url(QueueName=self.queue), what="GetQueueUrl",
                    backoff=self.cloud.backoff, retry_on=retry.is_transient)["QueueUrl"])
        return self._url

    def poll_once(self) -> None:
        """One long poll; each message handled, then deleted."""
        if not self.controller.fence.leading():
            return
        try:
            self._poll()
        except CloudError as e:
            self.controller.metrics.record_cloud_error("interruption_queue", type(e).__name__)
            log.error("interruption queue: %s", e)
        except Exception as e:  # boto errors: one line, the next poll retries
            self.controller.metrics.record_cloud_error("interruption_queue", type(e).__name__)
            log.error("interruption queue %s: %s", self.queue, e)

    def _poll(self) -> None:
        sqs = self.cloud.clients.sqs
        answer: Any = retry.call(
            lambda: sqs.receive_message(QueueUrl=self.queue_url,
                                        MaxNumberOfMessages=self.max_messages,
                                        WaitTimeSeconds=self.wait_seconds),
            what="ReceiveMessage", backoff=self.cloud.backoff, retry_on=retry.is_transient)
        for raw in answer.get("Messages", []):
            receipt = raw["ReceiptHandle"]
            try:
                message = parse_message(str(raw.get("Body", "")))
            except ValueError as e:
                log.error("interruption queue: dropping unreadable message %s: %s",
                          raw.get("MessageId"), e)
                self._delete(receipt)
                continue
            done = True
            for iid in message.instance_ids:
                try:
                    node = self.cloud.lookup(iid)
                except NodeNotFoundError:
                    node = None
                if node is None:
                    log.info("%s for %s: not an instance of this cluster", message.kind, iid)
                    continue
                reason = REASONS.get(message.kind, str(message.kind))
                if message.kind not in ACTING_KINDS:
                    log.info("%s for %s (claim %s): no action", message.kind, iid,
                             node.claim_name)
                    continue
                if message.kind is Kind.SPOT_INTERRUPTION and node.capacity_type == "spot":
                    self.cloud.unavailable.mark(node.instance_type, node.zone, "spot",
                                                "SpotInterruptionWarning")
                detail = f"{message.kind} ({message.detail})" if message.detail else \
                    str(message.kind)
                done = self.controller.interrupted(node, reason, detail) and done
            if done:
                self._delete(receipt)
                self.handled += 1

    def _delete(self, receipt: str) -> None:
        sqs = self.cloud.clients.sqs
        retry.call(lambda: sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt),
                   what="DeleteMessage", backoff=self.cloud.backoff,
                   retry_on=retry.is_transient)
