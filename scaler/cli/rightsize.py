"""`scaler rightsize`: requests and limits from real usage, explained, priced, as patches.

scaler rightsize examples/workloads --usage examples/usage.csv.gz
scaler rightsize manifests/ --prometheus http://prometheus:9090 --output json
scaler rightsize manifests/ --prometheus URL --write-patches rightsizing/
"""

from __future__ import annotations

import argparse
import sys
import time
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scaler.cli.common import add_region, catalog_for
from scaler.cli.prometheus import (
    PROMETHEUS_DEFAULTS,
    PROMETHEUS_FLAGS,
    add_prometheus_flags,
    prometheus_access,
    refuse_prometheus_access,
)
from scaler.errors import UserError
from scaler.times import parse_seconds_or_rfc3339

# What make_report reads beyond the flags `scaler simulate --rightsized` shares with it.
REPORT_DEFAULTS: dict[str, Any] = {
    **{k: None for k in PROMETHEUS_FLAGS},
    **PROMETHEUS_DEFAULTS,
    "prometheus_insecure_skip_verify": False,
    "kind": None,
    "selector": None,
    "kubeconfig": None,
    "context": None,
}
OUTPUT_FORMATS = ("table", "json", "csv", "yaml", "krr-json", "krr-csv")
COMMON_QUANTITIES = {
    "cpu_min": "cpu",
    "cpu_max": "cpu",
    "memory_min": "memory",
    "memory_max": "memory",
}


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _base_type(annotation: Any) -> Any:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0]
    return annotation


def _quantity(resource: str) -> Any:
    def parse(text: str) -> float:
        from scaler.core.quantity import QuantityError, parse_quantity

        try:
            return float(parse_quantity(text))
        except QuantityError as err:
            raise argparse.ArgumentTypeError(err.for_resource(resource).message) from None

    return parse


def add_settings_flags(p: argparse.ArgumentParser) -> None:
    """Every strategy's pydantic settings and the common ones, as flags (KRR's way)."""
    from scaler.core.rightsizing import STRATEGIES, CommonSettings

    seen: dict[str, list[str]] = {}
    infos: dict[str, Any] = {}
    for name, cls in STRATEGIES.items():
        for field, info in cls.settings_model.model_fields.items():
            seen.setdefault(field, []).append(name)
            infos.setdefault(field, info)
    g = p.add_argument_group("strategy settings (each applies to the strategies named)")
    for field, names in seen.items():
        info = infos[field]
        kind = _base_type(info.annotation)
        defaults = ", ".join(
            f"{n}: {STRATEGIES[n].settings_model.model_fields[field].default:g}"
            if not isinstance(STRATEGIES[n].settings_model.model_fields[field].default, bool)
            else f"{n}: {STRATEGIES[n].settings_model.model_fields[field].default}"
            for n in names
        )
        help_text = f"{info.description} [{defaults}]"
        if kind is bool:
            g.add_argument(
                flag(field),
                dest=f"s_{field}",
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        else:
            g.add_argument(
                flag(field), dest=f"s_{field}", type=kind, default=None, metavar="N", help=help_text
            )
    c = p.add_argument_group("settings for every strategy")
    for field, info in CommonSettings.model_fields.items():
        kind = _base_type(info.annotation)
        default = info.default
        if field in COMMON_QUANTITIES:
            res = COMMON_QUANTITIES[field]
            shown = (
                "none"
                if default is None
                else (f"{default * 1000:g}m" if res == "cpu" else f"{default / 2**20:g}Mi")
            )
            c.add_argument(
                flag(field),
                dest=f"c_{field}",
                type=_quantity(res),
                default=None,
                metavar="QUANTITY",
                help=f"{info.description} [default {shown}]",
            )
        elif typing.get_origin(kind) is typing.Literal:
            c.add_argument(
                flag(field),
                dest=f"c_{field}",
                choices=typing.get_args(kind),
                default=None,
                help=f"{info.description} [default {default}]",
            )
        else:
            c.add_argument(
                flag(field),
                dest=f"c_{field}",
                type=kind,
                default=None,
                metavar="N",
                help=f"{info.description} [default {default:g}]",
            )


def register(sub: Any) -> None:
    from scaler.core.rightsizing import STRATEGIES

    p = sub.add_parser(
        "rightsize",
        help="recommend container requests and limits from usage",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Read workloads (kubectl output or a Git checkout of manifests), their usage from "
            "Prometheus or a usage file, and recommend requests and limits per container: "
            "with the usage percentiles, data points, the reason, the expected monthly saving "
            "priced from the catalog and a risk flag. --write-patches writes them as patches "
            "to commit.\n\nstrategies:\n"
            + "\n".join(f"  {n:11s} {cls.summary}" for n, cls in STRATEGIES.items())
        ),
    )
    p.add_argument(
        "paths",
        nargs="*",
        metavar="MANIFESTS",
        help="files or directories of manifests; none: the workloads of the live cluster "
        "(kubeconfig, or in-cluster)",
    )
    p.add_argument("--kubeconfig", "-k", metavar="FILE", help="kubeconfig (default: $KUBECONFIG, "
                   "~/.kube/config, or in-cluster)")
    p.add_argument("--context", "-c", metavar="NAME", help="kubeconfig context (default: current)")
    p.add_argument(
        "--selector",
        "-l",
        "-s",
        metavar="SELECTOR",
        help="only workloads whose own labels match (app=web,tier!=db,env in (a,b),!x)",
    )
    p.add_argument(
        "--kind",
        "-r",
        action="append",
        metavar="KIND",
        help="only workloads of this kind (repeatable, case-insensitive: Deployment, "
        "StatefulSet, DaemonSet, ReplicaSet, Job, CronJob)",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--prometheus", "--prometheus-url", "-p", metavar="URL", help="Prometheus base URL"
    )
    src.add_argument("--usage", metavar="FILE", help="usage CSV (or .csv.gz) instead of a cluster")
    add_prometheus_flags(p)
    p.add_argument("--policies", metavar="DIR", help="policy directory (RightSizingPolicy)")
    p.add_argument(
        "--namespace",
        "-n",
        action="append",
        metavar="NS",
        help="only these namespaces (repeatable)",
    )
    p.add_argument(
        "--strategy",
        choices=sorted(STRATEGIES),
        default=None,
        help="strategy for every workload (default: the policy's, else scaler)",
    )
    p.add_argument(
        "--end",
        metavar="TIME",
        help="end of the history (RFC 3339 or unix seconds; default: now, or the "
        "usage file's last sample)",
    )
    p.add_argument(
        "--step",
        metavar="DURATION",
        default=None,
        help="sampling step for Prometheus (default 5m; KRR uses 1.25m)",
    )
    add_region(p, "AWS region for the catalog prices")
    p.add_argument(
        "--output",
        "-o",
        choices=OUTPUT_FORMATS,
        default="table",
        help="table, json, csv, yaml (scaler's), or krr-json, krr-csv (KRR's own schemas)",
    )
    p.add_argument("--write-patches", metavar="DIR", help="write the changes as patches here")
    p.add_argument(
        "--patch-format",
        choices=("kustomize", "resize"),
        default="kustomize",
        help="kustomize strategic-merge patches (default) or in-place pod resize "
        "patches (Kubernetes 1.35+)",
    )
    add_settings_flags(p)
    p.set_defaults(func=run)


