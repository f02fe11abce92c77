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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scaler.simulation.provision import load_inputs, run_simulation

    zones = [z.strip() for z in args.zones.split(",") if z.strip()] if args.zones else None
    inputs = load_inputs(args.snapshots, args.policies, args.region, zones, args.catalog)
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
