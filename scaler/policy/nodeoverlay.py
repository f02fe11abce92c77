"""Karpenter's `karpenter.sh/v1alpha1` NodeOverlay: checked as its CRD does, acted on by the
simulation (`scaler.core.overlays`).

Fields follow `pkg/apis/v1alpha1/nodeoverlay.go` in kubernetes-sigs/karpenter: `requirements`
select instance types and offerings, `price` (a decimal, USD per hour) or `priceAdjustment`
(`+10%`, `-5%`, `+0.1`, `-0.05`) but not both, `capacity` adds extended resources (cpu,
memory, ephemeral-storage and pods are refused, as Karpenter refuses them), `weight` orders
overlays that select the same thing (higher first).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation

from pydantic import BaseModel, ConfigDict, Field

from scaler.core.overlays import Overlay
from scaler.core.quantity import QuantityError, parse_quantity, to_int
from scaler.core.requirements import Requirements
from scaler.policy.common import Quantity
from scaler.policy.nodepool import (
    FieldPath,
    NodeSelectorRequirementWithMinValues,
    ObjectMeta,
    PolicyFieldError,
    requirement_of,
)

API_GROUP = "karpenter.sh"
API_VERSION = "karpenter.sh/v1alpha1"
KIND = "NodeOverlay"
WEIGHT_RANGE = (1, 10000)
BASE_RESOURCES = ("cpu", "memory", "ephemeral-storage", "pods")
_ADJUSTMENT = re.compile(r"^[+-](\d+(\.\d+)?|\.\d+)%?$")
_PRICE = re.compile(r"^\d+(\.\d+)?$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class NodeOverlaySpec(_Model):
    requirements: list[NodeSelectorRequirementWithMinValues] | None = None
    price: str | None = Field(default=None, json_schema_extra={"pattern": _PRICE.pattern})
    price_adjustment: str | None = Field(
        default=None, alias="priceAdjustment", json_schema_extra={"pattern": _ADJUSTMENT.pattern}
    )
    capacity: dict[str, Quantity] | None = None
    weight: int | None = Field(
        default=None, json_schema_extra={"minimum": WEIGHT_RANGE[0], "maximum": WEIGHT_RANGE[1]}
    )


class NodeOverlay(_Model):
    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: ObjectMeta
    spec: NodeOverlaySpec

    @property
    def name(self) -> str:
        return self.metadata.name


def semantic_errors(o: NodeOverlay) -> Iterator[PolicyFieldError]:
    spec = o.spec
    if spec.price is not None and spec.price_adjustment is not None:
        yield PolicyFieldError(("spec", "priceAdjustment"),
                               "set price or priceAdjustment, not both")
    if spec.price is not None and not _PRICE.fullmatch(spec.price):
        yield PolicyFieldError(("spec", "price"),
                               f"invalid price {spec.price!r} (expected a decimal like \"0.25\")")
    if spec.price_adjustment is not None and not _ADJUSTMENT.fullmatch(spec.price_adjustment):
        yield PolicyFieldError(("spec", "priceAdjustment"),
                               f"invalid priceAdjustment {spec.price_adjustment!r} (expected "
                               "+10%, -5%, +0.1 or -0.05)")
    lo, hi = WEIGHT_RANGE
    if spec.weight is not None and not lo <= spec.weight <= hi:
        yield PolicyFieldError(("spec", "weight"), f"weight {spec.weight} out of range "
                               f"(expected {lo}..{hi})")
    for name, value in (spec.capacity or {}).items():
        path: FieldPath = ("spec", "capacity", name)
        if name in BASE_RESOURCES:
            yield PolicyFieldError(path, f"{name} cannot be overlaid (only extended resources "
                                   "such as nvidia.com/gpu)")
            continue
        try:
            amount = parse_quantity(value)
        except QuantityError as e:
            yield PolicyFieldError(path, e.message)
            continue
        if amount < 0 or amount.denominator != 1:
            yield PolicyFieldError(path, f"expected a whole non-negative count, got {value!r}")
    for i, r in enumerate(spec.requirements or ()):
        try:
            requirement_of(r)
        except ValueError as e:
            yield PolicyFieldError(("spec", "requirements", i), str(e))
    if spec.price is None and spec.price_adjustment is None and not spec.capacity:
        yield PolicyFieldError(("spec",), "sets nothing (give price, priceAdjustment or "
                               "capacity)")


def to_overlay(o: NodeOverlay) -> Overlay:
    spec = o.spec
    reqs = Requirements(requirement_of(r) for r in spec.requirements or ())
    adjustment: float | None = None
    percent = False
    if spec.price_adjustment is not None:
        text = spec.price_adjustment
        percent = text.endswith("%")
        try:
            adjustment = float(Decimal(text.rstrip("%")))
        except InvalidOperation:  # unreachable after semantic_errors
            adjustment = None
    return Overlay(
        name=o.name,
        requirements=reqs,
        weight=spec.weight or 0,
        price=float(Decimal(spec.price)) if spec.price is not None else None,
        adjustment=adjustment,
        adjustment_percent=percent,
        capacity={k: to_int(parse_quantity(v)) for k, v in (spec.capacity or {}).items()},
    )
