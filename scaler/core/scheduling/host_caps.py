"""Hostname rules as per-node caps, so their pods can be planned by whole-node patterns.

Two rules on `kubernetes.io/hostname` bind only pods on the same node:

- a required topology spread (`DoNotSchedule`) with `maxSkew` k: kube-scheduler lets the pod
  onto a node when the node's matching pods, plus the pod if it matches, minus the fewest
  any domain holds, is at most k. For hostname the fewest is 0: every new node registers
  empty, and the pods of a plan bind in no order we control, so a plan can count on no
  minimum above 0 (Karpenter's `domainMinCount` takes 0 for hostname for the same reason).
  Nor do `minDomains` or the node inclusion policies change anything then: they only decide
  which domains count towards a minimum that is already 0. So a node that holds the pod may
  hold at most k matching pods, the pod included when it matches;
- a required pod anti-affinity term: a node that holds the pod holds no other pod the term
  selects (kube-scheduler checks both ways), so at most 1 when the pod matches its own term,
  else 0.

Kept on every node, such a rule holds whatever order the pods bind in, so every owner
passes kube-scheduler's check. `HostCaps` collects the rules of the pods to plan, names
which rules each pod owns and which count it, and gives the pattern search one `Cap` per
rule family (on a node holding a pod of an owner class, at most `limit` pods of the counted
classes; see `HostCaps`); `NodeCaps` checks the exact rules while pods are seated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scaler.core.model import DO_NOT_SCHEDULE, LABEL_HOSTNAME, Pod, Scheduling
from scaler.core.requirements import Requirements
from scaler.core.scheduling.patterns import Cap


def host_rules_only(s: Scheduling) -> bool:
    """Whether every spread constraint and anti-affinity term of the ask is a hostname rule
    a cap expresses (required spread, required anti-affinity)."""
    return (all(c.topology_key == LABEL_HOSTNAME and c.when_unsatisfiable == DO_NOT_SCHEDULE
                for c in s.topology_spread)
            and all(t.topology_key == LABEL_HOSTNAME for t in s.pod_anti_affinity))


@dataclass(frozen=True, slots=True)
class _Rule:
    namespaces: frozenset[str] | None  # None: every namespace
    selector: Requirements | None  # None: selects no pod
    limit: int

    def picks(self, namespace: str, labels: Mapping[str, str]) -> bool:
        if self.selector is None:
            return False
        if self.namespaces is not None and namespace not in self.namespaces:
            return False
        return self.selector.matches_labels(labels)


def _rules_of(pod: Pod) -> list[_Rule]:
    s = pod.scheduling
    out = [_Rule(frozenset({pod.namespace}), c.selector, c.max_skew) for c in s.topology_spread]
    for t in s.pod_anti_affinity:
        out.append(_Rule(t.namespaces, t.selector, 1 if t.selects(pod.namespace, pod.labels)
                         else 0))
    return out


Signature = tuple[tuple[int, ...], tuple[int, ...]]  # rules owned, rules counting the pod


class HostCaps:
    """The hostname rules of the pods to plan, and each pod's part in them.

    Whole-node planning sees rules in *families*: rules (with a limit above 0) that one pod
    both owns or is counted by are merged, and pods are told apart by family, not by rule:
    a selector drawn independently of the owners' own labels (Karpenter's benchmark) would
    otherwise give nearly every owner a class of its own. The patterns keep a family's
    estimated cap (each rule's limit once per rule); the seating keeps the exact rules,
    choosing which pods of a class go to which node. Self-selecting workloads (the usual
    case) have one rule per family, and there the cap is exact.
    """

    def __init__(self, pods: Sequence[Pod]) -> None:
        index: dict[_Rule, int] = {}
        owned: dict[int, tuple[int, ...]] = {}
        for pod in pods:
            rules = _rules_of(pod)
            if rules:
                owned[id(pod)] = tuple(sorted({index.setdefault(r, len(index))
                                               for r in rules}))
        self.rules = list(index)
        self._owned = owned
        self._counting: dict[tuple[str, frozenset[tuple[str, str]]], tuple[int, ...]] = {}
        self._exact: dict[int, Signature] = {}  # by pod id: the pods outlive this object
        # Families: union-find over the rules a pod touches.
        parent = list(range(len(self.rules)))

        def root(r: int) -> int:
            while parent[r] != r:
                parent[r] = parent[parent[r]]
                r = parent[r]
            return r

        for pod in pods:
            touched = [r for r in {*self._owned.get(id(pod), ()), *self.exact(pod)[1]}
                       if self.rules[r].limit > 0]
            for r in touched[1:]:
                parent[root(r)] = root(touched[0])
        roots = sorted({root(r) for r in range(len(self.rules))})
        number = {r: f for f, r in enumerate(roots)}
        self._family = [number[root(r)] for r in range(len(self.rules))]
        # A family's cap for planning: each rule's limit once per rule. It is an estimate
        # (a node may hold k pods each rule counts), not a guarantee: seating checks the
        # exact rules (`NodeCaps`) and picks the pods of a class that keep them.
        self._limit = [min(self.rules[r].limit for r in members) * len(members)
                       for members in ([r for r in range(len(self.rules))
                                        if self._family[r] == f] for f in range(len(roots)))]

    def __bool__(self) -> bool:
        return bool(self.rules)

    def exact(self, pod: Pod) -> Signature:
        """The rules the pod owns, and the rules that count it."""
        hit = self._exact.get(id(pod))
        if hit is None:
            key = (pod.namespace, frozenset(pod.labels.items()))
            counting = self._counting.get(key)
            if counting is None:
                counting = self._counting[key] = tuple(
                    i for i, r in enumerate(self.rules) if r.picks(pod.namespace, pod.labels))
            hit = self._exact[id(pod)] = (self._owned.get(id(pod), ()), counting)
        return hit

    def signature(self, pod: Pod) -> Signature:
        """The families the pod owns a rule of, and those with a rule that counts it."""
        owns, counts = self.exact(pod)
        return (tuple(sorted({self._family[r] for r in owns})),
                tuple(sorted({self._family[r] for r in counts})))

    def involved(self, pod: Pod) -> bool:
        """Whether some cap binds the pod (it owns a rule, or a rule counts it)."""
        owns, counted = self.exact(pod)
        return bool(owns or counted)

    def caps(self, members: Sequence[Sequence[Pod]]) -> list[Cap]:
        """One cap per family over the classes (pods of a class share a signature)."""
        owners: list[set[int]] = [set() for _ in self._limit]
        counted: list[set[int]] = [set() for _ in self._limit]
        for k, group in enumerate(members):
            if not group:
                continue
            owns, counts = self.signature(group[0])
            for f in owns:
                owners[f].add(k)
            for f in counts:
                counted[f].add(k)
        return [Cap(frozenset(o), frozenset(c), limit)
                for limit, o, c in zip(self._limit, owners, counted, strict=True) if o]


class NodeCaps:
    """The caps checked while pods are seated on nodes one at a time."""

    def __init__(self, host: HostCaps) -> None:
        self.host = host
        self._limit = [r.limit for r in host.rules]
        # per node (claim object id): matching pods per rule, and the rules an owner there set
        self._used: dict[int, list[int]] = {}
        self._active: dict[int, set[int]] = {}

    def admits(self, node: object, pod: Pod) -> bool:
        owns, counted = self.host.exact(pod)
        if not owns and not counted:
            return True
        used = self._used.get(id(node))
        active = self._active.get(id(node), set())
        for r in {*owns, *counted}:
            if r not in active and r not in owns:
                continue
            after = (used[r] if used is not None else 0) + (1 if r in counted else 0)
            if after > self._limit[r]:
                return False
        return True

    def fresh(self) -> tuple[list[int], set[int]]:
        """The state of an empty node, for `admit`."""
        return [0] * len(self._limit), set()

    def admit(self, state: tuple[list[int], set[int]], pod: Pod) -> bool:
        """Add the pod to a node's state when the exact rules allow it; whether they did."""
        used, active = state
        owns, counted = self.host.exact(pod)
        for r in {*owns, *counted}:
            if (r in active or r in owns) and used[r] + (r in counted) > self._limit[r]:
                return False
        for r in counted:
            used[r] += 1
        active.update(owns)
        return True

    def admits_all(self, pods: Sequence[Pod]) -> bool:
        """Whether the pods may share one new node."""
        used = [0] * len(self._limit)
        active: set[int] = set()
        touched: set[int] = set()
        for pod in pods:
            owns, counted = self.host.exact(pod)
            for r in counted:
                used[r] += 1
            active.update(owns)
            touched.update(counted)
        return all(used[r] <= self._limit[r] for r in active & touched)

    def add(self, node: object, pod: Pod) -> None:
        owns, counted = self.host.exact(pod)
        if counted:
            used = self._used.setdefault(id(node), [0] * len(self._limit))
            for r in counted:
                used[r] += 1
        if owns:
            self._active.setdefault(id(node), set()).update(owns)
