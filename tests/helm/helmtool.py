"""What the chart tests share: where the chart is, running helm, reading its output."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "scaler"
HERE = Path(__file__).resolve().parent
FULL = HERE / "values-full.yaml"
# The chart's floor (Chart.yaml kubeVersion) and a recent release (the helm package's own).
K8S_VERSIONS = ("1.29", "1.35")
NAMESPACE = "scaler-system"

Doc = dict[str, Any]


def run_helm(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm, *args], capture_output=True, text=True, check=False, timeout=120, cwd=ROOT
    )


def template(helm: str, *args: str) -> str:
    proc = run_helm(helm, "template", "scaler", str(CHART), "--namespace", NAMESPACE, *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def documents(text: str) -> list[Doc]:
    return [d for d in yaml.safe_load_all(text) if d]


def by_kind(docs: Iterable[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: Iterable[Doc], kind: str) -> Doc:
    (doc,) = by_kind(docs, kind)
    return doc


def fetch_helm() -> str:
    """The helm binary's path (tests/support/get_helm.sh downloads it once per machine)."""
    proc = subprocess.run(
        ["bash", str(ROOT / "tests" / "support" / "get_helm.sh")],
        capture_output=True, text=True, check=False, timeout=300,
    )
    assert proc.returncode == 0, f"could not get helm: {proc.stderr}"
    return proc.stdout.strip()
