"""Karpenter `karpenter.sh/v1` NodePool objects, accepted as written, and their conversion.

The pydantic models below follow the field names of Karpenter's Go types
(`pkg/apis/v1/nodepool.go`, `nodeclaim.go` in kubernetes-sigs/karpenter) and the checks its
CRD and webhook make (operators, `In` needs values, `Gt`/`Lt` need one integer, weight 1..100,
duration and budget patterns). Fields we do not model are kept (`extra="allow"`): Karpenter
adds fields over time and a NodePool that `kubectl apply` accepts must load here unchanged.

`parse_node_pool` validates one object and converts it to the core `NodePool`; every problem
becomes a one-line `UserError` naming file (and line), object and field path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from scaler.core.disruption.budgets import ScheduleError, parse_budgets
from scaler.core.model import (
    LABEL_ARCH,
    LABEL_INSTANCE_TYPE,
    LABEL_NODEPOOL,
    LABEL_OS,
    LABEL_REGION,
    LABEL_ZONE,
    TAINT_EFFECTS,
    NodePool,
    Taint,
)
from scaler.core.quantity import QuantityError
from scaler.core.requirements import GT, IN, LT, OPERATORS, Requirement, Requirements
from scaler.core.resources import Resources
from scaler.errors import UserError
from scaler.policy.fields import describe_value, error_message, fail, one_of

API_VERSION = "karpenter.sh/v1"
API_GROUP = "karpenter.sh"
KIND = "NodePool"

# Karpenter's own operators: Kubernetes' six plus Gte/Lte (added to the v1 CRD upstream).
GTE = "Gte"
LTE = "Lte"
NODEPOOL_OPERATORS = (*OPERATORS, GTE, LTE)
INTEGER_OPERATORS = (GT, LT, GTE, LTE)
CONSOLIDATION_POLICIES = ("WhenEmpty", "WhenEmptyOrUnderutilized", "Balanced")
BALANCED = "Balanced"
# Karpenter v1.14: `consolidationThreshold` (k) is an integer 1..3, only with Balanced.
CONSOLIDATION_THRESHOLD_RANGE = (1, 3)
# `spec.limits.nodes`: a count of nodes, not a resource of one node.
LIMIT_NODES = "nodes"
BUDGET_REASONS = ("Underutilized", "Empty", "Drifted")
WEIGHT_RANGE = (1, 100)
MIN_VALUES_RANGE = (1, 50)
MAX_REQUIREMENTS = 100

# Deprecated label keys Karpenter rewrites to the stable ones (v1.NormalizedLabels).
NORMALIZED_LABELS: Mapping[str, str] = {
    "failure-domain.beta.kubernetes.io/zone": LABEL_ZONE,
    "failure-domain.beta.kubernetes.io/region": LABEL_REGION,
    "beta.kubernetes.io/arch": LABEL_ARCH,
    "beta.kubernetes.io/os": LABEL_OS,
    "beta.kubernetes.io/instance-type": LABEL_INSTANCE_TYPE,
}

FieldPath = tuple[str | int, ...]
# Maps a field path inside one object to its 1-based line in the file, when known.
Locate = Callable[[FieldPath], int | None]


# --- field checks -------------------------------------------------------------------------


_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = re.compile(rf"{_DNS_LABEL}(\.{_DNS_LABEL})*")
_NAME_PART = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_DURATION = re.compile(r"([0-9]+(s|m|h))+")
_BUDGET_DURATION = re.compile(r"(([0-9]+(h|m))|([0-9]+h[0-9]+m))(0s)?")
_BUDGET_NODES = re.compile(r"(100|[0-9]{1,2})%|[0-9]+")
_BUDGET_SCHEDULE = re.compile(
    r"@(annually|yearly|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+.*"
)
_UNSIGNED = re.compile(r"[0-9]+")
# The same checks, as JSON Schema patterns (anchored) for the generated schemas.
DURATION_PATTERN = r"^([0-9]+(s|m|h))+$"
DURATION_OR_NEVER_PATTERN = r"^(([0-9]+(s|m|h))+|Never)$"
# A Kubernetes quantity: a string (`"4000Gi"`) or a plain number, as the API server takes it.
QUANTITY_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "integer"}, {"type": "string"}],
    "x-kubernetes-int-or-string": True,
}


def _qualified_name_problem(key: str) -> str | None:
    """Kubernetes' IsQualifiedName: `[prefix/]name`, as label keys and taint keys must be."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return "prefix must be a lowercase DNS subdomain"
    if not name:
        return "name part must not be empty"
    if len(name) > 63:
        return "name part must be at most 63 characters"
    if not _NAME_PART.fullmatch(name):
        return "name part must be alphanumeric, '-', '_' or '.', starting and ending alphanumeric"
    return None


