"""`scaler report --prometheus` as clusters run Prometheus: the same access flags as
`scaler rightsize` (scaler/cli/prometheus.py), through a small authenticating proxy in front
of the real Prometheus of the cost history (tests/support/auth_proxy.py): a header, a bearer
token, TLS with a private CA or unverified, SigV4 checked by re-signing, and the cluster
label added to every query, the inventory's as well as the usage's."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from scaler.cli import main
from scaler.times import rfc3339
from tests.integration.costs.conftest import CostHistory
from tests.support.auth_proxy import AuthProxy, make_tls, require_headers, sigv4_check

POLICY = Path(__file__).parent / "policy.yaml"


def report(h: CostHistory, capsys: pytest.CaptureFixture[str], url: str,
           *extra: str) -> tuple[int, Any, str]:
    window = f"{rfc3339(h.start)},{rfc3339(h.end)}"
    code = main(["report", "--prometheus", url, "--policies", str(POLICY), "--window", window,
                 "--resolution", "10m", "--step", "1h", "--aggregate", "namespace,pod,container",
                 "--output", "json", "--no-node-savings", *extra])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def figures(doc: Any) -> list[dict[str, float]]:
    """Each step's total cost per allocation (the source's name aside)."""
    return [{k: v["totalCost"] for k, v in step.items()} for step in doc["data"]]


@pytest.fixture
def proxies() -> Iterator[list[AuthProxy]]:
    started: list[AuthProxy] = []
    yield started
    for p in started:
        p.stop()


@pytest.fixture(scope="module")
def direct(cost_history: CostHistory) -> list[dict[str, float]]:
    """The report straight from Prometheus, to compare the proxied ones with."""
    import contextlib
    import io

    buf = io.StringIO()
    window = f"{rfc3339(cost_history.start)},{rfc3339(cost_history.end)}"
    with contextlib.redirect_stdout(buf):
        code = main(["report", "--prometheus", cost_history.url, "--policies", str(POLICY),
                     "--window", window, "--resolution", "10m", "--step", "1h",
                     "--aggregate", "namespace,pod,container", "--output", "json",
                     "--no-node-savings"])
    assert code == 0
    doc = json.loads(buf.getvalue())
    assert doc["data"] and any(doc["data"][0])
    return figures(doc)


def test_header_and_bearer_token_through_a_gateway(
    cost_history: CostHistory, direct: list[dict[str, float]], proxies: list[AuthProxy],
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    proxy = AuthProxy(cost_history.url, require_headers({"X-Scope-OrgID": "team-a"})).start()
    proxies.append(proxy)
    code, doc, err = report(cost_history, capsys, proxy.url,
                            "--prometheus-header", "X-Scope-OrgID: team-a")
    assert code == 0, err
    assert figures(doc) == direct  # the inventory's queries carried the header too
    code, _, err = report(cost_history, capsys, proxy.url)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "401" in err and "--prometheus" in err

    proxy = AuthProxy(cost_history.url, require_headers({"Authorization": "Bearer s3cret"}))
    proxies.append(proxy.start())
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    code, doc, err = report(cost_history, capsys, proxy.url,
                            "--prometheus-bearer-token-file", str(token))
    assert code == 0, err
    assert figures(doc) == direct
    code, _, err = report(cost_history, capsys, proxy.url,
                          "--prometheus-auth-header", "Bearer b4d-t0ken")
    assert code == 2 and "401" in err and "b4d-t0ken" not in err


def test_tls_with_a_private_ca_or_unverified(
    cost_history: CostHistory, direct: list[dict[str, float]], proxies: list[AuthProxy],
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    ca, cert, key = make_tls(tmp_path)
    proxy = AuthProxy(cost_history.url, lambda *a: None, tls=(cert, key)).start()
    proxies.append(proxy)
    code, doc, err = report(cost_history, capsys, proxy.url, "--prometheus-ca", str(ca))
    assert code == 0, err
    assert figures(doc) == direct
    code, _, err = report(cost_history, capsys, proxy.url)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "CERTIFICATE_VERIFY_FAILED" in err or "certificate verify failed" in err
    code, doc, err = report(cost_history, capsys, proxy.url, "--prometheus-insecure-skip-verify")
    assert code == 0, err
    assert figures(doc) == direct


def test_amazon_managed_prometheus_sigv4(
    cost_history: CostHistory, direct: list[dict[str, float]], proxies: list[AuthProxy],
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE",
                 "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    proxy = AuthProxy(cost_history.url, sigv4_check(
        "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "eu-west-1")).start()
    proxies.append(proxy)
    code, doc, err = report(cost_history, capsys, proxy.url,
                            "--prometheus-sigv4-region", "eu-west-1")
    assert code == 0, err
    assert figures(doc) == direct
    assert proxy.seen and all(
        h["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
        for h in proxy.seen
    )
    code, _, err = report(cost_history, capsys, proxy.url,
                          "--prometheus-sigv4-region", "us-east-1")
    assert code == 2 and "403" in err and len(err.strip().splitlines()) == 1


def test_cluster_label_reaches_every_query(
    cost_history: CostHistory, proxies: list[AuthProxy], capsys: pytest.CaptureFixture[str],
) -> None:
    queries: list[str] = []

    def record(method: str, path: str, headers: Mapping[str, str], body: bytes) -> None:
        params = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        params.update(urllib.parse.parse_qs(body.decode()))
        queries.extend(params.get("query", []))

    proxy = AuthProxy(cost_history.url, record).start()
    proxies.append(proxy)
    code, doc, err = report(cost_history, capsys, proxy.url,
                            "--prometheus-cluster-label", "prod", "--prometheus-label", "region")
    assert code == 0, err
    assert queries
    missing = [q for q in queries if 'region="prod"' not in q]
    assert not missing, missing
    # The history has no such label: no container of this cluster is charged (the policy's
    # fixed shared cost may still show).
    assert not any("/" in k for step in doc["data"] for k in step)


def test_access_flags_without_prometheus_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    snap = tmp_path / "s.json"
    snap.write_text('{"apiVersion": "v1", "kind": "List", "items": []}')
    code = main(["report", str(snap), "--prometheus-header", "X-Scope-OrgID: a"])
    err = capsys.readouterr().err
    assert code == 2 and "--prometheus-header" in err and len(err.strip().splitlines()) == 1
