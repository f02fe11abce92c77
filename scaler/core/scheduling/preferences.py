"""Soft constraints, tried as hard ones first and then relaxed one at a time.

The order is Karpenter's: preferred pod affinity terms (heaviest first), preferred pod
anti-affinity terms, preferred node affinity terms, ScheduleAnyway spread constraints, and
last the PreferNoSchedule taints the pod does not tolerate. Each step of the ladder is a
`Scheduling` with only required parts, so the scheduler needs no notion of "preferred".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from scaler.core.model import (
    DO_NOT_SCHEDULE,
    NodeSelectorTerm,
    PodAffinityTerm,
    Scheduling,
    TopologySpread,
)
from scaler.core.requirements import Requirements


@dataclass(frozen=True, slots=True)
class Attempt:
    sched: Scheduling  # preferences still in force appear as requirements
    avoid_prefer_no_schedule: bool  # PreferNoSchedule taints still count as NoSchedule
    relaxed: tuple[str, ...] = ()  # what has been given up, for explanations


WeightedTerm = tuple[int, NodeSelectorTerm]


def _required(sched: Scheduling, pref_node: list[WeightedTerm], pref_aff: list[PodAffinityTerm],
              pref_anti: list[PodAffinityTerm], anyway: list[TopologySpread]) -> Scheduling:
    terms = sched.affinity_terms
    if pref_node:
        heaviest = pref_node[0][1]
        base = terms or (NodeSelectorTerm(Requirements()),)
        terms = tuple(
            NodeSelectorTerm(
                t.requirements.intersect(heaviest.requirements),
                t.node_names if heaviest.node_names is None else (
                    heaviest.node_names if t.node_names is None
                    else t.node_names & heaviest.node_names),
            )
            for t in base
        )
    hard = [c for c in sched.topology_spread if c.when_unsatisfiable == DO_NOT_SCHEDULE]
    strict = [dataclasses.replace(c, when_unsatisfiable=DO_NOT_SCHEDULE) for c in anyway]
    return Scheduling(
        node_selector=sched.node_selector,
        affinity_terms=terms,
        tolerations=sched.tolerations,
        topology_spread=tuple(hard + strict),
        pod_affinity=sched.pod_affinity + tuple(pref_aff),
        pod_anti_affinity=sched.pod_anti_affinity + tuple(pref_anti),
        host_ports=sched.host_ports,
    )


def ladder(sched: Scheduling, prefer_taints_exist: bool) -> tuple[Attempt, ...]:
    """The attempts for a pod, strictest first; the last has only its hard constraints."""
    pref_aff = sorted(sched.preferred_pod_affinity, key=lambda t: -t.weight)
    pref_anti = sorted(sched.preferred_pod_anti_affinity, key=lambda t: -t.weight)
    pref_node = sorted(sched.preferred_terms, key=lambda wt: -wt[0])
    anyway = [c for c in sched.topology_spread if c.when_unsatisfiable != DO_NOT_SCHEDULE]
    avoid = prefer_taints_exist
    relaxed: list[str] = []
    out = [Attempt(_required(sched, pref_node, pref_aff, pref_anti, anyway), avoid, ())]

    def relax(items: list[PodAffinityTerm] | list[WeightedTerm] | list[TopologySpread],
              what: str) -> None:
        while items:
            items.pop(0)
            relaxed.append(what)
            out.append(Attempt(_required(sched, pref_node, pref_aff, pref_anti, anyway), avoid,
                               tuple(relaxed)))

    relax(pref_aff, "preferred pod affinity")
    relax(pref_anti, "preferred pod anti-affinity")
    relax(pref_node, "preferred node affinity")
    relax(anyway, "ScheduleAnyway topology spread")
    if avoid:
        relaxed.append("PreferNoSchedule taints")
        out.append(Attempt(out[-1].sched, False, tuple(relaxed)))
    return tuple(out)
