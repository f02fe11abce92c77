"""Node prices from the cloud for `scaler report --prices aws`.

The AWS adapter's live sources (the Price List API for on-demand, the Spot price history per
zone) through one refresh, with the catalog standing in for what cannot be reached (its
status line says which). Endpoints come from boto3's standard settings (`AWS_ENDPOINT_URL`,
`AWS_ENDPOINT_URL_EC2`, `AWS_ENDPOINT_URL_PRICING`, profiles), credentials from its chain.
"""

from __future__ import annotations

from pricing import Catalog
from scaler.adapters.aws import AwsClients, AwsConfig, Backoff, UnavailableOfferings
from scaler.adapters.aws.prices import LiveInstanceTypes
from scaler.report.build import Pricer


def aws_pricer(catalog: Catalog, profile: str | None = None) -> tuple[Pricer, str]:
    """A pricer over live AWS prices, and the refresh's status for the report's notes."""
    clients = AwsClients(AwsConfig(catalog.region, "scaler-report", profile=profile))
    live = LiveInstanceTypes(
        catalog,
        region=catalog.region,
        ec2=lambda: clients.ec2,
        pricing=lambda: clients.pricing,
        unavailable=UnavailableOfferings(),
        backoff=Backoff(max_attempts=3),
    )
    status = live.refresh(force=True)

    def price(itype: str, capacity_type: str, zone: str | None) -> tuple[float, bool] | None:
        if live.instance_type(itype) is None:
            return None
        value, estimated = live.price(itype, zone or "", capacity_type)
        return (value, estimated) if value > 0 else None

    return price, status.describe()
