"""OpenCost's allocation API over the report: query parameters in, allocation sets out.

`parse_query` reads `/allocation/compute`'s parameters (OpenCost's names and defaults);
`AllocationService.compute` runs the report for the window and returns the steps as
`{name: ApiAllocation}`. HTTP and JSON live elsewhere (scaler/runtime/http.py,
scaler/output/allocation_api.py).

Choices where OpenCost leaves room:
* `idle` and `includeIdle` both include idle (OpenCost's handler reads `includeIdle`, the
  Kubecost API and the OpenCost UI send `idle`); `shareIdle` shares it back by cost.
* `shareCost` is a monthly amount (730 hours), shared like the policy's fixed costs;
  `shareSplit` is `weighted` (by cost, the default) or `even`.
* The filter applies to workload lines after sharing; idle and `__shared__` lines stay.
* `aggregate` defaults to cluster/node/namespace/pod/container as OpenCost's does.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction

from scaler.core.allocation.aggregate import AggregateError, check_keys, name_of
from scaler.core.allocation.filter import FilterError, Matcher, parse_filter
from scaler.core.allocation.model import IDLE, WORKLOAD, Allocation, AllocationSet
from scaler.core.allocation.sharing import (
    EVEN,
    PROPORTIONAL,
    FixedCost,
    SharedWorkloads,
    ShareRule,
)
from scaler.errors import UserError
from scaler.report.build import Report, ReportRequest
from scaler.report.rules import Rules
from scaler.report.window import parse_duration, parse_window

DEFAULT_AGGREGATE = ("cluster", "node", "namespace", "pod", "container")
TRUE = ("true", "1", "t", "yes")
FALSE = ("false", "0", "f", "no", "")


class QueryError(ValueError):
    """A bad parameter: the API answers 400 with this message."""


@dataclass(frozen=True)
class AllocationQuery:
    start: int
    end: int
    step: int
    resolution: int
    aggregate: tuple[str, ...] = DEFAULT_AGGREGATE
    accumulate: bool = False
    include_idle: bool = False
    share_idle: bool | None = None
    idle_by_node: bool = False
    share_namespaces: tuple[str, ...] = ()
    share_labels: Mapping[str, str] = field(default_factory=dict)
    share_cost: float = 0.0  # USD per month
    share_split: str = PROPORTIONAL
    proportional: bool = False
    filter_text: str = ""


@dataclass(frozen=True)
class AssetShare:
    """One node's part of an allocation (OpenCost's proportionalAssetResourceCosts)."""

    cluster: str
    node: str
    provider_id: str
    cpu: int = 0  # micro-dollars of the node's cost this allocation took
    ram: int = 0
    gpu: int = 0
    cpu_total: int = 0  # the node's cost over the same steps
    ram_total: int = 0
    gpu_total: int = 0


@dataclass(frozen=True)
class ApiAllocation:
    allocation: Allocation
    assets: tuple[AssetShare, ...] | None = None  # None unless asked for


def _one(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def _bool(params: Mapping[str, Sequence[str]], name: str, default: bool) -> bool:
    v = _one(params, name)
    if v is None:
        return default
    if v.strip().lower() in TRUE:
        return True
    if v.strip().lower() in FALSE:
        return False
    raise QueryError(f"Invalid '{name}' parameter: {v!r} is not a boolean")


def _duration(params: Mapping[str, Sequence[str]], name: str) -> int | None:
    v = _one(params, name)
    if v is None or not v.strip():
        return None
    try:
        return parse_duration(v, name)
    except UserError as err:
        raise QueryError(f"Invalid '{name}' parameter: {err.message}") from None


def parse_query(params: Mapping[str, Sequence[str]], now: dt.datetime) -> AllocationQuery:
    window = _one(params, "window")
    if not window:
        raise QueryError("Invalid 'window' parameter: window is required")
    try:
        start, end = parse_window(window, now)
    except UserError as err:
        raise QueryError(f"Invalid 'window' parameter: {err.message}") from None
    span = end - start
    step = _duration(params, "step") or span
    resolution = _duration(params, "resolution")
    if resolution is None:
        resolution = math.gcd(300 if span <= 2 * 86_400 else 3600, step)
    if step % resolution:
        raise QueryError(
            f"Invalid 'step' parameter: {step}s is not a multiple of the resolution "
            f"{resolution}s"
        )
    if span // resolution > 200_000:
        raise QueryError(
            f"Invalid 'resolution' parameter: {span // resolution} intervals (at most 200000)"
        )
    if span // step > 10_000:
        raise QueryError(f"Invalid 'step' parameter: {span // step} steps (at most 10000)")
    raw = [k.strip() for v in params.get("aggregate", []) for k in v.split(",") if k.strip()]
    keys = tuple(_normal_key(k) for k in raw) or DEFAULT_AGGREGATE
    try:
        check_keys(keys)
    except AggregateError as err:
        raise QueryError(f"Invalid 'aggregate' parameter: {err}") from None
    share_cost_text = _one(params, "shareCost")
    share_cost = 0.0
    if share_cost_text:
        try:
            share_cost = float(share_cost_text)
        except ValueError:
            share_cost = math.nan
        if not math.isfinite(share_cost) or share_cost < 0:
            raise QueryError(
                f"Invalid 'shareCost' parameter: {share_cost_text!r} is not a cost in USD"
            )
    split_text = (_one(params, "shareSplit") or "weighted").strip().lower()
    if split_text not in ("weighted", "even"):
        raise QueryError("Invalid 'shareSplit' parameter: expected weighted or even")
    labels: dict[str, str] = {}
    for item in (_one(params, "shareLabels") or "").split(","):
        if not item.strip():
            continue
        k, sep, v = item.partition(":")
        if not sep or not k.strip():
            raise QueryError(
                f"Invalid 'shareLabels' parameter: {item!r} (expected key:value, ...)"
            )
        labels[k.strip()] = v.strip()
    filter_text = _one(params, "filter") or ""
    try:
        parse_filter(filter_text)
    except FilterError as err:
        raise QueryError(f"Invalid 'filter' parameter: {err}") from None
    share_idle = _bool(params, "shareIdle", False) if _one(params, "shareIdle") else None
    return AllocationQuery(
        start=start,
        end=end,
        step=step,
        resolution=resolution,
        aggregate=keys,
        accumulate=_bool(params, "accumulate", False),
        include_idle=_bool(params, "idle", False) or _bool(params, "includeIdle", False),
        share_idle=share_idle,
        idle_by_node=_bool(params, "idleByNode", False),
        share_namespaces=tuple(
            n.strip() for n in (_one(params, "shareNamespaces") or "").split(",") if n.strip()
        ),
        share_labels=labels,
        share_cost=share_cost,
        share_split=EVEN if split_text == "even" else PROPORTIONAL,
        proportional=_bool(params, "includeProportionalAssetResourceCosts", False),
        filter_text=filter_text,
    )


def _normal_key(key: str) -> str:
    """OpenCost's spellings: case-insensitive names, `controllerkind`, `providerid`."""
    if key.startswith(("label:", "annotation:")):
        return key
    lower = key.lower()
    return {"controllerkind": "controllerKind", "providerid": "providerID"}.get(lower, lower)


