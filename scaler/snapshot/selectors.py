"""Node selector terms and label selectors, read into the core's `Requirements`.

Node selector requirements (node affinity, a PersistentVolume's node affinity) take
In, NotIn, Exists, DoesNotExist, Gt and Lt. Label selectors (which pods a spread
constraint or an affinity term counts, which namespaces a namespaceSelector picks) take
`matchLabels`, read as `key In [value]`, and matchExpressions with In, NotIn, Exists and
DoesNotExist. The two differ on a null selector: a null label selector selects nothing
(`None` here), an empty one (`{}`) selects everything (empty `Requirements`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from scaler.core.model import NodeSelectorTerm
from scaler.core.requirements import (
    DOES_NOT_EXIST,
    EXISTS,
    IN,
    NOT_IN,
    OPERATORS,
    Requirement,
    Requirements,
)
from scaler.snapshot.fields import Fields, join

NODE_NAME_FIELD: Final = "metadata.name"
LABEL_SELECTOR_OPERATORS: Final = (IN, NOT_IN, EXISTS, DOES_NOT_EXIST)


def requirement(
    f: Fields, expr: Mapping[str, Any], path: str, operators: tuple[str, ...] = OPERATORS
) -> Requirement:
    """A selector requirement: key, operator (In, NotIn, Exists, ...) and values."""
    key = f.required_string(expr.get("key"), join(path, "key"))
    operator = f.required_string(expr.get("operator"), join(path, "operator"))
    if operator not in operators:
        raise f.error(
            join(path, "operator"),
            f"unknown operator {operator!r}; expected one of {', '.join(operators)}",
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


def node_selector_term(f: Fields, term: Mapping[str, Any], path: str) -> NodeSelectorTerm:
    """One node-affinity term: matchExpressions, and matchFields on the node name."""
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


def label_selector(f: Fields, value: object, path: str) -> Requirements | None:
    """A LabelSelector; None when it is null or missing (it selects nothing)."""
    if value is None:
        return None
    selector = f.mapping(value, path)
    labels = f.labels(selector.get("matchLabels"), join(path, "matchLabels"))
    reqs = [Requirement.of(key, IN, [val]) for key, val in labels.items()]
    reqs.extend(
        requirement(f, expr, p, LABEL_SELECTOR_OPERATORS)
        for p, expr in f.mappings(selector.get("matchExpressions"), join(path, "matchExpressions"))
    )
    return Requirements(reqs)
