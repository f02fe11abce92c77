"""Container-level facts the scheduling model does not keep: for cost reports.

The core's `Pod` holds the pod's effective requests only. Cost allocation charges containers,
names workloads by their controller (a Deployment, not its ReplicaSet) and groups by
annotations, so this reader takes those from the same manifests: each Pod's containers and
their requests, its annotations and creation time, each controller's pod template, and which
Deployment owns which ReplicaSet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaler.core.quantity import QuantityError
from scaler.core.resources import Resources, container_requests
from scaler.errors import UserError
from scaler.snapshot.documents import RawObject, input_files, read_objects
from scaler.times import parse_rfc3339

TEMPLATE_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet", "CronJob")


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    name: str
    requests: Resources


@dataclass(frozen=True, slots=True)
class PodDetails:
    containers: tuple[ContainerSpec, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)
    created: float | None = None  # unix seconds


@dataclass(frozen=True, slots=True)
class SnapshotDetails:
    pods: Mapping[tuple[str, str], PodDetails]  # (namespace, name)
    templates: Mapping[tuple[str, str, str], tuple[ContainerSpec, ...]]  # (ns, kind, name)
    replicaset_owners: Mapping[tuple[str, str], str]  # (ns, replicaset) -> deployment
    namespace_labels: Mapping[str, Mapping[str, str]]

    def controller_of(self, namespace: str, kind: str | None, name: str | None) -> tuple[str, str]:
        """(kind, name) of the pod's top controller: a ReplicaSet's Deployment when known,
        else the Deployment its name implies (`web-7c5d8f9b6` -> `web`)."""
        if not kind or not name:
            return "", ""
        if kind == "ReplicaSet":
            owner = self.replicaset_owners.get((namespace, name))
            if owner:
                return "Deployment", owner
            head, _, tail = name.rpartition("-")
            if head and tail.isalnum() and len(tail) >= 5:
                return "Deployment", head
        return kind, name

    def containers_of(
        self, namespace: str, pod: str, kind: str, controller: str, requests: Resources
    ) -> tuple[ContainerSpec, ...]:
        details = self.pods.get((namespace, pod))
        if details and details.containers:
            return details.containers
        template = self.templates.get((namespace, kind, controller))
        if template:
            return template
        return (ContainerSpec("main", requests),)


def _strings(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _timestamp(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_rfc3339(value).timestamp()
    except ValueError:
        return None


def _containers(obj: RawObject, spec: Any, path: str) -> tuple[ContainerSpec, ...]:
    if not isinstance(spec, Mapping):
        return ()
    out: list[ContainerSpec] = []
    for i, c in enumerate(spec.get("containers") or ()):
        if not isinstance(c, Mapping):
            continue
        resources = c.get("resources")
        resources = resources if isinstance(resources, Mapping) else {}
        raw_requests = resources.get("requests")
        raw_limits = resources.get("limits")
        try:
            requests = container_requests(
                raw_requests if isinstance(raw_requests, Mapping) else None,
                raw_limits if isinstance(raw_limits, Mapping) else None,
            )
        except QuantityError as err:
            raise UserError(
                err.message, file=obj.file, obj=obj.label, field=f"{path}.containers[{i}].resources"
            ) from None
        out.append(ContainerSpec(str(c.get("name") or f"container-{i}"), requests))
    return tuple(out)


def _template_spec(obj: RawObject) -> Any:
    spec = obj.body.get("spec")
    if not isinstance(spec, Mapping):
        return None
    if obj.kind == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    template = spec.get("template") if isinstance(spec, Mapping) else None
    return template.get("spec") if isinstance(template, Mapping) else None


def read_details(paths: Sequence[str | Path]) -> SnapshotDetails:
    pods: dict[tuple[str, str], PodDetails] = {}
    templates: dict[tuple[str, str, str], tuple[ContainerSpec, ...]] = {}
    owners: dict[tuple[str, str], str] = {}
    namespaces: dict[str, dict[str, str]] = {}
    for file in input_files(paths):
        for obj in read_objects(file):
            meta = obj.metadata
            if obj.kind == "Pod":
                pods.setdefault(
                    (obj.namespace, obj.name),
                    PodDetails(
                        _containers(obj, obj.body.get("spec"), "spec"),
                        _strings(meta.get("annotations")),
                        _timestamp(meta.get("creationTimestamp")),
                    ),
                )
            elif obj.kind in TEMPLATE_KINDS:
                key = (obj.namespace, obj.kind, obj.name)
                templates.setdefault(
                    key, _containers(obj, _template_spec(obj), "spec.template.spec")
                )
                if obj.kind == "ReplicaSet":
                    for ref in meta.get("ownerReferences") or ():
                        if isinstance(ref, Mapping) and ref.get("kind") == "Deployment":
                            owners[(obj.namespace, obj.name)] = str(ref.get("name", ""))
            elif obj.kind == "Namespace":
                namespaces[obj.name] = _strings(meta.get("labels"))
    return SnapshotDetails(pods, templates, owners, namespaces)
