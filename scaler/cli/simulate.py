"""`scaler simulate`: the plan scaler would carry out for a cluster snapshot."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from scaler.output.json import render_json
from scaler.output.plan import plan_document, plan_table
from scaler.output.yaml import render_yaml


def register(sub: Any) -> None:
    p = sub.add_parser(
        "simulate",
        help="plan nodes for a cluster snapshot with a simulated cloud",
        description=(
            "Read a cluster snapshot (kubectl get -o yaml/json output: files or directories), "
            "schedule its pending pods onto existing nodes or new ones priced from the catalog, "
            "and print the plan."
        ),
    )
    p.add_argument("snapshots", nargs="+", metavar="SNAPSHOT", help="file or directory")
    p.add_argument("--policies", metavar="DIR", help="policy directory or file (NodePools)")
    p.add_argument("--region", default="us-east-1", help="AWS region for the catalog")
    p.add_argument("--zones", metavar="A,B,C", help="zones to offer (default: <region>a,b,c)")
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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scaler.simulation.provision import load_inputs, run_simulation

    zones = [z.strip() for z in args.zones.split(",") if z.strip()] if args.zones else None
    inputs = load_inputs(args.snapshots, args.policies, args.region, zones, args.catalog)
    if args.rightsized:
        return run_rightsized(args, inputs)
    plan = run_simulation(inputs)
    snap = inputs.snapshot
    summary: dict[str, Any] = {
        "nodes": len(snap.nodes),
        "bound": len(snap.bound_pods),
        "pending": len(snap.pending_pods),
        "daemonsets": len(snap.daemonsets),
        "pools": ", ".join(p.name for p in inputs.policies.node_pools),
        "expandedWorkloads": snap.expanded_workloads,
        "ignoredKinds": dict(snap.ignored_kinds),
    }
    if args.output == "json":
        # Indented on a terminal; one compact line into a pipe or file, where a program reads
        # it (a 20,000-pod plan is written several times faster).
        indent = 2 if sys.stdout.isatty() else None
        sys.stdout.write(render_json(plan_document(plan, summary), indent))
    elif args.output == "yaml":
        sys.stdout.write(render_yaml(plan_document(plan, summary)))
    else:
        sys.stdout.write(plan_table(plan, summary))
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
    snap = inputs.snapshot
    summary: dict[str, Any] = {
        "nodes": len(snap.nodes),
        "bound": len(snap.bound_pods),
        "pending": len(snap.pending_pods),
        "daemonsets": len(snap.daemonsets),
        "pools": ", ".join(p.name for p in inputs.policies.node_pools),
    }
    if args.output in ("json", "yaml"):
        doc = comparison_document(comparison, summary, report_document(report)["summary"])
        sys.stdout.write(render_json(doc) if args.output == "json" else render_yaml(doc))
    else:
        sys.stdout.write(comparison_table(comparison, summary))
    return 0
