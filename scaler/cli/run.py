"""`scaler run`: the controller. Against a cluster (kubeconfig or in-cluster) with AWS, or
with `--simulate` against the simulated cluster and cloud, so it can be watched with no
account. Settings come from `--config` (YAML) with flags on top."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from scaler.cli.common import split_zones
from scaler.errors import UserError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="run the controller (or --simulate it on a snapshot)",
        description=(
            "Watch pods and nodes, launch nodes for pending pods, remove empty ones, with "
            "policies from a path or Git. --dry-run logs and emits events but changes nothing. "
            "--simulate runs the same loop on a cluster snapshot with a simulated cloud."
        ),
    )
    p.add_argument("--config", metavar="FILE", help="settings file (YAML)")
    p.add_argument("--kubeconfig", metavar="FILE", help="default: in-cluster, else ~/.kube")
    p.add_argument("--context", help="kubeconfig context")
    p.add_argument("--dry-run", action="store_true", default=None,
                   help="decide, log and emit events, but change nothing")
    p.add_argument("--simulate", action="store_true", default=None,
                   help="run on the simulated cluster (--snapshot) and cloud")
    p.add_argument("--snapshot", action="append", metavar="PATH",
                   help="with --simulate: cluster snapshot file or directory (repeatable)")
    p.add_argument("--interrupt", action="append", metavar="NODE@SECONDS",
                   help="with --simulate: the snapshot node's instance gets a Spot "
                        "interruption warning this long after the start (repeatable)")
    p.add_argument("--policies", metavar="PATH", help="policy directory or file")
    p.add_argument("--git-url", metavar="URL", help="policy Git repository")
    p.add_argument("--git-branch", metavar="BRANCH")
    p.add_argument("--git-path", metavar="PATH", help="sub-path of the repository")
    p.add_argument("--state-dir", metavar="DIR", help="policy source state directory")
    p.add_argument("--cloud", choices=("aws", "simulated"))
    p.add_argument("--region", help="AWS region")
    p.add_argument("--cluster-name", help="EKS cluster name (tags, discovery)")
    p.add_argument("--zones", metavar="A,B,C")
    p.add_argument("--aws-endpoint-url", metavar="URL", help="one endpoint for every AWS API")
    p.add_argument("--interruption-queue", metavar="NAME|URL")
    p.add_argument("--batch-idle", type=float, metavar="SECONDS", help="default 1")
    p.add_argument("--batch-max", type=float, metavar="SECONDS", help="default 10")
    p.add_argument("--disruption-interval", type=float, metavar="SECONDS", help="default 10")
    p.add_argument("--empty-after", type=float, metavar="SECONDS",
                   help="remove a node scaler launched after it held no pods this long (30)")
    p.add_argument("--no-leader-elect", action="store_true", default=None,
                   help="act without a Lease (one replica only!)")
    p.add_argument("--lease-namespace", metavar="NS")
    p.add_argument("--lease-name", metavar="NAME")
    p.add_argument("--identity", help="this replica's name in the Lease")
    p.add_argument("--run-for", type=float, metavar="SECONDS", help="stop after this long")
    p.add_argument("--http-port", type=int, metavar="PORT",
                   help="serve /metrics, /healthz and /readyz on this port (default: off)")
    p.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                   help="default INFO (or SCALER_LOG_LEVEL)")
    p.set_defaults(func=run)


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Flags given on the command line, as config-file keys."""
    from scaler.runtime.settings import put as put_in

    out: dict[str, Any] = {}

    def put(path: str, value: Any) -> None:
        if value is not None:
            put_in(out, path, value)

    put("kubeconfig", args.kubeconfig)
    put("context", args.context)
    put("dryRun", args.dry_run)
    put("simulate", args.simulate)
    put("snapshots", args.snapshot)
    if args.interrupt:
        from scaler.simulation.interruptions import parse_interruption

        put("simulatedInterruptions", [
            {"node": i.node, "after": i.at} for i in map(parse_interruption, args.interrupt)])
    put("policies", args.policies)
    if args.git_url:
        put("git.url", args.git_url)
    put("git.branch", args.git_branch)
    put("git.path", args.git_path)
    put("git.stateDir", args.state_dir)
    put("cloud", args.cloud)
    put("aws.region", args.region)
    put("aws.clusterName", args.cluster_name)
    if args.zones:
        put("aws.zones", split_zones(args.zones))
    put("aws.endpointUrl", args.aws_endpoint_url)
    put("aws.interruptionQueue", args.interruption_queue)
    put("batch.idle", args.batch_idle)
    put("batch.max", args.batch_max)
    put("intervals.disruption", args.disruption_interval)
    put("disruption.emptyAfter", args.empty_after)
    if args.no_leader_elect:
        put("leaderElection.enabled", False)
    put("leaderElection.namespace", args.lease_namespace)
    put("leaderElection.name", args.lease_name)
    put("leaderElection.identity", args.identity)
    put("runFor", args.run_for)
    put("httpPort", args.http_port)
    put("logLevel", args.log_level)
    return out


