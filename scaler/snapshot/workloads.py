"""Pending pods made up for controllers whose pods are not in the snapshot.

A snapshot of manifests (a Deployment someone is about to apply, or `kubectl get
deploy,sts,job -o yaml` without the pods) still says what pods will exist. When no pod
of a Deployment, ReplicaSet, StatefulSet or Job is present, its `spec.template` is
turned into the pending pods the controller would create:

    Deployment    spec.replicas (default 1) pods  <deployment>-<hash10>-<suffix5>
    ReplicaSet    spec.replicas (default 1) pods  <replicaset>-<suffix5>
    StatefulSet   spec.replicas (default 1) pods  <statefulset>-<ordinal>
    Job           min(parallelism, completions - succeeded) pods  <job>-<suffix5>

A pod is the controller's when it is in the same namespace and its labels match the
controller's `spec.selector`, or its controller ownerReference names the controller
(for a Deployment: one of its ReplicaSets). Pods of every phase count, so a Job whose
pods all succeeded is not run again. Hashes and suffixes use Kubernetes' safe alphabet
and are derived from the namespace, name and template: the same snapshot always gives
the same pod names.

Made-up pods carry the labels their controller would give them that matter to
scheduling: a Deployment's pods `pod-template-hash` (which `matchLabelKeys` often
names). A StatefulSet pod `<sts>-<n>` uses the claims `<template>-<sts>-<n>` of its
volumeClaimTemplates: when the snapshot holds one, its volume's zone pins the pod; when
not, the claim will be new, and only its StorageClass's allowedTopologies can.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from scaler import limits
from scaler.core.model import Pod
from scaler.limits import LimitError
from scaler.snapshot.documents import RawObject
from scaler.snapshot.fields import Fields, join
from scaler.snapshot.objects import Converter, Owner, PodFacts, controller_owner, fields_of
from scaler.snapshot.volumes import ClaimRef

DEPLOYMENT: Final = "Deployment"
REPLICA_SET: Final = "ReplicaSet"
STATEFUL_SET: Final = "StatefulSet"
JOB: Final = "Job"
# Argo Rollouts (argoproj.io/v1alpha1): a Deployment-like controller whose ReplicaSets carry
# `rollouts-pod-template-hash`; `spec.workloadRef` borrows a Deployment's pod template.
ROLLOUT: Final = "Rollout"
ROLLOUT_GROUP: Final = "argoproj.io"
CONTROLLER_KINDS: Final = frozenset({DEPLOYMENT, REPLICA_SET, STATEFUL_SET, JOB, ROLLOUT})
POD_TEMPLATE_HASH: Final = "pod-template-hash"
ROLLOUTS_POD_TEMPLATE_HASH: Final = "rollouts-pod-template-hash"
# k8s.io/apimachinery/pkg/util/rand: no vowels, no confusable 0/1/3.
SAFE_ALPHABET: Final = "bcdfghjklmnpqrstvwxz2456789"
HASH_LENGTH: Final = 10
SUFFIX_LENGTH: Final = 5
SELECTOR_OPERATORS: Final = ("In", "NotIn", "Exists", "DoesNotExist")


def safe_encode(text: str, length: int) -> str:
    """`length` characters of the safe alphabet, derived from `text` (stable across runs)."""
    n = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest(), "big")
    chars = []
    for _ in range(length):
        n, r = divmod(n, len(SAFE_ALPHABET))
        chars.append(SAFE_ALPHABET[r])
    return "".join(chars)


def template_hash(namespace: str, name: str, template: object) -> str:
    """A Deployment's pod-template-hash stand-in: 10 safe characters."""
    canonical = json.dumps(template, sort_keys=True, separators=(",", ":"), default=str)
    return safe_encode(f"{namespace}/{name}\n{canonical}", HASH_LENGTH)


@dataclass(frozen=True, slots=True)
class Expansion:
    pods: tuple[Pod, ...]
    expanded: int  # controllers that got pods


