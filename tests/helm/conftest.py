"""The helm binary, once per test session."""

from __future__ import annotations

import pytest

from .helmtool import fetch_helm


@pytest.fixture(scope="session")
def helm() -> str:
    return fetch_helm()
