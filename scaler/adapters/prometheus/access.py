"""How to reach Prometheus as clusters run it: extra headers (Mimir's `X-Scope-OrgID`, a
gateway's key), a bearer token (OpenShift, a service account token file), a private CA or no
verification, Amazon Managed Service for Prometheus with SigV4 signing (botocore's signer and
credential chain), and one cluster's series out of a shared store (Thanos, Mimir,
VictoriaMetrics) by a label matcher added to every selector.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests
import urllib3
from prometheus_api_client import PrometheusConnect

from scaler.errors import UserError


@dataclass(frozen=True)
class PrometheusAccess:
    headers: tuple[tuple[str, str], ...] = ()
    bearer_token_file: str | None = None
    ca_file: str | None = None
    insecure_skip_verify: bool = False
    sigv4_region: str | None = None  # Amazon Managed Service for Prometheus
    sigv4_service: str = "aps"
    cluster_label: str = "cluster"  # the label that tells clusters apart
    cluster: str | None = None  # its value for this cluster; None: a store of one cluster

    @property
    def matcher(self) -> str:
        """`,cluster="prod"` to add to a selector ("" when the store holds one cluster)."""
        if self.cluster is None:
            return ""
        value = self.cluster.replace("\\", "\\\\").replace('"', '\\"')
        return f',{self.cluster_label}="{value}"'

    def all_headers(self) -> dict[str, str]:
        out = dict(self.headers)
        if self.bearer_token_file:
            try:
                with open(self.bearer_token_file, encoding="utf-8") as fh:
                    token = fh.read().strip()
            except OSError as err:
                raise UserError(
                    f"cannot read the bearer token: {err.strerror or err}",
                    file=self.bearer_token_file,
                ) from None
            if not token:
                raise UserError("the bearer token file is empty", file=self.bearer_token_file)
            out["Authorization"] = f"Bearer {token}"
        return out

    def connect(self, url: str, timeout: float) -> PrometheusConnect:
        session = requests.Session()
        if self.ca_file:
            if not os.path.isfile(self.ca_file):
                raise UserError("no such file", file=self.ca_file, field="--prometheus-ca")
            session.verify = self.ca_file
        elif self.insecure_skip_verify:
            session.verify = False
            # Asked for in so many words: one warning per request would bury the output.
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
        auth: Any = SigV4(self.sigv4_region, self.sigv4_service) if self.sigv4_region else None
        return PrometheusConnect(
            url=url,
            headers=self.all_headers() or None,
            session=session,
            auth=auth,
            timeout=timeout,
        )


class SigV4(requests.auth.AuthBase):
    """Signs each request with AWS Signature Version 4 (botocore's signer), credentials from
    botocore's chain: environment, shared config and profile (AWS_PROFILE), web identity
    (IRSA), container and instance metadata."""

    def __init__(self, region: str, service: str = "aps") -> None:
        import botocore.session  # type: ignore[import-untyped]

        creds = botocore.session.get_session().get_credentials()
        if creds is None:
            raise UserError(
                "no AWS credentials for SigV4 (environment, ~/.aws, IRSA or instance role)",
                field="--prometheus-sigv4-region",
            )
        self.region = region
        self.service = service
        self._creds = creds

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
        from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]

        body = r.body or b""
        signed = AWSRequest(
            method=r.method or "GET",
            url=r.url,
            data=body,
            headers={k: v for k, v in r.headers.items() if k.lower() == "content-type"},
        )
        SigV4Auth(self._creds.get_frozen_credentials(), self.service, self.region).add_auth(signed)
        r.headers.update(dict(signed.headers.items()))
        return r


def parse_headers(given: Sequence[str] | None, flag: str = "--prometheus-header"
                  ) -> tuple[tuple[str, str], ...]:
    """'Name: value' each (whitespace around the value stripped, as KRR does)."""
    out = []
    for text in given or ():
        name, sep, value = text.partition(":")
        if not sep or not name.strip() or any(c.isspace() for c in name.strip()):
            raise UserError(f"not a header: {text!r} (expected 'Name: value')", field=flag)
        out.append((name.strip(), value.strip()))
    return tuple(out)