def _time(text: str) -> float:
    try:
        return parse_seconds_or_rfc3339(text)
    except ValueError:
        raise UserError(f"not a time: {text!r} (RFC 3339 or unix seconds)", field="--end") from None


def _step(text: str) -> float:
    from scaler.policy.common import parse_duration

    if text.endswith("m") and text[:-1].replace(".", "", 1).isdigit():
        return float(text[:-1]) * 60
    seconds = parse_duration(text)
    if seconds is None or seconds <= 0:
        raise UserError(f"not a duration: {text!r} (e.g. 5m or 30s)", field="--step")
    return float(seconds)


def configurator(args: argparse.Namespace, policies: Any) -> Any:
    from pydantic import ValidationError

    from scaler.core.rightsizing import STRATEGIES
    from scaler.rightsizing.config import Configurator

    strategy_flags = {
        k[2:]: v for k, v in vars(args).items() if k.startswith("s_") and v is not None
    }
    common_flags = {k[2:]: v for k, v in vars(args).items() if k.startswith("c_") and v is not None}
    for low, high in (("cpu_min", "cpu_max"), ("memory_min", "memory_max")):
        if low in common_flags and high in common_flags and common_flags[low] > common_flags[high]:
            raise UserError(f"{flag(low)} is above {flag(high)}", field=flag(low))
    conf = Configurator(
        policies,
        strategy=args.strategy,
        strategy_flags=strategy_flags,
        common_flags=common_flags,
    )
    try:
        used = {s.name for s in conf.strategies()}
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        raise UserError(str(first["msg"]), field=flag(field)) from None
    for key in strategy_flags:
        if not any(key in STRATEGIES[n].settings_model.model_fields for n in used):
            owners = [n for n, c in STRATEGIES.items() if key in c.settings_model.model_fields]
            raise UserError(
                f"not a setting of strategy {', '.join(sorted(used))} "
                f"(it is {', '.join(owners)}'s)",
                field=flag(key),
            )
    return conf


