"""On-Demand prices from the AWS Price List API (`pricing:GetProducts`).

The query is Karpenter's: service AmazonEC2 in one region, Linux, no pre-installed software,
capacity status Used, market option OnDemand; once for shared-tenancy "Compute Instance"
products and once for "Compute Instance (bare metal)" (priced under Dedicated tenancy). Each
`PriceList` entry is a JSON document (a string) with the product's attributes and its terms;
the On-Demand term's price dimension holds the hourly price.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from scaler.adapters.aws import retry

log = logging.getLogger(__name__)

SERVICE_CODE = "AmazonEC2"
PAGE_SIZE = 100  # GetProducts' maximum
# (tenancy, productFamily) pairs queried.
PRODUCT_QUERIES = (
    ("Shared", "Compute Instance"),
    ("Dedicated", "Compute Instance (bare metal)"),
)


def filters(region: str, tenancy: str, product_family: str) -> list[dict[str, str]]:
    pairs = (
        ("regionCode", region),
        ("serviceCode", SERVICE_CODE),
        ("preInstalledSw", "NA"),
        ("operatingSystem", "Linux"),
        ("capacitystatus", "Used"),
        ("marketoption", "OnDemand"),
        ("tenancy", tenancy),
        ("productFamily", product_family),
    )
    return [{"Type": "TERM_MATCH", "Field": f, "Value": v} for f, v in pairs]


def currency(region: str) -> str:
    return "CNY" if region.startswith("cn-") else "USD"


def _hourly(terms: Mapping[str, Any], unit_currency: str) -> float | None:
    """The price of the On-Demand term's hourly dimension, or None."""
    for term in (terms.get("OnDemand") or {}).values():
        for dim in (term.get("priceDimensions") or {}).values():
            unit = str(dim.get("unit", "Hrs"))
            if unit not in ("Hrs", "Hours", "hour", "Hour"):
                continue
            try:
                price = float(dim.get("pricePerUnit", {}).get(unit_currency, ""))
            except ValueError:
                continue
            if price > 0:
                return price
    return None


def parse_price_list(
    price_list: Iterable[str | Mapping[str, Any]], region: str
) -> tuple[dict[str, float], int]:
    """USD (CNY in China) per hour by instance type, and how many entries were skipped.

    Entries come as JSON strings (as GetProducts returns them) or already-parsed mappings.
    Skipped: unreadable JSON, no instance type, attributes that contradict the query (another
    region or OS, a license-included product), no positive hourly On-Demand price. When two
    entries price one type, the lower price is kept.
    """
    unit_currency = currency(region)
    prices: dict[str, float] = {}
    skipped = 0
    for raw in price_list:
        try:
            doc = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            skipped += 1
            continue
        if not isinstance(doc, Mapping):
            skipped += 1
            continue
        attrs = (doc.get("product") or {}).get("attributes") or {}
        name = attrs.get("instanceType")
        if (
            not name
            or attrs.get("regionCode", region) != region
            or attrs.get("operatingSystem", "Linux") != "Linux"
            or attrs.get("preInstalledSw", "NA") != "NA"
            or attrs.get("licenseModel", "No License required") != "No License required"
            or attrs.get("capacitystatus", "Used") != "Used"
        ):
            skipped += 1
            continue
        price = _hourly(doc.get("terms") or {}, unit_currency)
        if price is None:
            skipped += 1
            continue
        name = str(name)
        prices[name] = min(price, prices.get(name, price))
    return prices, skipped


def fetch_on_demand_prices(pricing: Any, region: str, backoff: retry.Backoff) -> dict[str, float]:
    """Every page of both queries; raises what the client raises (the caller falls back)."""
    prices: dict[str, float] = {}
    skipped = 0
    for tenancy, family in PRODUCT_QUERIES:
        token: str | None = None
        while True:
            args: dict[str, Any] = {
                "ServiceCode": SERVICE_CODE,
                "Filters": filters(region, tenancy, family),
                "FormatVersion": "aws_v1",
                "MaxResults": PAGE_SIZE,
            }
            if token:
                args["NextToken"] = token
            page = retry.call(lambda a=args: pricing.get_products(**a),  # type: ignore[misc]
                              what="GetProducts", backoff=backoff, retry_on=retry.is_transient)
            found, skip = parse_price_list(page.get("PriceList", []), region)
            skipped += skip
            for name, price in found.items():
                prices[name] = min(price, prices.get(name, price))
            token = page.get("NextToken")
            if not token:
                break
    if skipped:
        log.debug("GetProducts: %d price-list entries skipped", skipped)
    return prices
