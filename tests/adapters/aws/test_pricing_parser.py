"""The Price List (GetProducts) parser on recorded answers, and the Spot history parser."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from scaler.adapters.aws.pricing_api import filters, parse_price_list
from scaler.adapters.aws.spot_prices import parse_spot_history
from tests.support.paths import TESTS

RECORDING = TESTS / "fixtures" / "aws" / "pricing" / (
    "get_products_eu-west-1.json")


def recording() -> dict:  # type: ignore[type-arg]
    data: dict = json.loads(RECORDING.read_text())  # type: ignore[type-arg]
    return data


def test_every_recorded_page_parses_to_the_hourly_on_demand_prices() -> None:
    rec = recording()
    prices: dict[str, float] = {}
    skipped = 0
    for answer in rec["responses"]:
        found, skip = parse_price_list(answer["response"]["PriceList"], "eu-west-1")
        prices.update(found)
        skipped += skip
    print({k: prices[k] for k in sorted(prices)}, "skipped:", skipped)
    assert prices == pytest.approx(rec["expected"])
    # A $0 placeholder SKU and a product with only a Reserved term are not prices.
    assert skipped == 2


def test_entries_that_contradict_the_query_are_skipped() -> None:
    [page] = [a for a in recording()["responses"] if a["request"]["NextToken"] is None
              and a["request"]["tenancy"] == "Shared"]
    entry = json.loads(page["response"]["PriceList"][0])  # m5.large
    windows = json.loads(json.dumps(entry))
    windows["product"]["attributes"]["operatingSystem"] = "Windows"
    elsewhere = json.loads(json.dumps(entry))
    elsewhere["product"]["attributes"]["regionCode"] = "us-east-1"
    byol = json.loads(json.dumps(entry))
    byol["product"]["attributes"]["licenseModel"] = "Bring your own license"
    found, skipped = parse_price_list([windows, elsewhere, byol, "{not json"], "eu-west-1")
    assert (found, skipped) == ({}, 4)
    found, skipped = parse_price_list([json.dumps(entry)], "eu-west-1")
    assert found == {"m5.large": pytest.approx(0.107)} and skipped == 0


def test_the_query_is_karpenters() -> None:
    got = {f["Field"]: f["Value"] for f in filters("eu-west-1", "Shared", "Compute Instance")}
    assert got == {"regionCode": "eu-west-1", "serviceCode": "AmazonEC2", "preInstalledSw": "NA",
                   "operatingSystem": "Linux", "capacitystatus": "Used",
                   "marketoption": "OnDemand", "tenancy": "Shared",
                   "productFamily": "Compute Instance"}
    assert {f["Type"] for f in filters("eu-west-1", "Shared", "x")} == {"TERM_MATCH"}


def test_spot_history_keeps_the_newest_price_per_type_and_zone() -> None:
    t0 = dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC)
    records = [
        {"InstanceType": "m5.large", "AvailabilityZone": "eu-west-1a", "SpotPrice": "0.0400",
         "ProductDescription": "Linux/UNIX", "Timestamp": t0},
        {"InstanceType": "m5.large", "AvailabilityZone": "eu-west-1a", "SpotPrice": "0.0420",
         "ProductDescription": "Linux/UNIX (Amazon VPC)", "Timestamp": t0 + dt.timedelta(hours=1)},
        {"InstanceType": "m5.large", "AvailabilityZone": "eu-west-1b", "SpotPrice": "0.0390",
         "ProductDescription": "Linux/UNIX", "Timestamp": t0},
        {"InstanceType": "m5.large", "AvailabilityZone": "eu-west-1b", "SpotPrice": "0.2",
         "ProductDescription": "Windows", "Timestamp": t0 + dt.timedelta(hours=2)},
        {"InstanceType": "m5.large", "AvailabilityZone": "eu-west-1d", "SpotPrice": "0.0380",
         "ProductDescription": "Linux/UNIX", "Timestamp": t0},
        {"InstanceType": "c5.large", "AvailabilityZone": "eu-west-1a", "SpotPrice": "bad",
         "ProductDescription": "Linux/UNIX", "Timestamp": t0},
    ]
    got = parse_spot_history(records, zones=["eu-west-1a", "eu-west-1b"])
    assert got == {("m5.large", "eu-west-1a"): 0.042, ("m5.large", "eu-west-1b"): 0.039}
