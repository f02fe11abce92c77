"""Zonal topology spread planned in bulk: each spread group split over the zones up front.

A required zonal spread constraint (`maxSkew` on the zone key, DoNotSchedule) is checked
when its owner is placed: the owner's zone may hold at most `maxSkew` more of the pods its
selector counts than the emptiest zone. Placed one at a time by the greedy, every pod the
selector counts (owners or not) stays out of whole-node planning. Here, each connected set
of such groups (pods linked by being counted in, or owning, several groups) is given zones
up front, one pod at a time in a fixed order: an owner goes to a zone where its check
passes at that moment (the least counted one), a pod that is only counted to its groups'
least counted zone; existing pods count where they run. The split is then checked on its
final counts (every owner would still pass if placed last), and only a split that passes is
kept: its pods get their zone in their node selector and the owners lose the constraint, so
the rest of the pass (existing nodes, whole-node patterns, the greedy) sees plain zonal
requirements. Anything else (zone-restricted pods, other zonal rules, minDomains above the
zones on offer, Honor taint policies) is left to the greedy's topology checks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from scaler.core.model import (
    DO_NOT_SCHEDULE,
    HONOR,
    IGNORE,
    LABEL_ZONE,
    Node,
    Pod,
    Scheduling,
    TopologySpread,
)
from scaler.core.requirements import Requirements
from scaler.core.resources import Resources
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.core.scheduling.zonal_affinity import ZonePicker

GroupKey = tuple[str, Requirements]  # namespace, selector


@dataclass(eq=False)
class _Group:
    key: GroupKey
    max_skew: int = 1 << 30
    owners: list[int] = field(default_factory=list)  # indexes into pending
    counted: list[int] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # zone -> pods counted


def _zonal_rule(pod: Pod, zones: int) -> TopologySpread | None:
    """The pod's one required zonal spread constraint, when bulk planning can honour it."""
    s = pod.scheduling
    zonal = [c for c in s.topology_spread if c.topology_key == LABEL_ZONE]
    if len(zonal) != 1:
        return None
    c = zonal[0]
    if (c.when_unsatisfiable != DO_NOT_SCHEDULE or c.selector is None
            or c.node_affinity_policy != HONOR or c.node_taints_policy != IGNORE
            or (c.min_domains is not None and c.min_domains > zones)):
        return None
    return c


def _zone_free(pod: Pod) -> bool:
    """No zonal rule of the pod's own besides spread: pinning it changes nothing else."""
    s = pod.scheduling
    return not any(t.topology_key == LABEL_ZONE for t in (
        *s.pod_affinity, *s.pod_anti_affinity, *s.preferred_pod_affinity,
        *s.preferred_pod_anti_affinity))


def _groups(pending: Sequence[Pod], zones: int) -> dict[GroupKey, _Group]:
    groups: dict[GroupKey, _Group] = {}
    for i, pod in enumerate(pending):
        c = _zonal_rule(pod, zones)
        if c is not None and c.selector is not None:
            g = groups.setdefault((pod.namespace, c.selector), _Group((pod.namespace, c.selector)))
            g.max_skew = min(g.max_skew, c.max_skew)
            g.owners.append(i)
    if not groups:
        return {}
    alike: dict[tuple[str, frozenset[tuple[str, str]]], list[int]] = {}
    for i, pod in enumerate(pending):
        alike.setdefault((pod.namespace, frozenset(pod.labels.items())), []).append(i)
    for (ns, labels), members in alike.items():
        as_dict = dict(labels)
        for (gns, sel), g in groups.items():
            if gns == ns and sel.matches_labels(as_dict):
                g.counted.extend(members)
    return groups


def _components(groups: Sequence[_Group]) -> list[list[_Group]]:
    """Groups that share a pod (as owner or counted) must be split together."""
    parent = list(range(len(groups)))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    seen: dict[int, int] = {}
    for gi, g in enumerate(groups):
        for i in (*g.owners, *g.counted):
            if i in seen:
                parent[find(gi)] = find(seen[i])
            else:
                seen[i] = gi
    out: dict[int, list[_Group]] = {}
    for gi, g in enumerate(groups):
        out.setdefault(find(gi), []).append(g)
    return list(out.values())


