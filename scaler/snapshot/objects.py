"""Node, Pod and DaemonSet manifests to the core's model values.

A pod's requests follow the API server and scheduler: each container's requests (its
limits where a request is missing), init containers and restartable sidecars as
`pod_requests` combines them, plus `spec.overhead`. Its scheduling constraints are
`spec.nodeSelector`, required node affinity and tolerations. Identical constraints and
requests share one instance, so pods of one workload form one equivalence class cheaply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from scaler.core.model import (
    TAINT_EFFECTS,
    DaemonSet,
    Node,
    NodeSelectorTerm,
    Pod,
    Scheduling,
    Taint,
    Toleration,
)
from scaler.core.quantity import QuantityError
from scaler.core.requirements import (
    DOES_NOT_EXIST,
    EXISTS,
    IN,
    NOT_IN,
    OPERATORS,
    Requirement,
    Requirements,
)
from scaler.core.resources import ZERO, Resources, container_requests, pod_requests
from scaler.snapshot.documents import RawObject
from scaler.snapshot.fields import Fields, join

TERMINAL_PHASES: Final = frozenset({"Succeeded", "Failed"})
SIDECAR_RESTART_POLICY: Final = "Always"
REQUIRED: Final = "requiredDuringSchedulingIgnoredDuringExecution"
NODE_NAME_FIELD: Final = "metadata.name"
TOLERATION_OPERATORS: Final = ("Equal", "Exists")
NO_SCHEDULING: Final = Scheduling()


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
    scheduling: Scheduling
    priority: int


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

    def __init__(self, priority_classes: Mapping[str, int], default_priority: int = 0) -> None:
        self._priority_classes = priority_classes
        self._default_priority = default_priority
        self._scheduling: dict[Scheduling, Scheduling] = {NO_SCHEDULING: NO_SCHEDULING}
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

        spec = f.mapping(body.get("spec"), "spec")
        status = f.mapping(body.get("status"), "status")
        if f.string(status.get("phase"), "status.phase") in TERMINAL_PHASES:
            return facts, None
        node_name = f.string(spec.get("nodeName"), "spec.nodeName") or None
        if node_name is None and owner is not None and owner.kind == "DaemonSet":
            return facts, None
        return facts, Pod(
            namespace=obj.namespace,
            name=obj.name,
            requests=self.requests(f, spec, "spec"),
            scheduling=self.scheduling(f, spec, "spec"),
            labels=labels,
            node_name=node_name,
            priority=self.priority(f, spec, "spec"),
            owner_kind=owner.kind if owner else None,
            owner_name=owner.name if owner else None,
            source=obj.file,
        )

    def template(self, f: Fields, body: Mapping[str, Any]) -> PodTemplate:
        """`spec.template` of a controller or DaemonSet."""
        spec = f.mapping(body.get("spec"), "spec")
        if spec.get("template") is None:
            raise f.error("spec.template", "required field missing")
        template = f.mapping(spec.get("template"), "spec.template")
        meta = f.mapping(template.get("metadata"), "spec.template.metadata")
        pod_spec = f.mapping(template.get("spec"), "spec.template.spec")
        path = "spec.template.spec"
        return PodTemplate(
            labels=f.labels(meta.get("labels"), "spec.template.metadata.labels"),
            requests=self.requests(f, pod_spec, path),
            scheduling=self.scheduling(f, pod_spec, path),
            priority=self.priority(f, pod_spec, path),
        )

    def daemonset(self, obj: RawObject) -> DaemonSet:
        template = self.template(fields_of(obj), obj.body)
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

    def scheduling(self, f: Fields, spec: Mapping[str, Any], path: str) -> Scheduling:
        selector = spec.get("nodeSelector")
        affinity = spec.get("affinity")
        tolerations = spec.get("tolerations")
        if not selector and not affinity and not tolerations:
            return NO_SCHEDULING
        terms, terms_path = self._affinity_terms(f, affinity, path)
        result = Scheduling(
            node_selector=Requirements.from_labels(f.labels(selector, join(path, "nodeSelector"))),
            affinity_terms=tuple(
                node_selector_term(f, term, p) for p, term in f.mappings(terms, terms_path)
            ),
            tolerations=tuple(
                toleration(f, t, p) for p, t in f.mappings(tolerations, join(path, "tolerations"))
            ),
        )
        return self._scheduling.setdefault(result, result)

    @staticmethod
    def _affinity_terms(f: Fields, affinity: object, path: str) -> tuple[object, str]:
        """Required node affinity's nodeSelectorTerms (None: no required affinity)."""
        affinity_path = join(path, "affinity")
        node_affinity_path = join(affinity_path, "nodeAffinity")
        node_affinity = f.mapping(
            f.mapping(affinity, affinity_path).get("nodeAffinity"), node_affinity_path
        )
        required = node_affinity.get(REQUIRED)
        path = join(node_affinity_path, REQUIRED)
        if required is None:
            return None, path
        terms = f.mapping(required, path).get("nodeSelectorTerms")
        path = join(path, "nodeSelectorTerms")
        if not f.sequence(terms, path):
            # The API server refuses this; an empty list would read as "any node".
            raise f.error(path, "must have at least one node selector term")
        return terms, path

    def priority(self, f: Fields, spec: Mapping[str, Any], path: str) -> int:
        """spec.priority; else the value of its PriorityClass, when the snapshot has it."""
        if spec.get("priority") is not None:
            return f.integer(spec.get("priority"), join(path, "priority"), 0)
        class_name = f.string(spec.get("priorityClassName"), join(path, "priorityClassName"))
        if class_name:
            return self._priority_classes.get(class_name, 0)
        return self._default_priority


