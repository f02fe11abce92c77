"""Zonal volumes: the zone a PersistentVolumeClaim confines its pods to.

What kube-scheduler's VolumeZone and VolumeBinding plugins check, read from the snapshot:

- A claim bound (`spec.volumeName`) to a PersistentVolume: the volume's zone labels
  (`topology.kubernetes.io/zone`, or the beta `failure-domain.beta.kubernetes.io/zone`;
  a value may list several zones joined by `__`) and the zone expressions of its
  `spec.nodeAffinity.required.nodeSelectorTerms` (terms are ORed). The beta key is read
  as the GA key, as the scheduler matches it.
- A claim not bound yet: its volume will be provisioned in one of the zones its
  StorageClass's `allowedTopologies` allows, if that names zones (VolumeBinding checks
  the node against them; with `Immediate` binding the pod waits for a volume made in
  one of them). Otherwise no constraint: with `WaitForFirstConsumer` the volume is made
  wherever the pod lands. A claim without storageClassName gets the default class.

A claim, volume or class missing from the snapshot gives no constraint: snapshots are
often partial. Objects are read when a pod first names them, then remembered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Final

from scaler.core.model import LABEL_BETA_ZONE, LABEL_ZONE
from scaler.core.requirements import IN, Requirement
from scaler.snapshot.documents import RawObject
from scaler.snapshot.fields import Fields, join
from scaler.snapshot.selectors import requirement

ZONE_KEYS: Final = (LABEL_ZONE, LABEL_BETA_ZONE)
ZONE_SEPARATOR: Final = "__"  # k8s.io/cloud-provider volume helpers: "zone-a__zone-b"
CLASS_ANNOTATION: Final = "volume.beta.kubernetes.io/storage-class"
DEFAULT_CLASS_ANNOTATIONS: Final = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


@dataclass(frozen=True, slots=True)
class VolumeZone:
    """A claim's zone constraint, and what it comes from (for messages)."""

    requirement: Requirement  # on topology.kubernetes.io/zone
    source: str  # `PersistentVolume pv-1` or `StorageClass gp3`

    def explain(self) -> str:
        """How the claim is confined: `is bound to PersistentVolume pv-1 in zone a`."""
        zone = describe_zone(self.requirement)
        if self.source.startswith("StorageClass"):
            return f"is not bound yet, and its {self.source} allows only {zone}"
        return f"is bound to {self.source} in {zone}"


@dataclass(frozen=True, slots=True)
class ClaimRef:
    """A claim a pod uses. `template_class`: for a StatefulSet's volumeClaimTemplates, the
    class its claim will be created with when the snapshot does not hold it yet (None: the
    default class; "": none)."""

    name: str
    path: str  # the field naming it, for messages
    from_template: bool = False
    template_class: str | None = None


class Storage:
    """The snapshot's PersistentVolumeClaims, PersistentVolumes and StorageClasses."""

    def __init__(
        self,
        claims: Iterable[RawObject] = (),
        volumes: Iterable[RawObject] = (),
        classes: Iterable[RawObject] = (),
    ) -> None:
        self._claims = {(o.namespace, o.name): o for o in claims}
        self._volumes = {o.name: o for o in volumes}
        self._classes = {o.name: o for o in classes}
        self._claim_zones: dict[tuple[str, str], VolumeZone | None] = {}
        self._volume_zones: dict[str, VolumeZone | None] = {}
        self._class_zones: dict[str, VolumeZone | None] = {}
        self._default_class: str | None = None  # None: not looked for yet

    def zone(self, namespace: str, claim: ClaimRef) -> VolumeZone | None:
        key = (namespace, claim.name)
        if key in self._claims:
            if key not in self._claim_zones:
                self._claim_zones[key] = self._claim_zone(self._claims[key])
            return self._claim_zones[key]
        if claim.from_template:  # to be created from the template, unbound
            name = claim.template_class
            if name is None:
                name = self._default_class_name()
            return self._class_zone(name) if name else None
        return None

    def _claim_zone(self, obj: RawObject) -> VolumeZone | None:
        f = Fields(obj.file, obj.label)
        spec = f.mapping(obj.body.get("spec"), "spec")
        volume = f.string(spec.get("volumeName"), "spec.volumeName")
        if volume:
            if volume not in self._volume_zones:
                pv = self._volumes.get(volume)
                self._volume_zones[volume] = None if pv is None else _volume_zone(pv)
            return self._volume_zones[volume]
        # As the scheduler reads a claim's class: the beta annotation first.
        meta = f.mapping(obj.body.get("metadata"), "metadata")
        annotations = f.labels(meta.get("annotations"), "metadata.annotations")
        if CLASS_ANNOTATION in annotations:
            name = annotations[CLASS_ANNOTATION]
        elif spec.get("storageClassName") is not None:
            name = f.string(spec.get("storageClassName"), "spec.storageClassName")
        else:  # the DefaultStorageClass admission plugin fills it in on creation
            name = self._default_class_name()
        return self._class_zone(name) if name else None

    def _class_zone(self, name: str) -> VolumeZone | None:
        if name not in self._class_zones:
            obj = self._classes.get(name)
            self._class_zones[name] = None if obj is None else _class_zone(obj)
        return self._class_zones[name]

    def _default_class_name(self) -> str:
        """The class annotated as the default ("" when none is)."""
        if self._default_class is None:
            self._default_class = ""
            for obj in self._classes.values():
                f = Fields(obj.file, obj.label)
                meta = f.mapping(obj.body.get("metadata"), "metadata")
                annotations = f.labels(meta.get("annotations"), "metadata.annotations")
                if any(annotations.get(a) == "true" for a in DEFAULT_CLASS_ANNOTATIONS):
                    self._default_class = obj.name
                    break
        return self._default_class


