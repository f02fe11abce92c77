"""The requirement algebra: Kubernetes node-selector semantics, intersection as set intersection."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scaler.core.requirements import Requirement, Requirements

VALUES = ["1", "2", "5", "10", "a", "b"]
OPS = ["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]


@st.composite
def requirements(draw: st.DrawFn) -> Requirement:
    op = draw(st.sampled_from(OPS))
    if op in ("Gt", "Lt"):
        return Requirement.of("k", op, [str(draw(st.integers(-2, 12)))])
    if op in ("In", "NotIn"):
        return Requirement.of("k", op, draw(st.lists(st.sampled_from(VALUES), max_size=3)))
    return Requirement.of("k", op)


LABELS = [None, *VALUES, "-3", "11", "x"]


@pytest.mark.parametrize(
    ("op", "values", "label", "expected"),
    [
        ("In", ["a", "b"], "a", True),
        ("In", ["a", "b"], "c", False),
        ("In", ["a"], None, False),
        ("NotIn", ["a"], "a", False),
        ("NotIn", ["a"], "b", True),
        ("NotIn", ["a"], None, True),  # Kubernetes: NotIn matches nodes without the label
        ("Exists", [], "anything", True),
        ("Exists", [], None, False),
        ("DoesNotExist", [], None, True),
        ("DoesNotExist", [], "x", False),
        ("Gt", ["4"], "5", True),
        ("Gt", ["4"], "4", False),
        ("Gt", ["4"], "abc", False),
        ("Gt", ["4"], None, False),
        ("Lt", ["4"], "3", True),
        ("Lt", ["4"], "4", False),
    ],
)
def test_matches_follows_kubernetes(op: str, values: list[str], label: str | None,
                                    expected: bool) -> None:
    assert Requirement.of("k", op, values).matches(label) is expected


@given(requirements(), requirements())
def test_intersection_is_set_intersection(a: Requirement, b: Requirement) -> None:
    both = a.intersect(b)
    for label in LABELS:
        assert both.matches(label) == (a.matches(label) and b.matches(label))


@given(requirements(), requirements())
def test_empty_means_nothing_matches(a: Requirement, b: Requirement) -> None:
    both = a.intersect(b)
    if both.is_empty():
        assert not any(both.matches(label) for label in LABELS)
    # Finite probes cannot prove non-emptiness for open sets; check the closed ones.
    if not both.complement and not both.is_empty():
        assert any(both.matches(label) for label in [None, *sorted(both.values)])


@given(requirements(), requirements())
def test_intersection_commutes(a: Requirement, b: Requirement) -> None:
    for label in LABELS:
        assert a.intersect(b).matches(label) == b.intersect(a).matches(label)


def test_gt_and_lt_with_no_integer_between_is_empty() -> None:
    assert Requirement.of("k", "Gt", ["3"]).intersect(Requirement.of("k", "Lt", ["4"])).is_empty()
    assert not Requirement.of("k", "Gt", ["3"]).intersect(
        Requirement.of("k", "Lt", ["5"])).is_empty()


def test_bad_operator_and_bad_bound_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown operator"):
        Requirement.of("k", "Inn", ["a"])
    with pytest.raises(ValueError, match="integer"):
        Requirement.of("k", "Gt", ["x"])


def test_requirements_and_keys_and_match_labels() -> None:
    reqs = Requirements(
        [Requirement.of("arch", "In", ["arm64", "amd64"]), Requirement.of("arch", "In", ["arm64"]),
         Requirement.of("team", "NotIn", ["x"])]
    )
    assert reqs["arch"].values == frozenset({"arm64"})
    assert reqs.matches_labels({"arch": "arm64"})
    assert not reqs.matches_labels({"arch": "amd64"})
    conflict = reqs.conflict_with_labels({"arch": "arm64", "team": "x"})
    assert conflict is not None and conflict.key == "team"


def test_requirements_are_values() -> None:
    a = Requirements([Requirement.of("k", "In", ["1"])])
    b = Requirements([Requirement.of("k", "In", ["1"])])
    assert a == b and hash(a) == hash(b)
    assert {a: 1}[b] == 1