def node_selector_term(f: Fields, term: Mapping[str, Any], path: str) -> NodeSelectorTerm:
    """One required node-affinity term: matchExpressions, and matchFields on the node name."""
    requirements = [
        requirement(f, expr, p)
        for p, expr in f.mappings(term.get("matchExpressions"), join(path, "matchExpressions"))
    ]
    node_names: frozenset[str] | None = None
    for p, expr in f.mappings(term.get("matchFields"), join(path, "matchFields")):
        key = f.required_string(expr.get("key"), join(p, "key"))
        operator = f.required_string(expr.get("operator"), join(p, "operator"))
        if key != NODE_NAME_FIELD or operator != IN:
            raise f.error(
                p,
                f"unsupported matchFields {key} {operator}: only "
                f"{NODE_NAME_FIELD} {IN} is supported",
            )
        names = frozenset(f.strings(expr.get("values"), join(p, "values")))
        node_names = names if node_names is None else node_names & names
    if not requirements and node_names is None:
        # Kubernetes: an empty term matches no node. No node name is in an empty set.
        node_names = frozenset()
    return NodeSelectorTerm(Requirements(requirements), node_names)


def requirement(f: Fields, expr: Mapping[str, Any], path: str) -> Requirement:
    """A node-selector requirement: key, operator (In, NotIn, Exists, ...) and values."""
    key = f.required_string(expr.get("key"), join(path, "key"))
    operator = f.required_string(expr.get("operator"), join(path, "operator"))
    if operator not in OPERATORS:
        raise f.error(
            join(path, "operator"),
            f"unknown operator {operator!r}; expected one of {', '.join(OPERATORS)}",
        )
    values = f.strings(expr.get("values"), join(path, "values"))
    if operator in (IN, NOT_IN) and not values:
        raise f.error(join(path, "values"), f"operator {operator} needs at least one value")
    if operator in (EXISTS, DOES_NOT_EXIST) and values:
        raise f.error(join(path, "values"), f"operator {operator} takes no values")
    try:
        return Requirement.of(key, operator, values)
    except ValueError as e:
        raise f.error(join(path, "values"), str(e)) from None


def toleration(f: Fields, raw: Mapping[str, Any], path: str) -> Toleration:
    operator = f.string(raw.get("operator"), join(path, "operator")) or "Equal"
    if operator not in TOLERATION_OPERATORS:
        raise f.error(
            join(path, "operator"),
            f"unknown toleration operator {operator!r}; expected Equal or Exists",
        )
    effect = f.string(raw.get("effect"), join(path, "effect"))
    if effect and effect not in TAINT_EFFECTS:
        raise f.error(
            join(path, "effect"),
            f"unknown taint effect {effect!r}; expected one of {', '.join(TAINT_EFFECTS)}",
        )
    key = f.string(raw.get("key"), join(path, "key"))
    if not key and operator != "Exists":
        raise f.error(join(path, "key"), "an empty key needs operator Exists")
    return Toleration(
        key=key,
        operator=operator,
        value=f.string(raw.get("value"), join(path, "value")),
        effect=effect,
    )


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
