"""Step 3: allocations grouped by what the reader asks for, named as OpenCost names them.

Keys: `cluster`, `node`, `namespace`, `controllerKind`, `controller` (`kind:name`), `pod`,
`container`, `team`, `label:<key>`, `annotation:<key>`, and OpenCost's others: `deployment`,
`statefulset`, `daemonset`, `job` (the controller's name when it is of that kind), `service`,
`providerID`, and the label aliases `department`, `environment`, `owner`, `product` (OpenCost's
default labels: department, env, owner, app); several keys at once join their
values with `/` (OpenCost's multi-aggregation). A workload without the value is
`__unallocated__`; idle is one `__idle__` line (`<node>/__idle__` per node when aggregating
by node) and unabsorbed shared costs one `__shared__`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from scaler.core.allocation.model import (
    IDLE,
    IDLE_NAME,
    SHARED,
    SHARED_NAME,
    UNALLOCATED,
    Allocation,
    AllocationSet,
)
from scaler.core.allocation.teams import label_value

PLAIN_KEYS = (
    "cluster",
    "node",
    "namespace",
    "controllerKind",
    "controller",
    "pod",
    "container",
    "team",
    "deployment",
    "statefulset",
    "daemonset",
    "job",
    "service",
    "providerID",
    "department",
    "environment",
    "owner",
    "product",
)
# OpenCost's default label for each alias (its LabelConfig defaults).
ALIAS_LABELS = {
    "department": "department",
    "environment": "env",
    "owner": "owner",
    "product": "app",
    "team": "team",
}
CONTROLLER_KEYS = ("deployment", "statefulset", "daemonset", "job")
PREFIX_KEYS = ("label:", "annotation:")


class AggregateError(ValueError):
    pass


def check_keys(keys: Sequence[str]) -> None:
    if not keys:
        raise AggregateError("give at least one aggregation key")
    for key in keys:
        if key in PLAIN_KEYS:
            continue
        if key.startswith(PREFIX_KEYS) and key.split(":", 1)[1]:
            continue
        raise AggregateError(
            f"unknown aggregation {key!r} (expected one of {', '.join(PLAIN_KEYS)}, "
            "label:<key>, annotation:<key>)"
        )


def value_of(a: Allocation, key: str) -> str:
    p = a.properties
    v: str | None
    if key == "controllerKind":
        v = p.controller_kind.lower()
    elif key == "controller":
        v = f"{p.controller_kind.lower()}:{p.controller}" if p.controller else None
    elif key in CONTROLLER_KEYS:
        v = p.controller if p.controller_kind.lower() == key else None
    elif key == "service":
        v = ",".join(p.services) if p.services else None
    elif key == "providerID":
        v = p.provider_id
    elif key in ALIAS_LABELS and key != "team":
        v = label_value(p.labels, ALIAS_LABELS[key])
    elif key.startswith("label:"):
        v = label_value(p.labels, key[6:])
    elif key.startswith("annotation:"):
        v = label_value(p.annotations, key[11:])
    else:
        v = {
            "cluster": p.cluster,
            "node": p.node,
            "namespace": p.namespace,
            "pod": p.pod,
            "container": p.container,
            # scaler's policy team when the policy assigns teams, else OpenCost's team label
            "team": p.team or label_value(p.labels, ALIAS_LABELS["team"]),
        }[key]
    return v or UNALLOCATED


def name_of(a: Allocation, keys: Sequence[str], idle_by_node: bool = False) -> str:
    if a.kind == IDLE:
        # Idle per node when the report is by node (OpenCost's idleByNode), else one line.
        by_node = idle_by_node or "node" in keys
        return f"{a.properties.node}/{IDLE_NAME}" if by_node else IDLE_NAME
    if a.kind == SHARED:
        return SHARED_NAME
    return "/".join(value_of(a, k) for k in keys)


def aggregate(
    aset: AllocationSet, keys: Sequence[str], include_idle: bool, idle_by_node: bool = False
) -> dict[str, Allocation]:
    """Name -> the sum of the allocations with that name, largest cost first."""
    check_keys(keys)
    out: dict[str, Allocation] = {}
    for a in aset.allocations:
        if a.kind == IDLE and not include_idle:
            continue
        name = name_of(a, keys, idle_by_node)
        prev = out.get(name)
        out[name] = a.plus_named(name) if prev is None else prev.plus(a, name)
    return dict(sorted(out.items(), key=lambda kv: (-kv[1].total_micros, kv[0])))


def accumulate(steps: Sequence[Mapping[str, Allocation]]) -> dict[str, Allocation]:
    """The steps summed into one set over the whole window (OpenCost's accumulate=true)."""
    out: dict[str, Allocation] = {}
    for step in steps:
        for name, a in step.items():
            prev = out.get(name)
            out[name] = a if prev is None else prev.plus(a, name)
    if steps:
        lo = min(a.window_start for s in steps for a in s.values()) if any(steps) else 0
        hi = max(a.window_end for s in steps for a in s.values()) if any(steps) else 0
        out = {k: replace(v, window_start=lo, window_end=hi) for k, v in out.items()}
    return dict(sorted(out.items(), key=lambda kv: (-kv[1].total_micros, kv[0])))


def cpu_efficiency(a: Allocation) -> float:
    """OpenCost's: usage over request; 1 when used without a request; 0 for idle."""
    if a.kind == IDLE:
        return 0.0
    if a.cpu_request_core_seconds > 0:
        return a.cpu_usage_core_seconds / a.cpu_request_core_seconds
    return 1.0 if a.cpu_usage_core_seconds > 0 else 0.0


def ram_efficiency(a: Allocation) -> float:
    if a.kind == IDLE:
        return 0.0
    if a.ram_request_byte_seconds > 0:
        return a.ram_usage_byte_seconds / a.ram_request_byte_seconds
    return 1.0 if a.ram_usage_byte_seconds > 0 else 0.0


def total_efficiency(a: Allocation) -> float:
    """CPU and RAM efficiency weighted by their cost."""
    cost = a.cpu_micros + a.ram_micros
    if cost <= 0:
        return 0.0
    return (a.cpu_micros * cpu_efficiency(a) + a.ram_micros * ram_efficiency(a)) / cost
