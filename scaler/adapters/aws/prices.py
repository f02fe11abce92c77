"""Live prices and instance types, merged with the bundled catalog.

On-Demand prices come from the Price List API, Spot prices from the Spot price history, where
EC2 sells each type from `DescribeInstanceTypeOfferings`, and the types it sells that the
catalog lacks from `DescribeInstanceTypes` (see ec2types.py). Each source is refreshed on its
own interval; when one cannot be reached the bundled catalog stands in for it, and that is
logged as a warning and shown in `status()`: prices are never silently stale.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pricing import ON_DEMAND, SPOT, Catalog, InstanceType, Offering
from scaler.adapters.aws import retry
from scaler.adapters.aws.ec2types import instance_type_from_ec2
from scaler.adapters.aws.offerings import UnavailableOfferings
from scaler.adapters.aws.pricing_api import fetch_on_demand_prices
from scaler.adapters.aws.spot_prices import SpotPrices, fetch_spot_prices

log = logging.getLogger(__name__)

ON_DEMAND_INTERVAL = 12 * 3600.0  # Karpenter refreshes On-Demand prices twice a day
SPOT_INTERVAL = 3600.0
TYPES_INTERVAL = 3600.0
DESCRIBE_BATCH = 100  # DescribeInstanceTypes takes at most 100 names
LIVE = "live"
BUNDLED = "bundled catalog"


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """Where one kind of data comes from right now, and the last failure if any."""

    name: str
    source: str  # LIVE or BUNDLED
    updated_at: float | None = None  # wall clock of the last successful refresh
    entries: int = 0
    error: str | None = None  # why the last refresh failed (the source may still be LIVE)

    def describe(self) -> str:
        text = f"{self.name}: {self.source}"
        if self.source == LIVE:
            text += f" ({self.entries} entries)"
        if self.error:
            text += f"; last refresh failed: {self.error}"
        return text


@dataclass(frozen=True, slots=True)
class PriceStatus:
    on_demand: SourceStatus
    spot: SourceStatus
    instance_types: SourceStatus

    def describe(self) -> str:
        return "; ".join(s.describe() for s in (self.on_demand, self.spot, self.instance_types))


def _short(exc: BaseException) -> str:
    code = retry.error_code(exc)
    text = " ".join(str(exc).split())
    return f"{code}: {text}"[:300] if code and code not in text else text[:300]


@dataclass(frozen=True, slots=True)
class _Types:
    zones: Mapping[str, frozenset[str]]  # instance type -> zones EC2 offers it in
    extra: Mapping[str, InstanceType]  # offered, not in the catalog; built without offerings

    def __len__(self) -> int:
        return len(self.zones)


class RefreshedSource:
    """One refreshable input: its value, when it was fetched and the last error."""

    def __init__(self, name: str, interval: float) -> None:
        self.name = name
        self.interval = interval
        self.value: Any = None
        self.updated_at: float | None = None
        self.attempted_at: float | None = None
        self.error: str | None = None

    def due(self, now: float) -> bool:
        return self.attempted_at is None or now - self.attempted_at >= self.interval

    def refresh(self, fetch: Callable[[], Any], now: float, size: Callable[[Any], int]) -> None:
        self.attempted_at = now
        try:
            value = fetch()
            if size(value) == 0:
                raise ValueError("the API answered with no data")
        except Exception as exc:
            first = self.error is None
            self.error = _short(exc)
            fallback = "keeping the last live data" if self.value is not None else (
                "using the bundled catalog")
            (log.warning if first else log.info)("%s unavailable (%s); %s",
                                                 self.name, self.error, fallback)
            return
        if self.error is not None or self.value is None:
            log.info("%s: live data (%d entries)", self.name, size(value))
        self.value, self.updated_at, self.error = value, now, None

    def status(self) -> SourceStatus:
        entries = 0 if self.value is None else len(self.value)
        return SourceStatus(self.name, LIVE if self.value is not None else BUNDLED,
                            self.updated_at, entries, self.error)


class LiveInstanceTypes:
    """The catalog's instance types with live prices, availability and unavailable offerings.

    `zones` limits offerings to the zones a NodeClass has subnets in.
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        region: str,
        ec2: Callable[[], Any],
        pricing: Callable[[], Any],
        unavailable: UnavailableOfferings,
        backoff: retry.Backoff,
        clock: Callable[[], float] = time.time,
        on_demand_interval: float = ON_DEMAND_INTERVAL,
        spot_interval: float = SPOT_INTERVAL,
        types_interval: float = TYPES_INTERVAL,
        live_on_demand: bool = True,
    ) -> None:
        self.catalog = catalog
        self.region = region
        self._ec2 = ec2
        self._pricing = pricing
        self.unavailable = unavailable
        self.backoff = backoff
        self.clock = clock
        self.on_demand = RefreshedSource("on-demand prices (Price List API)", on_demand_interval)
        self.spot = RefreshedSource("spot prices (DescribeSpotPriceHistory)", spot_interval)
        self.types = RefreshedSource("instance types (DescribeInstanceTypes/Offerings)",
                                     types_interval)
        # GovCloud has no Price List API; Karpenter skips it there too.
        self.live_on_demand = live_on_demand and not region.startswith("us-gov-")
        if not self.live_on_demand:
            self.on_demand.error = f"the Price List API does not serve {region}"
        self._lock = threading.Lock()

    # -- refreshing ---------------------------------------------------------------------

    def refresh(self, force: bool = False) -> PriceStatus:
        """Refresh every source that is due (all of them with force)."""
        now = self.clock()
        with self._lock:
            if self.live_on_demand and (force or self.on_demand.due(now)):
                self.on_demand.refresh(
                    lambda: fetch_on_demand_prices(self._pricing(), self.region, self.backoff),
                    now, len)
            if force or self.spot.due(now):
                self.spot.refresh(
                    lambda: fetch_spot_prices(self._ec2(), self.catalog.zones, self.backoff),
                    now, len)
            if force or self.types.due(now):
                self.types.refresh(self._fetch_types, now, len)
        return self.status()

    def status(self) -> PriceStatus:
        return PriceStatus(self.on_demand.status(), self.spot.status(), self.types.status())

    def _fetch_types(self) -> _Types:
        """Where EC2 offers each type in the catalog's zones, and the types it offers that the
        catalog lacks (described with DescribeInstanceTypes, 100 names a call)."""
        ec2 = self._ec2()
        zones: dict[str, set[str]] = {}
        token: str | None = None
        while True:
            args: dict[str, Any] = {
                "LocationType": "availability-zone", "MaxResults": 1000,
                "Filters": [{"Name": "location", "Values": list(self.catalog.zones)}],
            }
            if token:
                args["NextToken"] = token
            page = retry.call(
                lambda a=args: ec2.describe_instance_type_offerings(**a),  # type: ignore[misc]
                what="DescribeInstanceTypeOfferings", backoff=self.backoff,
                retry_on=retry.is_transient)
            for o in page.get("InstanceTypeOfferings", []):
                zones.setdefault(o["InstanceType"], set()).add(o["Location"])
            token = page.get("NextToken")
            if not token:
                break
        unknown = sorted(n for n in zones if self.catalog.get(n) is None)
        extra: dict[str, InstanceType] = {}
        skipped = 0
        for i in range(0, len(unknown), DESCRIBE_BATCH):
            batch = unknown[i:i + DESCRIBE_BATCH]
            token = None
            while True:
                args = {"InstanceTypes": batch}
                if token:
                    args["NextToken"] = token
                page = retry.call(lambda a=args: ec2.describe_instance_types(**a),  # type: ignore[misc]
                                  what="DescribeInstanceTypes", backoff=self.backoff,
                                  retry_on=retry.is_transient)
                for record in page.get("InstanceTypes", []):
                    it = instance_type_from_ec2(record)
                    if it is None:
                        skipped += 1
                    else:
                        extra[it.name] = it
                token = page.get("NextToken")
                if not token:
                    break
        if extra or skipped:
            log.info("%d instance types EC2 offers here are not in the bundled catalog: %d "
                     "added from DescribeInstanceTypes, %d not usable", len(unknown),
                     len(extra), skipped)
        return _Types({k: frozenset(v) for k, v in zones.items()}, extra)

    # -- merging ------------------------------------------------------------------------

    def instance_types(self, zones: Iterable[str] | None = None) -> tuple[InstanceType, ...]:
        """The types EC2 offers in `zones` (the catalog's, plus new ones EC2 describes), each
        with its offerings there at the freshest prices; unavailable offerings marked."""
        self.refresh()
        wanted = set(zones) if zones is not None else set(self.catalog.zones)
        od: Mapping[str, float] | None = self.on_demand.value
        spot: SpotPrices | None = self.spot.value
        types: _Types | None = self.types.value
        out: list[InstanceType] = []
        for it in self.catalog.instance_types:
            offered = types.zones.get(it.name, frozenset()) if types is not None else None
            offerings: list[Offering] = []
            for o in it.offerings:
                if o.zone not in wanted or (offered is not None and o.zone not in offered):
                    continue
                price, estimated = o.price, o.price_estimated
                if o.capacity_type == ON_DEMAND and od is not None and it.name in od:
                    price, estimated = od[it.name], False
                elif o.capacity_type == SPOT and spot is not None:
                    live = spot.get((it.name, o.zone))
                    if live is not None:
                        price, estimated = live, False
                offerings.append(self._offering(it.name, o.zone, o.capacity_type, price,
                                                estimated, o.interruption_band,
                                                o.interruption_max_pct))
            if offerings:
                out.append(dataclasses.replace(it, offerings=tuple(offerings)))
        if types is not None:
            for name, it in sorted(types.extra.items()):
                offerings = []
                for zone in sorted(types.zones.get(name, frozenset()) & wanted):
                    if od is not None and name in od:
                        offerings.append(self._offering(name, zone, ON_DEMAND, od[name], False))
                    live = spot.get((name, zone)) if spot is not None else None
                    if live is not None:
                        offerings.append(self._offering(name, zone, SPOT, live, False))
                if offerings:  # a type with no price at all cannot be ranked: left out
                    out.append(dataclasses.replace(it, offerings=tuple(offerings)))
        return tuple(out)

    def _offering(self, name: str, zone: str, capacity_type: str, price: float, estimated: bool,
                  band: str | None = None, band_max: int | None = None) -> Offering:
        available = not self.unavailable.is_unavailable(name, zone, capacity_type)
        return Offering(zone, capacity_type, price, estimated, band, band_max, available)

    def instance_type(self, name: str) -> InstanceType | None:
        """The catalog's type, or one EC2 described (without offerings)."""
        it = self.catalog.get(name)
        if it is None and self.types.value is not None:
            it = self.types.value.extra.get(name)
        return it

    def price(self, instance_type: str, zone: str, capacity_type: str) -> tuple[float, bool]:
        """The current price of one offering (and whether it is estimated); 0 if unknown."""
        if capacity_type == ON_DEMAND and self.on_demand.value is not None:
            live = self.on_demand.value.get(instance_type)
            if live is not None:
                return float(live), False
        if capacity_type == SPOT and self.spot.value is not None:
            live = self.spot.value.get((instance_type, zone))
            if live is not None:
                return float(live), False
        it = self.instance_type(instance_type)
        if it is not None:
            for o in it.offerings:
                if o.zone == zone and o.capacity_type == capacity_type:
                    return o.price, o.price_estimated
            best = it.cheapest(capacity_type)
            if best is not None:
                return best.price, True
        return 0.0, True
