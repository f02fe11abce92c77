"""A pod spec's scheduling constraints, read into the core's `Scheduling`.

Read, for Pods and for controller and DaemonSet templates alike:

    spec.nodeSelector                        -> node_selector
    affinity.nodeAffinity required terms     -> affinity_terms
    affinity.nodeAffinity preferred terms    -> preferred_terms (weight 1..100, term)
    spec.tolerations                         -> tolerations
    spec.topologySpreadConstraints           -> topology_spread
    affinity.podAffinity / podAntiAffinity   -> pod_affinity, pod_anti_affinity (required),
                                                preferred_pod_(anti_)affinity (weighted)
    container hostPorts                      -> host_ports
    persistentVolumeClaim volumes            -> a topology.kubernetes.io/zone requirement
                                                in node_selector (see `volumes`)

Semantics follow the API server and kube-scheduler:

- Topology spread: maxSkew >= 1; whenUnsatisfiable DoNotSchedule or ScheduleAnyway, at
  most one constraint per (topologyKey, whenUnsatisfiable); minDomains >= 1 and only with
  DoNotSchedule; nodeAffinityPolicy defaults to Honor, nodeTaintsPolicy to Ignore. A null
  labelSelector counts no pod; `{}` counts every pod of the namespace.
- matchLabelKeys (spread and affinity terms) add `key In [the pod's value]`, and
  mismatchLabelKeys (affinity terms) `key NotIn [the pod's value]`, to the label selector,
  as the API server merges them when it creates the pod. Keys the pod lacks are skipped;
  with a null labelSelector the API server refuses them.
- Affinity term namespaces: `namespaces` plus those whose labels match
  `namespaceSelector` (every namespace carries `kubernetes.io/metadata.name: <name>`);
  with neither, the pod's own namespace; `namespaceSelector: {}` is every namespace.
- Host ports: those of containers and of restartable init containers (sidecars), as the
  NodePorts plugin counts them. With `hostNetwork: true` a port without hostPort gets
  its containerPort, as the API server defaults it. Protocol defaults to TCP, hostIP to
  0.0.0.0; hostPort 0 means none.

Pods of one workload repeat one spec, so a spec is parsed once per distinct text of its
scheduling fields (a "draft"); what depends on the pod (its labels named by
matchLabelKeys, its namespace, its claims) is then resolved once per distinct value.
"""

from __future__ import annotations

import marshal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from scaler.core.model import (
    DO_NOT_SCHEDULE,
    HONOR,
    IGNORE,
    LABEL_ZONE,
    SCHEDULE_ANYWAY,
    TAINT_EFFECTS,
    HostPort,
    NodeSelectorTerm,
    PodAffinityTerm,
    Scheduling,
    Toleration,
    TopologySpread,
)
from scaler.core.requirements import IN, NOT_IN, Requirement, Requirements
from scaler.snapshot.fields import Fields, join
from scaler.snapshot.selectors import label_selector, node_selector_term
from scaler.snapshot.volumes import ClaimRef, Storage, describe_zone

REQUIRED: Final = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED: Final = "preferredDuringSchedulingIgnoredDuringExecution"
TOLERATION_OPERATORS: Final = ("Equal", "Exists")
WHEN_UNSATISFIABLE: Final = (DO_NOT_SCHEDULE, SCHEDULE_ANYWAY)
INCLUSION_POLICIES: Final = (HONOR, IGNORE)
PROTOCOLS: Final = ("TCP", "UDP", "SCTP")
ANY_HOST_IP: Final = "0.0.0.0"
SIDECAR_RESTART_POLICY: Final = "Always"
NAMESPACE_NAME_LABEL: Final = "kubernetes.io/metadata.name"
MIN_WEIGHT, MAX_WEIGHT = 1, 100
MAX_PORT: Final = 65535
NO_SCHEDULING: Final = Scheduling()


