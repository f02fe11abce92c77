"""AWS settings: checked up front, one endpoint for moto or one per service for VPC endpoints."""

from __future__ import annotations

import pytest

from scaler.adapters.aws import AwsConfig
from scaler.adapters.aws.config import pricing_region
from scaler.errors import UserError


def test_an_endpoint_for_every_service_with_per_service_overrides() -> None:
    cfg = AwsConfig("eu-west-1", "prod", endpoint_url="http://127.0.0.1:5000",
                    endpoint_urls={"pricing": "https://api.pricing.eu-central-1.amazonaws.com"})
    assert cfg.endpoint_for("ec2") == "http://127.0.0.1:5000"
    assert cfg.endpoint_for("pricing") == "https://api.pricing.eu-central-1.amazonaws.com"
    assert AwsConfig("eu-west-1", "prod").endpoint_for("ec2") is None  # boto3's default


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"region": "Ireland", "cluster_name": "prod"},
     "region: invalid AWS region 'Ireland' (expected e.g. us-east-1)"),
    ({"region": "eu-west-1", "cluster_name": "prod cluster"},
     "clusterName: invalid cluster name 'prod cluster' (1-100 letters, digits, '-', '_')"),
    ({"region": "eu-west-1", "cluster_name": "prod", "endpoint_urls": {"ecs": "http://x"}},
     "endpointURLs: unknown service 'ecs'; expected one of ec2, sqs, pricing, iam, ssm"),
])
def test_bad_settings_are_one_line_errors(kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(UserError) as err:
        AwsConfig(**kwargs)
    assert str(err.value) == message


def test_the_price_list_endpoint_nearest_the_region() -> None:
    assert [pricing_region(r) for r in ("us-west-2", "eu-west-1", "ap-southeast-2",
                                        "cn-north-1", "sa-east-1")] == [
        "us-east-1", "eu-central-1", "ap-south-1", "cn-northwest-1", "us-east-1"]