def rules_for(query: AllocationQuery, rules: Rules) -> Rules:
    """The policy's rules with the query's sharing on top."""
    sharing = rules.sharing
    if query.share_idle is not None:
        sharing = replace(sharing, share_idle=query.share_idle)
    rule = ShareRule(query.share_split)
    if query.share_namespaces or query.share_labels:
        sharing = replace(
            sharing,
            shared=(
                *sharing.shared,
                SharedWorkloads(rule, query.share_namespaces, dict(query.share_labels)),
            ),
        )
    if query.share_cost:
        per_hour = Fraction(str(query.share_cost)) / 730
        sharing = replace(sharing, fixed=(*sharing.fixed, FixedCost("shareCost", per_hour, rule)))
    return replace(rules, sharing=sharing)


# Runs the report for a request under the given rules (the CLI binds the sources).
ReportRunner = Callable[[ReportRequest, Rules], Report]


@dataclass
class AllocationService:
    run: ReportRunner
    rules: Rules
    cluster: str = "cluster-one"
    clock: Callable[[], dt.datetime] = field(
        default=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0)
    )

    def compute(self, query: AllocationQuery) -> list[dict[str, ApiAllocation]]:
        request = ReportRequest(
            query.start,
            query.end,
            query.step,
            query.resolution,
            ("cluster",),
            query.include_idle,
            self.cluster,
        )
        report = self.run(request, rules_for(query, self.rules))
        return answer(report.sets, query, include_idle=query.include_idle)


