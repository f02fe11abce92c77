"""The Prometheus access flags `scaler rightsize` and `scaler report` both take (one place):
extra headers, bearer token, TLS CA or skip-verify, SigV4 for Amazon Managed Service for
Prometheus, and the cluster label of a store holding several clusters."""

from __future__ import annotations

import argparse
from typing import Any

from scaler.errors import UserError

PROMETHEUS_FLAGS = (
    "prometheus_header",
    "prometheus_auth_header",
    "prometheus_bearer_token_file",
    "prometheus_ca",
    "prometheus_insecure_skip_verify",
    "prometheus_sigv4_region",
    "prometheus_sigv4_service",
    "prometheus_cluster_label",
    "prometheus_label",
)
PROMETHEUS_DEFAULTS = {"prometheus_sigv4_service": "aps", "prometheus_label": "cluster"}
def add_prometheus_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("Prometheus as clusters run it")
    g.add_argument(
        "--prometheus-header",
        "-H",
        action="append",
        metavar="'NAME: VALUE'",
        help="an extra header on every query (repeatable), e.g. 'X-Scope-OrgID: team-a'",
    )
    g.add_argument(
        "--prometheus-auth-header",
        metavar="VALUE",
        help="the Authorization header's value, e.g. 'Bearer TOKEN' (KRR's flag)",
    )
    g.add_argument(
        "--prometheus-bearer-token-file",
        metavar="FILE",
        help="send the token in this file as a bearer token (e.g. the pod's service account "
        "token, /var/run/secrets/kubernetes.io/serviceaccount/token)",
    )
    g.add_argument("--prometheus-ca", metavar="FILE", help="CA bundle to verify its TLS")
    g.add_argument(
        "--prometheus-insecure-skip-verify",
        action="store_true",
        help="do not verify its TLS certificate",
    )
    g.add_argument(
        "--prometheus-sigv4-region",
        metavar="REGION",
        help="Amazon Managed Service for Prometheus: sign queries with SigV4 for this region "
        "(credentials from the AWS environment, profile, IRSA or instance role)",
    )
    g.add_argument(
        "--prometheus-sigv4-service",
        default="aps",
        metavar="NAME",
        help="SigV4 service name [default aps]",
    )
    g.add_argument(
        "--prometheus-cluster-label",
        metavar="VALUE",
        help="this cluster's value of the cluster label, for Thanos, Mimir or VictoriaMetrics "
        "holding several clusters",
    )
    g.add_argument(
        "--prometheus-label",
        default="cluster",
        metavar="NAME",
        help="the label that tells clusters apart [default cluster]",
    )


def prometheus_access(args: argparse.Namespace) -> Any:
    from scaler.adapters.prometheus.access import PrometheusAccess, parse_headers

    headers = parse_headers(args.prometheus_header)
    if args.prometheus_auth_header:
        headers = (*headers, ("Authorization", args.prometheus_auth_header.strip()))
    if args.prometheus_ca and args.prometheus_insecure_skip_verify:
        raise UserError(
            "give either --prometheus-ca or --prometheus-insecure-skip-verify",
            field="--prometheus-insecure-skip-verify",
        )
    if args.prometheus_cluster_label is not None and not args.prometheus_cluster_label:
        raise UserError("empty cluster label value", field="--prometheus-cluster-label")
    return PrometheusAccess(
        headers=headers,
        bearer_token_file=args.prometheus_bearer_token_file,
        ca_file=args.prometheus_ca,
        insecure_skip_verify=args.prometheus_insecure_skip_verify,
        sigv4_region=args.prometheus_sigv4_region,
        sigv4_service=args.prometheus_sigv4_service,
        cluster_label=args.prometheus_label,
        cluster=args.prometheus_cluster_label,
    )


def refuse_prometheus_access(args: argparse.Namespace, instead: str) -> None:
    """A Prometheus access flag given without --prometheus is refused out loud."""
    given = [
        "--" + k.replace("_", "-")
        for k in PROMETHEUS_FLAGS
        if getattr(args, k) not in (None, False, PROMETHEUS_DEFAULTS.get(k))
    ]
    if given:
        raise UserError(f"only applies to --prometheus, not to {instead}", field=given[0])