def _label_value_problem(value: str) -> str | None:
    if len(value) > 63:
        return "must be at most 63 characters"
    if not _LABEL_VALUE.fullmatch(value):
        return "must be empty or alphanumeric, '-', '_' or '.', starting and ending alphanumeric"
    return None


def _check_label_key(key: str) -> str:
    problem = _qualified_name_problem(key)
    if problem:
        raise fail(f"invalid label key {key!r}: {problem}")
    if key == LABEL_NODEPOOL:
        raise fail(f"label key {key!r} is restricted: it is set from metadata.name")
    return key


def _check_label_value(value: str) -> str:
    problem = _label_value_problem(value)
    if problem:
        raise fail(f"invalid label value {value!r}: {problem}")
    return value


def _check_taint_key(key: str) -> str:
    problem = _qualified_name_problem(key)
    if problem:
        raise fail(f"invalid taint key {key!r}: {problem}")
    return key


def _duration_checker(
    pattern: re.Pattern[str], allow_never: bool, example: str
) -> Callable[[str], str]:
    def check(value: str) -> str:
        if (allow_never and value == "Never") or pattern.fullmatch(value):
            return value
        never = " or Never" if allow_never else ""
        raise fail(f"invalid duration {value!r} (expected e.g. {example}{never})")

    return check


LabelKey = Annotated[str, AfterValidator(_check_label_key)]
LabelValue = Annotated[str, AfterValidator(_check_label_value)]
TaintKey = Annotated[str, AfterValidator(_check_taint_key)]
NillableDuration = Annotated[str, AfterValidator(_duration_checker(_DURATION, True, "720h"))]
Duration = Annotated[str, AfterValidator(_duration_checker(_DURATION, False, "48h"))]
BudgetDuration = Annotated[
    str, AfterValidator(_duration_checker(_BUDGET_DURATION, False, "8h or 1h30m"))
]


# --- the object, as Karpenter defines it ---------------------------------------------------


class _Model(BaseModel):
    # strict: no silent str<->int coercion; the Kubernetes API server rejects those too.
    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)


