"""Spot interruptions in a simulation: `--interrupt NODE@TIME` for `scaler simulate
--timeline` and `scaler run --simulate`.

At its time the named snapshot node's instance gets a Spot interruption warning, and the
loop hands it to the disruption executor exactly as the SQS poller does for a real one
(`DisruptionExecutor.interrupt`): cordon, capacity launched for its pods, drain, delete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scaler.core.disruption.budgets import ScheduleError, parse_duration
from scaler.errors import UserError
from scaler.numbers import check_finite
from scaler.ports.cloud import CloudNode
from scaler.ports.cluster import ManagedCluster

REASON = "SpotInterrupted"  # Karpenter's event reason
DETAIL = "simulated Spot interruption warning"
MAX_AT = 366 * 86400.0  # a simulation spans at most a year


@dataclass(frozen=True)
class Interruption:
    at: float  # seconds from the start
    node: str  # a snapshot node that a NodePool manages


def parse_interruption(text: str, flag: str = "--interrupt") -> Interruption:
    """`NODE@TIME`, TIME in seconds or a duration such as 90s or 10m."""
    node, sep, when = text.rpartition("@")
    if not sep or not node.strip() or not when.strip():
        raise UserError(f"expected NODE@TIME (e.g. node-a@10m), got {text!r}", field=flag)
    when = when.strip()
    try:
        at = float(when) if when.isdigit() else parse_duration(when)
    except ScheduleError as err:
        raise UserError(f"{text!r}: {err}", field=flag) from None
    check_finite(at, "seconds from the start", minimum=0, maximum=MAX_AT, field=flag)
    return Interruption(at, node.strip())


def check_nodes(cluster: ManagedCluster, interruptions: Sequence[Interruption],
                flag: str = "--interrupt") -> None:
    """Each interrupted node is one of the snapshot's NodePool nodes (the loop's to lose)."""
    names = {c.node_name for c in cluster.claims()}
    for i in interruptions:
        if i.node not in names:
            raise UserError(f"no node {i.node!r} of a NodePool in the snapshot", field=flag)


def interrupted_instance(cluster: ManagedCluster, node: str) -> CloudNode | None:
    """The node's instance, as the cloud would name it in the warning; None when the node
    is gone already (consolidated, or interrupted before)."""
    claim = next((c for c in cluster.claims() if c.node_name == node and not c.deleting), None)
    if claim is None:
        return None
    return CloudNode(claim.provider_id, claim.name, claim.node_pool, claim.instance_type,
                     claim.zone, claim.capacity_type, "", claim.price_per_hour, False)
