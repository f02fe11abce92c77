"""`scaler rightsize`: requests and limits from real usage, explained, priced, as patches.

scaler rightsize examples/workloads --usage examples/usage.csv.gz
scaler rightsize manifests/ --prometheus http://prometheus:9090 --output json
scaler rightsize manifests/ --prometheus URL --write-patches rightsizing/
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
import types
import typing
from pathlib import Path
from typing import Any

from scaler.errors import UserError

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
    p.add_argument("paths", nargs="+", metavar="MANIFESTS", help="file or directory")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--prometheus", metavar="URL", help="Prometheus base URL")
    src.add_argument("--usage", metavar="FILE", help="usage CSV (or .csv.gz) instead of a cluster")
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
    p.add_argument("--region", default="us-east-1", help="AWS region for the catalog prices")
    p.add_argument("--output", "-o", choices=("table", "json", "csv", "yaml"), default="table")
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
        return float(text)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
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
    from pricing import CatalogError, load_catalog
    from scaler.core.rightsizing.cost import unit_prices
    from scaler.policy import load_policies
    from scaler.ports.metrics import MetricsError
    from scaler.rightsizing.report import build_report, history_window
    from scaler.rightsizing.workloads import read_workloads

    workloads = read_workloads(paths)
    if args.namespace:
        workloads = [w for w in workloads if w.namespace in set(args.namespace)]
        if not workloads:
            raise UserError(
                f"no workloads in namespace(s) {', '.join(args.namespace)}", field="--namespace"
            )
    policies = load_policies(Path(args.policies)).right_sizing_policies if args.policies else ()
    conf = configurator(args, policies)
    try:
        catalog = catalog or load_catalog(args.region)
    except CatalogError as err:
        raise UserError(str(err), field=f"--{err.param}") from None
    prices = unit_prices(catalog.instance_types)

    source: Any
    if args.usage:
        from scaler.adapters.simulated.usage_file import load_usage_file

        source = load_usage_file(args.usage)
        span = source.time_range()
        end = _time(args.end) if args.end else (span[1] if span else time.time())
        step = _step(args.step) if args.step else (source.typical_step() or 300.0)
        name = f"usage file {args.usage}"
    else:
        from scaler.adapters.prometheus import PrometheusSource

        source = PrometheusSource(args.prometheus)
        end = _time(args.end) if args.end else time.time()
        step = _step(args.step) if args.step else 300.0
        name = f"Prometheus {args.prometheus}"
    window = history_window(conf, end, step)
    try:
        return build_report(workloads, source, conf, window, prices, name)
    except MetricsError as err:
        raise UserError(str(err), field="--prometheus") from None


def run(args: argparse.Namespace) -> int:
    from scaler.output.json import render_json
    from scaler.output.rightsizing import report_csv, report_document, report_table
    from scaler.output.yaml import render_yaml

    paths = [Path(p) for p in args.paths]
    report = make_report(args, paths)
    workloads = [r.workload for r in report.rows]

    if args.output == "json":
        sys.stdout.write(render_json(report_document(report)))
    elif args.output == "yaml":
        sys.stdout.write(render_yaml(report_document(report)))
    elif args.output == "csv":
        sys.stdout.write(report_csv(report))
    else:
        sys.stdout.write(report_table(report))

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
