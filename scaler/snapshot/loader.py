"""`load_snapshot`: Kubernetes manifests (files, directories) to a `Snapshot`.

Kinds read:

    Node                   -> Snapshot.nodes
    Pod                    -> Snapshot.pods (bound when spec.nodeName is set, else pending);
                              finished pods and pending DaemonSet pods are left out
    DaemonSet              -> Snapshot.daemonsets (per-node overhead)
    Deployment, ReplicaSet,
    StatefulSet, Job       -> pending pods, when none of theirs is in the snapshot
    PodDisruptionBudget,
    PersistentVolumeClaim  -> kept as written (claims also pin pods to zones, below)
    PriorityClass          -> the priority of pods that name it without spec.priority
    Namespace              -> labels for pod-affinity namespaceSelectors
    PersistentVolume,
    StorageClass           -> with claims, the zone a pod's volumes pin it to
    anything else          -> counted in Snapshot.ignored_kinds

An object that appears twice (same kind, namespace and name) is read once when both copies
are the same (two overlapping `kubectl get` outputs) and is an error naming both places when
they differ (a merge would silently drop one). A Pod without spec or containers is an error
(most often a file cut short); pods bound to a node the snapshot does not hold are warned
about (`Snapshot.warnings`, and a log line). Every problem is one `UserError`
line: `file: Kind namespace/name: field.path: message`.
"""

from __future__ import annotations

import gc
import logging
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from scaler import limits
from scaler.core.model import DaemonSet, Node, Pod, Snapshot
from scaler.errors import UserError
from scaler.limits import LimitError
from scaler.snapshot.disruption import pod_disruption_budget
from scaler.snapshot.documents import RawObject, input_files, read_objects
from scaler.snapshot.objects import Converter, PodFacts, fields_of, require_name
from scaler.snapshot.scheduling import Namespaces
from scaler.snapshot.volumes import Storage
from scaler.snapshot.workloads import CONTROLLER_KINDS, expand_workloads

log = logging.getLogger("scaler.snapshot")

NODE: Final = "Node"
POD: Final = "Pod"
DAEMON_SET: Final = "DaemonSet"
PDB: Final = "PodDisruptionBudget"
PVC: Final = "PersistentVolumeClaim"
PRIORITY_CLASS: Final = "PriorityClass"
NAMESPACE: Final = "Namespace"
PV: Final = "PersistentVolume"
STORAGE_CLASS: Final = "StorageClass"
READ_KINDS: Final = (
    frozenset({NODE, POD, DAEMON_SET, PDB, PVC, PRIORITY_CLASS, NAMESPACE, PV, STORAGE_CLASS})
    | CONTROLLER_KINDS
)
CLUSTER_KINDS: Final = frozenset({NODE, POD, DAEMON_SET}) | CONTROLLER_KINDS
# Built into every cluster, so pods may name them without the snapshot holding them.
SYSTEM_PRIORITY_CLASSES: Final[Mapping[str, int]] = {
    "system-cluster-critical": 2_000_000_000,
    "system-node-critical": 2_000_001_000,
}


