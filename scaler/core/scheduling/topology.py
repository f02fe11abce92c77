"""Topology: how many matching pods each domain holds, for spread and pod (anti-)affinity.

A *group* counts the pods that one selector picks, per value of one topology key (a zone,
a capacity type, a node). Spread constraints and affinity terms read the counts to decide
which domains a pod may go to; every placement updates them. Groups are made up front from
all pending pods and the bound pods' anti-affinity terms, so counts never start late.

A new node claim is its own hostname domain. Its zone or capacity type may still be open;
a pod that has a constraint on that key narrows the claim to one domain (the least crowded
one allowed), and pods counted while a claim's domain is open are added when it closes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from scaler.core.model import (
    HONOR,
    LABEL_HOSTNAME,
    PodAffinityTerm,
    Scheduling,
    Taint,
    Toleration,
    TopologySpread,
)
from scaler.core.requirements import IN, Requirement, Requirements

NEW_NODE = ""  # the hostname domain of a claim not opened yet: it holds no pods


@dataclass(eq=False)
class Group:
    """Pods picked by `selector` in `namespaces` (None: all), counted per `key` domain."""

    key: str
    selector: Requirements | None
    namespaces: frozenset[str] | None
    counts: dict[str, int] = field(default_factory=dict)
    # The same counts by (node or claim name, domain): spread constraints with
    # nodeAffinityPolicy/nodeTaintsPolicy Honor leave out nodes the pod could not use.
    by_node: dict[tuple[str, str], int] = field(default_factory=dict)
    # A pod's several required affinity terms: a pod is picked only when every term selects
    # it (kube-scheduler counts an existing pod for the terms only if it matches all).
    all_of: tuple[PodAffinityTerm, ...] = ()
    # Made for pod (anti-)affinity terms too, not only for spread constraints.
    by_terms: bool = False
    # Made for a pod affinity term (required or preferred): the pods it counts must be
    # where the greedy can see them.
    affine: bool = False

    def picks(self, namespace: str, labels: Mapping[str, str]) -> bool:
        if self.all_of:
            return all(t.selects(namespace, labels) for t in self.all_of)
        if self.selector is None:
            return False
        if self.namespaces is not None and namespace not in self.namespaces:
            return False
        return self.selector.matches_labels(labels)


@dataclass(eq=False)
class Target:
    """Where a pod would go: an existing node (labels known) or a claim (requirements)."""

    name: str  # node or claim name; NEW_NODE for a claim not opened yet
    labels: Mapping[str, str] | None = None  # existing nodes
    requirements: Requirements | None = None  # claims

    def domain(self, key: str) -> str | None:
        if key == LABEL_HOSTNAME:
            if self.labels is not None:
                return self.labels.get(LABEL_HOSTNAME, self.name)
            return self.name
        if self.labels is not None:
            return self.labels.get(key)
        req = self.requirements.get(key) if self.requirements is not None else None
        if req is not None and not req.complement and len(req.values) == 1:
            return next(iter(req.values))
        return None


@dataclass(frozen=True, slots=True)
class Rule:
    """One constraint as the topology sees it, resolved against its group."""

    kind: str  # "spread" | "affinity" | "anti" | "owner-anti"
    group: Group
    spread: TopologySpread | None = None


def _spread_key(namespace: str, c: TopologySpread) -> tuple[object, ...]:
    return ("count", c.topology_key, c.selector, frozenset({namespace}))


def _term_key(t: PodAffinityTerm) -> tuple[object, ...]:
    return ("count", t.topology_key, t.selector, t.namespaces)


def _affinity_key(sched: Scheduling, t: PodAffinityTerm) -> tuple[object, ...]:
    """One required affinity term's group: its own, or with several terms one per topology
    key counting only the pods every term selects."""
    if len(sched.pod_affinity) < 2:
        return _term_key(t)
    return ("all", t.topology_key, tuple(sched.pod_affinity))


class Topology:
    def __init__(self, universes: Mapping[str, Iterable[str]]) -> None:
        # Domains a new claim can take per key (zones and capacity types from the catalog).
        self.universes = {k: frozenset(v) for k, v in universes.items()}
        self.groups: dict[tuple[object, ...], Group] = {}
        # Anti-affinity terms held by placed pods: the domains they forbid to pods they pick.
        self.owners: dict[PodAffinityTerm, Group] = {}
        self._picked: dict[tuple[str, frozenset[tuple[str, str]]], tuple[Group, ...]] = {}
        self.existing_domains: dict[str, set[str]] = {}
        # Existing nodes' labels and taints, for the Honor node policies of spread.
        self.nodes: dict[str, tuple[Mapping[str, str], tuple[Taint, ...]]] = {}
        self._usable_cache: dict[tuple[object, ...],
                                 tuple[frozenset[str], tuple[tuple[str, str], ...]]] = {}
        # Claims whose domain for a key was open when a counted pod landed on them.
        self.deferred: dict[str, dict[Group, int]] = {}

    # -- set-up ---------------------------------------------------------------------------

    def prepare(self, namespace: str, sched: Scheduling) -> None:
        for c in sched.topology_spread:
            key = _spread_key(namespace, c)
            if key not in self.groups:
                self.groups[key] = Group(c.topology_key, c.selector, frozenset({namespace}))
        if len(sched.pod_affinity) > 1:
            terms = tuple(sched.pod_affinity)
            for t in terms:
                key = _affinity_key(sched, t)
                if key not in self.groups:
                    self.groups[key] = Group(t.topology_key, None, None, all_of=terms,
                                             by_terms=True)
        single = tuple(sched.pod_affinity) if len(sched.pod_affinity) == 1 else ()
        affine = {*single, *sched.preferred_pod_affinity}
        for t in (*single, *sched.pod_anti_affinity, *sched.preferred_pod_affinity,
                  *sched.preferred_pod_anti_affinity):
            key = _term_key(t)
            if key not in self.groups:
                self.groups[key] = Group(t.topology_key, t.selector, t.namespaces)
            self.groups[key].by_terms = True
            if t in affine:
                self.groups[key].affine = True
        # Only required anti-affinity binds pods that come later (kube-scheduler's symmetry).
        for t in sched.pod_anti_affinity:
            if t not in self.owners:
                self.owners[t] = Group(t.topology_key, None, None)

    def add_node(self, labels: Mapping[str, str], name: str,
                 taints: Sequence[Taint] = ()) -> None:
        self.nodes[name] = (labels, tuple(taints))
        for key, value in labels.items():
            self.existing_domains.setdefault(key, set()).add(value)
        self.existing_domains.setdefault(LABEL_HOSTNAME, set()).add(
            labels.get(LABEL_HOSTNAME, name)
        )

    @property
    def active(self) -> bool:
        return bool(self.groups or self.owners)

    # -- counting -------------------------------------------------------------------------

    def _groups_picking(self, namespace: str, labels: Mapping[str, str]) -> tuple[Group, ...]:
        key = (namespace, frozenset(labels.items()))
        hit = self._picked.get(key)
        if hit is None:
            hit = tuple(g for g in self.groups.values() if g.picks(namespace, labels))
            self._picked[key] = hit
        return hit

    def counted(self, namespace: str, labels: Mapping[str, str]) -> bool:
        """Whether some group counts the pod."""
        return bool(self._groups_picking(namespace, labels))

    def counted_only_per_node(self, namespace: str, labels: Mapping[str, str]) -> bool:
        """Whether the only groups that count the pod are hostname spread constraints' and
        hostname anti-affinity terms'.

        Such a pod binds only the pods on its own node: whole-node planning may place it on
        new nodes, with the owners planned there too under per-node caps (`host_caps.py`),
        as long as it never joins a node the greedy placed an owner on.
        """
        return all(g.key == LABEL_HOSTNAME and not g.affine and not g.all_of
                   for g in self._groups_picking(namespace, labels))

    def record(self, namespace: str, labels: Mapping[str, str], sched: Scheduling,
               target: Target, anti_terms: Sequence[PodAffinityTerm] = ()) -> None:
        """Count a pod that now sits on `target`."""
        if not self.active:
            return
        picked = self._groups_picking(namespace, labels)
        owned = [self.owners[t] for t in anti_terms if t in self.owners]
        for g in (*picked, *owned):
            d = target.domain(g.key)
            if d is None:
                pending = self.deferred.setdefault(target.name, {})
                pending[g] = pending.get(g, 0) + 1
            else:
                g.counts[d] = g.counts.get(d, 0) + 1
                g.by_node[(target.name, d)] = g.by_node.get((target.name, d), 0) + 1

    def settle(self, target: Target) -> None:
        """A claim's domains may have closed: count the pods that waited for that."""
        pending = self.deferred.get(target.name)
        if not pending:
            return
        for g in list(pending):
            d = target.domain(g.key)
            if d is not None:
                n = pending.pop(g)
                g.counts[d] = g.counts.get(d, 0) + n
                g.by_node[(target.name, d)] = g.by_node.get((target.name, d), 0) + n

    # -- deciding -------------------------------------------------------------------------

    def rules(self, namespace: str, labels: Mapping[str, str], sched: Scheduling) -> list[Rule]:
        out: list[Rule] = []
        for c in sched.topology_spread:
            out.append(Rule("spread", self.groups[_spread_key(namespace, c)], c))
        for t in sched.pod_affinity:
            out.append(Rule("affinity", self.groups[_affinity_key(sched, t)]))
        for t in sched.pod_anti_affinity:
            out.append(Rule("anti", self.groups[_term_key(t)]))
        for term, owner in self.owners.items():
            if owner.counts or any(owner in p for p in self.deferred.values()):
                if term.selects(namespace, labels):
                    out.append(Rule("owner-anti", owner))
        return out

    def _usable(self, name: str, c: TopologySpread, sched_reqs: Requirements,
                tolerations: Sequence[Toleration] | None) -> bool:
        """Whether an existing node counts for the pod's spread (kube-scheduler's node
        inclusion policies); claims (new nodes) always count."""
        node = self.nodes.get(name)
        if node is None:
            return True
        labels, taints = node
        if c.node_affinity_policy == HONOR and not sched_reqs.matches_labels(labels):
            return False
        if c.node_taints_policy == HONOR and tolerations is not None:
            for t in taints:
                if t.effect in ("NoSchedule", "NoExecute") and not any(
                        tol.tolerates(t) for tol in tolerations):
                    return False
        return True

    def _spread_counts(self, g: Group, c: TopologySpread, sched_reqs: Requirements,
                       tolerations: Sequence[Toleration] | None) -> tuple[dict[str, int],
                                                                          set[str]]:
        """Pods per domain on the nodes the pod could use, and the domains those nodes and
        new nodes (the universe the pod allows) make up."""
        policy_reqs = sched_reqs if c.node_affinity_policy == HONOR else Requirements()
        req = policy_reqs.get(g.key)
        domains = {d for d in self.universes.get(g.key, ()) if req is None or req.matches(d)}
        filtering = (c.node_affinity_policy == HONOR and len(sched_reqs) > 0) or (
            c.node_taints_policy == HONOR and any(t for _, t in self.nodes.values()))
        if not filtering:
            domains |= {d for d in self.existing_domains.get(g.key, set())
                        if req is None or req.matches(d)}
            return g.counts, domains
        # The existing nodes are fixed for a pass: which ones count is cached per ask.
        key = (g.key, sched_reqs, tuple(tolerations or ()), c.node_affinity_policy,
               c.node_taints_policy, tolerations is None)
        cached = self._usable_cache.get(key)
        if cached is None:
            usable_domains: set[str] = set()
            excluded: list[tuple[str, str]] = []
            for name, (labels, _) in self.nodes.items():
                d = name if g.key == LABEL_HOSTNAME else labels.get(g.key)
                if self._usable(name, c, sched_reqs, tolerations):
                    if d is not None:
                        usable_domains.add(d)
                elif d is not None:
                    excluded.append((name, d))
            cached = self._usable_cache[key] = (frozenset(usable_domains), tuple(excluded))
        usable_domains_f, excluded_t = cached
        domains |= usable_domains_f
        if not excluded_t:
            return g.counts, domains
        counts = dict(g.counts)
        for name, d in excluded_t:
            n = g.by_node.get((name, d), 0)
            if n:
                counts[d] = counts.get(d, 0) - n
        return counts, domains

    def allowed(self, rule: Rule, self_match: bool, sched_reqs: Requirements,
                candidates: Iterable[str],
                tolerations: Sequence[Toleration] | None = None) -> list[str]:
        """The candidate domains the rule allows, best first."""
        g = rule.group
        cands = list(candidates)
        if rule.kind == "spread":
            c = rule.spread
            assert c is not None
            counts = g.counts
            if g.key == LABEL_HOSTNAME:
                floor = 0  # a new node is always a domain with no pods
            else:
                counts, eligible = self._spread_counts(g, c, sched_reqs, tolerations)
                floor = min((counts.get(d, 0) for d in eligible), default=0)
                if c.min_domains is not None and len(eligible) < c.min_domains:
                    floor = 0
            add = 1 if self_match else 0
            ok = [d for d in cands if counts.get(d, 0) + add - floor <= c.max_skew]
            return sorted(ok, key=lambda d: (counts.get(d, 0), d))
        if rule.kind == "affinity":
            present = [d for d in cands if g.counts.get(d, 0) > 0]
            if present:
                return sorted(present, key=lambda d: (-g.counts.get(d, 0), d))
            if self_match and not any(g.counts.values()):
                return sorted(cands)  # the first of a self-affine group opens a domain
            return []
        # anti and owner-anti: domains with none of the picked (or owning) pods
        return sorted(d for d in cands if g.counts.get(d, 0) == 0)

    def fits_node(self, namespace: str, labels: Mapping[str, str], sched: Scheduling,
                  sched_reqs: Requirements, target: Target) -> bool:
        for rule in self.rules(namespace, labels, sched):
            d = target.domain(rule.group.key)
            if d is None:
                if rule.kind in ("anti", "owner-anti"):
                    continue  # no such domain on the node: nothing to collide with
                return False
            self_match = rule.group.picks(namespace, labels)
            if not self.allowed(rule, self_match, sched_reqs, [d], sched.tolerations):
                return False
        return True

    def narrow_claim(self, namespace: str, labels: Mapping[str, str], sched: Scheduling,
                     sched_reqs: Requirements, target: Target) -> Requirements | None:
        """The claim's requirements with the pod's topology rules applied; None: no domain."""
        reqs = target.requirements
        assert reqs is not None
        for rule in self.rules(namespace, labels, sched):
            key = rule.group.key
            self_match = rule.group.picks(namespace, labels)
            if key == LABEL_HOSTNAME:
                if not self.allowed(rule, self_match, sched_reqs, [target.name],
                                    sched.tolerations):
                    return None
                continue
            req = reqs.get(key)
            known = set(self.universes.get(key, ()))
            if not known:
                # A key new nodes do not vary on: only a NodePool label can fix it.
                single = target.domain(key)
                if single is None:
                    if rule.kind in ("anti", "owner-anti"):
                        continue
                    return None
                known = {single}
            cands = [d for d in known if req is None or req.matches(d)]
            ok = self.allowed(rule, self_match, sched_reqs, cands, sched.tolerations)
            if not ok:
                return None
            # Pick one domain so that this pod's count is exact from here on.
            reqs = reqs.intersect(Requirements([Requirement.of(key, IN, [ok[0]])]))
            target = Target(target.name, requirements=reqs)
        return reqs