def answer(
    sets: Sequence[AllocationSet], query: AllocationQuery, include_idle: bool
) -> list[dict[str, ApiAllocation]]:
    """The sets filtered, aggregated (and accumulated) as the query asks."""
    matcher = parse_filter(query.filter_text)
    steps = [_aggregate(s, query, matcher, include_idle) for s in sets]
    if query.accumulate and steps:
        steps = [_accumulate(steps, sets[0].start, sets[-1].end)]
    return steps


def _aggregate(
    aset: AllocationSet, query: AllocationQuery, matcher: Matcher | None, include_idle: bool
) -> dict[str, ApiAllocation]:
    node_totals = {n.node: n for n in aset.nodes}
    out: dict[str, Allocation] = {}
    assets: dict[str, dict[str, AssetShare]] = {}
    for a in aset.allocations:
        if a.kind == IDLE and not include_idle:
            continue
        if a.kind == WORKLOAD and matcher is not None and not matcher(a):
            continue
        name = name_of(a, query.aggregate, query.idle_by_node)
        prev = out.get(name)
        out[name] = a.plus_named(name) if prev is None else prev.plus(a, name)
        if query.proportional and a.kind == WORKLOAD and a.properties.node in node_totals:
            n = node_totals[a.properties.node]
            mine = assets.setdefault(name, {})
            key = f"{a.properties.cluster},{n.node}"
            cur = mine.get(key)
            fresh = cur is None
            if cur is None:
                cur = AssetShare(a.properties.cluster, n.node, a.properties.provider_id)
            mine[key] = replace(
                cur,
                cpu=cur.cpu + a.cpu_micros - a.cpu_idle_micros,
                ram=cur.ram + a.ram_micros - a.ram_idle_micros,
                gpu=cur.gpu + a.gpu_micros - a.gpu_idle_micros,
                # the node's cost counts once per step, however many members ran on it
                cpu_total=cur.cpu_total + (n.cpu_micros if fresh else 0),
                ram_total=cur.ram_total + (n.ram_micros if fresh else 0),
                gpu_total=cur.gpu_total + (n.gpu_micros if fresh else 0),
            )
    ordered = sorted(out.items(), key=lambda kv: (-kv[1].total_micros, kv[0]))
    return {
        name: ApiAllocation(
            a,
            tuple(assets.get(name, {}).values()) if query.proportional else None,
        )
        for name, a in ordered
    }


def _accumulate(
    steps: Sequence[Mapping[str, ApiAllocation]], start: int, end: int
) -> dict[str, ApiAllocation]:
    out: dict[str, ApiAllocation] = {}
    for step in steps:
        for name, x in step.items():
            prev = out.get(name)
            if prev is None:
                out[name] = x
                continue
            assets: tuple[AssetShare, ...] | None = None
            if prev.assets is not None and x.assets is not None:
                merged = {(s.cluster, s.node): s for s in prev.assets}
                for s in x.assets:
                    cur = merged.get((s.cluster, s.node))
                    merged[(s.cluster, s.node)] = s if cur is None else dataclasses.replace(
                        cur,
                        cpu=cur.cpu + s.cpu,
                        ram=cur.ram + s.ram,
                        gpu=cur.gpu + s.gpu,
                        cpu_total=cur.cpu_total + s.cpu_total,
                        ram_total=cur.ram_total + s.ram_total,
                        gpu_total=cur.gpu_total + s.gpu_total,
                    )
                assets = tuple(merged.values())
            out[name] = ApiAllocation(prev.allocation.plus(x.allocation, name), assets)
    done = {
        k: dataclasses.replace(
            v, allocation=replace(v.allocation, window_start=start, window_end=end)
        )
        for k, v in out.items()
    }
    return dict(sorted(done.items(), key=lambda kv: (-kv[1].allocation.total_micros, kv[0])))
