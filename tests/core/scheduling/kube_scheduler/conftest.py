"""Run one pending pod against one existing node through the public simulation.

The upstream kube-scheduler plugin tests ask "does the Filter pass for this pod on this
node?". Here that is "does `scaler simulate` place the pod on the node?", with a NodePool
whose zero CPU limit keeps scaler from launching anything else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaler.cli import main

NO_NEW_NODES = """\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: frozen}
spec:
  limits: {cpu: "0"}
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
"""


def node(name: str = "node-1", labels: dict[str, str] | None = None,
         taints: list[dict[str, str]] | None = None, cpu: str = "4", memory: str = "8Gi",
         pods: str = "110", extra: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if taints:
        spec["taints"] = taints
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": spec,
        "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods, **(extra or {})}},
    }


def pod(name: str = "pod", spec: dict[str, Any] | None = None, cpu: str = "100m",
        memory: str = "64Mi", node_name: str | None = None, labels: dict[str, str] | None = None,
        namespace: str = "default", extra: dict[str, str] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "c", "image": "busybox",
        "resources": {"requests": {"cpu": cpu, "memory": memory, **(extra or {})}},
    }
    body: dict[str, Any] = {"containers": [container], **(spec or {})}
    if node_name:
        body["nodeName"] = node_name
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "spec": body}


class Sim:
    def __init__(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.tmp = tmp_path
        self.capsys = capsys

    def run(self, *objects: dict[str, Any], policies: str = NO_NEW_NODES) -> dict[str, Any]:
        snap = self.tmp / "snapshot.yaml"
        snap.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List",
                                        "items": list(objects)}))
        pol = self.tmp / "policies"
        pol.mkdir(exist_ok=True)
        (pol / "pool.yaml").write_text(policies)
        code = main(["simulate", str(snap), "--policies", str(pol), "--output", "json"])
        out = self.capsys.readouterr().out
        assert code == 0
        doc: dict[str, Any] = json.loads(out)
        return doc

    def placed_on(self, *objects: dict[str, Any], pod_name: str = "pod",
                  policies: str = NO_NEW_NODES) -> str | None:
        doc = self.run(*objects, policies=policies)
        for p in doc["placements"]:
            if p["pod"] == f"default/{pod_name}":
                return str(p["node"])
        return None


@pytest.fixture
def sim(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Sim:
    return Sim(tmp_path, capsys)