def _volume_zone(obj: RawObject) -> VolumeZone | None:
    """Zone labels and node-affinity zone expressions of a PersistentVolume, ANDed."""
    f = Fields(obj.file, obj.label)
    meta = f.mapping(obj.body.get("metadata"), "metadata")
    labels = f.labels(meta.get("labels"), "metadata.labels")
    found: list[Requirement] = []
    for key in ZONE_KEYS:
        zones = [z for z in labels.get(key, "").split(ZONE_SEPARATOR) if z]
        if zones:
            found.append(Requirement.of(LABEL_ZONE, IN, zones))
    spec = f.mapping(obj.body.get("spec"), "spec")
    affinity = f.mapping(spec.get("nodeAffinity"), "spec.nodeAffinity")
    required = f.mapping(affinity.get("required"), "spec.nodeAffinity.required")
    path = "spec.nodeAffinity.required.nodeSelectorTerms"
    terms = f.mappings(required.get("nodeSelectorTerms"), path)
    per_term = []
    for p, term in terms:
        exprs = f.mappings(term.get("matchExpressions"), join(p, "matchExpressions"))
        per_term.append(_zone_of(requirement(f, e, ep) for ep, e in exprs))
    from_affinity = _any_of(per_term)
    if from_affinity is not None:
        found.append(from_affinity)
    if not found:
        return None
    req = found[0]
    for other in found[1:]:
        req = req.intersect(other)
    return VolumeZone(req, f"PersistentVolume {obj.name}")


def _class_zone(obj: RawObject) -> VolumeZone | None:
    """The zones a StorageClass's allowedTopologies lets a new volume be provisioned in."""
    f = Fields(obj.file, obj.label)
    per_term = []
    for p, term in f.mappings(obj.body.get("allowedTopologies"), "allowedTopologies"):
        reqs = []
        exprs = f.mappings(term.get("matchLabelExpressions"), join(p, "matchLabelExpressions"))
        for ep, expr in exprs:
            key = f.required_string(expr.get("key"), join(ep, "key"))
            values = f.strings(expr.get("values"), join(ep, "values"))
            if not values:
                raise f.error(join(ep, "values"), "must have at least one value")
            reqs.append(Requirement.of(key, IN, values))
        per_term.append(_zone_of(reqs))
    req = _any_of(per_term)
    if req is None:
        return None
    return VolumeZone(req, f"StorageClass {obj.name}")


def _zone_of(reqs: Iterable[Requirement]) -> Requirement | None:
    """The zone requirements among `reqs` (beta key read as GA), ANDed; None if none."""
    out: Requirement | None = None
    for r in reqs:
        if r.key in ZONE_KEYS:
            r = replace(r, key=LABEL_ZONE)
            out = r if out is None else out.intersect(r)
    return out


def _any_of(terms: Sequence[Requirement | None]) -> Requirement | None:
    """ORed terms as one zone requirement: a term without one allows any zone (None);
    several terms combine only as a union of `In` lists."""
    if not terms or any(t is None for t in terms):
        return None
    if len(terms) == 1:
        return terms[0]
    zones: set[str] = set()
    for t in terms:
        assert t is not None
        if t.complement or t.absent_ok or t.gt is not None or t.lt is not None:
            return None
        zones |= t.values
    return Requirement.of(LABEL_ZONE, IN, zones)


def describe_zone(req: Requirement) -> str:
    """`zone us-east-1a`, `zones us-east-1a, us-east-1b`, `no zone`, or the requirement."""
    if req.is_empty():
        return "no zone"
    if not req.complement and not req.absent_ok and req.values:
        names = ", ".join(sorted(req.values))
        return f"zone {names}" if len(req.values) == 1 else f"zones {names}"
    return req.describe()
