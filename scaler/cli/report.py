"""`scaler report`: who spends what, how much is idle, and what right-sizing would save."""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from typing import Any

from scaler.cli.common import add_region, add_zones, catalog_for, split_zones
from scaler.cli.prometheus import (
    add_prometheus_flags,
    prometheus_access,
    refuse_prometheus_access,
)
from scaler.errors import UserError
from scaler.times import NoZoneError, parse_rfc3339

OUTPUTS = ("table", "json", "csv", "html")
DAY = 86_400.0  # the longest span one Prometheus range query covers


def register(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="cost allocation over a window (OpenCost-compatible), idle and savings",
        description=(
            "Allocate the nodes' cost to containers (max of request and usage, per "
            "interval), group it, show idle and what usage-based requests would save. "
            "Reads Prometheus (--prometheus) or simulates a cluster snapshot with "
            "generated or given usage."
        ),
    )
    p.add_argument("snapshots", nargs="*", metavar="SNAPSHOT",
                   help="snapshot files or directories (without --prometheus)")
    p.add_argument("--prometheus", metavar="URL", help="read history from this Prometheus")
    p.add_argument("--prometheus-aggregate", action="store_true",
                   help="let Prometheus (or Thanos, Mimir, VictoriaMetrics) average each "
                   "container's series over every --step (avg_over_time subqueries at "
                   "--resolution) and allocate per step: for long windows and large stores")
    add_prometheus_flags(p)
    p.add_argument("--policies", metavar="DIR",
                   help="policy directory (CostAllocationPolicy, NodePools)")
    p.add_argument("--window", default="7d",
                   help="today, yesterday, week, lastweek, month, lastmonth, 7d, or "
                   "start,end in RFC 3339 (default 7d)")
    p.add_argument("--aggregate", default="namespace",
                   help="cluster, node, namespace, controllerKind, controller, pod, container, "
                   "team, label:<key>, annotation:<key>; comma-separated for several")
    p.add_argument("--step", help="one allocation set per step, e.g. 1d (default: the window; "
                   "for html, 1d over windows above 2 days, else 1h)")
    p.add_argument("--resolution", help="sampling interval, e.g. 5m (default: 5m up to 2 days "
                   "of window, else 1h)")
    p.add_argument("--include-idle", action="store_true", help="show idle as an __idle__ line")
    p.add_argument("--share-idle", action=argparse.BooleanOptionalAction, default=None,
                   help="share idle back by cost (default: the policy's idle.handling)")
    p.add_argument("--output", "-o", choices=OUTPUTS, default="table")
    add_region(p)
    p.add_argument("--prices", choices=("catalog", "aws"), default="catalog",
                   help="node prices: the bundled catalog (spot estimated) or live from AWS "
                   "(Price List API, Spot price history; boto3's credentials and endpoints)")
    add_zones(p, "zones (default: <region>a,b,c)")
    p.add_argument("--usage", metavar="CSV",
                   help="usage for the snapshot: timestamp,namespace,pod,container,cpu,memory "
                   "(the same file as rightsize --usage; old names cpu_cores,memory_bytes "
                   "read with a note)")
    p.add_argument("--cluster", default="cluster-one", help="cluster name in the report")
    p.add_argument("--now", help="evaluate the window as of this RFC 3339 time (default: now)")
    p.add_argument("--no-place-pending", action="store_true",
                   help="snapshot: leave pending pods out instead of placing them first")
    p.add_argument("--no-node-savings", action="store_true",
                   help="skip the re-simulation that prices node-level savings")
    p.add_argument("--serve", metavar="[HOST:]PORT",
                   help="serve OpenCost's allocation API (/allocation/compute, "
                   "/model/allocation/compute) on this address until interrupted, instead of "
                   "printing one report (host default 127.0.0.1)")
    p.set_defaults(func=run)


def _now(text: str | None) -> dt.datetime:
    if not text:
        return dt.datetime.now(dt.UTC).replace(microsecond=0)
    try:
        return parse_rfc3339(text, require_zone=True)
    except NoZoneError:
        raise UserError(f"time {text!r} has no zone (add Z)", field="--now") from None
    except ValueError:
        raise UserError(f"invalid time {text!r} (RFC 3339 expected)", field="--now") from None