class PodIndex:
    """The snapshot's pods by owner and by label, to find a controller's pods quickly."""

    def __init__(self, pods: Iterable[PodFacts]) -> None:
        self._owners: set[tuple[str, str, str]] = set()
        self._by_label: dict[tuple[str, str, str], list[Mapping[str, str]]] = defaultdict(list)
        self._by_namespace: dict[str, list[Mapping[str, str]]] = defaultdict(list)
        for pod in pods:
            owner = pod.owner
            if owner is not None:
                self._owners.add((pod.namespace, owner.kind, owner.name))
                template_hash = pod.labels.get(POD_TEMPLATE_HASH)
                suffix = f"-{template_hash}"
                if owner.kind == REPLICA_SET and template_hash and owner.name.endswith(suffix):
                    # A Deployment's ReplicaSet is `<deployment>-<pod-template-hash>`, so its
                    # pods are found even when the ReplicaSet is not in the snapshot.
                    deployment = owner.name[: -len(suffix)]
                    self._owners.add((pod.namespace, DEPLOYMENT, deployment))
            self._by_namespace[pod.namespace].append(pod.labels)
            for key, value in pod.labels.items():
                self._by_label[(pod.namespace, key, value)].append(pod.labels)

    def owned_by(self, namespace: str, owner: Owner) -> bool:
        return (namespace, owner.kind, owner.name) in self._owners

    def any_selected(self, namespace: str, selector: LabelSelector) -> bool:
        if selector.match_labels:
            key, value = next(iter(selector.match_labels.items()))
            candidates = self._by_label.get((namespace, key, value), [])
        else:
            candidates = self._by_namespace.get(namespace, [])
        return any(selector.matches(labels) for labels in candidates)


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist), ANDed."""

    match_labels: Mapping[str, str]
    expressions: tuple[tuple[str, str, frozenset[str]], ...]

    @property
    def is_empty(self) -> bool:
        return not self.match_labels and not self.expressions

    def matches(self, labels: Mapping[str, str]) -> bool:
        for key, value in self.match_labels.items():
            if labels.get(key) != value:
                return False
        for key, operator, values in self.expressions:
            found = labels.get(key)
            if operator == "In":
                ok = found is not None and found in values
            elif operator == "NotIn":
                ok = found is None or found not in values
            elif operator == "Exists":
                ok = found is not None
            else:
                ok = found is None
            if not ok:
                return False
        return True


def label_selector(
    f: Fields, spec: Mapping[str, Any], template_labels: Mapping[str, str]
) -> LabelSelector:
    """spec.selector; when it is missing, the template's labels (as old API versions did)."""
    raw = spec.get("selector")
    if raw is None:
        return LabelSelector(dict(template_labels), ())
    path = "spec.selector"
    selector = f.mapping(raw, path)
    expressions = []
    for p, expr in f.mappings(selector.get("matchExpressions"), join(path, "matchExpressions")):
        key = f.required_string(expr.get("key"), join(p, "key"))
        operator = f.required_string(expr.get("operator"), join(p, "operator"))
        if operator not in SELECTOR_OPERATORS:
            raise f.error(
                join(p, "operator"),
                f"unknown operator {operator!r}; expected one of {', '.join(SELECTOR_OPERATORS)}",
            )
        values = frozenset(f.strings(expr.get("values"), join(p, "values")))
        expressions.append((key, operator, values))
    return LabelSelector(
        f.labels(selector.get("matchLabels"), join(path, "matchLabels")), tuple(expressions)
    )


def expand_workloads(
    controllers: Sequence[RawObject],
    pods: Iterable[PodFacts],
    taken: set[str],
    converter: Converter,
) -> Expansion:
    """Pending pods for each controller (in order) that has no pod in the snapshot.

    `taken` holds the `namespace/name` of every pod in the snapshot; made-up names are
    added to it, and never collide with it.
    """
    index = PodIndex(pods)
    controllers = _resolve_rollouts(controllers)
    # A Deployment a Rollout's workloadRef names: the Rollout runs its pods (Argo scales the
    # Deployment down), so it is not expanded itself.
    referenced = {(c.namespace, ref) for c in controllers if c.kind == ROLLOUT
                  for ref in [_workload_ref(c)] if ref}
    deployments = {(c.namespace, c.name) for c in controllers
                   if c.kind in (DEPLOYMENT, ROLLOUT)}
    # ReplicaSets by the Deployment (in the snapshot) that controls them.
    replica_sets: dict[tuple[str, str], list[str]] = defaultdict(list)
    managed: set[tuple[str, str]] = set()
    for c in controllers:
        if c.kind != REPLICA_SET:
            continue
        owner = controller_owner(fields_of(c), c.metadata)
        if owner is not None and owner.kind in (DEPLOYMENT, ROLLOUT):
            if (c.namespace, owner.name) in deployments:
                replica_sets[(c.namespace, owner.name)].append(c.name)
                managed.add((c.namespace, c.name))

    made: list[Pod] = []
    expanded = 0
    total_cap = limits.current().total_replicas
    for c in controllers:
        if c.kind == REPLICA_SET and (c.namespace, c.name) in managed:
            continue  # its Deployment is expanded instead, if need be
        if c.kind == DEPLOYMENT and (c.namespace, c.name) in referenced:
            continue  # its Rollout runs the pods
        if c.kind == ROLLOUT and not _in_group(c, ROLLOUT_GROUP):
            continue  # a Rollout of some other API group: not Argo's
        owners = [Owner(c.kind, c.name)]
        if c.kind in (DEPLOYMENT, ROLLOUT):
            owners += [Owner(REPLICA_SET, rs) for rs in replica_sets[(c.namespace, c.name)]]
        new = _expand(c, index, owners, taken, converter, total_cap - len(made))
        if new:
            made.extend(new)
            expanded += 1
    return Expansion(tuple(made), expanded)


