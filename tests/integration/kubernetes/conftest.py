"""The Kubernetes API stand-in (tests/support/kube_api.py) and clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scaler.adapters.kubernetes import Kube, KubeSettings, load_configuration
from tests.integration.aws.conftest import (  # noqa: F401  (moto fixtures for the e2e test)
    boto_session,
    dummy_credentials,
    moto,
    moto_server,
    pricing_replay,
    world,
)
from tests.support.kube_api import KubeApi


@pytest.fixture
def kube_api() -> Iterator[KubeApi]:
    api = KubeApi(bookmark_interval=0.2).start()
    yield api
    api.stop()


@pytest.fixture
def kubeconfig(kube_api: KubeApi, tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(kube_api.kubeconfig())
    return path


@pytest.fixture
def kube_config(kubeconfig: Path) -> Any:
    return load_configuration(KubeSettings(kubeconfig=str(kubeconfig)))


@pytest.fixture
def kube(kube_config: Any) -> Iterator[Kube]:
    k = Kube(kube_config, KubeSettings(read_timeout=5.0))
    yield k
    k.close()


def pod(name: str, node: str | None = None, cpu: str = "250m", ns: str = "default",
        labels: dict[str, str] | None = None, owner: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns, "labels": labels or {}}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner.split("/")[0],
                                    "name": owner.split("/")[1], "uid": "u",
                                    "controller": True}]
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "x",
                                            "resources": {"requests": {"cpu": cpu,
                                                                       "memory": "256Mi"}}}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec,
            "status": {"phase": "Running" if node else "Pending"}}


def node(name: str, provider_id: str = "", ready: bool = True,
         labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                  **(labels or {})}},
            "spec": {"providerID": provider_id} if provider_id else {},
            "status": {"allocatable": {"cpu": "2", "memory": "8Gi", "pods": "110"},
                       "conditions": [{"type": "Ready",
                                       "status": "True" if ready else "False"}]}}
