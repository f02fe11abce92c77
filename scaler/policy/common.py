"""Shared pieces of the policy kinds: scaler's API group, strict models, field types, errors.

scaler's own kinds (`scaler.dev/v1alpha1`) are strict: an unknown field is an error (a typo
such as `headroomPrecent` must not be silently ignored), numbers are not read from strings,
and every problem is one `UserError` line `file:line: Kind name: field.path: message`.
Karpenter's kinds (NodePool, EC2NodeClass) stay lenient about unknown fields instead, since
Karpenter adds fields over time and an object `kubectl apply` accepts must load unchanged.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

from scaler.core.quantity import QuantityError, parse_quantity
from scaler.errors import UserError
from scaler.policy.fields import describe_value, error_message, fail
from scaler.policy.nodepool import (
    DURATION_PATTERN,
    QUANTITY_SCHEMA,
    FieldPath,
    Locate,
    located_error,
    object_name,
)

SCALER_GROUP = "scaler.dev"
SCALER_VERSION = "v1alpha1"
SCALER_API_VERSION = f"{SCALER_GROUP}/{SCALER_VERSION}"

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DURATION = re.compile(r"([0-9]+(s|m|h))+")
_DURATION_PART = re.compile(r"([0-9]+)(s|m|h)")


class ScalerModel(BaseModel):
    """A part of one of scaler's own kinds: strict types, unknown fields rejected."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=False,
                              allow_inf_nan=False)


# --- field types ---------------------------------------------------------------------------


def ranged(lo: float, hi: float | None, what: str = "value") -> Callable[[float], float]:
    """A check that a number lies in lo..hi (hi None: no upper bound)."""

    def check(v: float) -> float:
        if v < lo or (hi is not None and v > hi):
            upper = f"..{_num(hi)}" if hi is not None else " or more"
            raise fail(f"{what} {_num(v)} out of range (expected {_num(lo)}{upper})")
        return v

    return check


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def _check_quantity(v: str | int) -> str | int:
    if isinstance(v, bool):
        raise fail(f'expected a quantity like "500m" or "2Gi", got {describe_value(v)}')
    try:
        q = parse_quantity(v)
    except QuantityError as e:
        raise fail(e.message) from None
    if q < 0:
        raise fail(f"quantity {v!r} must not be negative")
    return v


def _check_duration(v: str) -> str:
    if not _DURATION.fullmatch(v):
        raise fail(f"invalid duration {v!r} (expected e.g. 168h or 30m)")
    return v


def _check_dns_label(v: str) -> str:
    if len(v) > 63 or not _DNS_LABEL.fullmatch(v):
        raise fail(
            f"invalid name {v!r}: lowercase alphanumeric or '-', starting and ending "
            "alphanumeric, at most 63 characters"
        )
    return v


def duration_seconds(v: str) -> int:
    """`1h30m` -> 5400 (for durations already checked)."""
    return sum(
        int(n) * {"s": 1, "m": 60, "h": 3600}[unit] for n, unit in _DURATION_PART.findall(v)
    )


def parse_duration(text: str) -> int | None:
    """Seconds in a Go-style duration (`90s`, `5m`, `1h30m`); None if it is not one."""
    return duration_seconds(text) if _DURATION.fullmatch(text) else None


def quantity_value(v: str | int) -> float:
    """The number a quantity stands for (cores for cpu, bytes for memory)."""
    return float(parse_quantity(v))


Percent = Annotated[
    float,
    AfterValidator(ranged(0, 100, "percentage")),
    Field(json_schema_extra={"minimum": 0, "maximum": 100}),
]
Quantity = Annotated[
    str | int,
    AfterValidator(_check_quantity),
    Field(json_schema_extra=QUANTITY_SCHEMA),
]
Duration = Annotated[
    str, AfterValidator(_check_duration), Field(json_schema_extra={"pattern": DURATION_PATTERN})
]
DnsLabel = Annotated[
    str,
    AfterValidator(_check_dns_label),
    Field(json_schema_extra={"maxLength": 63, "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"}),
]


class ScalerObjectMeta(BaseModel):
    """Kubernetes object metadata: a name is required; the rest (labels, annotations, and what
    the API server adds when the object is read back from a cluster) is kept as written."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)

    name: DnsLabel = Field(
        description="Name of the object (a lowercase DNS label, at most 63 characters)."
    )
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


# --- errors --------------------------------------------------------------------------------


def field_names(model: type[BaseModel]) -> set[str]:
    """Every field name (as written in YAML) of a model and the models inside it."""
    seen: set[type[BaseModel]] = set()
    names: set[str] = set()

    def visit(m: type[BaseModel]) -> None:
        if m in seen:
            return
        seen.add(m)
        for name, info in m.model_fields.items():
            names.add(info.alias or name)
            for sub in _models_in(info):
                visit(sub)

    visit(model)
    return names


def _models_in(info: FieldInfo) -> Iterator[type[BaseModel]]:
    stack: list[Any] = [info.annotation]
    while stack:
        t = stack.pop()
        if isinstance(t, type) and issubclass(t, BaseModel):
            yield t
        stack.extend(getattr(t, "__args__", ()) or ())


M = TypeVar("M", bound=BaseModel)


def validate_object(
    model: type[M], doc: Mapping[str, Any], *, file: str, locate: Locate | None
) -> M:
    """The pydantic model of one object, or a one-line UserError at its first problem."""
    try:
        return model.model_validate(doc)
    except ValidationError as e:
        first = e.errors(include_url=False)[0]
        path: FieldPath = tuple(first["loc"])
        message = error_message(first)
        if first["type"] == "invalid_key":
            # YAML 1.1 (what kubectl reads) takes a bare on/off/yes/no/true/false as a boolean.
            key = first.get("input")
            shown = "a boolean" if isinstance(key, bool) else describe_value(key)
            message = (
                f"a key is {shown}, not a field name (YAML reads a bare on, off, yes, no, "
                "true or false as a boolean; quote it or use the field's real name)"
            )
            path = path[:-1]
        if first["type"] == "extra_forbidden" and path and isinstance(path[-1], str):
            close = difflib.get_close_matches(path[-1], sorted(field_names(model)), n=1)
            message = f"unknown field {path[-1]!r}" + (
                f" (did you mean {close[0]}?)" if close else ""
            )
        raise located_error(
            message, file=file, obj=object_name(doc), path=path, locate=locate
        ) from None


def field_error(
    message: str, *, file: str, obj: str, path: FieldPath, locate: Locate | None
) -> UserError:
    return located_error(message, file=file, obj=obj, path=path, locate=locate)
