"""Launching one node claim with EC2 CreateFleet (type `instant`).

One request per attempt and capacity type: an override per ranked alternative (instance type
and the zone's subnet, at most 60 as Karpenter sends), `price-capacity-optimized` for Spot
and `lowest-price` for On-Demand. The client token is derived from the claim name and the
overrides, so resending the same attempt can never start a second instance, while a new
attempt without the offerings that just ran out of capacity is a new request.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pricing import SPOT
from scaler.core.scheduling.instancetypes import LaunchOption

MAX_OVERRIDES = 60  # Karpenter's cap on overrides per CreateFleet request
SPOT_STRATEGY = "price-capacity-optimized"
ON_DEMAND_STRATEGY = "lowest-price"


@dataclass(frozen=True, slots=True)
class Override:
    option: LaunchOption
    subnet_id: str
    launch_template_id: str


@dataclass(frozen=True, slots=True)
class FleetError:
    """One per-override error of a CreateFleet answer."""

    code: str
    message: str
    capacity_type: str
    instance_type: str | None
    subnet_id: str | None
    zone: str | None


@dataclass(frozen=True, slots=True)
class Launched:
    """An instance a CreateFleet answer says it started."""

    instance_id: str
    instance_type: str | None
    subnet_id: str | None
    zone: str | None
    capacity_type: str


@dataclass(frozen=True, slots=True)
class FleetResult:
    instances: tuple[Launched, ...]
    errors: tuple[FleetError, ...]


def client_token(claim: str, capacity_type: str, overrides: Sequence[Override]) -> str:
    """Deterministic: the same claim asking for the same overrides gets the same token.

    EC2 keeps a client token's answer, so a resent request returns the first one's
    instance instead of launching another. Tokens are at most 64 ASCII characters.
    """
    doc = json.dumps(
        [claim, capacity_type,
         [(o.option.instance_type, o.subnet_id, o.launch_template_id) for o in overrides]],
        separators=(",", ":"),
    )
    return "scaler-" + hashlib.sha256(doc.encode()).hexdigest()[:48]


def diverse_head(options: Sequence[LaunchOption], limit: int = MAX_OVERRIDES) -> list[LaunchOption]:
    """At most `limit` options in rank order, keeping as many distinct instance types as fit.

    A plain head of a cheapest-first list can spend every slot on a few types in several
    zones; the scheduler widened the list to enough types for a spot fleet to fall back on,
    so each type's best option is kept before a second zone of any type.
    """
    if len(options) <= limit:
        return list(options)
    keep: set[int] = set()
    seen: set[str] = set()
    for i, o in enumerate(options):
        if o.instance_type not in seen and len(keep) < limit:
            seen.add(o.instance_type)
            keep.add(i)
    for i in range(len(options)):
        if len(keep) >= limit:
            break
        keep.add(i)
    return [o for i, o in enumerate(options) if i in keep]


def fleet_request(claim: str, capacity_type: str, overrides: Sequence[Override],
                  tags: Mapping[str, str], context: str | None = None) -> dict[str, Any]:
    """CreateFleet's parameters for one node (one capacity type, overrides in rank order)."""
    if not overrides:
        raise ValueError("a fleet request needs at least one override")
    if len(overrides) > MAX_OVERRIDES:
        raise ValueError(f"{len(overrides)} overrides; at most {MAX_OVERRIDES}")
    by_template: dict[str, list[dict[str, Any]]] = {}
    for o in overrides:
        by_template.setdefault(o.launch_template_id, []).append(
            {"InstanceType": o.option.instance_type, "SubnetId": o.subnet_id}
        )
    tag_list = [{"Key": k, "Value": v} for k, v in tags.items()]
    request: dict[str, Any] = {
        "Type": "instant",
        "ClientToken": client_token(claim, capacity_type, overrides),
        "TargetCapacitySpecification": {
            "TotalTargetCapacity": 1,
            "DefaultTargetCapacityType": capacity_type,
        },
        "LaunchTemplateConfigs": [
            {
                "LaunchTemplateSpecification": {"LaunchTemplateId": lt, "Version": "$Latest"},
                "Overrides": items,
            }
            for lt, items in by_template.items()
        ],
        "TagSpecifications": [
            {"ResourceType": resource, "Tags": tag_list}
            for resource in ("fleet", "instance", "volume")
        ],
    }
    if context:
        request["Context"] = context  # the EC2NodeClass's spec.context (reserved EC2 field)
    if capacity_type == SPOT:
        request["SpotOptions"] = {"AllocationStrategy": SPOT_STRATEGY}
    else:
        request["OnDemandOptions"] = {"AllocationStrategy": ON_DEMAND_STRATEGY}
    return request


def parse_fleet_response(response: Mapping[str, Any], zone_of_subnet: Mapping[str, str],
                         capacity_type: str) -> FleetResult:
    """The instances started and the per-override errors of a CreateFleet answer."""
    launched: dict[str, Launched] = {}
    for inst in response.get("Instances") or []:
        overrides = (inst.get("LaunchTemplateAndOverrides") or {}).get("Overrides") or {}
        subnet = overrides.get("SubnetId")
        zone = overrides.get("AvailabilityZone") or (zone_of_subnet.get(subnet) if subnet else None)
        lifecycle = inst.get("Lifecycle") or capacity_type
        for iid in inst.get("InstanceIds") or []:
            launched.setdefault(str(iid), Launched(
                instance_id=str(iid),
                instance_type=inst.get("InstanceType") or overrides.get("InstanceType"),
                subnet_id=subnet,
                zone=zone,
                capacity_type=SPOT if lifecycle == SPOT else "on-demand",
            ))
    errors: list[FleetError] = []
    for err in response.get("Errors") or []:
        overrides = (err.get("LaunchTemplateAndOverrides") or {}).get("Overrides") or {}
        subnet = overrides.get("SubnetId")
        zone = overrides.get("AvailabilityZone") or (zone_of_subnet.get(subnet) if subnet else None)
        lifecycle = err.get("Lifecycle") or capacity_type
        errors.append(FleetError(
            code=str(err.get("ErrorCode", "")),
            message=str(err.get("ErrorMessage", "")),
            capacity_type=SPOT if lifecycle == SPOT else "on-demand",
            instance_type=overrides.get("InstanceType"),
            subnet_id=subnet,
            zone=zone,
        ))
    return FleetResult(tuple(launched.values()), tuple(errors))
