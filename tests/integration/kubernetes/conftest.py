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

