"""Assembling a region's catalog: instance types, their offerings per zone, and prices."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache

from pricing.allocatable import Resources, resources
from pricing.labels import instance_labels
from pricing.loader import (
    PRICE_FALLBACK_REGION,
    SpotAdvice,
    has_spot_region,
    instance_specs,
    ondemand_prices,
    ondemand_regions,
    spot_advice,
    spot_regions,
)
from pricing.model import ON_DEMAND, SPOT, Catalog, CatalogError, InstanceType, Offering

DEFAULT_REGION = "us-east-1"
# The sources have no zone data. Most regions have three or more zones (us-west-1 has two for
# most accounts); pass `zones` to model a cluster's real ones.
DEFAULT_ZONE_SUFFIXES = ("a", "b", "c")
# The On-Demand table has six decimals; keep derived prices at the same precision.
PRICE_DECIMALS = 6
_REGION_NAME = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")


@lru_cache(maxsize=1)
def known_regions() -> tuple[str, ...]:
    """Regions with Spot Advisor data (Linux) or an On-Demand price table, sorted."""
    return tuple(sorted(set(spot_regions()) | set(ondemand_regions())))


def _check_region(region: str) -> str:
    name = region.strip().lower()
    # Two cheap checks first; the full region list is only needed for the error message.
    if not _REGION_NAME.fullmatch(name) or (
        ondemand_prices(name) is None and not has_spot_region(name)
    ):
        raise CatalogError(
            f"unknown region {region!r}; known regions: {', '.join(known_regions())}"
        )
    return name


def _normalize_zones(region: str, zones: Sequence[str] | None) -> tuple[str, ...]:
    """Full zone names; a bare suffix such as "b" means `<region>b`."""
    if zones is None:
        return tuple(region + s for s in DEFAULT_ZONE_SUFFIXES)
    if isinstance(zones, str):  # a lone string would otherwise be split into letters
        zones = [zones]
    out: list[str] = []
    for raw in zones:
        zone = raw.strip().lower()
        if zone.isalpha():
            zone = region + zone
        rest = zone[len(region) :] if zone.startswith(region) else ""
        if not rest or not (rest[0].isalpha() or rest[0] == "-"):
            raise CatalogError(
                f"zone {raw!r} is not a zone of region {region!r} (use e.g. {region}a or just a)",
                param="zones",
            )
        if zone not in out:
            out.append(zone)
    if not out:
        raise CatalogError("no zones given", param="zones")
    return tuple(out)


@lru_cache(maxsize=1)
def _static_parts() -> Mapping[str, tuple[Mapping[str, str], Resources]]:
    # Labels and resources do not depend on the region: compute them once per process.
    return {name: (instance_labels(s), resources(s)) for name, s in instance_specs().items()}


def _offerings(
    zones: tuple[str, ...], od_price: float, od_estimated: bool, advice: SpotAdvice | None
) -> tuple[Offering, ...]:
    """On-demand, then spot where the Spot Advisor has the type, for each zone."""
    spot_price = None
    if advice is not None:
        # The feed has one negative saving (ca-central-1 p5.48xlarge, -62%); spot is never
        # billed above on-demand, so a saving below zero counts as zero.
        saving = max(advice.savings_pct, 0)
        spot_price = round(od_price * (100 - saving) / 100, PRICE_DECIMALS)
    out: list[Offering] = []
    for zone in zones:
        out.append(Offering(zone, ON_DEMAND, od_price, od_estimated, None, None))
        if advice is not None and spot_price is not None:
            out.append(
                Offering(
                    zone,
                    SPOT,
                    spot_price,
                    True,
                    advice.interruption_band,
                    advice.interruption_max_pct,
                )
            )
    return tuple(out)


@lru_cache(maxsize=32)
def _build(region: str, zones: tuple[str, ...]) -> Catalog:
    specs = instance_specs()
    static = _static_parts()
    own = ondemand_prices(region)
    advice = spot_advice(region)
    if own is not None:
        prices, estimated = own, False
        # A type missing from the region's table is not sold on-demand there.
        candidates: Sequence[str] = tuple(own)
    else:
        prices, estimated = ondemand_prices(PRICE_FALLBACK_REGION) or {}, True
        # Without a table, a Spot Advisor row is the only evidence the type exists here.
        candidates = tuple(advice)

    types: list[InstanceType] = []
    for name in sorted(candidates):
        spec = specs.get(name)
        price = prices.get(name)
        if spec is None or price is None:
            continue
        labels, res = static[name]
        types.append(
            InstanceType(
                name=name,
                arch=spec.arch,
                vcpu=spec.vcpu,
                memory_mib=spec.memory_mib,
                bare_metal=spec.bare_metal,
                labels=labels,
                capacity=res.capacity,
                allocatable=res.allocatable,
                offerings=_offerings(zones, price, estimated, advice.get(name)),
                max_pods=res.max_pods,
            )
        )
    return Catalog(
        region=region,
        zones=zones,
        instance_types=tuple(types),
        on_demand_estimated=estimated,
    )


def load_catalog(region: str = DEFAULT_REGION, zones: Sequence[str] | None = None) -> Catalog:
    """The catalog of a region; the same immutable object for the same region and zones.

    Zones default to `<region>a`, `<region>b`, `<region>c` (the sources have no zone data);
    every zone gets the same offerings and prices.
    Raises CatalogError for an unknown region or a zone outside the region.
    """
    name = _check_region(region)
    return _build(name, _normalize_zones(name, zones))