class ObjectMeta(_Model):
    name: str = Field(
        json_schema_extra={"maxLength": 63, "pattern": rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*$"}
    )
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        # The name becomes the value of the karpenter.sh/nodepool label: a DNS subdomain
        # that is also a valid label value.
        if not v:
            raise fail("must not be empty")
        if len(v) > 63 or not _DNS_SUBDOMAIN.fullmatch(v):
            raise fail(
                f"invalid NodePool name {v!r}: lowercase alphanumeric, '-' or '.', "
                "at most 63 characters"
            )
        return v


class TemplateMetadata(_Model):
    labels: dict[LabelKey, LabelValue] | None = None
    annotations: dict[str, str] | None = None


class NodeSelectorRequirementWithMinValues(_Model):
    key: LabelKey
    operator: str = Field(json_schema_extra={"enum": list(NODEPOOL_OPERATORS)})
    values: list[LabelValue] | None = Field(default=None, validate_default=True)
    min_values: int | None = Field(
        default=None,
        alias="minValues",
        json_schema_extra={"minimum": MIN_VALUES_RANGE[0], "maximum": MIN_VALUES_RANGE[1]},
    )

    @field_validator("operator")
    @classmethod
    def _operator(cls, v: str) -> str:
        if v not in NODEPOOL_OPERATORS:
            raise one_of("operator", v, NODEPOOL_OPERATORS)
        return v

    @field_validator("values", mode="before")
    @classmethod
    def _values(cls, v: Any, info: ValidationInfo) -> Any:
        # Before the per-value checks, so `Gt ["-1"]` reports the operator's rule; runs on
        # an omitted `values` too (validate_default), since `In` without values is an error.
        op = info.data.get("operator")
        if (v is not None and not isinstance(v, list)) or any(
            not isinstance(x, str) for x in v or ()
        ):
            return v  # wrong types: reported by the type checks with their own message
        if op == IN and not v:
            raise fail("operator In needs at least one value (Kubernetes rejects an empty In)")
        if op in INTEGER_OPERATORS and (v is None or len(v) != 1 or not _UNSIGNED.fullmatch(v[0])):
            got = "none" if not v else ", ".join(repr(x) for x in v)
            raise fail(f"operator {op} needs exactly one non-negative integer value, got {got}")
        return v

    @field_validator("min_values")
    @classmethod
    def _min_values(cls, v: int | None, info: ValidationInfo) -> int | None:
        if v is None:
            return v
        lo, hi = MIN_VALUES_RANGE
        if not lo <= v <= hi:
            raise fail(f"minValues {v} out of range (expected {lo}..{hi})")
        values = info.data.get("values")
        if info.data.get("operator") == IN and values is not None and len(values) < v:
            raise fail(f"minValues {v} is more than the {len(values)} values listed")
        return v


class TaintSpec(_Model):
    key: TaintKey
    effect: str = Field(json_schema_extra={"enum": list(TAINT_EFFECTS)})
    value: LabelValue | None = None
    time_added: Any = Field(default=None, alias="timeAdded")

    @field_validator("effect")
    @classmethod
    def _effect(cls, v: str) -> str:
        if v not in TAINT_EFFECTS:
            raise one_of("taint effect", v, TAINT_EFFECTS)
        return v


class NodeClassReference(_Model):
    group: str
    kind: str
    name: str

    @field_validator("group", "kind", "name")
    @classmethod
    def _not_empty(cls, v: str) -> str:
        if not v:
            raise fail("must not be empty")
        return v


class NodeClaimTemplateSpec(_Model):
    # Required by the CRD, but Karpenter's own doc examples leave it out; none means none.
    requirements: list[NodeSelectorRequirementWithMinValues] | None = Field(
        default=None, json_schema_extra={"maxItems": MAX_REQUIREMENTS}
    )
    taints: list[TaintSpec] | None = None
    startup_taints: list[TaintSpec] | None = Field(default=None, alias="startupTaints")
    # Required by the CRD; scaler does not read the node class yet, so it may be left out.
    node_class_ref: NodeClassReference | None = Field(default=None, alias="nodeClassRef")
    expire_after: NillableDuration | None = Field(
        default=None,
        alias="expireAfter",
        json_schema_extra={"pattern": DURATION_OR_NEVER_PATTERN},
    )
    termination_grace_period: Duration | None = Field(
        default=None,
        alias="terminationGracePeriod",
        json_schema_extra={"pattern": DURATION_PATTERN},
    )

    @field_validator("requirements")
    @classmethod
    def _count(
        cls, v: list[NodeSelectorRequirementWithMinValues] | None
    ) -> list[NodeSelectorRequirementWithMinValues] | None:
        if v is not None and len(v) > MAX_REQUIREMENTS:
            raise fail(f"{len(v)} requirements; Karpenter allows at most {MAX_REQUIREMENTS}")
        return v


class NodeClaimTemplate(_Model):
    metadata: TemplateMetadata | None = None
    spec: NodeClaimTemplateSpec


class Budget(_Model):
    nodes: str = Field(
        default="10%", json_schema_extra={"pattern": r"^((100|[0-9]{1,2})%|[0-9]+)$"}
    )
    schedule: str | None = None
    duration: BudgetDuration | None = Field(
        default=None, json_schema_extra={"pattern": r"^((([0-9]+(h|m))|([0-9]+h[0-9]+m))(0s)?)$"}
    )
    reasons: list[str] | None = Field(
        default=None, json_schema_extra={"items": {"type": "string", "enum": list(BUDGET_REASONS)}}
    )

    @field_validator("nodes")
    @classmethod
    def _nodes(cls, v: str) -> str:
        if not _BUDGET_NODES.fullmatch(v):
            raise fail(f'invalid budget {v!r} (expected a node count like "5" or "10%")')
        return v

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str | None) -> str | None:
        if v is not None and not _BUDGET_SCHEDULE.fullmatch(v):
            raise fail(f'invalid cron schedule {v!r} (expected e.g. "0 9 * * mon-fri")')
        return v

    @model_validator(mode="after")
    def _schedule_with_duration(self) -> Budget:
        if (self.schedule is None) != (self.duration is None):
            raise fail("schedule and duration must be set together")
        return self

    @field_validator("reasons")
    @classmethod
    def _reasons(cls, v: list[str] | None) -> list[str] | None:
        for r in v or ():
            if r not in BUDGET_REASONS:
                raise one_of("disruption reason", r, BUDGET_REASONS)
        return v


