"""`scaler simulate` as a user runs it: on the bundled example and on small snapshots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from scaler.cli import main
from scaler.core.quantity import parse_quantity, to_int, to_milli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples"
POLICIES = ROOT / "policies"
SCHEMA = json.loads((ROOT / "docs" / "plan.schema.json").read_text())


def simulate_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code = main(["simulate", *args, "--output", "json"])
    out = capsys.readouterr().out
    assert code == 0
    doc: dict[str, Any] = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    return doc


def node_of(doc: dict[str, Any], pod: str) -> dict[str, Any]:
    name = next(p["node"] for p in doc["placements"] if p["pod"] == pod)
    return next(n for n in doc["nodes"] if n["name"] == name)


@pytest.fixture(scope="module")
def example_doc() -> dict[str, Any]:
    from scaler.output.plan import plan_document
    from scaler.simulation.provision import load_inputs, run_simulation

    inputs = load_inputs([str(EXAMPLE)], str(POLICIES), "us-east-1")
    doc = json.loads(json.dumps(plan_document(run_simulation(inputs))))
    jsonschema.validate(doc, SCHEMA)
    return doc


def test_example_table_shows_plan_pods_and_cost(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(EXAMPLE), "--policies", str(POLICIES)]) == 0
    out = capsys.readouterr().out
    assert "Nodes to launch:" in out
    assert "Unschedulable pods: 1" in out
    assert "batch/genome-assembly" in out
    assert "PER MONTH (730 h)" in out


def test_example_json_validates_and_lists_every_pod(capsys: pytest.CaptureFixture[str]) -> None:
    doc = simulate_json(capsys, str(EXAMPLE), "--policies", str(POLICIES))
    placed = {p["pod"] for p in doc["placements"]}
    assert "kube-system/coredns-5d78c9869d-7xk2p" in placed  # bound pods are listed too
    assert "shop/web-7c5d8f9b6-h2k9x" in placed
    assert sum(1 for p in placed if p.startswith("shop/api-")) == 4  # expanded Deployment
    assert doc["cost"]["plannedPerHour"] > doc["cost"]["currentPerHour"] > 0


def test_yaml_output_is_the_same_document(capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    assert main(["simulate", str(EXAMPLE), "--policies", str(POLICIES), "-o", "yaml"]) == 0
    doc = yaml.safe_load(capsys.readouterr().out)
    jsonschema.validate(doc, SCHEMA)


def test_arm64_pinned_pod_gets_arm64_node(example_doc: dict[str, Any]) -> None:
    assert node_of(example_doc, "analytics/spark-driver-0")["arch"] == "arm64"


def test_on_demand_pod_never_lands_on_spot(example_doc: dict[str, Any]) -> None:
    assert node_of(example_doc, "payments/ledger-5b8d7c6f9-x4z2w")["capacityType"] == "on-demand"


def test_gpu_pod_lands_on_gpu_pool(example_doc: dict[str, Any]) -> None:
    node = node_of(example_doc, "ml/trainer-0")
    assert node["nodePool"] == "gpu"
    assert node["instanceType"].startswith("g")
    assert node["capacityType"] == "on-demand"
    assert "nvidia.com/gpu" in node["allocatable"]


def test_too_big_pod_has_actionable_reason(example_doc: dict[str, Any]) -> None:
    [u] = example_doc["unschedulable"]
    assert u["pod"] == "batch/genome-assembly-x9k2f"
    assert "NodePool default" in u["reason"] and "400 vCPU" in u["reason"]


def test_every_placed_pod_fits_its_node(example_doc: dict[str, Any]) -> None:
    for node in example_doc["nodes"]:
        for name, value in node["requests"].items():
            have = node["allocatable"].get(name, "0")
            conv = to_milli if name == "cpu" else to_int
            assert conv(parse_quantity(value)) <= conv(parse_quantity(have)), (node["name"], name)


def test_new_nodes_are_the_cheapest_of_their_alternatives(example_doc: dict[str, Any]) -> None:
    new = [n for n in example_doc["nodes"] if not n["existing"]]
    assert new
    for n in new:
        prices = [a["pricePerHour"] for a in n["alternatives"]]
        assert prices == sorted(prices)
        assert n["pricePerHour"] == prices[0]


def test_json_on_the_real_stdout_is_only_json() -> None:
    # Native libraries write to file descriptor 1 directly; capsys would not see that.
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "scaler", "simulate", str(EXAMPLE), "--policies", str(POLICIES),
         "-o", "json"],
        capture_output=True, text=True, check=True,
    )
    jsonschema.validate(json.loads(proc.stdout), SCHEMA)


SMALL_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: worker, namespace: jobs}
spec:
  containers:
    - name: main
      image: busybox
      resources: {requests: {cpu: 500m, memory: 512Mi}}
"""

