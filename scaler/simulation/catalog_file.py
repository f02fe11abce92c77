"""A catalog of instance types from a file (`scaler simulate --catalog FILE`).

For prices the bundled AWS catalog does not know (private pricing, another cloud, a test
fleet) and for benchmarks on synthetic catalogs such as Karpenter's. Format (YAML or JSON):

    apiVersion: scaler.dev/v1alpha1
    kind: InstanceTypeCatalog
    metadata: {name: my-prices}
    spec:
      region: test-region
      zones: [test-zone-1, test-zone-2]
      instanceTypes:
        - name: fake-it-0
          arch: amd64                      # default amd64
          capacity: {cpu: "1", memory: 2Gi, pods: "10"}
          overhead: {cpu: 100m, memory: 10Mi}  # optional: allocatable = capacity - overhead
          labels: {example.com/size: small}     # optional, besides the well-known ones
          offerings:
            - {zone: test-zone-1, capacityType: spot, price: 0.3147}
            - {zone: test-zone-1, capacityType: on-demand, price: 0.3147}
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pricing import CAPACITY_TYPES, Catalog, InstanceType, Offering
from scaler.core.model import LABEL_ARCH, LABEL_INSTANCE_TYPE, LABEL_OS
from scaler.core.quantity import QuantityError
from scaler.core.resources import Resources
from scaler.errors import UserError
from scaler.kube_yaml import describe, load_one

KIND = "InstanceTypeCatalog"
ARCHES = ("amd64", "arm64")
MAX_PRICE = 1e6  # dollars per hour; the dearest EC2 instance costs about $400


def load_catalog_file(path: Path) -> Catalog:
    """The catalog a file describes; UserError naming the file, type and field if it is wrong."""
    file = str(path)
    doc: Any = load_one(path, file)
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise UserError(f"expected a document of kind {KIND}", file=file, field="kind")
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        raise UserError("spec is missing", file=file, field="spec")
    region = spec.get("region")
    zones = spec.get("zones")
    if not isinstance(region, str) or not region:
        raise UserError("spec.region must be a non-empty string", file=file, field="spec.region")
    if not isinstance(zones, list) or not zones or not all(isinstance(z, str) for z in zones):
        raise UserError("spec.zones must be a list of zone names", file=file, field="spec.zones")
    raw_types = spec.get("instanceTypes")
    if not isinstance(raw_types, list) or not raw_types:
        raise UserError("spec.instanceTypes must be a non-empty list", file=file,
                        field="spec.instanceTypes")
    types: dict[str, InstanceType] = {}
    for n, raw in enumerate(raw_types):
        t = _instance_type(raw, f"spec.instanceTypes[{n}]", file, set(zones))
        if t.name in types:
            raise UserError(f"instance type {t.name} is listed twice", file=file,
                            obj=t.name, field=f"spec.instanceTypes[{n}].name")
        types[t.name] = t
    return Catalog(region=region, zones=tuple(zones),
                   instance_types=tuple(types[k] for k in sorted(types)),
                   on_demand_estimated=False)


def _resources(raw: object, where: str, file: str, name: str) -> Resources:
    if raw is None:
        return Resources({})
    if not isinstance(raw, dict):
        raise UserError("must be a map of resource quantities", file=file, obj=name,
                        field=where)
    try:
        return Resources.parse(raw)
    except QuantityError as err:
        raise UserError(err.message, file=file, obj=name, field=where) from None


def _instance_type(raw: object, where: str, file: str, zones: set[str]) -> InstanceType:
    if not isinstance(raw, dict):
        raise UserError("must be a map", file=file, field=where)
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise UserError("name must be a non-empty string", file=file, field=f"{where}.name")
    arch = raw.get("arch", "amd64")
    if arch not in ARCHES:
        raise UserError(f"arch must be one of {', '.join(ARCHES)}, not {arch!r}", file=file,
                        obj=name, field=f"{where}.arch")
    capacity = _resources(raw.get("capacity"), f"{where}.capacity", file, name)
    for need in ("cpu", "memory", "pods"):
        if capacity.get(need) <= 0:
            raise UserError(f"capacity needs a positive {need}", file=file, obj=name,
                            field=f"{where}.capacity.{need}")
    overhead = _resources(raw.get("overhead"), f"{where}.overhead", file, name)
    allocatable = {k: v - overhead.get(k) for k, v in capacity.items()}
    if any(v < 0 for v in allocatable.values()):
        raise UserError("overhead is larger than capacity", file=file, obj=name,
                        field=f"{where}.overhead")
    extra = raw.get("labels") or {}
    if not isinstance(extra, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in extra.items()):
        raise UserError("labels must map strings to strings", file=file, obj=name,
                        field=f"{where}.labels")
    offerings = _offerings(raw.get("offerings"), f"{where}.offerings", file, name, zones)
    cpu_m, mem_b = capacity.get("cpu"), capacity.get("memory")
    labels = {**extra, LABEL_INSTANCE_TYPE: name, LABEL_ARCH: arch, LABEL_OS: "linux"}
    return InstanceType(
        name=name,
        arch=arch,
        vcpu=max(1, cpu_m // 1000),
        memory_mib=mem_b // 2**20,
        bare_metal=False,
        labels=labels,
        capacity=dict(capacity.items()),
        allocatable=allocatable,
        offerings=offerings,
        max_pods=capacity.get("pods"),
    )


def _offerings(raw: object, where: str, file: str, name: str,
               zones: set[str]) -> tuple[Offering, ...]:
    if not isinstance(raw, list) or not raw:
        raise UserError("offerings must be a non-empty list", file=file, obj=name, field=where)
    out: list[Offering] = []
    for n, o in enumerate(raw):
        at = f"{where}[{n}]"
        if not isinstance(o, dict):
            raise UserError("must be a map", file=file, obj=name, field=at)
        zone, ct, price = o.get("zone"), o.get("capacityType"), o.get("price")
        if zone not in zones:
            raise UserError(f"zone {zone!r} is not in spec.zones", file=file, obj=name,
                            field=f"{at}.zone")
        if ct not in CAPACITY_TYPES:
            raise UserError(f"capacityType must be one of {', '.join(CAPACITY_TYPES)}",
                            file=file, obj=name, field=f"{at}.capacityType")
        if (isinstance(price, bool) or not isinstance(price, int | float)
                or not math.isfinite(price) or not 0 <= price <= MAX_PRICE):
            raise UserError(f"price must be a finite number of dollars per hour from 0 to "
                            f"{MAX_PRICE:g}, not {describe(price)}",
                            file=file, obj=name, field=f"{at}.price")
        out.append(Offering(str(zone), str(ct), float(price), False, None, None))
    return tuple(out)
