"""Spot prices per zone from `ec2:DescribeSpotPriceHistory`.

Asked with StartTime = now, EC2 returns the price in effect now for each instance type and
zone (Karpenter's query: Linux/UNIX and Linux/UNIX (Amazon VPC)). The newest record per
(instance type, zone) wins.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from scaler.adapters.aws import retry
from scaler.times import parse_rfc3339

PRODUCT_DESCRIPTIONS = ("Linux/UNIX", "Linux/UNIX (Amazon VPC)")
PAGE_SIZE = 1000

SpotPrices = dict[tuple[str, str], float]  # (instance type, zone) -> USD/hour


def _stamp(value: object) -> float:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    if isinstance(value, str):
        try:
            return parse_rfc3339(value).timestamp()
        except ValueError:
            return 0.0
    return 0.0


def parse_spot_history(records: Iterable[Mapping[str, Any]],
                       zones: Iterable[str] | None = None) -> SpotPrices:
    """Latest positive price per (type, zone), optionally only in `zones`."""
    wanted = set(zones) if zones is not None else None
    best: dict[tuple[str, str], tuple[float, float]] = {}
    for r in records:
        itype, zone = r.get("InstanceType"), r.get("AvailabilityZone")
        if not itype or not zone or (wanted is not None and zone not in wanted):
            continue
        if r.get("ProductDescription") not in PRODUCT_DESCRIPTIONS:
            continue
        try:
            price = float(r.get("SpotPrice", ""))
        except ValueError:
            continue
        if price <= 0:
            continue
        key = (str(itype), str(zone))
        stamp = _stamp(r.get("Timestamp"))
        if key not in best or stamp >= best[key][0]:
            best[key] = (stamp, price)
    return {k: v[1] for k, v in best.items()}


def fetch_spot_prices(ec2: Any, zones: Iterable[str], backoff: retry.Backoff,
                      now: dt.datetime | None = None) -> SpotPrices:
    records: list[Mapping[str, Any]] = []
    token: str | None = None
    start = now or dt.datetime.now(dt.UTC)
    while True:
        args: dict[str, Any] = {
            "ProductDescriptions": list(PRODUCT_DESCRIPTIONS),
            "StartTime": start,
            "MaxResults": PAGE_SIZE,
        }
        if token:
            args["NextToken"] = token
        page = retry.call(lambda a=args: ec2.describe_spot_price_history(**a),  # type: ignore[misc]
                          what="DescribeSpotPriceHistory", backoff=backoff,
                          retry_on=retry.is_transient)
        records.extend(page.get("SpotPriceHistory", []))
        token = page.get("NextToken")
        if not token:
            break
    return parse_spot_history(records, zones)