def _in_group(c: RawObject, group: str) -> bool:
    api = c.body.get("apiVersion")
    return isinstance(api, str) and api.split("/")[0] == group


def _workload_ref(c: RawObject) -> str | None:
    """The Deployment a Rollout's `spec.workloadRef` names, if any."""
    spec = c.body.get("spec")
    ref = spec.get("workloadRef") if isinstance(spec, Mapping) else None
    if not isinstance(ref, Mapping):
        return None
    name = ref.get("name")
    return name if isinstance(name, str) and name else None


def _resolve_rollouts(controllers: Sequence[RawObject]) -> list[RawObject]:
    """Rollouts with `spec.workloadRef` get the named Deployment's pod template (and its
    selector when they have none), as Argo Rollouts does."""
    deployments = {(c.namespace, c.name): c for c in controllers if c.kind == DEPLOYMENT}
    out: list[RawObject] = []
    for c in controllers:
        ref = _workload_ref(c) if c.kind == ROLLOUT else None
        if ref is None:
            out.append(c)
            continue
        f = fields_of(c)
        spec = f.mapping(c.body.get("spec"), "spec")
        kind = f.mapping(spec.get("workloadRef"), "spec.workloadRef").get("kind", DEPLOYMENT)
        if kind != DEPLOYMENT:
            raise f.error("spec.workloadRef.kind",
                          f"{kind!r} is not supported (a Rollout's workloadRef names a Deployment)")
        target = deployments.get((c.namespace, ref))
        if target is None:
            raise f.error("spec.workloadRef.name",
                          f"Deployment {c.namespace}/{ref} is not in the snapshot (its pod "
                          "template is the Rollout's)")
        dspec = fields_of(target).mapping(target.body.get("spec"), "spec")
        merged = {**spec, "template": dspec.get("template")}
        if spec.get("selector") is None and dspec.get("selector") is not None:
            merged["selector"] = dspec.get("selector")
        out.append(dataclasses.replace(c, body={**c.body, "spec": merged}))
    return out


def _expand(
    c: RawObject, index: PodIndex, owners: Sequence[Owner], taken: set[str], converter: Converter,
    room: int,
) -> list[Pod]:
    """The controller's pending pods; `room`: how many more the total-replicas limit allows."""
    f = fields_of(c)
    spec = f.mapping(c.body.get("spec"), "spec")
    count = _pod_count(f, c, spec)
    if count == 0:
        return []
    cap = limits.current().workload_replicas
    if count > cap:
        raise LimitError(f"{count if count < 10**30 else 'a huge number of'} replicas",
                         "workload-replicas", cap, file=c.file, obj=c.label,
                         field="spec.replicas" if c.kind != JOB else "spec.parallelism")
    if count > room:
        total = limits.current().total_replicas
        raise LimitError("the pods expanded from all workloads", "total-replicas", total,
                         file=c.file, obj=c.label)
    ns = c.namespace
    template = converter.template(f, c.body, ns)
    if any(index.owned_by(ns, owner) for owner in owners):
        return []
    selector = label_selector(f, spec, template.labels)
    # An empty selector would select every pod; the API server refuses it, so read it as
    # selecting none and rely on ownerReferences alone.
    if not selector.is_empty and index.any_selected(ns, selector):
        return []

    labels = dict(template.labels)
    scheduling = template.scheduling
    if c.kind in (DEPLOYMENT, ROLLOUT):
        pod_template_hash = template_hash(ns, c.name, spec.get("template"))
        owner = Owner(REPLICA_SET, f"{c.name}-{pod_template_hash}")
        labels[POD_TEMPLATE_HASH if c.kind == DEPLOYMENT else ROLLOUTS_POD_TEMPLATE_HASH] = (
            pod_template_hash)
        # matchLabelKeys: [pod-template-hash] is the usual way to spread one revision.
        scheduling = converter.template_scheduling(template, f, ns, labels)
    else:
        owner = Owner(c.kind, c.name)

    if c.kind == STATEFUL_SET:
        start = _ordinals_start(f, spec)
        names = [f"{c.name}-{i}" for i in range(start, start + count)]
        if any(f"{ns}/{name}" in taken for name in names):
            return []  # its pods are there, labelled otherwise
        taken.update(f"{ns}/{name}" for name in names)
        claim_templates = _claim_templates(f, spec)
        schedulings = [
            converter.template_scheduling(
                template, f, ns, labels, tuple(t.for_pod(name) for t in claim_templates)
            )
            for name in names
        ]
    else:
        names = [_unique_name(ns, owner.name, i, taken) for i in range(count)]
        schedulings = [scheduling] * count

    return [
        Pod(
            namespace=ns,
            name=name,
            requests=template.requests,
            scheduling=pod_scheduling,
            labels=dict(labels),
            node_name=None,  # a template's nodeName is not honoured: these are to place
            priority=template.priority,
            owner_kind=owner.kind,
            owner_name=owner.name,
            source=c.file,
        )
        for name, pod_scheduling in zip(names, schedulings, strict=True)
    ]


