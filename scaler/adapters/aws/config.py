"""What the AWS provider needs to know, and the boto3 clients built from it.

Credentials come from boto3's standard chain only (environment, shared config and profiles,
web identity as IRSA sets it up, the EKS Pod Identity and ECS container endpoints, instance
metadata); scaler never reads, stores or logs them. An endpoint URL points every service at
moto or at VPC endpoints; per-service URLs override it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from scaler.adapters.aws.redact import protect_loggers
from scaler.errors import UserError

_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")
# EKS cluster names: 1-100 characters, letters, digits, hyphens and underscores.
_CLUSTER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
SERVICES = ("ec2", "sqs", "pricing", "iam", "ssm")


def pricing_region(region: str) -> str:
    """The Price List API endpoint nearest a region (it runs in only a few regions)."""
    if region.startswith("ap-"):
        return "ap-south-1"
    if region.startswith("eu-"):
        return "eu-central-1"
    if region.startswith("cn-"):
        return "cn-northwest-1"
    return "us-east-1"


@dataclass(frozen=True)
class AwsConfig:
    region: str
    cluster_name: str
    # One URL for every service (moto, a proxy); `endpoint_urls` overrides per service
    # ("ec2", "sqs", "pricing", "iam", "ssm"), e.g. for VPC interface endpoints.
    endpoint_url: str | None = None
    endpoint_urls: Mapping[str, str] = field(default_factory=dict)
    profile: str | None = None  # a named profile of the shared config; None: default chain
    # The SQS queue EventBridge sends interruption events to: a name or a queue URL.
    interruption_queue: str | None = None
    # Needed only to resolve `amiSelectorTerms: alias` (EKS-optimized AMIs by SSM parameter).
    kubernetes_version: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 30.0

    def __post_init__(self) -> None:
        if not _REGION.fullmatch(self.region):
            raise UserError(f"invalid AWS region {self.region!r} (expected e.g. us-east-1)",
                            field="region")
        if not _CLUSTER.fullmatch(self.cluster_name):
            raise UserError(
                f"invalid cluster name {self.cluster_name!r} (1-100 letters, digits, '-', '_')",
                field="clusterName",
            )
        for service in self.endpoint_urls:
            if service not in SERVICES:
                raise UserError(f"unknown service {service!r}; expected one of "
                                f"{', '.join(SERVICES)}", field="endpointURLs")

    def endpoint_for(self, service: str) -> str | None:
        return self.endpoint_urls.get(service) or self.endpoint_url


@lru_cache(maxsize=1)
def _loader() -> Any:
    """botocore's service-model loader, shared by every session in the process: reading the
    models from disk is most of the cost of making a client."""
    from botocore.loaders import create_loader  # type: ignore[import-untyped]

    return create_loader()


def new_session(profile: str | None = None, region: str | None = None) -> Any:
    """A boto3 session on the standard credential chain, with the shared model loader."""
    import boto3  # type: ignore[import-untyped]
    import botocore.session  # type: ignore[import-untyped]

    core = botocore.session.Session(profile=profile)
    core.register_component("data_loader", _loader())
    return boto3.session.Session(botocore_session=core, region_name=region)


class AwsClients:
    """boto3 clients, made on first use from one session (boto3 has no type stubs here)."""

    def __init__(self, config: AwsConfig, session: Any = None) -> None:
        self.config = config
        self._session: Any = session or new_session(config.profile, config.region)
        self._clients: dict[str, Any] = {}
        protect_loggers()

    def _make(self, service: str, region: str) -> Any:
        from botocore.config import Config  # type: ignore[import-untyped]

        cfg = Config(
            # Retries are scaler's (retry.py): one attempt per botocore call, so a launch is
            # never resent behind scaler's back.
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=self.config.connect_timeout,
            read_timeout=self.config.read_timeout,
            user_agent_extra="scaler",
        )
        client = self._session.client(
            service,
            region_name=region,
            endpoint_url=self.config.endpoint_for(service),
            config=cfg,
        )
        protect_loggers()  # making a client imports more botocore modules, with loggers
        return client

    def get(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is None:
            region = self.config.region
            if service == "pricing":
                region = pricing_region(region)
            client = self._make(service, region)
            self._clients[service] = client
        return client

    @property
    def ec2(self) -> Any:
        return self.get("ec2")

    @property
    def sqs(self) -> Any:
        return self.get("sqs")

    @property
    def pricing(self) -> Any:
        return self.get("pricing")

    @property
    def iam(self) -> Any:
        return self.get("iam")

    @property
    def ssm(self) -> Any:
        return self.get("ssm")
