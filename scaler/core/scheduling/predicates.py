"""Predicates shared by the scheduler and its explanations: taints and node requirements."""

from __future__ import annotations

from collections.abc import Sequence

from scaler.core.model import (
    LABEL_HOSTNAME,
    NO_EXECUTE,
    NO_SCHEDULE,
    PREFER_NO_SCHEDULE,
    NodeSelectorTerm,
    Taint,
    Toleration,
    is_well_known,
)
from scaler.core.requirements import Requirement, Requirements


def untolerated(
    tolerations: Sequence[Toleration], taints: Sequence[Taint], avoid_prefer: bool = False
) -> list[Taint]:
    """Taints that keep the pod off the node.

    PreferNoSchedule is only a preference; with `avoid_prefer` it is kept as a hard one (the
    first attempts of preference relaxation, as Karpenter does).
    """
    hard = (NO_SCHEDULE, NO_EXECUTE, PREFER_NO_SCHEDULE) if avoid_prefer else (
        NO_SCHEDULE, NO_EXECUTE)
    return [
        t for t in taints if t.effect in hard and not any(x.tolerates(t) for x in tolerations)
    ]


def narrow(base: Requirements, term: NodeSelectorTerm) -> Requirements | None:
    """The claim's requirements once it also satisfies `term`; None when impossible.

    A new node carries the NodePool's labels and the well-known labels of whatever type it
    becomes. A custom label the NodePool does not set will be absent; the hostname exists
    but cannot be known in advance.
    """
    if term.node_names is not None:
        return None  # matchFields metadata.name names existing nodes only
    extra: list[Requirement] = []
    for key, req in term.requirements.items():
        current = base.get(key)
        if current is not None:
            merged = current.intersect(req)
            if merged.is_empty():
                return None
            if merged != current:
                extra.append(merged)
        elif key == LABEL_HOSTNAME:
            if not req.complement or req.gt is not None or req.lt is not None:
                return None
        elif is_well_known(key):
            extra.append(req)
        elif not req.matches(None):
            return None
    return base.intersect(Requirements(extra)) if extra else base