@dataclass(frozen=True, slots=True)
class ClaimTemplate:
    """A StatefulSet volumeClaimTemplate: pod `<sts>-<n>` gets claim `<name>-<sts>-<n>`."""

    name: str
    storage_class: str | None  # None: the default class
    path: str

    def for_pod(self, pod: str) -> ClaimRef:
        return ClaimRef(f"{self.name}-{pod}", self.path, True, self.storage_class)


def _claim_templates(f: Fields, spec: Mapping[str, Any]) -> list[ClaimTemplate]:
    out = []
    for p, raw in f.mappings(spec.get("volumeClaimTemplates"), "spec.volumeClaimTemplates"):
        meta = f.mapping(raw.get("metadata"), join(p, "metadata"))
        name = f.required_string(meta.get("name"), join(p, "metadata.name"))
        claim_spec = f.mapping(raw.get("spec"), join(p, "spec"))
        storage_class = None
        if claim_spec.get("storageClassName") is not None:
            storage_class = f.string(
                claim_spec.get("storageClassName"), join(p, "spec.storageClassName")
            )
        out.append(ClaimTemplate(name, storage_class, p))
    return out


def _pod_count(f: Fields, c: RawObject, spec: Mapping[str, Any]) -> int:
    """How many pods the controller runs at once."""
    if c.kind != JOB:
        return f.count(spec.get("replicas"), "spec.replicas", 1)
    if f.boolean(spec.get("suspend"), "spec.suspend"):
        return 0
    status = f.mapping(c.body.get("status"), "status")
    for p, condition in f.mappings(status.get("conditions"), "status.conditions"):
        kind = f.string(condition.get("type"), join(p, "type"))
        done = f.string(condition.get("status"), join(p, "status")) == "True"
        if done and kind in ("Complete", "Failed"):
            return 0
    parallelism = f.count(spec.get("parallelism"), "spec.parallelism", 1)
    succeeded = f.count(status.get("succeeded"), "status.succeeded", 0)
    if spec.get("completions") is None:
        # A work queue: once one pod succeeded, no new pods start.
        return 0 if succeeded else parallelism
    completions = f.count(spec.get("completions"), "spec.completions", 1)
    return min(parallelism, max(completions - succeeded, 0))


def _ordinals_start(f: Fields, spec: Mapping[str, Any]) -> int:
    ordinals = f.mapping(spec.get("ordinals"), "spec.ordinals")
    return f.count(ordinals.get("start"), "spec.ordinals.start", 0)


def _unique_name(namespace: str, base: str, replica: int, taken: set[str]) -> str:
    """`<base>-<suffix5>`, the suffix derived from the replica number, unique in `taken`."""
    attempt = 0
    while True:
        seed = f"{namespace}/{base}/{replica}" + (f"/{attempt}" if attempt else "")
        name = f"{base}-{safe_encode(seed, SUFFIX_LENGTH)}"
        key = f"{namespace}/{name}"
        if key not in taken:
            taken.add(key)
            return name
        attempt += 1