class Disruption(_Model):
    consolidation_policy: str | None = Field(
        default=None,
        alias="consolidationPolicy",
        json_schema_extra={"enum": list(CONSOLIDATION_POLICIES)},
    )
    consolidate_after: NillableDuration | None = Field(
        default=None,
        alias="consolidateAfter",
        json_schema_extra={"pattern": DURATION_OR_NEVER_PATTERN},
    )
    consolidation_threshold: int | None = Field(
        default=None,
        alias="consolidationThreshold",
        json_schema_extra={
            "minimum": CONSOLIDATION_THRESHOLD_RANGE[0],
            "maximum": CONSOLIDATION_THRESHOLD_RANGE[1],
        },
    )
    budgets: list[Budget] | None = None

    @field_validator("consolidation_threshold")
    @classmethod
    def _threshold(cls, v: int | None, info: ValidationInfo) -> int | None:
        if v is None:
            return v
        lo, hi = CONSOLIDATION_THRESHOLD_RANGE
        if not lo <= v <= hi:
            raise fail(f"consolidationThreshold {v} out of range (expected {lo}..{hi})")
        if info.data.get("consolidation_policy") != BALANCED:
            raise fail("consolidationThreshold needs consolidationPolicy: Balanced")
        return v

    @field_validator("consolidation_policy")
    @classmethod
    def _policy(cls, v: str | None) -> str | None:
        if v is not None and v not in CONSOLIDATION_POLICIES:
            raise one_of("consolidation policy", v, CONSOLIDATION_POLICIES)
        return v


class NodePoolSpec(_Model):
    template: NodeClaimTemplate
    disruption: Disruption | None = None
    # resource name -> quantity (string or number)
    limits: dict[str, Any] | None = Field(
        default=None, json_schema_extra={"additionalProperties": QUANTITY_SCHEMA}
    )
    weight: int | None = Field(
        default=None, json_schema_extra={"minimum": WEIGHT_RANGE[0], "maximum": WEIGHT_RANGE[1]}
    )
    replicas: int | None = None  # alpha: a static NodePool; scaler skips those for now

    @field_validator("weight")
    @classmethod
    def _weight(cls, v: int | None) -> int | None:
        lo, hi = WEIGHT_RANGE
        if v is not None and not lo <= v <= hi:
            raise fail(f"weight {v} out of range (expected {lo}..{hi}; leave it out for 0)")
        return v


