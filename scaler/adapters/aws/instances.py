"""EC2 instances of this cluster: found by tag, described, terminated and confirmed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from scaler.adapters.aws import retry
from scaler.adapters.aws.tags import NODECLAIM, NODEPOOL, cluster_tag
from scaler.ports.cloud import CloudError, NodeNotFoundError

log = logging.getLogger(__name__)

# Every state but terminated: an instance in any of them still costs or may come back.
LIVE_STATES = ("pending", "running", "stopping", "stopped", "shutting-down")
GONE_STATES = ("shutting-down", "terminated")
NOT_FOUND_CODES = ("InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed")


def provider_id(zone: str, instance_id: str) -> str:
    """Kubernetes' providerID for an EC2 instance: aws:///<zone>/<instance id>."""
    return f"aws:///{zone}/{instance_id}"


def instance_id(pid: str) -> str:
    """The instance ID in a providerID (or a bare instance ID)."""
    tail = pid.rstrip("/").rsplit("/", 1)[-1]
    if not tail.startswith("i-") or (pid != tail and not pid.startswith("aws://")):
        raise NodeNotFoundError(f"not an EC2 provider ID: {pid!r}")
    return tail


class Instances:
    def __init__(self, ec2: Callable[[], Any], cluster: str, backoff: retry.Backoff) -> None:
        self._ec2 = ec2
        self.cluster = cluster
        self.backoff = backoff

    def describe(self, *, ids: Sequence[str] = (),
                 filters: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
        ec2 = self._ec2()
        out: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            args: dict[str, Any] = {}
            if ids:
                args["InstanceIds"] = list(ids)
            if filters:
                args["Filters"] = list(filters)
            if token:
                args["NextToken"] = token
            page = retry.call(lambda a=args: ec2.describe_instances(**a),  # type: ignore[misc]
                              what="DescribeInstances", backoff=self.backoff,
                              retry_on=retry.is_transient)
            for reservation in page.get("Reservations", []):
                out.extend(reservation.get("Instances", []))
            token = page.get("NextToken")
            if not token:
                return out

    def _ours(self) -> list[dict[str, Any]]:
        return [
            {"Name": f"tag:{cluster_tag(self.cluster)}", "Values": ["owned"]},
            {"Name": "tag-key", "Values": [NODEPOOL]},
        ]

    def list(self) -> list[dict[str, Any]]:
        """This cluster's instances in any state but terminated."""
        return self.describe(filters=[*self._ours(),
                                      {"Name": "instance-state-name", "Values": list(LIVE_STATES)}])

    def find_by_claim(self, claim: str) -> dict[str, Any] | None:
        """The live instance launched for a node claim, if any (the oldest if several)."""
        found = self.describe(filters=[
            *self._ours(),
            {"Name": f"tag:{NODECLAIM}", "Values": [claim]},
            {"Name": "instance-state-name", "Values": list(LIVE_STATES)},
        ])
        found.sort(key=lambda i: (str(i.get("LaunchTime", "")), i["InstanceId"]))
        return found[0] if found else None

    def get(self, iid: str) -> dict[str, Any] | None:
        """One instance in whatever state EC2 still reports; None if EC2 does not know it."""
        try:
            found = self.describe(ids=[iid])
        except Exception as e:
            if retry.error_code(e) in NOT_FOUND_CODES:
                return None
            raise
        return found[0] if found else None

    def terminate(self, ids: Iterable[str]) -> dict[str, str]:
        """Terminate and confirm: the state EC2 reports for each (shutting-down/terminated).

        Instances EC2 no longer knows count as terminated. CloudError if any is still up.
        """
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        ec2 = self._ec2()
        try:
            retry.call(lambda: ec2.terminate_instances(InstanceIds=wanted),
                       what="TerminateInstances", backoff=self.backoff,
                       retry_on=retry.is_transient)
        except Exception as e:
            if retry.error_code(e) not in NOT_FOUND_CODES:
                raise
        states: dict[str, str] = {i: "terminated" for i in wanted}
        try:
            for inst in self.describe(ids=wanted):
                states[inst["InstanceId"]] = inst.get("State", {}).get("Name", "")
        except Exception as e:
            if retry.error_code(e) not in NOT_FOUND_CODES:
                raise
        still = {i: s for i, s in states.items() if s not in GONE_STATES}
        if still:
            raise CloudError("terminate not confirmed: " +
                             ", ".join(f"{i} is {s}" for i, s in sorted(still.items())))
        log.info("terminated %s", ", ".join(wanted))
        return states
