"""Node, Pod and DaemonSet manifests to the core's model values.

A pod's requests follow the API server and scheduler: each container's requests (its
limits where a request is missing), init containers and restartable sidecars as
`pod_requests` combines them, plus `spec.overhead`. Its scheduling constraints are read
by `scheduling.SchedulingReader`. Identical constraints and requests share one instance,
so pods of one workload form one equivalence class cheaply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from scaler.core.model import TAINT_EFFECTS, DaemonSet, Node, Pod, Scheduling, Taint
from scaler.core.quantity import QuantityError
from scaler.core.resources import ZERO, Resources, container_requests, pod_requests
from scaler.snapshot.disruption import do_not_disrupt, timestamp
from scaler.snapshot.documents import RawObject
from scaler.snapshot.fields import Fields, join
from scaler.snapshot.scheduling import (
    SIDECAR_RESTART_POLICY,
    Namespaces,
    SchedulingDraft,
    SchedulingReader,
)
from scaler.snapshot.volumes import ClaimRef, Storage

TERMINAL_PHASES: Final = frozenset({"Succeeded", "Failed"})


@dataclass(frozen=True, slots=True)
class Owner:
    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class PodFacts:
    """What workload expansion needs of every pod in the snapshot, kept or not."""

    namespace: str
    labels: Mapping[str, str]
    owner: Owner | None


@dataclass(frozen=True, slots=True)
class PodTemplate:
    """A pod spec read once, for the pods a controller stands for (or a DaemonSet's)."""

    labels: Mapping[str, str]
    requests: Resources
    scheduling: Scheduling  # for `labels`, in the object's namespace
    priority: int
    draft: SchedulingDraft  # to resolve again for pods labelled otherwise


def fields_of(obj: RawObject) -> Fields:
    """A reader for `obj` whose errors name its file and `Kind namespace/name`."""
    return Fields(obj.file, obj.label)


def require_name(obj: RawObject) -> None:
    f = fields_of(obj)
    meta = f.mapping(obj.body.get("metadata"), "metadata")
    f.required_string(meta.get("name"), "metadata.name")
    f.string(meta.get("namespace"), "metadata.namespace")


def controller_owner(f: Fields, meta: Mapping[str, Any]) -> Owner | None:
    """The first ownerReference with `controller: true`."""
    for path, ref in f.mappings(meta.get("ownerReferences"), "metadata.ownerReferences"):
        if f.boolean(ref.get("controller"), join(path, "controller")):
            return Owner(
                f.required_string(ref.get("kind"), join(path, "kind")),
                f.required_string(ref.get("name"), join(path, "name")),
            )
    return None


class Converter:
    """Converts objects, sharing equal requests and scheduling values between pods."""

    def __init__(
        self,
        priority_classes: Mapping[str, int],
        default_priority: int = 0,
        namespaces: Namespaces | None = None,
        storage: Storage | None = None,
    ) -> None:
        self._priority_classes = priority_classes
        self._default_priority = default_priority
        self._scheduling = SchedulingReader(namespaces or Namespaces(), storage or Storage())
        self._requests: dict[Resources, Resources] = {}
        self._containers: dict[object, Resources] = {}

    # Nodes

    def node(self, obj: RawObject) -> Node:
        f = fields_of(obj)
        body = obj.body
        meta = f.mapping(body.get("metadata"), "metadata")
        spec = f.mapping(body.get("spec"), "spec")
        status = f.mapping(body.get("status"), "status")
        taints = tuple(
            self._taint(f, path, t) for path, t in f.mappings(spec.get("taints"), "spec.taints")
        )
        if status.get("allocatable") is not None:
            allocatable = parse_resources(f, status.get("allocatable"), "status.allocatable")
        else:  # hand-written nodes may give only capacity
            allocatable = parse_resources(f, status.get("capacity"), "status.capacity")
        return Node(
            name=obj.name,
            labels=f.labels(meta.get("labels"), "metadata.labels"),
            allocatable=allocatable,
            taints=taints,
            unschedulable=f.boolean(spec.get("unschedulable"), "spec.unschedulable"),
            source=obj.file,
            do_not_disrupt=do_not_disrupt(f, meta),
            created=timestamp(f, meta.get("creationTimestamp"), "metadata.creationTimestamp"),
        )

    @staticmethod
    def _taint(f: Fields, path: str, raw: Mapping[str, Any]) -> Taint:
        effect = f.required_string(raw.get("effect"), join(path, "effect"))
        if effect not in TAINT_EFFECTS:
            raise f.error(
                join(path, "effect"),
                f"unknown taint effect {effect!r}; expected one of {', '.join(TAINT_EFFECTS)}",
            )
        return Taint(
            key=f.required_string(raw.get("key"), join(path, "key")),
            effect=effect,
            value=f.string(raw.get("value"), join(path, "value")),
        )

    # Pods

    def pod(self, obj: RawObject) -> tuple[PodFacts, Pod | None]:
        """The pod's facts, and the pod itself unless it holds nothing the autoscaler needs:
        finished (Succeeded, Failed), or a pending DaemonSet pod (DaemonSets are overhead)."""
        f = fields_of(obj)
        body = obj.body
        meta = f.mapping(body.get("metadata"), "metadata")
        labels = f.labels(meta.get("labels"), "metadata.labels")
        owner = controller_owner(f, meta)
        facts = PodFacts(obj.namespace, labels, owner)

        # A Pod without containers is no Pod (the API server refuses it): most often a file
        # cut short, and read as one it would be a pod with no requests.
        if body.get("spec") is None:
            raise f.error("spec", "required field missing (is the file complete?)")
        spec = f.mapping(body.get("spec"), "spec")
        status = f.mapping(body.get("status"), "status")
        if f.string(status.get("phase"), "status.phase") in TERMINAL_PHASES:
            return facts, None
        node_name = f.string(spec.get("nodeName"), "spec.nodeName") or None
        if node_name is None and owner is not None and owner.kind == "DaemonSet":
            return facts, None
        pod = Pod(
            namespace=obj.namespace,
            name=obj.name,
            requests=self.requests(f, spec, "spec"),
            scheduling=self._scheduling.read(f, spec, "spec", obj.namespace, labels),
            labels=labels,
            node_name=node_name,
            priority=self.priority(f, spec, "spec"),
            owner_kind=owner.kind if owner else None,
            owner_name=owner.name if owner else None,
            source=obj.file,
            do_not_disrupt=do_not_disrupt(f, meta),
        )
        if not spec.get("containers"):
            raise f.error("spec.containers", "required field missing (a Pod needs at least "
                          "one container; is the file complete?)")
        return facts, pod

    def template(self, f: Fields, body: Mapping[str, Any], namespace: str) -> PodTemplate:
        """`spec.template` of a controller or DaemonSet in `namespace`."""
        spec = f.mapping(body.get("spec"), "spec")
        if spec.get("template") is None:
            raise f.error("spec.template", "required field missing")
        template = f.mapping(spec.get("template"), "spec.template")
        meta = f.mapping(template.get("metadata"), "spec.template.metadata")
        pod_spec = f.mapping(template.get("spec"), "spec.template.spec")
        path = "spec.template.spec"
        labels = f.labels(meta.get("labels"), "spec.template.metadata.labels")
        draft = self._scheduling.draft(f, pod_spec, path)
        return PodTemplate(
            labels=labels,
            requests=self.requests(f, pod_spec, path),
            scheduling=self._scheduling.resolve(draft, f, namespace, labels),
            priority=self.priority(f, pod_spec, path),
            draft=draft,
        )

    def template_scheduling(
        self,
        template: PodTemplate,
        f: Fields,
        namespace: str,
        labels: Mapping[str, str],
        claims: tuple[ClaimRef, ...] = (),
    ) -> Scheduling:
        """The template's constraints for a pod with `labels` and, besides the template's
        volumes, `claims` (a StatefulSet's volumeClaimTemplates)."""
        return self._scheduling.resolve(template.draft, f, namespace, labels, claims)

    def daemonset(self, obj: RawObject) -> DaemonSet:
        template = self.template(fields_of(obj), obj.body, obj.namespace)
        return DaemonSet(
            namespace=obj.namespace,
            name=obj.name,
            requests=template.requests,
            scheduling=template.scheduling,
        )

    # Pod spec parts (`path` is where the pod spec is: `spec` or `spec.template.spec`)

    def requests(self, f: Fields, spec: Mapping[str, Any], path: str) -> Resources:
        """The effective pod request: containers, init containers and sidecars, overhead."""
        containers = [
            self._container(f, c, p)
            for p, c in f.mappings(spec.get("containers"), join(path, "containers"))
        ]
        init_containers = [
            (
                self._container(f, c, p),
                f.string(c.get("restartPolicy"), join(p, "restartPolicy"))
                == SIDECAR_RESTART_POLICY,
            )
            for p, c in f.mappings(spec.get("initContainers"), join(path, "initContainers"))
        ]
        overhead = parse_resources(f, spec.get("overhead"), join(path, "overhead"))
        pod_level = None
        if spec.get("resources") is not None:
            pod_level = _pod_level_requests(
                f, spec.get("resources"), join(path, "resources"), containers, init_containers
            )
        total = pod_requests(containers, init_containers, overhead, pod_level=pod_level)
        return self._requests.setdefault(total, total)

    def _container(self, f: Fields, container: Mapping[str, Any], path: str) -> Resources:
        """Requests after the API server's defaulting: a limit stands in for a missing request."""
        resources = container.get("resources")
        if resources is None:
            return ZERO
        # Snapshots repeat a few resource specs thousands of times: parse each once.
        key: object = None
        try:
            key = _resources_key(resources)
            cached = self._containers.get(key)
        except (TypeError, AttributeError):  # malformed: the checked path below says how
            key = cached = None
        if cached is not None:
            return cached
        resources_path = join(path, "resources")
        resources = f.mapping(resources, resources_path)
        raw_requests = f.mapping(resources.get("requests"), join(resources_path, "requests"))
        requests = parse_resources(f, raw_requests, join(resources_path, "requests"))
        limits = parse_resources(f, resources.get("limits"), join(resources_path, "limits"))
        if not limits.is_zero():
            # The raw requests, so that an explicit "0" request is kept rather than defaulted.
            requests = container_requests(raw_requests, limits)
        if key is not None:
            self._containers[key] = requests
        return requests

    def priority(self, f: Fields, spec: Mapping[str, Any], path: str) -> int:
        """spec.priority; else the value of its PriorityClass, when the snapshot has it."""
        if spec.get("priority") is not None:
            return f.integer(spec.get("priority"), join(path, "priority"), 0)
        class_name = f.string(spec.get("priorityClassName"), join(path, "priorityClassName"))
        if class_name:
            return self._priority_classes.get(class_name, 0)
        return self._default_priority


def _pod_level_requests(
    f: Fields,
    value: object,
    path: str,
    containers: Sequence[Resources],
    init_containers: Sequence[tuple[Resources, bool]],
) -> Resources:
    """spec.resources.requests (PodLevelResources), defaulted as the API server does: a
    resource with a pod-level limit and no pod-level request takes the limit as request
    when no container requests it (when one does, the containers' sum stands)."""
    resources = f.mapping(value, path)
    raw_requests = f.mapping(resources.get("requests"), join(path, "requests"))
    requests = parse_resources(f, raw_requests, join(path, "requests"))
    limits = parse_resources(f, resources.get("limits"), join(path, "limits"))
    if limits.is_zero():
        return requests
    requested = {name for c in containers for name in c}
    requested.update(name for c, _ in init_containers for name in c)
    defaulted = requests.to_dict()
    for name, limit in limits.items():
        if name not in raw_requests and name not in requested:
            defaulted[name] = limit
    return Resources(defaulted)


def _resources_key(resources: Mapping[str, Any]) -> object:
    """A hashable stand-in for a container's `resources`; TypeError or AttributeError when
    it is malformed. Value types are part of it: `cpu: true` must not pass for `cpu: 1`."""
    requests = resources.get("requests")
    limits = resources.get("limits")
    return (
        None if requests is None else tuple((k, v, v.__class__) for k, v in requests.items()),
        None if limits is None else tuple((k, v, v.__class__) for k, v in limits.items()),
        len(resources),
    )


def parse_resources(f: Fields, value: object, field: str) -> Resources:
    """A resource list (`cpu: 500m`, `memory: 1Gi`); errors name the resource's field."""
    raw = f.mapping(value, field)
    try:
        return Resources.parse(raw)
    except QuantityError as err:
        if err.resource is None or err.resource not in raw:
            raise err.located(file=f.file, obj=f.obj, field=field) from None
        # The field path names the resource, so the message need not say "for cpu".
        plain = QuantityError.invalid(raw[err.resource], err.reason) if err.reason else err
        raise plain.located(file=f.file, obj=f.obj, field=join(field, err.resource)) from None
