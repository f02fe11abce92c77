"""`scaler simulate`: the plan scaler would carry out for a cluster snapshot."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from scaler.cli.common import add_catalog_flags, split_zones
from scaler.core.disruption.candidates import DisruptionSettings
from scaler.errors import UserError
from scaler.output.json import render_json
from scaler.output.plan import plan_document, plan_table
from scaler.output.yaml import render_yaml
from scaler.times import parse_rfc3339


def register(sub: Any) -> None:
    p = sub.add_parser(
        "simulate",
        help="plan nodes for a cluster snapshot with a simulated cloud",
        description=(
            "Read a cluster snapshot (kubectl get -o yaml/json output: files or directories), "
            "schedule its pending pods onto existing nodes or new ones priced from the catalog, "
            "and print the plan. With --consolidate, also run one disruption pass over the "
            "snapshot's nodes; with --timeline, run the control loop in simulated time."
        ),
    )
    p.add_argument("snapshots", nargs="+", metavar="SNAPSHOT", help="file or directory")
    p.add_argument("--policies", metavar="DIR", help="policy directory or file (NodePools)")
    add_catalog_flags(p)
    p.add_argument("--catalog", metavar="FILE",
                   help="instance types and prices from a file (kind InstanceTypeCatalog, "
                        "docs/catalog.md) instead of the bundled AWS catalog")
    p.add_argument("--output", "-o", choices=("table", "json", "yaml"), default="table")
    r = p.add_argument_group("right-sizing (scaler rightsize's flags apply too)")
    r.add_argument("--rightsized", action="store_true",
                   help="also plan with the recommended requests (needs --usage or --prometheus)")
    r.add_argument("--workloads", action="append", metavar="PATH",
                   help="workload manifests (default: the snapshot's)")
    rs_src = r.add_mutually_exclusive_group()
    rs_src.add_argument("--usage", metavar="FILE", help="usage CSV for the recommendations")
    rs_src.add_argument("--prometheus", metavar="URL", help="Prometheus for the recommendations")
    r.add_argument("--strategy", default=None, help="right-sizing strategy (default: scaler)")
    r.add_argument("--end", metavar="TIME", help="end of the usage history")
    r.add_argument("--step", metavar="DURATION", default=None, help="Prometheus step")
    g = p.add_argument_group("disruption (--consolidate, --timeline)")
    g.add_argument("--consolidate", action="store_true",
                   help="after provisioning, run one disruption pass (empty, drifted, expired, "
                        "underutilized nodes) over the snapshot's nodes")
    g.add_argument("--consolidation-strategy", dest="consolidation_strategy",
                   choices=("optimal", "karpenter"), default="optimal",
                   help="consolidation: one MILP over every candidate (default), or "
                        "Karpenter's multi-node then single-node greedy")
    g.add_argument("--min-saving", type=float, default=0.10, metavar="FRACTION",
                   help="churn guard: a move must save this fraction of the nodes' price "
                        "(default 0.10)")
    g.add_argument("--eviction-price", type=float, default=0.0, metavar="USD",
                   help="calm: a move must also save this much per hour for each pod it "
                        "evicts (default 0)")
    g.add_argument("--spot-to-spot-min-types", type=int, default=15, metavar="N",
                   help="spot replaced by spot only with N cheaper instance types (default 15)")
    g.add_argument("--time-budget", type=float, default=10.0, metavar="SECONDS",
                   help="decision time for one pass (default 10)")
    g.add_argument("--now", metavar="TIME",
                   help="the pass's clock, RFC 3339 (default: the current time); budgets' "
                        "schedules, expireAfter and consolidateAfter are read against it")
    g.add_argument("--timeline", metavar="FILE",
                   help="replica counts over time (CSV: time,workload,replicas); runs "
                        "provisioning and consolidation in simulated time")
    g.add_argument("--timeline-step", dest="timeline_step", default="60s", metavar="DURATION",
                   help="timeline: control-loop period (default 60s)")
    g.add_argument("--launch-delay", default="60s", metavar="DURATION",
                   help="timeline: from launch to Ready (default 60s)")
    g.add_argument("--validation-delay", default="15s", metavar="DURATION",
                   help="timeline: from a disruption decision to its revalidation "
                        "(default 15s)")
    g.add_argument("--interrupt", action="append", default=[], metavar="NODE@TIME",
                   help="timeline: the snapshot node's instance gets a Spot interruption "
                        "warning at TIME (seconds or a duration; repeatable)")
    g.add_argument("--chart", metavar="FILE.html",
                   help="timeline: also write a self-contained HTML chart")
    p.set_defaults(func=run)


def _fraction(value: float, flag: str) -> float:
    if not 0.0 <= value < 1.0:
        raise UserError(f"must be a fraction in [0, 1), got {value}", field=flag)
    return value


def _seconds(text: str, flag: str) -> float:
    from scaler.core.disruption.budgets import ScheduleError, parse_duration

    try:
        return parse_duration(text)
    except ScheduleError as err:
        raise UserError(str(err), field=flag) from None


def _now(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return parse_rfc3339(text).timestamp()
    except ValueError:
        raise UserError(f"invalid time {text!r} (expected RFC 3339, e.g. "
                        "2026-01-05T09:30:00Z)", field="--now") from None


def settings_from(args: argparse.Namespace) -> DisruptionSettings:
    if args.time_budget <= 0:
        raise UserError(f"must be positive, got {args.time_budget}", field="--time-budget")
    if args.spot_to_spot_min_types < 0:
        raise UserError(f"must not be negative, got {args.spot_to_spot_min_types}",
                        field="--spot-to-spot-min-types")
    if args.eviction_price < 0:
        raise UserError(f"must not be negative, got {args.eviction_price}",
                        field="--eviction-price")
    return DisruptionSettings(
        min_saving_fraction=_fraction(args.min_saving, "--min-saving"),
        eviction_price=args.eviction_price,
        spot_to_spot_min_types=args.spot_to_spot_min_types,
        strategy=args.consolidation_strategy,
        time_budget=args.time_budget,
        validation_delay=_seconds(args.validation_delay, "--validation-delay"),
        launch_delay=_seconds(args.launch_delay, "--launch-delay"),
    )


def snapshot_summary(inputs: Any) -> dict[str, Any]:
    """The snapshot's counts and NodePools, as a plan or a comparison opens with them."""
    snap = inputs.snapshot
    return {
        "nodes": len(snap.nodes),
        "bound": len(snap.bound_pods),
        "pending": len(snap.pending_pods),
        "daemonsets": len(snap.daemonsets),
        "pools": ", ".join(p.name for p in inputs.policies.node_pools),
    }


