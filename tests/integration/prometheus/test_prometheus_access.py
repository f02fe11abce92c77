"""`scaler rightsize --prometheus` as clusters run Prometheus: behind a proxy that wants a
header or a bearer token, over TLS with a private CA (or unverified), Amazon Managed Service
for Prometheus' SigV4 (checked by re-signing), and one cluster out of a shared store.

One real Prometheus holds two clusters' history (label `cluster`: prod uses 250m and 300Mi,
staging 2 cores and 3000Mi); each test puts a small authenticating proxy on 127.0.0.1 in
front of it, as a cluster's gateway would be."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scaler.cli import main
from tests.support.auth_proxy import AuthProxy, make_tls, require_headers, sigv4_check
from tests.support.prometheus import Series, running_prometheus

STEP = 60.0
HOURS = 6
MiB = 2**20
MANIFEST = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web, namespace: shop}
spec:
  replicas: 1
  template:
    spec:
      containers:
      - name: app
        resources:
          requests: {cpu: "1", memory: 1Gi}
"""


@dataclass(frozen=True)
class Store:
    url: str
    end: float


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    end = float(int(time.time() - 3600) // 60 * 60)
    start = end - HOURS * 3600
    ts = [start + i * STEP for i in range(int((end - start) // STEP) + 1)]
    series = []
    for cluster, cores, mem in (("prod", 0.25, 300 * MiB), ("staging", 2.0, 3000 * MiB)):
        labels = {"cluster": cluster, "namespace": "shop", "pod": "web-0", "container": "app",
                  "node": f"{cluster}-node"}
        series.append(Series("container_cpu_usage_seconds_total", labels,
                             [(t, cores * (t - start)) for t in ts], kind="counter"))
        series.append(Series("container_memory_working_set_bytes", labels,
                             [(t, mem) for t in ts]))
    with running_prometheus(series, tmp_path_factory.mktemp("prom-access")) as url:
        yield Store(url, end)


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    path = tmp_path / "web.yaml"
    path.write_text(MANIFEST)
    return path


def rightsize(capsys: pytest.CaptureFixture[str], store: Store, manifests: Path, url: str,
              *args: str) -> tuple[int, Any, str]:
    code = main(["rightsize", str(manifests), "--prometheus", url, "--end", f"{store.end:.0f}",
                 "--step", "1m", "--min-history-hours", "1", "-o", "krr-json",
                 "--prometheus-cluster-label", "prod", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def cpu_request(doc: Any) -> float:
    value: float = doc["scans"][0]["recommended"]["requests"]["cpu"]["value"]
    return value


@pytest.fixture
def proxies() -> Iterator[list[AuthProxy]]:
    started: list[AuthProxy] = []
    yield started
    for p in started:
        p.stop()


def test_custom_header_as_a_gateway_wants_it(
    store: Store, manifests: Path, proxies: list[AuthProxy], capsys: pytest.CaptureFixture[str]
) -> None:
    proxy = AuthProxy(store.url, require_headers({"X-Scope-OrgID": "team-a"})).start()
    proxies.append(proxy)
    code, doc, err = rightsize(capsys, store, manifests, proxy.url,
                               "--prometheus-header", "X-Scope-OrgID: team-a")
    assert code == 0, err
    assert cpu_request(doc) == pytest.approx(0.25, abs=0.01)
    code, _, err = rightsize(capsys, store, manifests, proxy.url)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "401" in err and "--prometheus" in err


def test_bearer_token_from_a_file_and_krrs_auth_header(
    store: Store, manifests: Path, proxies: list[AuthProxy], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    proxy = AuthProxy(store.url, require_headers({"Authorization": "Bearer s3cret"})).start()
    proxies.append(proxy)
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    code, doc, err = rightsize(capsys, store, manifests, proxy.url,
                               "--prometheus-bearer-token-file", str(token))
    assert code == 0, err
    code, _, err = rightsize(capsys, store, manifests, proxy.url,
                             "--prometheus-auth-header", "Bearer s3cret")
    assert code == 0, err
    code, _, err = rightsize(capsys, store, manifests, proxy.url,
                             "--prometheus-auth-header", "Bearer b4d-t0ken")
    assert code == 2 and "401" in err
    assert "b4d-t0ken" not in err  # no secret in the message


def test_tls_with_a_private_ca_or_unverified(
    store: Store, manifests: Path, proxies: list[AuthProxy], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ca, cert, key = make_tls(tmp_path)
    proxy = AuthProxy(store.url, lambda *a: None, tls=(cert, key)).start()
    proxies.append(proxy)
    assert proxy.url.startswith("https://")
    code, doc, err = rightsize(capsys, store, manifests, proxy.url, "--prometheus-ca", str(ca))
    assert code == 0, err
    assert cpu_request(doc) == pytest.approx(0.25, abs=0.01)
    code, _, err = rightsize(capsys, store, manifests, proxy.url)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "CERTIFICATE_VERIFY_FAILED" in err or "certificate verify failed" in err
    code, _, err = rightsize(capsys, store, manifests, proxy.url,
                             "--prometheus-insecure-skip-verify")
    assert code == 0, err
    assert "InsecureRequestWarning" not in err


def test_amazon_managed_prometheus_sigv4_verified_by_re_signing(
    store: Store, manifests: Path, proxies: list[AuthProxy], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE",
                 "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    proxy = AuthProxy(store.url, sigv4_check(
        "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "eu-west-1")).start()
    proxies.append(proxy)
    code, doc, err = rightsize(capsys, store, manifests, proxy.url,
                               "--prometheus-sigv4-region", "eu-west-1")
    assert code == 0, err
    assert cpu_request(doc) == pytest.approx(0.25, abs=0.01)
    assert all(h["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
               for h in proxy.seen)
    # Signed for another region, or with another secret: refused.
    code, _, err = rightsize(capsys, store, manifests, proxy.url,
                             "--prometheus-sigv4-region", "us-east-1")
    assert code == 2 and "403" in err
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    code, _, err = rightsize(capsys, store, manifests, proxy.url,
                             "--prometheus-sigv4-region", "eu-west-1")
    assert code == 2 and "403" in err and len(err.strip().splitlines()) == 1


def test_cluster_label_picks_one_cluster_out_of_a_shared_store(
    store: Store, manifests: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, prod, err = rightsize(capsys, store, manifests, store.url)
    assert code == 0, err
    code, staging, err = rightsize(capsys, store, manifests, store.url,
                                   "--prometheus-cluster-label", "staging")
    assert code == 0, err
    assert cpu_request(prod) == pytest.approx(0.25, abs=0.01)
    assert cpu_request(staging) == pytest.approx(2.0, abs=0.05)
    assert prod["scans"][0]["object"]["cluster"] == "prod"
    mem = staging["scans"][0]["recommended"]["requests"]["memory"]["value"]
    assert mem >= 3000 * MiB
    code, other, err = rightsize(capsys, store, manifests, store.url,
                                 "--prometheus-label", "region")
    assert code == 0, err
    assert other["scans"][0]["recommended"]["requests"]["cpu"]["value"] == "?"  # no such label


def test_prometheus_flags_with_a_usage_file_are_refused(
    manifests: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    usage = tmp_path / "u.csv"
    usage.write_text("timestamp,namespace,pod,container,cpu,memory\n1,shop,web-0,app,0.1,1\n")
    code = main(["rightsize", str(manifests), "--usage", str(usage),
                 "--prometheus-header", "X-A: b"])
    err = capsys.readouterr().err
    assert code == 2 and "--prometheus-header: only applies to --prometheus, not to --usage" in err
    code = main(["rightsize", str(manifests), "--prometheus", "http://127.0.0.1:1",
                 "--prometheus-header", "no colon"])
    assert code == 2 and "not a header: 'no colon'" in capsys.readouterr().err