def make_report(args: argparse.Namespace, paths: list[Path], catalog: Any = None) -> Any:
    """Workloads, usage source, policies and flags to a right-sizing Report."""
    from scaler.core.rightsizing.cost import unit_prices
    from scaler.policy import load_policies
    from scaler.ports.metrics import MetricsError
    from scaler.rightsizing.report import build_report, history_window
    from scaler.rightsizing.selector import parse_selector
    from scaler.rightsizing.workloads import read_workloads

    args = argparse.Namespace(**{**REPORT_DEFAULTS, **vars(args)})
    kinds = _kinds(args.kind)
    match = parse_selector(args.selector) if args.selector else None
    cluster: str | None = None
    if paths:
        workloads = read_workloads(paths)
    else:
        workloads, cluster = _cluster_workloads(args, kinds)
    if args.namespace:
        workloads = [w for w in workloads if w.namespace in set(args.namespace)]
        if not workloads:
            raise UserError(
                f"no workloads in namespace(s) {', '.join(args.namespace)}", field="--namespace"
            )
    if kinds:
        workloads = [w for w in workloads if w.kind in kinds]
    if match is not None:
        workloads = [w for w in workloads if match(w.labels)]
    if (kinds or match is not None) and not workloads:
        raise UserError("no workloads match --kind/--selector", field="--selector")
    policies = load_policies(Path(args.policies)).right_sizing_policies if args.policies else ()
    conf = configurator(args, policies)
    catalog = catalog or catalog_for(args.region)
    prices = unit_prices(catalog.instance_types)

    source: Any
    if args.usage:
        refuse_prometheus_access(args, "--usage")
    if args.usage:
        from scaler.adapters.simulated.usage_file import load_usage_file

        notes: list[str] = []
        source = load_usage_file(args.usage, notes)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        span = source.time_range()
        end = _time(args.end) if args.end else (span[1] if span else time.time())
        step = _step(args.step) if args.step else (source.typical_step() or 300.0)
        name = f"usage file {args.usage}"
    else:
        from scaler.adapters.prometheus import PrometheusSource

        source = PrometheusSource(args.prometheus, access=prometheus_access(args))
        end = _time(args.end) if args.end else time.time()
        step = _step(args.step) if args.step else 300.0
        name = f"Prometheus {args.prometheus}"
    window = history_window(conf, end, step)
    try:
        cluster = cluster or (None if args.usage else args.prometheus_cluster_label)
        return build_report(workloads, source, conf, window, prices, name, cluster)
    except MetricsError as err:
        raise UserError(str(err), field="--prometheus") from None


def formatter(name: str) -> Callable[[Any], str]:
    """One formatter per output format (KRR's way)."""
    from scaler.output import krr
    from scaler.output.json import render_json
    from scaler.output.rightsizing import report_csv, report_document, report_table
    from scaler.output.yaml import render_yaml

    formatters: dict[str, Callable[[Any], str]] = {
        "table": report_table,
        "json": lambda r: render_json(report_document(r)),
        "yaml": lambda r: render_yaml(report_document(r)),
        "csv": report_csv,
        "krr-json": krr.krr_json,
        "krr-csv": krr.krr_csv,
    }
    return formatters[name]


def _kinds(given: list[str] | None) -> list[str] | None:
    from scaler.rightsizing.workloads import WORKLOAD_KINDS

    if not given:
        return None
    by_lower = {k.lower(): k for k in WORKLOAD_KINDS}
    out = []
    for k in given:
        if k.lower() not in by_lower:
            raise UserError(
                f"unknown kind {k!r} (one of {', '.join(WORKLOAD_KINDS)})", field="--kind"
            )
        out.append(by_lower[k.lower()])
    return out


def _cluster_workloads(args: argparse.Namespace, kinds: list[str] | None) -> tuple[Any, Any]:
    """The live cluster's workloads through the Kubernetes adapter, and its context name."""
    from scaler.adapters.kubernetes import Kube, KubeApiError, KubeSettings, load_configuration
    from scaler.adapters.kubernetes.workloads import cluster_objects, context_name
    from scaler.rightsizing.workloads import workloads_of
    from scaler.snapshot.documents import RawObject

    settings = KubeSettings(kubeconfig=args.kubeconfig, context=args.context)
    kube = Kube(load_configuration(settings), settings)
    try:
        found = cluster_objects(kube, args.namespace, args.selector, kinds)
    except KubeApiError as err:
        raise UserError(str(err), field="--kubeconfig") from None
    finally:
        kube.close()
    where = f"cluster {context_name(settings) or '(in-cluster)'}"
    objects = [RawObject.of(str(o["kind"]), o, where, str(o["kind"])) for o in found]
    return workloads_of(objects, where, from_cluster=True), context_name(settings)


def run(args: argparse.Namespace) -> int:
    from scaler.core.rightsizing.severity import score_letter

    paths = [Path(p) for p in args.paths]
    report = make_report(args, paths)
    workloads = [r.workload for r in report.rows]

    sys.stdout.write(formatter(args.output)(report))
    if args.output == "krr-csv":  # KRR's CSV has no place for it
        print(f"score {report.score} ({score_letter(report.score)})", file=sys.stderr)

    if args.write_patches:
        from scaler.rightsizing.patches import write_kustomize, write_resize

        out = Path(args.write_patches)
        if args.patch_format == "resize":
            pods = {w.key: w.pods or report.pods.get(w.key, ()) for w in workloads}
            written = write_resize(report, out, pods)
            msg = f"wrote {len(written.resize)} resize patch(es) and resize.sh to {out}"
        else:
            written = write_kustomize(report, out, paths)
            msg = f"wrote {len(written.kustomize)} patch(es) and kustomization.yaml to {out}"
            if written.cluster:
                msg += (
                    f"; {len(written.cluster)} for workloads without a manifest under "
                    f"{out / 'cluster'} (kubectl patch --type strategic --patch-file)"
                )
        for s in written.skipped:
            msg += f"\nskipped {s}"
        print(msg, file=sys.stderr)
    return 0