SPOT_POOL = """\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: default}
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
        - {key: karpenter.sh/capacity-type, operator: In, values: [spot]}
"""


def _spot_node(capsys: pytest.CaptureFixture[str], tmp_path: Path, policy: str = "",
               extra_requirement: str = "") -> dict[str, Any]:
    (tmp_path / "pod.yaml").write_text(SMALL_POD)
    pols = tmp_path / "policies"
    pols.mkdir()
    (pols / "pool.yaml").write_text(SPOT_POOL + extra_requirement)
    if policy:
        (pols / "policy.yaml").write_text(policy)
    doc = simulate_json(capsys, str(tmp_path / "pod.yaml"), "--policies", str(pols))
    (node,) = [n for n in doc["nodes"] if not n["existing"]]
    return node


def test_spot_launch_lists_at_least_15_instance_types(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    node = _spot_node(capsys, tmp_path)
    assert node["capacityType"] == "spot"
    assert node["instanceTypes"] >= 15


def test_spot_diversity_is_configurable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policy = """\
apiVersion: scaler.dev/v1alpha1
kind: NodePoolPolicy
metadata: {name: default}
spec:
  nodePoolRef: {name: default}
  spot: {minInstanceTypes: 45}
"""
    node = _spot_node(capsys, tmp_path, policy)
    assert node["instanceTypes"] >= 45
    # Still cheapest first: the launched offering heads the list.
    assert node["alternatives"][0]["instanceType"] == node["instanceType"]
    prices = [a["pricePerHour"] for a in node["alternatives"]]
    assert prices == sorted(prices)


def test_spot_diversity_stops_at_the_types_that_fit(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    only_c7g = "        - {key: karpenter.k8s.aws/instance-family, operator: In, values: [c7g]}\n"
    node = _spot_node(capsys, tmp_path, extra_requirement=only_c7g)
    from pricing import load_catalog

    c7g = [t for t in load_catalog("us-east-1").instance_types
           if t.name.startswith("c7g.") and t.cheapest("spot") is not None]
    assert node["instanceTypes"] == len(c7g)


def test_catalog_file_prices_the_plan(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Private prices: the plan launches from the file's types, at the file's prices."""
    catalog = """\
apiVersion: scaler.dev/v1alpha1
kind: InstanceTypeCatalog
metadata: {name: lab}
spec:
  region: lab
  zones: [lab-1, lab-2]
  instanceTypes:
    - name: small
      capacity: {cpu: "2", memory: 4Gi, pods: "10"}
      overhead: {cpu: 100m, memory: 100Mi}
      offerings: [{zone: lab-1, capacityType: on-demand, price: 0.5}]
    - name: big
      arch: arm64
      capacity: {cpu: "16", memory: 64Gi, pods: "100"}
      offerings:
        - {zone: lab-2, capacityType: on-demand, price: 1.0}
        - {zone: lab-2, capacityType: spot, price: 0.25}
"""
    (tmp_path / "catalog.yaml").write_text(catalog)
    pods = "---\n".join(SMALL_POD.replace("worker", f"worker-{i}") for i in range(6))
    (tmp_path / "pods.yaml").write_text(pods)
    doc = simulate_json(capsys, str(tmp_path / "pods.yaml"), "--catalog",
                        str(tmp_path / "catalog.yaml"))
    (node,) = [n for n in doc["nodes"] if not n["existing"]]
    assert (node["instanceType"], node["capacityType"], node["zone"], node["arch"]) == (
        "big", "spot", "lab-2", "arm64")
    assert doc["cost"]["plannedPerHour"] == 0.25