def _split(comp: Sequence[_Group], pending: Sequence[Pod], zones: Sequence[str],
           existing: Mapping[GroupKey, Mapping[str, int]]) -> dict[int, str] | None:
    """A zone per pod of the component, or None when the split breaks a group's skew.

    An owner its own selector does not count must end in a least counted zone of its
    group: such owners of a group all go to one zone, reserved (the least counted when the
    first comes), and the counted pods, placed after them, level each group's counts with
    the reserved zone taking a pod only when it is strictly behind the others.
    """
    owns: dict[int, list[_Group]] = {}
    counts: dict[int, list[_Group]] = {}
    for g in comp:
        g.counts = {z: existing.get(g.key, {}).get(z, 0) for z in zones}
        for i in g.owners:
            owns.setdefault(i, []).append(g)
        for i in g.counted:
            counts.setdefault(i, []).append(g)
    counted_in = {i: {id(g) for g in gs} for i, gs in counts.items()}
    outsiders = {i for i, gs in owns.items()
                 if any(id(g) not in counted_in.get(i, set()) for g in gs)}
    reserved: dict[int, str] = {}  # id(group) -> zone
    zone_of: dict[int, str] = {}

    def put(i: int, z: str) -> None:
        zone_of[i] = z
        for g in counts.get(i, ()):
            g.counts[z] += 1

    for i in sorted(outsiders, key=lambda i: pending[i].name):
        g = next(g for g in owns[i] if id(g) not in counted_in.get(i, set()))
        if id(g) not in reserved:
            reserved[id(g)] = min(zones, key=lambda z: (g.counts[z], z))
        put(i, reserved[id(g)])
    rest = sorted((set(owns) | set(counts)) - outsiders,
                  key=lambda i: (-pending[i].requests.get("cpu"),
                                 -pending[i].requests.get("memory"), pending[i].name))
    for i in rest:
        def rank(z: str, i: int = i) -> tuple[int, int, int, str]:
            over = sum(max(0, g.counts[z] + 1 - min(g.counts.values()) - g.max_skew)
                       for g in owns.get(i, ()))
            mine = counts.get(i, ())
            return (over, sum(g.counts[z] for g in mine),
                    sum(reserved.get(id(g)) == z for g in mine), z)

        put(i, min(zones, key=rank))
    for g in comp:  # every owner would still pass, placed last
        counted = set(g.counted)
        for i in g.owners:
            z = zone_of[i]
            me = 1 if i in counted else 0  # kube-scheduler's selfMatchNum
            before = g.counts[z] - me
            floor = min([before, *(g.counts[y] for y in zones if y != z)])
            if before + me - floor > g.max_skew:
                return None
    return zone_of


def _existing_counts(groups: Iterable[_Group], bound: Sequence[Pod],
                     nodes: Mapping[str, Node]) -> dict[GroupKey, dict[str, int]]:
    out: dict[GroupKey, dict[str, int]] = {}
    for g in groups:
        ns, sel = g.key
        for p in bound:
            node = nodes.get(p.node_name or "")
            zone = node.labels.get(LABEL_ZONE) if node is not None else None
            if zone is not None and p.namespace == ns and sel.matches_labels(p.labels):
                out.setdefault(g.key, {}).setdefault(zone, 0)
                out[g.key][zone] += 1
    return out


def _placeable(pod: Pod, zones: Sequence[str], table: InstanceTypeTable,
               picker: ZonePicker) -> bool:
    """The pod has no zonal rule but one bulk planning honours, and new capacity in every
    zone (so no zone is a domain it could not use)."""
    if not _zone_free(pod):
        return False
    if (any(c.topology_key == LABEL_ZONE for c in pod.scheduling.topology_spread)
            and _zonal_rule(pod, len(zones)) is None):
        return False
    row = table.vector(pod.requests + Resources({"pods": 1}))
    return row is not None and all(picker.share(pod, row, z) < float("inf") for z in zones)


def split_zonal_spread(pending: Sequence[Pod], bound: Sequence[Pod], nodes: Sequence[Node],
                       table: InstanceTypeTable, picker: ZonePicker,
                       zones: Iterable[str]) -> tuple[list[Pod], dict[int, Pod]]:
    """The pending pods with each splittable spread component pinned zone by zone, and the
    original of each pinned pod by the id of its copy."""
    candidates = sorted(zones)
    by_name = {n.name: n for n in nodes}
    if not candidates or any(n.labels.get(LABEL_ZONE) not in candidates for n in nodes):
        return list(pending), {}
    groups = _groups(pending, len(candidates))
    existing = _existing_counts(groups.values(), bound, by_name)
    zone_of: dict[int, str] = {}
    for comp in _components(list(groups.values())):
        ids = {i for g in comp for i in (*g.owners, *g.counted)}
        if not all(_placeable(pending[i], candidates, table, picker) for i in ids):
            continue
        split = _split(comp, pending, candidates, existing)
        if split is not None:
            zone_of.update(split)
    owned = {i for g in groups.values() for i in g.owners}
    originals: dict[int, Pod] = {}
    out = list(pending)
    scheds: dict[tuple[Scheduling, str, bool], Scheduling] = {}
    for i, zone in zone_of.items():
        pod = pending[i]
        key = (pod.scheduling, zone, i in owned)
        if key not in scheds:
            s = pod.scheduling
            keep = tuple(c for c in s.topology_spread
                         if i not in owned or c.topology_key != LABEL_ZONE)
            scheds[key] = dataclasses.replace(
                s, node_selector=s.node_selector.intersect(
                    Requirements.from_labels({LABEL_ZONE: zone})),
                topology_spread=keep)
        copy = dataclasses.replace(pod, scheduling=scheds[key])
        originals[id(copy)] = pod
        out[i] = copy
    return out, originals