class KarpenterNodePool(_Model):
    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: ObjectMeta
    spec: NodePoolSpec

    @property
    def is_static(self) -> bool:
        return self.spec.replicas is not None


# --- errors --------------------------------------------------------------------------------


def format_path(path: FieldPath) -> str:
    """`('spec', 'limits', 'cpu')` -> `spec.limits.cpu`; list indexes as `[i]`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            continue
        else:
            out += f".{part}" if out else part
    return out


class PolicyFieldError(Exception):
    """A problem at a field path inside one object, before file and line are attached."""

    def __init__(self, path: FieldPath, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def located_error(
    message: str, *, file: str, obj: str, path: FieldPath, locate: Locate | None
) -> UserError:
    """A UserError at `file:line` (when the line is known), naming object and field."""
    line = locate(path) if locate else None
    where = f"{file}:{line}" if line else file
    return UserError(message, file=where, obj=obj, field=format_path(path) or None)


# --- conversion ----------------------------------------------------------------------------


def requirement_of(r: NodeSelectorRequirementWithMinValues) -> Requirement:
    key = NORMALIZED_LABELS.get(r.key, r.key)
    values = r.values or []
    op = r.operator
    # Integers only (checked above), so >= n is > n-1 and <= n is < n+1.
    if op == GTE:
        op, values = GT, [str(int(values[0]) - 1)]
    elif op == LTE:
        op, values = LT, [str(int(values[0]) + 1)]
    return Requirement.of(key, op, values, r.min_values)


def _taints(taints: list[TaintSpec] | None) -> tuple[Taint, ...]:
    return tuple(Taint(t.key, t.effect, t.value or "") for t in taints or ())


def _limits(limits: dict[str, Any] | None) -> dict[str, int] | None:
    """None when there are no limits (`limits: {}` too: Karpenter reads that as unlimited)."""
    if not limits:
        return None
    for name, value in limits.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise PolicyFieldError(
                ("spec", "limits", name),
                f'expected a quantity like "1000" or "4000Gi", got {describe_value(value)}',
            )
    nodes = limits.get(LIMIT_NODES)
    if nodes is not None and not (
        (isinstance(nodes, int) and not isinstance(nodes, bool) and nodes >= 0)
        or (isinstance(nodes, str) and _UNSIGNED.fullmatch(nodes))
    ):
        raise PolicyFieldError(
            ("spec", "limits", LIMIT_NODES),
            f'expected a whole number of nodes like "10", got {describe_value(nodes)}',
        )
    try:
        parsed = Resources.parse(limits)
        # Zero is a real limit (`cpu: "0"` stops a pool), so keep every named resource.
        return {name: parsed.get(name) for name in limits}
    except QuantityError as e:
        resource = e.field or e.resource
        path: FieldPath = ("spec", "limits", resource) if resource else ("spec", "limits")
        raise PolicyFieldError(path, e.message) from None


def _check_duplicate_taints(spec: NodeClaimTemplateSpec) -> None:
    seen: dict[tuple[str, str], str] = {}
    for field, taints in (("taints", spec.taints), ("startupTaints", spec.startup_taints)):
        for i, t in enumerate(taints or ()):
            here = f"{field}[{i}]"
            first = seen.setdefault((t.key, t.effect), here)
            if first != here:
                raise PolicyFieldError(
                    ("spec", "template", "spec", field, i),
                    f"duplicate taint {t.key}:{t.effect} (also at {first})",
                )


def to_node_pool(np: KarpenterNodePool, source: str = "") -> NodePool:
    """The core NodePool, as Karpenter's scheduler sees this object.

    Requirements are the listed ones, plus every template label as `In [value]`, plus
    `karpenter.sh/nodepool In [name]` (Karpenter does the same when it builds NodeClaims).
    Raises PolicyFieldError for requirements that no node could satisfy.
    """
    tpl = np.spec.template
    labels = dict(tpl.metadata.labels or {}) if tpl.metadata else {}
    listed = tpl.spec.requirements or []
    reqs: list[Requirement] = []
    for i, r in enumerate(listed):
        try:
            reqs.append(requirement_of(r))
        except ValueError as e:  # unreachable after validation; kept as a UserError anyway
            raise PolicyFieldError(
                ("spec", "template", "spec", "requirements", i), str(e)
            ) from None
    requirements = Requirements(reqs)
    empty = requirements.first_empty()
    if empty is not None:
        keys = [NORMALIZED_LABELS.get(r.key, r.key) for r in listed]
        i = keys.index(empty.key) if empty.key in keys else 0
        raise PolicyFieldError(
            ("spec", "template", "spec", "requirements", i),
            f"requirements on {empty.key} allow no value at all, so no node can launch",
        )
    for key, value in labels.items():
        norm = NORMALIZED_LABELS.get(key, key)
        prev = requirements.get(norm)
        if prev is not None and not prev.matches(value):
            raise PolicyFieldError(
                ("spec", "template", "metadata", "labels", key),
                f"label {key}={value} contradicts requirement {prev.describe()}",
            )
    requirements = requirements.intersect(
        Requirements.from_labels({NORMALIZED_LABELS.get(k, k): v for k, v in labels.items()})
    )
    requirements = requirements.intersect(
        Requirements([Requirement.of(LABEL_NODEPOOL, IN, [np.metadata.name])])
    )
    _check_duplicate_taints(tpl.spec)
    disruption: dict[str, object] = (
        np.spec.disruption.model_dump(by_alias=True, exclude_unset=True)
        if np.spec.disruption
        else {}
    )
    try:  # what a disruption pass reads, read now: a bad schedule is a policy error
        parse_budgets(disruption)
    except ScheduleError as e:
        raise PolicyFieldError(("spec", "disruption", "budgets"), str(e)) from None
    return NodePool(
        name=np.metadata.name,
        requirements=requirements,
        taints=_taints(tpl.spec.taints),
        startup_taints=_taints(tpl.spec.startup_taints),
        labels=labels,
        limits=_limits(np.spec.limits),
        weight=np.spec.weight or 0,
        disruption=disruption,
        source=source,
        expire_after=tpl.spec.expire_after,
    )


def object_name(doc: Mapping[str, Any]) -> str:
    """`NodePool gpu`, or `NodePool` when the name is missing or not a string."""
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    kind = doc.get("kind") if isinstance(doc.get("kind"), str) else "object"
    return f"{kind} {name}" if isinstance(name, str) and name else str(kind)


def validate_node_pool(
    doc: Mapping[str, Any], *, file: str, locate: Locate | None = None
) -> KarpenterNodePool:
    """The pydantic model of one NodePool object, or a one-line UserError."""
    obj = object_name(doc)
    try:
        return KarpenterNodePool.model_validate(doc)
    except ValidationError as e:
        first = e.errors(include_url=False)[0]
        raise located_error(
            error_message(first), file=file, obj=obj, path=tuple(first["loc"]), locate=locate
        ) from None


def node_pool_from_model(
    model: KarpenterNodePool,
    *,
    file: str,
    locate: Locate | None = None,
    source: str | None = None,
) -> NodePool:
    """`to_node_pool`, with its errors as one-line UserErrors."""
    try:
        return to_node_pool(model, source=file if source is None else source)
    except PolicyFieldError as e:
        raise located_error(
            e.message, file=file, obj=f"{KIND} {model.metadata.name}", path=e.path, locate=locate
        ) from None


def parse_node_pool(
    doc: Mapping[str, Any],
    *,
    file: str,
    locate: Locate | None = None,
    source: str | None = None,
) -> NodePool:
    """Validate one `karpenter.sh/v1` NodePool object and convert it; UserError if bad."""
    model = validate_node_pool(doc, file=file, locate=locate)
    return node_pool_from_model(model, file=file, locate=locate, source=source)
