"""Zonal self-affinity planned in bulk: a group that must share a zone, pinned to one.

A pod whose only placement rule is one required pod-affinity term on the zone key, a term
that selects the pod itself (Karpenter's benchmark class "zonal self-affinity"), needs only
that its group ends up in one zone: the first pod may go anywhere, every later one where a
pod of the group already is. When every pod the term selects is such a pending pod (none
bound, none with other rules), the group is pinned to one zone chosen by price and its pods
are planned as plain pods with that zone in their node selector: existing nodes in that
zone, whole-node patterns and the greedy then see an ordinary zonal requirement, and no
placement can split the group. Any other case is left to the greedy's topology checks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from scaler.core.model import (
    LABEL_ZONE,
    NodePool,
    NodeSelectorTerm,
    Pod,
    PodAffinityTerm,
    Scheduling,
)
from scaler.core.requirements import Requirements
from scaler.core.resources import Resources
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.core.scheduling.predicates import narrow, untolerated


def _self_affinity(pod: Pod) -> PodAffinityTerm | None:
    """The pod's zonal self-affinity term, when that is its only placement rule."""
    s = pod.scheduling
    if (len(s.pod_affinity) != 1 or s.topology_spread or s.pod_anti_affinity or s.host_ports
            or s.preferred_terms or s.preferred_pod_affinity or s.preferred_pod_anti_affinity):
        return None
    term = s.pod_affinity[0]
    if term.topology_key != LABEL_ZONE or not term.selects(pod.namespace, pod.labels):
        return None
    return term


def _groups(pending: Sequence[Pod], bound: Sequence[Pod]) -> dict[PodAffinityTerm, list[Pod]]:
    """Self-affinity groups that nothing else is selected into: each term's pods."""
    groups: dict[PodAffinityTerm, list[Pod]] = {}
    for pod in pending:
        term = _self_affinity(pod)
        if term is not None:
            groups.setdefault(term, []).append(pod)
    if not groups:
        return {}
    # Pods by namespace and labels: a term is checked once per distinct label set.
    alike: dict[tuple[str, frozenset[tuple[str, str]]], list[Pod]] = {}
    for p in (*pending, *bound):
        alike.setdefault((p.namespace, frozenset(p.labels.items())), []).append(p)
    closed: dict[PodAffinityTerm, list[Pod]] = {}
    for term, members in groups.items():
        mine = {id(p) for p in members}
        if not any(term.selects(ns, dict(labels)) and any(id(p) not in mine for p in pods)
                   for (ns, labels), pods in alike.items()):
            closed[term] = members
    return closed


class ZonePicker:
    """The zone where a group's pods cost least: for each pod, the cheapest offering in the
    zone of a type that holds it, charged by the pod's share of the type's CPU."""

    def __init__(self, table: InstanceTypeTable, pools: Sequence[NodePool],
                 launch_reqs: Mapping[str, Requirements]) -> None:
        self.table = table
        self.pools = pools
        self.launch_reqs = launch_reqs
        self._cpu = table.dim_index.get("cpu")
        self._cache: dict[tuple[int, tuple[int, ...], str], float] = {}

    def share(self, pod: Pod, row: tuple[int, ...], zone: str) -> float:
        key = (id(pod.scheduling), row, zone)
        cost = self._cache.get(key)
        if cost is None:
            cost = self._cache[key] = self._share(pod, row, zone)
        return cost

    def _share(self, pod: Pod, row: tuple[int, ...], zone: str) -> float:
        table = self.table
        vec = np.array(row, dtype=np.int64)
        pin = Requirements.from_labels({LABEL_ZONE: zone})
        best = float("inf")
        for pool in self.pools:
            if untolerated(pod.scheduling.tolerations, pool.taints):
                continue
            for alt in pod.scheduling.alternatives():
                reqs = narrow(self.launch_reqs[pool.name],
                              NodeSelectorTerm(alt.requirements.intersect(pin), alt.node_names))
                if reqs is None:
                    continue
                idx = np.flatnonzero(table.mask(reqs) & (table.allocatable >= vec).all(axis=1))
                pairs = table.allowed_pairs(reqs)
                if len(idx) == 0 or not pairs.any():
                    continue
                price = table.price[np.ix_(idx, pairs)].min(axis=1)
                if self._cpu is not None and vec[self._cpu] > 0:
                    price = price * vec[self._cpu] / np.maximum(
                        table.allocatable[idx, self._cpu], 1)
                best = min(best, float(price.min()))
        return best


def pin_zonal_self_affinity(pending: Sequence[Pod], bound: Sequence[Pod],
                            table: InstanceTypeTable, picker: ZonePicker,
                            zones: Iterable[str]) -> tuple[list[Pod], dict[int, Pod]]:
    """The pending pods with each closed self-affinity group pinned to its cheapest zone
    (its term dropped, the zone added to its node selector), and the original of each
    pinned pod by the id of its copy."""
    originals: dict[int, Pod] = {}
    pinned: dict[int, Pod] = {}
    candidates = sorted(zones)
    for members in _groups(pending, bound).values():
        costs: dict[str, float] = {}
        for zone in candidates:
            total = 0.0
            for pod in members:
                row = table.vector(pod.requests + Resources({"pods": 1}))
                total += picker.share(pod, row, zone) if row is not None else float("inf")
            costs[zone] = total
        cheapest = min(candidates, key=lambda z: (costs[z], z), default=None)
        if cheapest is None or costs[cheapest] == float("inf"):
            continue  # no zone holds every pod: the greedy explains which cannot go
        pin = Requirements.from_labels({LABEL_ZONE: cheapest})
        scheds: dict[Scheduling, Scheduling] = {}
        for pod in members:
            s = pod.scheduling
            if s not in scheds:
                scheds[s] = dataclasses.replace(
                    s, node_selector=s.node_selector.intersect(pin), pod_affinity=())
            copy = dataclasses.replace(pod, scheduling=scheds[s])
            originals[id(copy)] = pod
            pinned[id(pod)] = copy
    return [pinned.get(id(p), p) for p in pending], originals