def load_snapshot(paths: Sequence[str | Path]) -> Snapshot:
    """Read every Kubernetes object under `paths` (files or directories) into a Snapshot.

    Raises `UserError` for a missing or unreadable file, invalid YAML or JSON, an object
    without kind or name, a malformed field, or inputs with no Nodes, Pods or workloads.
    """
    with _gc_paused():
        return _load(paths)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Parsing builds millions of objects and no cycles; the cyclic collector would walk
    the growing heap again and again (it is most of the time of a large YAML load)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load(paths: Sequence[str | Path]) -> Snapshot:
    if isinstance(paths, str | Path):  # one path where a list was meant
        paths = [paths]
    if not paths:
        raise UserError("no snapshot given (expected files or directories)")
    by_kind: dict[str, list[RawObject]] = {kind: [] for kind in READ_KINDS}
    ignored: Counter[str] = Counter()
    seen: dict[tuple[str, str, str], RawObject] = {}
    controllers: list[RawObject] = []
    cap = limits.current().snapshot_objects
    count = 0
    for file in input_files(paths):
        for obj in read_objects(file):
            count += 1
            if count > cap:
                raise LimitError("the number of objects", "snapshot-objects", cap,
                                 file=obj.file, obj=obj.label)
            objects = by_kind.get(obj.kind)
            if objects is None:
                ignored[obj.kind] += 1
                continue
            require_name(obj)
            key = (obj.kind, obj.namespace, obj.name)
            first = seen.get(key)
            if first is None:
                seen[key] = obj
                objects.append(obj)
                if obj.kind in CONTROLLER_KINDS:
                    controllers.append(obj)  # all kinds, in reading order
            elif first.body != obj.body:
                raise UserError(
                    f"defined twice, differently: here ({obj.position}) and in {first.file} "
                    f"({first.position}); keep one",
                    file=obj.file, obj=obj.label,
                )

    if not any(by_kind[kind] for kind in CLUSTER_KINDS):
        kinds = set(ignored) | {kind for kind, objects in by_kind.items() if objects}
        found = f" (only {', '.join(sorted(kinds))})" if kinds else ""
        raise UserError(
            f"no Nodes, Pods or workloads found{found}",
            file=", ".join(str(p) for p in paths),
        )

    classes, default_priority = priority_classes(by_kind[PRIORITY_CLASS])
    storage = Storage(by_kind[PVC], by_kind[PV], by_kind[STORAGE_CLASS])
    converter = Converter(classes, default_priority, _namespaces(by_kind), storage)
    nodes: list[Node] = [converter.node(obj) for obj in by_kind[NODE]]
    pods: list[Pod] = []
    facts: list[PodFacts] = []
    taken: set[str] = set()
    for obj in by_kind[POD]:
        pod_facts, pod = converter.pod(obj)
        facts.append(pod_facts)
        taken.add(f"{obj.namespace}/{obj.name}")
        if pod is not None:
            pods.append(pod)
    daemonsets: list[DaemonSet] = [converter.daemonset(obj) for obj in by_kind[DAEMON_SET]]
    expansion = expand_workloads(controllers, facts, taken, converter)
    warnings = _unknown_nodes(pods, by_kind[POD], {n.name for n in nodes})
    for line in warnings:
        log.warning("scaler: warning: %s", line)

    return Snapshot(
        nodes=tuple(nodes),
        pods=(*pods, *expansion.pods),
        daemonsets=tuple(daemonsets),
        pod_disruption_budgets=tuple(obj.body for obj in by_kind[PDB]),
        disruption_budgets=tuple(pod_disruption_budget(obj) for obj in by_kind[PDB]),
        persistent_volume_claims=tuple(obj.body for obj in by_kind[PVC]),
        ignored_kinds=dict(sorted(ignored.items())),
        expanded_workloads=expansion.expanded,
        warnings=tuple(warnings),
    )


def _unknown_nodes(pods: Sequence[Pod], objects: Sequence[RawObject],
                   known: set[str]) -> list[str]:
    """One line per node that pods are bound to but the snapshot does not hold (at most
    five): they stay bound (the scheduler put them there), but their node's cost and room
    are unknown, which a user should know before trusting the totals."""
    missing: dict[str, list[Pod]] = {}
    for pod in pods:
        if pod.node_name and pod.node_name not in known:
            missing.setdefault(pod.node_name, []).append(pod)
    if not missing:
        return []
    where = {f"{o.namespace}/{o.name}": o for o in objects}
    lines = []
    for node, bound in sorted(missing.items())[:5]:
        first = where.get(bound[0].key)
        at = f"{first.file}: {first.label}" if first is not None else bound[0].key
        more = f" and {len(bound) - 1} more pod{'s' if len(bound) > 2 else ''}" if len(
            bound) > 1 else ""
        lines.append(f"{at}{more}: spec.nodeName: bound to node {node}, which is not in the "
                     "snapshot (kept as bound; its cost and room are unknown)")
    if len(missing) > 5:
        lines.append(f"pods are bound to {len(missing) - 5} more nodes not in the snapshot")
    return lines


def _namespaces(by_kind: Mapping[str, Sequence[RawObject]]) -> Namespaces:
    """Namespace objects' labels; namespaces that only hold objects have none (but the
    name label every namespace carries)."""
    labels: dict[str, dict[str, str]] = {}
    for obj in by_kind[NAMESPACE]:
        f = fields_of(obj)
        meta = f.mapping(obj.body.get("metadata"), "metadata")
        labels[obj.name] = f.labels(meta.get("labels"), "metadata.labels")
    for objects in by_kind.values():
        for obj in objects:
            if obj.namespace and obj.namespace not in labels:
                labels[obj.namespace] = {}
    return Namespaces(labels)


def priority_classes(objects: Sequence[RawObject]) -> tuple[dict[str, int], int]:
    """PriorityClass name -> value, and the globalDefault's value (0 when none)."""
    classes = dict(SYSTEM_PRIORITY_CLASSES)
    default = 0
    for obj in objects:
        f = fields_of(obj)
        value = f.integer(obj.body.get("value"), "value", 0)
        classes[obj.name] = value
        if f.boolean(obj.body.get("globalDefault"), "globalDefault"):
            default = value
    return classes, default