def _grid(args: argparse.Namespace, span: int) -> tuple[int, int, int]:
    """(step, resolution, fine resolution) in seconds for a window of `span` seconds: the
    allocation has one interval per resolution; with --prometheus-aggregate the store
    averages over each step, so the resolution becomes the step and the fine one is kept
    for the queries."""
    from scaler.report.window import parse_duration

    if args.step:
        step = parse_duration(args.step, "--step")
    elif args.output == "html" and span > 6 * 3600:
        # A chart over time needs more than one bar: days for long windows, else hours.
        step = 86_400 if span > 2 * 86_400 else 3600
    else:
        step = span
    if args.resolution:
        resolution = parse_duration(args.resolution, "--resolution")
    else:
        resolution = 300 if span <= 2 * 86_400 else 3600
        resolution = math.gcd(resolution, step)
    if step % resolution:
        raise UserError(
            f"step {step}s is not a multiple of the resolution {resolution}s", field="--step"
        )
    fine_resolution = resolution
    if args.prometheus_aggregate:
        if not args.prometheus:
            raise UserError("--prometheus-aggregate needs --prometheus",
                            field="--prometheus-aggregate")
        # the store averages over each step; the allocation has one interval per step
        resolution = step
    if span // resolution > 200_000:
        raise UserError(
            f"{span // resolution} intervals: use a coarser --resolution", field="--resolution"
        )
    return step, resolution, fine_resolution


def run(args: argparse.Namespace) -> int:
    from scaler.core.allocation.aggregate import AggregateError, check_keys
    from scaler.policy import load_policies
    from scaler.ports.metrics import MetricsError, Window
    from scaler.report.build import ReportRequest, build_report, catalog_pricer
    from scaler.report.rules import rules_from
    from scaler.report.window import parse_window

    if bool(args.snapshots) == bool(args.prometheus):
        raise UserError("give either snapshot files or --prometheus URL (one of them)",
                        field="SNAPSHOT")
    if not args.prometheus:
        refuse_prometheus_access(args, "snapshot files")
    if args.serve:
        return serve(args)
    start, end = parse_window(args.window, _now(args.now))
    span = end - start
    keys = tuple(k.strip() for k in args.aggregate.split(",") if k.strip())
    try:
        check_keys(keys)
    except AggregateError as err:
        raise UserError(str(err), field="--aggregate") from None
    step, resolution, fine_resolution = _grid(args, span)
    catalog = catalog_for(args.region, split_zones(args.zones))
    policies = load_policies(_path(args.policies))
    rules = rules_from(policies.cost_allocation, args.share_idle)
    request = ReportRequest(start, end, step, resolution, keys, args.include_idle, args.cluster)
    window = Window(float(start), float(end - 1), float(resolution))
    pricer = catalog_pricer(catalog.instance_types)
    price_note = ""
    if args.prices == "aws":
        from scaler.report.cloud_prices import aws_pricer

        pricer, price_note = aws_pricer(catalog)
    from scaler.report.node_savings import node_savings, pods_from_containers

    try:
        if args.prometheus:
            from scaler.adapters.prometheus import PrometheusSource
            from scaler.adapters.prometheus.inventory import PrometheusInventory

            access = prometheus_access(args)
            report = build_report(
                request,
                PrometheusSource(
                    args.prometheus,
                    max_span=DAY,
                    aggregate_resolution=fine_resolution if args.prometheus_aggregate else None,
                    access=access,
                ),
                PrometheusInventory(args.prometheus, access=access),
                pricer,
                rules,
                f"prometheus {args.prometheus}",
            )
            pods, daemonsets = pods_from_containers(report.containers, end - resolution)
        else:
            from scaler.report.simulated import snapshot_sources

            sources = snapshot_sources(
                args.snapshots, policies, catalog, window, args.usage,
                place_pending=not args.no_place_pending,
            )
            report = build_report(
                request, sources.metrics, sources.inventory, pricer, rules,
                "simulated from " + ", ".join(args.snapshots),
            )
            report = _with_notes(report, sources.notes)
            pods, daemonsets = list(sources.snapshot.bound_pods), list(sources.snapshot.daemonsets)
    except MetricsError as err:
        raise UserError(str(err), field="--prometheus") from None
    if price_note:
        report = _with_notes(report, (f"prices: {price_note}",))
    if not args.no_node_savings and policies.node_pools:
        import dataclasses

        report = dataclasses.replace(
            report,
            node_savings=node_savings(report, pods, daemonsets, policies.node_pools, catalog),
        )
    _write(report, args.output)
    return 0


