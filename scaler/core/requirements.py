"""Label requirements as sets of allowed values, with intersection.

A requirement on one label key describes which values a node's label may take, and
whether the label may be absent. Kubernetes' node-selector operators map to:

    In V          values V, label must be present
    NotIn V       anything but V, absent allowed (Kubernetes matches nodes without the label)
    Exists        anything, must be present
    DoesNotExist  only absent
    Gt n / Lt n   integer values beyond the bound, must be present

Intersection is set intersection, so "compatible" simply means "the intersection is not
empty". This is the same algebra as Karpenter's `scheduling.Requirements`, written so that
the absent case needs no special rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

IN = "In"
NOT_IN = "NotIn"
EXISTS = "Exists"
DOES_NOT_EXIST = "DoesNotExist"
GT = "Gt"
LT = "Lt"
OPERATORS = (IN, NOT_IN, EXISTS, DOES_NOT_EXIST, GT, LT)


def _int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def _tighter(a: int | None, b: int | None, pick: Callable[[int, int], int]) -> int | None:
    if a is None:
        return b
    return a if b is None else pick(a, b)


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    complement: bool  # True: every value except `values`
    values: frozenset[str]
    absent_ok: bool  # the label may be missing
    gt: int | None = None
    lt: int | None = None
    min_values: int | None = None

    @staticmethod
    def of(
        key: str,
        operator: str,
        values: Iterable[str] = (),
        min_values: int | None = None,
    ) -> Requirement:
        vals = frozenset(str(v) for v in values)
        if operator == IN:
            return Requirement(key, False, vals, False, min_values=min_values)
        if operator == NOT_IN:
            return Requirement(key, True, vals, True, min_values=min_values)
        if operator == EXISTS:
            return Requirement(key, True, frozenset(), False, min_values=min_values)
        if operator == DOES_NOT_EXIST:
            return Requirement(key, False, frozenset(), True, min_values=min_values)
        if operator in (GT, LT):
            if len(vals) != 1 or _int(next(iter(vals))) is None:
                raise ValueError(f"operator {operator} needs exactly one integer value")
            bound = int(next(iter(vals)))
            if operator == GT:
                return Requirement(key, True, frozenset(), False, gt=bound, min_values=min_values)
            return Requirement(key, True, frozenset(), False, lt=bound, min_values=min_values)
        raise ValueError(f"unknown operator {operator!r}; expected one of {', '.join(OPERATORS)}")

    @staticmethod
    def anything(key: str) -> Requirement:
        """No constraint at all: any value, or no label."""
        return Requirement(key, True, frozenset(), True)

    def _in_bounds(self, value: str) -> bool:
        if self.gt is None and self.lt is None:
            return True
        n = _int(value)
        if n is None:
            return False
        if self.gt is not None and n <= self.gt:
            return False
        return not (self.lt is not None and n >= self.lt)

    def matches(self, value: str | None) -> bool:
        """Does a node whose label is `value` (None: absent) satisfy this requirement?"""
        if value is None:
            return self.absent_ok
        if self.complement:
            return value not in self.values and self._in_bounds(value)
        return value in self.values and self._in_bounds(value)

    def is_empty(self) -> bool:
        """No node can satisfy it."""
        if self.absent_ok:
            return False
        if not self.complement:
            return not self.values
        if self.gt is not None and self.lt is not None:
            return self.gt + 1 >= self.lt
        return False

    def intersect(self, other: Requirement) -> Requirement:
        gt = _tighter(self.gt, other.gt, max)
        lt = _tighter(self.lt, other.lt, min)
        if self.complement and other.complement:
            complement, values = True, self.values | other.values
        elif self.complement:
            complement, values = False, other.values - self.values
        elif other.complement:
            complement, values = False, self.values - other.values
        else:
            complement, values = False, self.values & other.values
        mv = [m for m in (self.min_values, other.min_values) if m is not None]
        result = Requirement(
            self.key,
            complement,
            values,
            self.absent_ok and other.absent_ok,
            gt,
            lt,
            max(mv) if mv else None,
        )
        if not complement and (gt is not None or lt is not None):
            # A finite set absorbs its bounds.
            result = Requirement(
                self.key,
                False,
                frozenset(v for v in values if result._in_bounds(v)),
                result.absent_ok,
                min_values=result.min_values,
            )
        return result

    def describe(self) -> str:
        """Human form, as a user would write it."""
        if not self.complement:
            if not self.values:
                return f"{self.key} DoesNotExist" if self.absent_ok else f"{self.key} In []"
            vals = ", ".join(sorted(self.values))
            suffix = " (or absent)" if self.absent_ok else ""
            return f"{self.key} In [{vals}]{suffix}"
        parts = []
        if self.values:
            parts.append(f"NotIn [{', '.join(sorted(self.values))}]")
        if self.gt is not None:
            parts.append(f"Gt {self.gt}")
        if self.lt is not None:
            parts.append(f"Lt {self.lt}")
        if not parts:
            return f"{self.key} Exists" if not self.absent_ok else f"{self.key} (any)"
        return f"{self.key} " + " ".join(parts)


class Requirements(Mapping[str, Requirement]):
    """Requirements on several keys, ANDed. Immutable; `intersect` returns a new one."""

    __slots__ = ("_reqs", "_hash")

    def __init__(self, reqs: Iterable[Requirement] = ()) -> None:
        merged: dict[str, Requirement] = {}
        for r in reqs:
            prev = merged.get(r.key)
            merged[r.key] = r if prev is None else prev.intersect(r)
        self._reqs = merged
        self._hash: int | None = None

    @staticmethod
    def from_labels(labels: Mapping[str, str]) -> Requirements:
        return Requirements(Requirement.of(k, IN, [v]) for k, v in labels.items())

    def __getitem__(self, key: str) -> Requirement:
        return self._reqs[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._reqs)

    def __len__(self) -> int:
        return len(self._reqs)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._reqs.values()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Requirements) and self._reqs == other._reqs

    def __repr__(self) -> str:
        return "Requirements(" + "; ".join(r.describe() for r in self._reqs.values()) + ")"

    def intersect(self, other: Requirements) -> Requirements:
        if not other._reqs:
            return self
        if not self._reqs:
            return other
        merged = dict(self._reqs)
        for key, req in other._reqs.items():
            prev = merged.get(key)
            merged[key] = req if prev is None else prev.intersect(req)
        out = Requirements()
        out._reqs = merged
        return out

    def first_empty(self) -> Requirement | None:
        for r in self._reqs.values():
            if r.is_empty():
                return r
        return None

    def matches_labels(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels.get(k)) for k, r in self._reqs.items())

    def conflict_with_labels(self, labels: Mapping[str, str]) -> Requirement | None:
        for k, r in self._reqs.items():
            if not r.matches(labels.get(k)):
                return r
        return None