class Namespaces:
    """Namespace name -> labels, for namespaceSelector. Each carries the label
    `kubernetes.io/metadata.name: <name>`, which the API server sets on every namespace."""

    def __init__(self, labels: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._labels = {
            name: {**values, NAMESPACE_NAME_LABEL: name} for name, values in (labels or {}).items()
        }
        self._selected: dict[Requirements, frozenset[str]] = {}

    def select(self, selector: Requirements) -> frozenset[str]:
        found = self._selected.get(selector)
        if found is None:
            found = frozenset(
                name for name, labels in self._labels.items() if selector.matches_labels(labels)
            )
            self._selected[selector] = found
        return found


# Drafts: a spec's constraints before the pod's own labels, namespace and claims are known.


@dataclass(frozen=True, slots=True)
class SpreadDraft:
    spread: TopologySpread  # its selector without matchLabelKeys
    match_label_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TermDraft:
    topology_key: str
    selector: Requirements | None
    namespaces: frozenset[str]
    namespace_selector: Requirements | None  # None: no namespaceSelector
    match_label_keys: tuple[str, ...]
    mismatch_label_keys: tuple[str, ...]
    weight: int = 0


@dataclass(eq=False, slots=True)
class SchedulingDraft:
    """A parsed spec. Compared and hashed by identity: one per distinct spec text."""

    base: Scheduling  # everything that does not depend on the pod
    spreads: tuple[SpreadDraft, ...] = ()
    pod_affinity: tuple[TermDraft, ...] = ()
    pod_anti_affinity: tuple[TermDraft, ...] = ()
    preferred_pod_affinity: tuple[TermDraft, ...] = ()
    preferred_pod_anti_affinity: tuple[TermDraft, ...] = ()
    claims: tuple[ClaimRef, ...] = ()
    label_keys: tuple[str, ...] = ()  # pod labels the result depends on
    fixed: bool = True  # the same Scheduling for every pod with this spec


EMPTY_DRAFT: Final = SchedulingDraft(NO_SCHEDULING)


class SchedulingReader:
    """Reads pod specs into `Scheduling` values, sharing equal ones between pods."""

    def __init__(self, namespaces: Namespaces, storage: Storage) -> None:
        self._namespaces = namespaces
        self._storage = storage
        self._drafts: dict[tuple[str, bytes], SchedulingDraft] = {}
        self._resolved: dict[tuple[object, ...], Scheduling] = {}
        self._shared: dict[Scheduling, Scheduling] = {NO_SCHEDULING: NO_SCHEDULING}

    def read(
        self,
        f: Fields,
        spec: Mapping[str, Any],
        path: str,
        namespace: str,
        labels: Mapping[str, str],
    ) -> Scheduling:
        return self.resolve(self.draft(f, spec, path), f, namespace, labels)

    def draft(self, f: Fields, spec: Mapping[str, Any], path: str) -> SchedulingDraft:
        """The spec's draft, parsed once per distinct text of its scheduling fields."""
        try:
            text = _spec_key(spec)
        except (TypeError, AttributeError, ValueError):  # malformed, or odd YAML types
            return self._parse(f, spec, path)
        if text is None:
            return EMPTY_DRAFT
        key = (path, text)  # messages about claims name the path
        draft = self._drafts.get(key)
        if draft is None:
            draft = self._drafts[key] = self._parse(f, spec, path)
        return draft

    def resolve(
        self,
        draft: SchedulingDraft,
        f: Fields,
        namespace: str,
        labels: Mapping[str, str],
        claims: tuple[ClaimRef, ...] = (),
    ) -> Scheduling:
        """The draft for one pod: its labels, its namespace and its (extra) claims."""
        if draft.fixed and not claims:
            return draft.base
        values = tuple(map(labels.get, draft.label_keys)) if draft.label_keys else ()
        key = (draft, namespace, values, claims)
        found = self._resolved.get(key)
        if found is None:
            found = self._resolve(draft, f, namespace, labels, claims)
            found = self._shared.setdefault(found, found)
            self._resolved[key] = found
        return found

    def _resolve(
        self,
        draft: SchedulingDraft,
        f: Fields,
        namespace: str,
        labels: Mapping[str, str],
        claims: tuple[ClaimRef, ...],
    ) -> Scheduling:
        def terms(group: Sequence[TermDraft]) -> tuple[PodAffinityTerm, ...]:
            return tuple(self._term(t, namespace, labels) for t in group)

        return replace(
            draft.base,
            node_selector=self._pin_to_volumes(
                f, draft.base.node_selector, namespace, (*draft.claims, *claims)
            ),
            topology_spread=tuple(_spread(s, labels) for s in draft.spreads),
            pod_affinity=terms(draft.pod_affinity),
            pod_anti_affinity=terms(draft.pod_anti_affinity),
            preferred_pod_affinity=terms(draft.preferred_pod_affinity),
            preferred_pod_anti_affinity=terms(draft.preferred_pod_anti_affinity),
        )

    def _term(self, t: TermDraft, namespace: str, labels: Mapping[str, str]) -> PodAffinityTerm:
        selector = _fold(t.selector, labels, t.match_label_keys, t.mismatch_label_keys)
        namespaces: frozenset[str] | None
        if t.namespace_selector is None:
            namespaces = t.namespaces or frozenset((namespace,))
        elif not t.namespace_selector:  # namespaceSelector: {}
            namespaces = None
        else:
            namespaces = t.namespaces | self._namespaces.select(t.namespace_selector)
        return PodAffinityTerm(t.topology_key, selector, namespaces, t.weight)

    def _pin_to_volumes(
        self, f: Fields, selector: Requirements, namespace: str, claims: Iterable[ClaimRef]
    ) -> Requirements:
        for claim in claims:
            zone = self._storage.zone(namespace, claim)
            if zone is None:
                continue
            pinned = selector.intersect(Requirements((zone.requirement,)))
            if pinned[LABEL_ZONE].is_empty():
                allowed = selector.get(LABEL_ZONE)
                if zone.requirement.is_empty() or allowed is None:
                    # Its zone labels and node affinity have no zone in common.
                    raise f.error(
                        claim.path, f"PersistentVolumeClaim {claim.name} {zone.explain()}"
                    )
                raise f.error(
                    claim.path,
                    f"PersistentVolumeClaim {claim.name} {zone.explain()}, but the pod can "
                    f"only run in {describe_zone(allowed)} (its nodeSelector or other volumes)",
                )
            selector = pinned
        return selector

    # Parsing a spec (once per distinct spec)

    def _parse(self, f: Fields, spec: Mapping[str, Any], path: str) -> SchedulingDraft:
        affinity_path = join(path, "affinity")
        affinity = f.mapping(spec.get("affinity"), affinity_path)
        node_affinity_path = join(affinity_path, "nodeAffinity")
        node_affinity = f.mapping(affinity.get("nodeAffinity"), node_affinity_path)
        selector = f.labels(spec.get("nodeSelector"), join(path, "nodeSelector"))
        base = Scheduling(
            node_selector=Requirements.from_labels(selector),
            affinity_terms=_required_node_terms(f, node_affinity, node_affinity_path),
            tolerations=tuple(
                toleration(f, t, p)
                for p, t in f.mappings(spec.get("tolerations"), join(path, "tolerations"))
            ),
            preferred_terms=_preferred_node_terms(f, node_affinity, node_affinity_path),
            host_ports=_host_ports(f, spec, path),
        )
        base = self._shared.setdefault(base, base)
        pod_affinity_path = join(affinity_path, "podAffinity")
        pod_affinity = f.mapping(affinity.get("podAffinity"), pod_affinity_path)
        anti_path = join(affinity_path, "podAntiAffinity")
        anti = f.mapping(affinity.get("podAntiAffinity"), anti_path)
        draft = SchedulingDraft(
            base=base,
            spreads=_spreads(f, spec.get("topologySpreadConstraints"), path),
            pod_affinity=_required_pod_terms(f, pod_affinity, pod_affinity_path),
            pod_anti_affinity=_required_pod_terms(f, anti, anti_path),
            preferred_pod_affinity=_preferred_pod_terms(f, pod_affinity, pod_affinity_path),
            preferred_pod_anti_affinity=_preferred_pod_terms(f, anti, anti_path),
            claims=_claims(f, spec, path),
        )
        keys: dict[str, None] = {}
        for s in draft.spreads:
            keys.update(dict.fromkeys(s.match_label_keys))
        for group in (
            draft.pod_affinity,
            draft.pod_anti_affinity,
            draft.preferred_pod_affinity,
            draft.preferred_pod_anti_affinity,
        ):
            for t in group:
                keys.update(dict.fromkeys((*t.match_label_keys, *t.mismatch_label_keys)))
        draft.label_keys = tuple(keys)
        draft.fixed = not (
            draft.spreads
            or draft.pod_affinity
            or draft.pod_anti_affinity
            or draft.preferred_pod_affinity
            or draft.preferred_pod_anti_affinity
            or draft.claims
        )
        return draft


def _spec_key(spec: Mapping[str, Any]) -> bytes | None:
    """The scheduling fields of a spec, serialized (None: it has none). Raises TypeError
    or AttributeError when a list or mapping on the way is malformed, ValueError for types
    marshal does not write. Volumes count only by their claims: every pod has its own
    service-account token volume. marshal version 2 writes no back-references, so equal
    values always give equal bytes (and it is twice as fast as repr)."""
    get = spec.get
    containers = get("containers")
    if not (
        get("volumes")
        or get("initContainers")
        or get("nodeSelector")
        or get("affinity")
        or get("tolerations")
        or get("topologySpreadConstraints")
        or get("hostNetwork")
    ):
        # The common plain pod: only a container port could matter.
        if not containers:
            return None
        for c in containers:
            if c.get("ports"):
                break
        else:
            return None
    init_containers = get("initContainers")
    volumes = get("volumes")
    parts = (
        get("nodeSelector"),
        get("affinity"),
        get("tolerations"),
        get("topologySpreadConstraints"),
        get("hostNetwork"),
        [c.get("ports") for c in containers] if containers else None,
        [(c.get("ports"), c.get("restartPolicy")) for c in init_containers]
        if init_containers
        else None,
        [v.get("persistentVolumeClaim") for v in volumes] if volumes else None,
    )
    return marshal.dumps(parts, 2)


def _fold(
    selector: Requirements | None,
    labels: Mapping[str, str],
    match: Sequence[str],
    mismatch: Sequence[str] = (),
) -> Requirements | None:
    """matchLabelKeys as `In [value]`, mismatchLabelKeys as `NotIn [value]`, for the keys
    the pod has; a null selector stays null (it selects nothing)."""
    if selector is None or not (match or mismatch):
        return selector
    reqs = [Requirement.of(k, IN, [labels[k]]) for k in match if k in labels]
    reqs.extend(Requirement.of(k, NOT_IN, [labels[k]]) for k in mismatch if k in labels)
    return selector.intersect(Requirements(reqs)) if reqs else selector


def _spread(draft: SpreadDraft, labels: Mapping[str, str]) -> TopologySpread:
    if not draft.match_label_keys:
        return draft.spread
    return replace(
        draft.spread, selector=_fold(draft.spread.selector, labels, draft.match_label_keys)
    )


# Node affinity and tolerations


def _required_node_terms(
    f: Fields, node_affinity: Mapping[str, Any], path: str
) -> tuple[NodeSelectorTerm, ...]:
    """Required node affinity's nodeSelectorTerms (empty: no required affinity)."""
    required = node_affinity.get(REQUIRED)
    path = join(path, REQUIRED)
    if required is None:
        return ()
    terms = f.mapping(required, path).get("nodeSelectorTerms")
    path = join(path, "nodeSelectorTerms")
    if not f.sequence(terms, path):
        # The API server refuses this; an empty list would read as "any node".
        raise f.error(path, "must have at least one node selector term")
    return tuple(node_selector_term(f, term, p) for p, term in f.mappings(terms, path))


def _preferred_node_terms(
    f: Fields, node_affinity: Mapping[str, Any], path: str
) -> tuple[tuple[int, NodeSelectorTerm], ...]:
    out = []
    for p, raw in f.mappings(node_affinity.get(PREFERRED), join(path, PREFERRED)):
        weight = _weight(f, raw.get("weight"), join(p, "weight"))
        preference_path = join(p, "preference")
        preference = f.mapping(raw.get("preference"), preference_path)
        out.append((weight, node_selector_term(f, preference, preference_path)))
    return tuple(out)


def _weight(f: Fields, value: object, path: str) -> int:
    if value is None:
        raise f.error(path, "required field missing")
    weight = f.integer(value, path, 0)
    if not MIN_WEIGHT <= weight <= MAX_WEIGHT:
        raise f.error(path, f"must be between {MIN_WEIGHT} and {MAX_WEIGHT}, got {weight}")
    return weight


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


# Topology spread


def _spreads(f: Fields, value: object, path: str) -> tuple[SpreadDraft, ...]:
    path = join(path, "topologySpreadConstraints")
    out: list[SpreadDraft] = []
    seen: dict[tuple[str, str], int] = {}
    for i, (p, raw) in enumerate(f.mappings(value, path)):
        key = f.required_string(raw.get("topologyKey"), join(p, "topologyKey"))
        if raw.get("maxSkew") is None:
            raise f.error(join(p, "maxSkew"), "required field missing")
        max_skew = f.integer(raw.get("maxSkew"), join(p, "maxSkew"), 0)
        if max_skew < 1:
            raise f.error(join(p, "maxSkew"), f"must be at least 1, got {max_skew}")
        when = f.required_string(raw.get("whenUnsatisfiable"), join(p, "whenUnsatisfiable"))
        if when not in WHEN_UNSATISFIABLE:
            raise f.error(
                join(p, "whenUnsatisfiable"),
                f"unknown value {when!r}; expected {DO_NOT_SCHEDULE} or {SCHEDULE_ANYWAY}",
            )
        if (key, when) in seen:
            raise f.error(
                p,
                f"same topologyKey and whenUnsatisfiable as {path}[{seen[(key, when)]}] "
                f"({key}, {when})",
            )
        seen[(key, when)] = i
        selector = label_selector(f, raw.get("labelSelector"), join(p, "labelSelector"))
        match_keys = _label_keys(f, raw, p, "matchLabelKeys", selector)
        min_domains = None
        if raw.get("minDomains") is not None:
            min_domains = f.integer(raw.get("minDomains"), join(p, "minDomains"), 0)
            if min_domains < 1:
                raise f.error(join(p, "minDomains"), f"must be at least 1, got {min_domains}")
            if when != DO_NOT_SCHEDULE:
                raise f.error(
                    join(p, "minDomains"),
                    f"only allowed with whenUnsatisfiable: {DO_NOT_SCHEDULE}, not {when}",
                )
        spread = TopologySpread(
            topology_key=key,
            max_skew=max_skew,
            when_unsatisfiable=when,
            selector=selector,
            min_domains=min_domains,
            node_affinity_policy=_policy(f, raw, p, "nodeAffinityPolicy", HONOR),
            node_taints_policy=_policy(f, raw, p, "nodeTaintsPolicy", IGNORE),
        )
        out.append(SpreadDraft(spread, match_keys))
    return tuple(out)


def _policy(f: Fields, raw: Mapping[str, Any], path: str, name: str, default: str) -> str:
    policy = f.string(raw.get(name), join(path, name)) or default
    if policy not in INCLUSION_POLICIES:
        raise f.error(join(path, name), f"unknown policy {policy!r}; expected {HONOR} or {IGNORE}")
    return policy


def _label_keys(
    f: Fields, raw: Mapping[str, Any], path: str, name: str, selector: Requirements | None
) -> tuple[str, ...]:
    keys = tuple(dict.fromkeys(f.strings(raw.get(name), join(path, name))))
    if keys and selector is None:
        raise f.error(join(path, name), "must not be set when labelSelector is not set")
    return keys


# Pod affinity and anti-affinity


def _required_pod_terms(f: Fields, affinity: Mapping[str, Any], path: str) -> tuple[TermDraft, ...]:
    path = join(path, REQUIRED)
    return tuple(_pod_term(f, raw, p) for p, raw in f.mappings(affinity.get(REQUIRED), path))


def _preferred_pod_terms(
    f: Fields, affinity: Mapping[str, Any], path: str
) -> tuple[TermDraft, ...]:
    out = []
    for p, raw in f.mappings(affinity.get(PREFERRED), join(path, PREFERRED)):
        weight = _weight(f, raw.get("weight"), join(p, "weight"))
        term_path = join(p, "podAffinityTerm")
        term = _pod_term(f, f.mapping(raw.get("podAffinityTerm"), term_path), term_path)
        out.append(replace(term, weight=weight))
    return tuple(out)


def _pod_term(f: Fields, raw: Mapping[str, Any], path: str) -> TermDraft:
    topology_key = f.required_string(raw.get("topologyKey"), join(path, "topologyKey"))
    selector = label_selector(f, raw.get("labelSelector"), join(path, "labelSelector"))
    match_keys = _label_keys(f, raw, path, "matchLabelKeys", selector)
    mismatch_keys = _label_keys(f, raw, path, "mismatchLabelKeys", selector)
    for i, key in enumerate(match_keys):
        if key in mismatch_keys:
            raise f.error(
                f"{join(path, 'matchLabelKeys')}[{i}]",
                f"{key!r} is in both matchLabelKeys and mismatchLabelKeys",
            )
    return TermDraft(
        topology_key=topology_key,
        selector=selector,
        namespaces=frozenset(f.strings(raw.get("namespaces"), join(path, "namespaces"))),
        namespace_selector=label_selector(
            f, raw.get("namespaceSelector"), join(path, "namespaceSelector")
        ),
        match_label_keys=match_keys,
        mismatch_label_keys=mismatch_keys,
    )


# Host ports and volumes


def _host_ports(f: Fields, spec: Mapping[str, Any], path: str) -> tuple[HostPort, ...]:
    host_network = f.boolean(spec.get("hostNetwork"), join(path, "hostNetwork"))
    found: dict[HostPort, None] = {}
    for p, c in f.mappings(spec.get("containers"), join(path, "containers")):
        found.update(dict.fromkeys(_container_ports(f, c, p, host_network)))
    for p, c in f.mappings(spec.get("initContainers"), join(path, "initContainers")):
        if f.string(c.get("restartPolicy"), join(p, "restartPolicy")) == SIDECAR_RESTART_POLICY:
            found.update(dict.fromkeys(_container_ports(f, c, p, host_network)))
    return tuple(found)


def _container_ports(
    f: Fields, container: Mapping[str, Any], path: str, host_network: bool
) -> Iterable[HostPort]:
    for p, raw in f.mappings(container.get("ports"), join(path, "ports")):
        field = join(p, "hostPort")
        port = f.integer(raw.get("hostPort"), field, 0)
        if port == 0 and host_network:
            field = join(p, "containerPort")
            port = f.integer(raw.get("containerPort"), field, 0)
        if port == 0:
            continue
        if not 1 <= port <= MAX_PORT:
            raise f.error(field, f"must be between 1 and {MAX_PORT}, got {port}")
        protocol = f.string(raw.get("protocol"), join(p, "protocol")) or "TCP"
        if protocol not in PROTOCOLS:
            raise f.error(
                join(p, "protocol"),
                f"unknown protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}",
            )
        host_ip = f.string(raw.get("hostIP"), join(p, "hostIP")) or ANY_HOST_IP
        yield HostPort(protocol, port, host_ip)


def _claims(f: Fields, spec: Mapping[str, Any], path: str) -> tuple[ClaimRef, ...]:
    out = []
    for p, volume in f.mappings(spec.get("volumes"), join(path, "volumes")):
        if volume.get("persistentVolumeClaim") is None:
            continue
        claim_path = join(p, "persistentVolumeClaim")
        claim = f.mapping(volume.get("persistentVolumeClaim"), claim_path)
        name_path = join(claim_path, "claimName")
        out.append(ClaimRef(f.required_string(claim.get("claimName"), name_path), name_path))
    return tuple(out)