def run(args: argparse.Namespace) -> int:
    from scaler.simulation.provision import load_inputs, run_simulation

    zones = split_zones(args.zones)
    # Flags first: a bad flag is reported before any file is read.
    settings = settings_from(args)
    now = _now(args.now)
    step = _seconds(args.timeline_step, "--timeline-step")
    if step <= 0:
        raise UserError("must be positive", field="--timeline-step")
    if args.timeline and args.consolidate:
        raise UserError("--timeline runs its own disruption passes; leave out --consolidate",
                        field="--consolidate")
    if args.chart and not args.timeline:
        raise UserError("only with --timeline", field="--chart")
    if args.interrupt and not args.timeline:
        raise UserError("only with --timeline", field="--interrupt")
    from scaler.simulation.interruptions import parse_interruption

    interruptions = [parse_interruption(x) for x in args.interrupt]
    inputs = load_inputs(args.snapshots, args.policies, args.region, zones, args.catalog)
    for line in inputs.policies.warnings:
        print(f"scaler: warning: {line}", file=sys.stderr)
    for idle in inputs.idle_pools:
        print(f"scaler: warning: {idle.warning()}", file=sys.stderr)
    if args.rightsized:
        return run_rightsized(args, inputs)
    if args.timeline:
        from scaler.output.timeline import timeline_document, timeline_html, timeline_table
        from scaler.simulation.timeline import load_timeline, run_timeline

        events = load_timeline(args.timeline)
        result = run_timeline(inputs, events, settings, step=step, start=now,
                              path=args.timeline, interruptions=interruptions)
        if args.chart:
            try:
                with open(args.chart, "w", encoding="utf-8") as fh:
                    fh.write(timeline_html(result))
            except OSError as err:
                raise UserError(f"cannot write: {err.strerror}", file=args.chart) from None
        if args.output == "json":
            sys.stdout.write(render_json(timeline_document(result)))
        elif args.output == "yaml":
            sys.stdout.write(render_yaml(timeline_document(result)))
        else:
            sys.stdout.write(timeline_table(result))
        return 0
    dplan = None
    if args.consolidate:
        from scaler.simulation.disruption_pass import run_consolidation

        plan, dplan = run_consolidation(inputs, settings, now)
    else:
        plan = run_simulation(inputs)
    snap = inputs.snapshot
    summary = snapshot_summary(inputs)
    summary["expandedWorkloads"] = snap.expanded_workloads
    summary["ignoredKinds"] = dict(snap.ignored_kinds)
    if inputs.idle_pools:
        summary["idleNodePools"] = [
            {"name": i.name, "conditions": [dict(i.condition())]} for i in inputs.idle_pools
        ]
    if args.output == "json":
        # Indented on a terminal; one compact line into a pipe or file, where a program reads
        # it (a 20,000-pod plan is written several times faster).
        indent = 2 if sys.stdout.isatty() else None
        sys.stdout.write(render_json(plan_document(plan, summary, dplan), indent))
    elif args.output == "yaml":
        sys.stdout.write(render_yaml(plan_document(plan, summary, dplan)))
    else:
        sys.stdout.write(plan_table(plan, summary, dplan))
    return 0


def run_rightsized(args: argparse.Namespace, inputs: Any) -> int:
    from pathlib import Path

    from scaler.cli.rightsize import make_report
    from scaler.errors import UserError
    from scaler.output.rightsized_plan import comparison_document, comparison_table
    from scaler.output.rightsizing import report_document
    from scaler.simulation.rightsized import compare

    if not (args.usage or args.prometheus):
        raise UserError("--rightsized needs a usage source", field="--usage or --prometheus")
    args.paths = args.workloads or args.snapshots
    args.namespace = None
    report = make_report(args, [Path(p) for p in args.paths], inputs.catalog)
    comparison = compare(inputs, report)
    summary = snapshot_summary(inputs)
    if args.output in ("json", "yaml"):
        doc = comparison_document(comparison, summary, report_document(report)["summary"])
        sys.stdout.write(render_json(doc) if args.output == "json" else render_yaml(doc))
    else:
        sys.stdout.write(comparison_table(comparison, summary))
    return 0