def allocation_service(
    snapshots: list[str], prometheus: str | None, policies_dir: str | None, region: str,
    zones: list[str] | None, usage: str | None, cluster: str, share_idle: bool | None = None,
    place_pending: bool = True, access: Any = None,
) -> Any:
    """OpenCost's allocation API over snapshots (with generated or given usage) or a
    Prometheus: each request runs the report for its window; one request at a time."""
    import threading

    from scaler.policy import load_policies
    from scaler.ports.metrics import Window
    from scaler.report.api import AllocationService
    from scaler.report.build import ReportRequest, build_report, catalog_pricer
    from scaler.report.rules import Rules, rules_from

    catalog = catalog_for(region, zones)
    policies = load_policies(_path(policies_dir))
    pricer = catalog_pricer(catalog.instance_types)
    lock = threading.Lock()

    def run_report(request: ReportRequest, rules: Rules) -> Any:
        with lock:
            if prometheus:
                from scaler.adapters.prometheus import PrometheusSource
                from scaler.adapters.prometheus.inventory import PrometheusInventory

                return build_report(request,
                                    PrometheusSource(prometheus, max_span=DAY, access=access),
                                    PrometheusInventory(prometheus, access=access), pricer, rules,
                                    f"prometheus {prometheus}")
            from scaler.report.simulated import snapshot_sources

            window = Window(float(request.start), float(request.end - request.resolution),
                            float(request.resolution))
            sources = snapshot_sources(snapshots, policies, catalog, window, usage,
                                       place_pending=place_pending)
            return build_report(request, sources.metrics, sources.inventory, pricer, rules,
                                "simulated from " + ", ".join(snapshots))

    return AllocationService(run_report, rules_from(policies.cost_allocation, share_idle),
                             cluster)


def parse_address(text: str, flag: str) -> tuple[str, int]:
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host = "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise UserError(f"invalid address {text!r} (expected [HOST:]PORT)", field=flag)
    return host or "127.0.0.1", port


def serve(args: argparse.Namespace) -> int:
    import signal
    import threading

    from prometheus_client import CollectorRegistry

    from scaler.output.allocation_api import handle
    from scaler.runtime.http import ControllerServer, Health

    host, port = parse_address(args.serve, "--serve")
    zones = split_zones(args.zones)
    service = allocation_service(args.snapshots, args.prometheus, args.policies, args.region,
                                 zones, args.usage, args.cluster, args.share_idle,
                                 not args.no_place_pending,
                                 prometheus_access(args) if args.prometheus else None)
    health = Health()
    health.set_policies_loaded(True)
    health.set_caches_synced(True)
    health.set_role("leader")
    try:
        server = ControllerServer(CollectorRegistry(), health, host, port,
                                  allocation=lambda q: handle(service, q))
    except OSError as err:
        raise UserError(f"cannot serve on {host}:{port}: {err.strerror}", field="--serve") \
            from None
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with server:
        sys.stderr.write(f"serving OpenCost's allocation API on http://{host}:{server.port}"
                         "/allocation/compute\n")
        sys.stderr.flush()
        while not stop.wait(0.5):
            pass
    return 0


def _path(text: str | None) -> Any:
    from pathlib import Path

    return Path(text) if text else None


def _with_notes(report: Any, notes: tuple[str, ...]) -> Any:
    import dataclasses

    return dataclasses.replace(report, warnings=(*notes, *report.warnings))


def _write(report: Any, output: str) -> None:
    if output == "json":
        from scaler.output.json import render_json
        from scaler.output.report_json import report_document

        sys.stdout.write(render_json(report_document(report)))
    elif output == "csv":
        from scaler.output.report_csv import report_csv

        sys.stdout.write(report_csv(report))
    elif output == "html":
        from scaler.output.report_html import report_html

        sys.stdout.write(report_html(report))
    else:
        from scaler.output.report_table import report_table

        sys.stdout.write(report_table(report))