def run(args: argparse.Namespace) -> int:
    from scaler.runtime.http import ControllerServer, Health
    from scaler.runtime.logs import configure_logging
    from scaler.runtime.observability import PrometheusRecorder
    from scaler.runtime.run import Runtime
    from scaler.runtime.settings import load_settings

    settings = load_settings(args.config, overrides(args))
    # Structured logs: one JSON object per line on stderr, for every scaler logger.
    handler = configure_logging(level=getattr(logging, settings.log_level))
    # APScheduler's own warnings (a pass that overran its interval was skipped) are JSON
    # lines too, not plain text through Python's last-resort handler.
    scheduler_log = logging.getLogger("apscheduler")
    scheduler_log.addHandler(handler)
    scheduler_log.propagate = False
    # boto and urllib3 chatter is not what an operator needs at INFO.
    for noisy in ("botocore", "boto3", "urllib3", "kubernetes"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    recorder = PrometheusRecorder(version=_version())
    health = Health()
    server = None
    runtime = Runtime(settings, metrics=recorder, health=health)
    if settings.http_port is not None:
        recorder.registry.register(_cost_collector(settings, runtime))
        allocation = _allocation_api(settings)
        try:
            server = ControllerServer(recorder.registry, health, port=settings.http_port,
                                      allocation=allocation).start()
        except OSError as err:
            raise UserError(f"cannot serve /metrics on port {settings.http_port}: "
                            f"{err.strerror}", field="httpPort") from None
    try:
        return runtime.run()
    finally:
        if server is not None:
            server.stop()


def _cost_collector(settings: Any, runtime: Any) -> Any:
    """OpenCost's cost metrics over the controller's cluster, priced from the catalog."""
    from functools import cache

    from scaler.core.model import Node, Snapshot
    from scaler.runtime.cost_metrics import GPU, CostCollector

    @cache
    def catalog() -> Any:
        from pricing import load_catalog

        return load_catalog(settings.aws.region, None)

    def snapshot() -> Snapshot | None:
        c = runtime.controller
        return c.cluster.snapshot() if c is not None else None

    @cache
    def pricer() -> Any:
        from scaler.report.build import catalog_pricer

        return catalog_pricer(catalog().instance_types)

    def price(node: Node) -> float | None:
        found = pricer()(node.instance_type or "", node.capacity_type, node.zone)
        return found[0] if found else None

    def capacity(node: Node) -> tuple[float, float, float]:
        it = catalog().get(node.instance_type or "")
        res = dict(it.capacity) if it else dict(node.allocatable.items())
        return res.get("cpu", 0) / 1000, float(res.get("memory", 0)), float(res.get(GPU, 0))

    # Priced before the loop starts: loading the catalog on the first scrape would take the
    # interpreter from the loop's first passes.
    pricer()
    return CostCollector(snapshot, price, settings.aws.region, capacity)


def _allocation_api(settings: Any) -> Any:
    """OpenCost's allocation API on the HTTP port: over the simulated cluster's snapshot
    (usage generated) under --simulate; a real cluster's history needs Prometheus, which
    `scaler report --prometheus URL --serve` serves."""
    from scaler.output.allocation_api import error, handle

    if not settings.simulate:
        return lambda q: (501, error(501, "the allocation API needs history: run "
                                     "`scaler report --prometheus URL --serve` beside scaler"))
    from scaler.cli.report import allocation_service

    policies = settings.policies if settings.policies and settings.policies != "git" else None
    service = allocation_service(list(settings.snapshots), None, policies,
                                 settings.aws.region, None, None, "cluster-one")
    return lambda q: handle(service, q)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("scaler")
    except PackageNotFoundError:
        return ""
