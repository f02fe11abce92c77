"""scaler's own cache of the cluster: raw API objects, indexed, converted to the model lazily.

Watch events only store the raw JSON and update the indexes (pods by node, pending pods,
nodes by providerID); an object is converted to the core's model the first time a snapshot
needs that version of it, with the snapshot reader's `Converter`, so the model built from
the API equals the one `scaler simulate` builds from `kubectl get -o yaml` of the same
objects. A snapshot of 10k unchanged pods is then a dictionary walk, not 10k conversions.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from scaler.core.model import DaemonSet, Node, Pod, PodDisruptionBudget, Snapshot
from scaler.errors import UserError
from scaler.snapshot.disruption import pod_disruption_budget
from scaler.snapshot.documents import RawObject
from scaler.snapshot.loader import priority_classes
from scaler.snapshot.objects import Converter
from scaler.snapshot.scheduling import Namespaces
from scaler.snapshot.volumes import Storage

log = logging.getLogger(__name__)

SOURCE: Final = "kubernetes"  # the "file" model values built from the API name


@dataclass(frozen=True, slots=True)
class Kind:
    """A resource the controller lists and watches."""

    group_version: str
    plural: str
    kind: str
    namespaced: bool


PODS: Final = Kind("v1", "pods", "Pod", True)
NODES: Final = Kind("v1", "nodes", "Node", False)
DAEMONSETS: Final = Kind("apps/v1", "daemonsets", "DaemonSet", True)
PDBS: Final = Kind("policy/v1", "poddisruptionbudgets", "PodDisruptionBudget", True)
NODECLAIMS: Final = Kind("scaler.dev/v1alpha1", "nodeclaims", "NodeClaim", False)
# What pods' models depend on besides the pods: volumes pin pods to zones, namespace labels
# feed affinity namespaceSelectors, PriorityClasses give priorities.
PVCS: Final = Kind("v1", "persistentvolumeclaims", "PersistentVolumeClaim", True)
PVS: Final = Kind("v1", "persistentvolumes", "PersistentVolume", False)
STORAGE_CLASSES: Final = Kind("storage.k8s.io/v1", "storageclasses", "StorageClass", False)
NAMESPACES: Final = Kind("v1", "namespaces", "Namespace", False)
PRIORITY_CLASSES: Final = Kind("scheduling.k8s.io/v1", "priorityclasses", "PriorityClass",
                               False)
CONTEXT: Final = (PVCS, PVS, STORAGE_CLASSES, NAMESPACES, PRIORITY_CLASSES)
WATCHED: Final = (PODS, NODES, DAEMONSETS, PDBS, NODECLAIMS, *CONTEXT)

Listener = Callable[[Kind, str, Mapping[str, Any]], None]


def object_key(kind: Kind, obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    name = str(meta.get("name", ""))
    if kind.namespaced:
        return f"{meta.get('namespace') or 'default'}/{name}"
    return name


def resource_version(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))


def _terminal(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _node_of(pod: Mapping[str, Any]) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


class ClusterCache:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._objects: dict[Kind, dict[str, Mapping[str, Any]]] = {k: {} for k in WATCHED}
        self._pods_by_node: dict[str, set[str]] = {}
        self._pending: set[str] = set()
        self._node_by_provider: dict[str, str] = {}
        self._models: dict[tuple[Kind, str], tuple[str, object]] = {}
        # Pod and DaemonSet models depend on the CONTEXT kinds too: a change to any of them
        # makes a new converter and new models.
        self._context = 0
        self._converter_context = -1
        self._converter = Converter({})
        self._listeners: list[Listener] = []
        self.generation = 0  # bumped on every change

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    # -- writes from reflectors ----------------------------------------------------------

    def replace(self, kind: Kind, items: Iterable[Mapping[str, Any]]) -> None:
        """A fresh list: what is not in it was deleted while we were not watching."""
        fresh = {object_key(kind, o): o for o in items}
        with self._lock:
            old = self._objects[kind]
            for key in list(old):
                if key not in fresh:
                    self._remove(kind, key)
            for key, obj in fresh.items():
                if resource_version(old.get(key) or {}) != resource_version(obj) or key not in old:
                    self._put(kind, key, obj)
        for listener in self._listeners:
            for obj in fresh.values():
                listener(kind, "SYNC", obj)

    def apply(self, kind: Kind, event: str, obj: Mapping[str, Any]) -> None:
        key = object_key(kind, obj)
        with self._lock:
            if event == "DELETED":
                self._remove(kind, key)
            else:
                self._put(kind, key, obj)
        for listener in self._listeners:
            listener(kind, event, obj)

    def _put(self, kind: Kind, key: str, obj: Mapping[str, Any]) -> None:
        self._remove(kind, key)
        self._objects[kind][key] = obj
        self.generation += 1
        if kind in CONTEXT:
            self._context += 1
        if kind is PODS and not _terminal(obj):
            node = _node_of(obj)
            if node:
                self._pods_by_node.setdefault(node, set()).add(key)
            else:
                self._pending.add(key)
        elif kind is NODES:
            pid = (obj.get("spec") or {}).get("providerID")
            if pid:
                self._node_by_provider[str(pid)] = key

    def _remove(self, kind: Kind, key: str) -> None:
        old = self._objects[kind].pop(key, None)
        self._models.pop((kind, key), None)
        if old is None:
            return
        self.generation += 1
        if kind in CONTEXT:
            self._context += 1
        if kind is PODS:
            node = _node_of(old)
            if node:
                keys = self._pods_by_node.get(node)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self._pods_by_node[node]
            self._pending.discard(key)
        elif kind is NODES:
            pid = (old.get("spec") or {}).get("providerID")
            if pid and self._node_by_provider.get(str(pid)) == key:
                del self._node_by_provider[str(pid)]

    # -- reads ---------------------------------------------------------------------------

    def get(self, kind: Kind, key: str) -> Mapping[str, Any] | None:
        with self._lock:
            return self._objects[kind].get(key)

    def objects(self, kind: Kind) -> list[Mapping[str, Any]]:
        with self._lock:
            return list(self._objects[kind].values())

    def pods_on(self, node: str) -> list[Mapping[str, Any]]:
        with self._lock:
            pods = self._objects[PODS]
            return [pods[k] for k in sorted(self._pods_by_node.get(node, ()))]

    def pending_pod_keys(self) -> set[str]:
        with self._lock:
            return set(self._pending)

    def node_for_provider_id(self, provider_id: str) -> Mapping[str, Any] | None:
        with self._lock:
            key = self._node_by_provider.get(provider_id)
            return self._objects[NODES].get(key) if key else None

    def snapshot(self) -> Snapshot:
        """The model of everything cached; objects the reader rejects are left out (logged)."""
        with self._lock:
            if self._converter_context != self._context:
                self._converter = self._new_converter()
                self._converter_context = self._context
                for key in [k for k in self._models if k[0] in (PODS, DAEMONSETS)]:
                    del self._models[key]
            nodes = [m for m in self._models_of(NODES) if isinstance(m, Node)]
            pods = [m for m in self._models_of(PODS) if isinstance(m, Pod)]
            daemonsets = [m for m in self._models_of(DAEMONSETS) if isinstance(m, DaemonSet)]
            budgets = [m for m in self._models_of(PDBS) if isinstance(m, PodDisruptionBudget)]
            pdbs = tuple(self._objects[PDBS].values())
        return Snapshot(nodes=tuple(nodes), pods=tuple(pods), daemonsets=tuple(daemonsets),
                        pod_disruption_budgets=pdbs, disruption_budgets=tuple(budgets))

    def _raw(self, kind: Kind) -> list[RawObject]:
        return [RawObject.of(kind.kind, o, SOURCE, key)
                for key, o in sorted(self._objects[kind].items())]

    def _new_converter(self) -> Converter:
        """The snapshot reader's converter, with what the cluster holds now."""
        try:
            classes, default = priority_classes(self._raw(PRIORITY_CLASSES))
        except UserError as e:
            log.warning("PriorityClasses left out: %s", e.render())
            classes, default = priority_classes([])
        labels: dict[str, dict[str, str]] = {}
        for ns in self._objects[NAMESPACES].values():
            meta = ns.get("metadata") or {}
            raw = meta.get("labels") or {}
            labels[str(meta.get("name", ""))] = {str(k): str(v) for k, v in raw.items()}
        for pod in self._objects[PODS].values():
            labels.setdefault(str((pod.get("metadata") or {}).get("namespace") or "default"), {})
        storage = Storage(self._raw(PVCS), self._raw(PVS), self._raw(STORAGE_CLASSES))
        return Converter(classes, default, Namespaces(labels), storage)

    def _models_of(self, kind: Kind) -> list[object]:
        out = []
        for key, obj in sorted(self._objects[kind].items()):
            rv = resource_version(obj)
            memo = self._models.get((kind, key))
            if memo is None or memo[0] != rv:
                memo = (rv, self._convert(kind, key, obj))
                self._models[(kind, key)] = memo
            if memo[1] is not None:
                out.append(memo[1])
        return out

    def _convert(self, kind: Kind, key: str, obj: Mapping[str, Any]) -> object:
        raw = RawObject.of(kind.kind, obj, SOURCE, key)
        try:
            if kind is NODES:
                return self._converter.node(raw)
            if kind is PODS:
                return self._converter.pod(raw)[1]
            if kind is DAEMONSETS:
                return self._converter.daemonset(raw)
            if kind is PDBS:
                return pod_disruption_budget(raw)
        except UserError as e:
            log.warning("left out of the model: %s", e.render())
        return None
