"""scaler's NodeClaim custom resource (scaler.dev/v1alpha1): one per node scaler launches.

Shaped like Karpenter's NodeClaim: `spec` holds what was asked (NodePool, requirements,
taints, requests), `status` what happened (providerID, node name, instance type, zone,
capacity type, price, allocatable) and conditions Launched, Registered, Initialized and
Drifted with Kubernetes' condition fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from scaler.core.model import LABEL_NODEPOOL, Taint
from scaler.core.requirements import Requirement, Requirements
from scaler.core.resources import CPU, Resources
from scaler.times import now_rfc3339

GROUP: Final = "scaler.dev"
VERSION: Final = "v1alpha1"
GROUP_VERSION: Final = f"{GROUP}/{VERSION}"
PLURAL: Final = "nodeclaims"
KIND: Final = "NodeClaim"

LAUNCHED: Final = "Launched"
REGISTERED: Final = "Registered"
INITIALIZED: Final = "Initialized"
DRIFTED: Final = "Drifted"
CONDITIONS: Final = (LAUNCHED, REGISTERED, INITIALIZED, DRIFTED)

# On nodes: which claim a node belongs to (Karpenter's key for the same fact).
LABEL_NODECLAIM: Final = "scaler.dev/nodeclaim"
# Held by every claim until its node is drained and deleted and its instance terminated, so
# `kubectl delete nodeclaim` is a graceful termination (Karpenter's termination finalizer).
TERMINATION_FINALIZER: Final = "scaler.dev/termination"


def requirement_doc(req: Requirement) -> dict[str, Any]:
    if req.gt is not None:
        return {"key": req.key, "operator": "Gt", "values": [str(req.gt)]}
    if req.lt is not None:
        return {"key": req.key, "operator": "Lt", "values": [str(req.lt)]}
    if req.complement:
        if not req.values:
            return {"key": req.key, "operator": "Exists"}
        return {"key": req.key, "operator": "NotIn", "values": sorted(req.values)}
    if not req.values:
        return {"key": req.key, "operator": "DoesNotExist"}
    return {"key": req.key, "operator": "In", "values": sorted(req.values)}


def resources_doc(res: Resources) -> dict[str, str]:
    """Quantities as the API writes them (the model keeps CPU in millicores)."""
    return {name: f"{value}m" if name == CPU else str(value)
            for name, value in sorted(res.to_dict().items())}


def nodeclaim_doc(name: str, node_pool: str, requirements: Requirements,
                  taints: Sequence[Taint], requests: Resources,
                  labels: Mapping[str, str],
                  annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {**labels, LABEL_NODEPOOL: node_pool},
                            "finalizers": [TERMINATION_FINALIZER]}
    if annotations:  # the NodePool's template annotations (copied to the node on register)
        meta["annotations"] = dict(annotations)
    return {
        "apiVersion": GROUP_VERSION,
        "kind": KIND,
        "metadata": meta,
        "spec": {
            "nodePool": node_pool,
            "requirements": [requirement_doc(r) for r in requirements.values()],
            "taints": [{"key": t.key, "value": t.value, "effect": t.effect} if t.value
                       else {"key": t.key, "effect": t.effect} for t in taints],
            "resources": {"requests": resources_doc(requests)},
        },
        "status": {},
    }


def condition(type_: str, status: bool | None, reason: str, message: str = "",
              now: str | None = None) -> dict[str, Any]:
    return {
        "type": type_,
        "status": "Unknown" if status is None else ("True" if status else "False"),
        "reason": reason,
        "message": message,
        "lastTransitionTime": now or now_rfc3339(),
    }


def conditions_of(obj: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    status = obj.get("status") or {}
    return {str(c.get("type")): c for c in status.get("conditions") or ()
            if isinstance(c, Mapping)}


def is_true(obj: Mapping[str, Any], type_: str) -> bool:
    return conditions_of(obj).get(type_, {}).get("status") == "True"


def with_conditions(obj: Mapping[str, Any], *updates: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The claim's conditions with `updates` applied; a condition keeps its transition time
    when its status does not change."""
    current = {k: dict(v) for k, v in conditions_of(obj).items()}
    for up in updates:
        old = current.get(str(up["type"]))
        new = dict(up)
        if old is not None and old.get("status") == new["status"]:
            new["lastTransitionTime"] = old.get("lastTransitionTime", new["lastTransitionTime"])
        current[str(up["type"])] = new
    order = {t: i for i, t in enumerate(CONDITIONS)}
    return sorted(current.values(), key=lambda c: order.get(str(c["type"]), 99))
