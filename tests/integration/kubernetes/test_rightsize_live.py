"""`scaler rightsize` with no manifests reads the live cluster through the Kubernetes adapter
(the API stand-in over HTTP, a kubeconfig as a user has one): workloads, their pods and HPAs,
`-n`, `-l` (sent to the API server as a label selector on the workloads) and `--kind`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scaler.cli import main
from tests.support.builders import container_manifest, pod_manifest
from tests.support.kube_api import KubeApi

START = 1_764_547_200  # 2025-12-01T00:00:00Z
MiB = 2**20


def template(labels: dict[str, str], *containers: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"labels": labels}, "spec": {"containers": list(containers)}}


def owned(kind: str, name: str) -> list[dict[str, Any]]:
    return [{"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": "u", "controller": True}]


@pytest.fixture
def cluster(kube_api: KubeApi) -> KubeApi:
    web = [container_manifest("app", "1", "1Gi"), container_manifest("sidecar", "100m", "128Mi")]
    kube_api.put("apps/v1", "deployments", {
        "metadata": {"name": "web", "namespace": "shop",
                     "labels": {"team": "shop", "tier": "front"}},
        "spec": {"replicas": 2, "template": template({"app": "web"}, *web)}})
    kube_api.put("apps/v1", "replicasets", {
        "metadata": {"name": "web-7c5d8f9b6", "namespace": "shop",
                     "labels": {"app": "web", "pod-template-hash": "7c5d8f9b6"},
                     "ownerReferences": owned("Deployment", "web")},
        "spec": {"replicas": 2, "template": template({"app": "web"}, *web)}})
    for p in ("web-7c5d8f9b6-aaaaa", "web-7c5d8f9b6-bbbbb"):
        kube_api.put("v1", "pods", pod_manifest(p, "n1", ns="shop", labels={"pod": "label"},
                                                owner="ReplicaSet/web-7c5d8f9b6", containers=web))
    kube_api.put("autoscaling/v2", "horizontalpodautoscalers", {
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "minReplicas": 2, "maxReplicas": 6,
                 "metrics": [{"type": "Resource", "resource": {
                     "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}]},
        "status": {"currentReplicas": 2, "desiredReplicas": 2}})
    kube_api.put("apps/v1", "deployments", {
        "metadata": {"name": "legacy", "namespace": "shop",
                     "labels": {"team": "shop", "tier": "old"}},
        "spec": {"replicas": 1, "template": template({"app": "legacy"},
                                                     container_manifest("app", "2", "2Gi"))}})
    pg = container_manifest("pg", "2", "4Gi")
    kube_api.put("apps/v1", "statefulsets", {
        "metadata": {"name": "db", "namespace": "data", "labels": {"team": "data"}},
        "spec": {"replicas": 1, "template": template({"app": "db"}, pg)}})
    kube_api.put("v1", "pods", pod_manifest("db-0", "n1", ns="data", labels={"pod": "label"},
                                            owner="StatefulSet/db", containers=[pg]))
    kube_api.put("batch/v1", "cronjobs", {
        "metadata": {"name": "nightly", "namespace": "data", "labels": {"team": "data"}},
        "spec": {"schedule": "0 1 * * *", "jobTemplate": {"spec": {
            "template": template({"app": "nightly"},
                                 container_manifest("run", "500m", "256Mi"))}}}})
    return kube_api


@pytest.fixture
def usage(tmp_path: Path) -> Path:
    rows = ["timestamp,namespace,pod,container,cpu,memory"]
    series = [("shop", "web-7c5d8f9b6-aaaaa", "app", 0.2, 300), ("shop", "web-7c5d8f9b6-bbbbb",
              "app", 0.2, 300), ("shop", "web-7c5d8f9b6-aaaaa", "sidecar", 0.01, 40),
              ("data", "db-0", "pg", 0.5, 1000), ("shop", "web-7c5d8f9b6-zzzzz", "app", 0.2, 300)]
    for i in range(160):  # 26.7 h at 10 minutes
        for ns, p, c, cpu, mib in series:
            rows.append(f"{START + 600 * i},{ns},{p},{c},{cpu},{mib * MiB}")
    path = tmp_path / "usage.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def krr(capsys: pytest.CaptureFixture[str], kubeconfig: Path, usage: Path, *args: str
        ) -> dict[str, Any]:
    code = main(["rightsize", "--kubeconfig", str(kubeconfig), "--usage", str(usage),
                 "-o", "krr-json", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def scans(doc: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    return {(s["object"]["kind"], s["object"]["namespace"], s["object"]["name"],
             s["object"]["container"]) for s in doc["scans"]}


def test_reads_the_live_clusters_workloads_pods_and_hpas(
    cluster: KubeApi, kubeconfig: Path, usage: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = krr(capsys, kubeconfig, usage)
    assert scans(doc) == {
        ("Deployment", "shop", "web", "app"), ("Deployment", "shop", "web", "sidecar"),
        ("Deployment", "shop", "legacy", "app"), ("StatefulSet", "data", "db", "pg"),
        ("CronJob", "data", "nightly", "run"),
    }  # the ReplicaSet its Deployment owns is not a workload of its own
    web = next(s for s in doc["scans"] if s["object"]["name"] == "web"
               and s["object"]["container"] == "app")
    assert web["object"]["cluster"] == "test"  # the kubeconfig's context
    # Its pods from the API server; one seen only in the metrics is gone (KRR's "deleted").
    assert web["object"]["pods"] == [
        {"name": "web-7c5d8f9b6-aaaaa", "deleted": False},
        {"name": "web-7c5d8f9b6-bbbbb", "deleted": False},
        {"name": "web-7c5d8f9b6-zzzzz", "deleted": True},
    ]
    assert web["object"]["hpa"] == {
        "min_replicas": 2, "max_replicas": 6, "current_replicas": 2, "desired_replicas": 2,
        "target_cpu_utilization_percentage": 60.0, "target_memory_utilization_percentage": None}
    assert web["object"]["allocations"]["requests"] == {"cpu": 1.0, "memory": 1024.0 * MiB}
    db = next(s for s in doc["scans"] if s["object"]["name"] == "db")
    assert isinstance(db["recommended"]["requests"]["cpu"]["value"], float)
    # Pages were asked for (limit), as on a large cluster.
    assert cluster.count("GET", "/apis/apps/v1/deployments", limit="500") == 1


def test_namespace_selector_and_kind_filter_the_cluster(
    cluster: KubeApi, kubeconfig: Path, usage: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert scans(krr(capsys, kubeconfig, usage, "-n", "data")) == {
        ("StatefulSet", "data", "db", "pg"), ("CronJob", "data", "nightly", "run")}
    assert cluster.count("GET", "/apis/apps/v1/namespaces/data/statefulsets") == 1
    selected = krr(capsys, kubeconfig, usage, "-l", "team=shop,tier!=old")
    assert scans(selected) == {("Deployment", "shop", "web", "app"),
                               ("Deployment", "shop", "web", "sidecar")}
    # The selector went to the API server, on the workloads only.
    assert cluster.count("GET", "/apis/apps/v1/deployments",
                         labelSelector="team=shop,tier!=old") == 1
    assert cluster.count("GET", "/api/v1/pods", labelSelector="team=shop,tier!=old") == 0
    assert scans(krr(capsys, kubeconfig, usage, "--kind", "cronjob")) == {
        ("CronJob", "data", "nightly", "run")}


def test_an_unreachable_or_refusing_api_server_is_one_line(
    cluster: KubeApi, kubeconfig: Path, usage: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["rightsize", "--kubeconfig", str(kubeconfig), "--usage", str(usage),
                 "-l", "team in (shop"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "not a label selector requirement" in err
    cluster.stop()
    code = main(["rightsize", "--kubeconfig", str(kubeconfig), "--usage", str(usage)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "Kubernetes API: list deployments: cannot reach the API server" in err


def test_in_cluster_with_the_pods_service_account(
    cluster: KubeApi, usage: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No kubeconfig and KUBERNETES_SERVICE_HOST set: the service account's token and CA,
    over HTTPS, as in a pod (the client's in-cluster loader reads them from these paths)."""
    import kubernetes.config.incluster_config as incluster

    from tests.support.auth_proxy import make_tls

    ca, cert, key = make_tls(tmp_path)
    secure = KubeApi()
    for group_version, plural in (("apps/v1", "statefulsets"), ("v1", "pods")):
        for obj in cluster.objects(group_version, plural):
            secure.put(group_version, plural, obj)
    secure.start(tls=(str(cert), str(key)))
    try:
        token = tmp_path / "token"
        token.write_text("in-cluster-token")
        monkeypatch.setattr(incluster, "SERVICE_TOKEN_FILENAME", str(token))
        monkeypatch.setattr(incluster, "SERVICE_CERT_FILENAME", str(ca))
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", secure.url.rsplit(":", 1)[1])
        code = main(["rightsize", "--usage", str(usage), "-o", "krr-json"])
        out, err = capsys.readouterr()
        assert code == 0, err
        doc = json.loads(out)
        assert scans(doc) == {("StatefulSet", "data", "db", "pg")}
        assert doc["scans"][0]["object"]["cluster"] is None  # KRR's "inside the cluster"
        assert secure.count("GET", "/apis/apps/v1/statefulsets") == 1
    finally:
        secure.stop()
