"""`scaler catalog`: the instance types of a region, what a node of each holds, and prices."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from scaler.cli.common import add_catalog_flags, catalog_for, split_zones
from scaler.output.csv import render_csv
from scaler.output.json import render_json
from scaler.output.table import Cell, render_table

if TYPE_CHECKING:
    from pricing import InstanceType, Offering

GIB = 1024**3
SORTS = ("price", "price-per-vcpu", "name")
_CAPACITY_ORDER = {"on-demand": 0, "spot": 1}  # on-demand first when all else ties

TABLE_HEADERS = (
    "instance type",
    "arch",
    "vCPU",
    "memory GiB",
    "alloc CPU",
    "alloc memory GiB",
    "max pods",
    "capacity",
    "price/h",
    "price/vCPU/h",
    "estimated",
    "interruption",
)
# Same columns, spelled for spreadsheets and dataframes.
CSV_HEADERS = (
    "instance_type",
    "arch",
    "vcpu",
    "memory_gib",
    "allocatable_cpu_cores",
    "allocatable_memory_gib",
    "max_pods",
    "capacity_type",
    "price_per_hour",
    "price_per_vcpu_hour",
    "price_estimated",
    "interruption_band",
)

Row = tuple["InstanceType", "Offering"]


def register(sub: Any) -> None:  # argparse._SubParsersAction
    p = sub.add_parser(
        "catalog",
        help="list instance types with allocatable resources and prices",
        description=(
            "List the EC2 instance types of a region: size, what Karpenter (AL2023 defaults) "
            "leaves allocatable on a node, and the hourly price, one row per capacity type. "
            "Spot prices are estimates from the Spot Instance Advisor's average saving; "
            "regions other than us-east-1 and GovCloud borrow us-east-1 On-Demand prices. "
            "Sources: pricing/data/SOURCES.md."
        ),
    )
    add_catalog_flags(p, "AWS region (default: us-east-1)")
    p.add_argument("--arch", choices=("amd64", "arm64"), help="only this CPU architecture")
    p.add_argument("--min-vcpu", type=int, default=0, metavar="N", help="at least N vCPUs")
    p.add_argument("--capacity-type", choices=("spot", "on-demand"), help="only this capacity type")
    p.add_argument("--sort", choices=SORTS, default="price", help="row order (default: price)")
    p.add_argument("--output", "-o", choices=("table", "json", "csv"), default="table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    catalog = catalog_for(args.region, split_zones(args.zones))

    rows = select(catalog.instance_types, args.arch, args.min_vcpu, args.capacity_type)
    rows.sort(key=SORT_KEYS[args.sort])
    if args.output == "json":
        sys.stdout.write(render_json([_json_row(it, o) for it, o in rows]))
    elif args.output == "csv":
        sys.stdout.write(render_csv(CSV_HEADERS, [_cells(it, o) for it, o in rows]))
    else:
        sys.stdout.write(render_table(TABLE_HEADERS, [_cells(it, o) for it, o in rows]) + "\n")
        if not rows:  # say why the table is empty instead of leaving the user guessing
            print(f"scaler: no instance types match in {catalog.region}", file=sys.stderr)
    return 0


def select(
    types: Sequence[InstanceType],
    arch: str | None = None,
    min_vcpu: int = 0,
    capacity_type: str | None = None,
) -> list[Row]:
    """One row per (type, capacity type), priced at the cheapest zone."""
    rows: list[Row] = []
    for it in types:
        if (arch and it.arch != arch) or it.vcpu < min_vcpu:
            continue
        for ct in _CAPACITY_ORDER:
            if capacity_type and ct != capacity_type:
                continue
            offering = it.cheapest(ct)
            if offering is not None:
                rows.append((it, offering))
    return rows


def _by_price(row: Row) -> tuple[float, str, int]:
    it, o = row
    return (o.price, it.name, _CAPACITY_ORDER[o.capacity_type])


def _by_price_per_vcpu(row: Row) -> tuple[float, float, str, int]:
    it, o = row
    return (o.price / it.vcpu, o.price, it.name, _CAPACITY_ORDER[o.capacity_type])


def _by_name(row: Row) -> tuple[str, int]:
    it, o = row
    return (it.name, _CAPACITY_ORDER[o.capacity_type])


SORT_KEYS: dict[str, Callable[[Row], Any]] = {
    "price": _by_price,
    "price-per-vcpu": _by_price_per_vcpu,
    "name": _by_name,
}


def _cells(it: InstanceType, o: Offering) -> list[Cell]:
    return [
        it.name,
        it.arch,
        it.vcpu,
        round(it.memory_mib / 1024, 3),
        round(it.allocatable["cpu"] / 1000, 3),
        round(it.allocatable["memory"] / GIB, 3),
        it.max_pods,
        o.capacity_type,
        round(o.price, 6),
        round(o.price / it.vcpu, 6),
        "yes" if o.price_estimated else "no",
        o.interruption_band,
    ]


def _quantity_mi(n_bytes: int) -> str:
    return f"{n_bytes // 2**20}Mi" if n_bytes % 2**20 == 0 else str(n_bytes)


def _json_row(it: InstanceType, o: Offering) -> dict[str, Any]:
    return {
        "instanceType": it.name,
        "arch": it.arch,
        "vcpu": it.vcpu,
        "memoryMiB": it.memory_mib,
        # Kubernetes quantities, as `kubectl get node -o json` shows node allocatable.
        "allocatable": {
            "cpu": f"{it.allocatable['cpu']}m",
            "memory": _quantity_mi(it.allocatable["memory"]),
            "pods": it.allocatable["pods"],
        },
        "capacityType": o.capacity_type,
        "pricePerHour": round(o.price, 6),
        "pricePerVcpuHour": round(o.price / it.vcpu, 6),
        "priceEstimated": o.price_estimated,
        "interruptionBand": o.interruption_band,
    }
