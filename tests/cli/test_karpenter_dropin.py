"""A Karpenter user's objects, committed as Karpenter documents them, plan as Karpenter would:
an unfit NodePool stays idle while the others provision; well-known labels the catalog now
carries (flex, encryption in transit, tenancy) choose the types."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pricing import load_catalog
from scaler.cli import main

ROOT = Path(__file__).resolve().parents[2]
BUNDLES = ROOT / "tests" / "fixtures" / "policies" / "karpenter"

PENDING = """\
apiVersion: v1
kind: List
items:
{items}
"""
POD = """\
- apiVersion: v1
  kind: Pod
  metadata: {{name: {name}, namespace: default}}
  spec:
    containers: [{{name: c, image: x, resources: {{requests: {{cpu: "{cpu}", memory: {mem}}}}}}}]
  status: {{phase: Pending}}
"""


def pending(tmp_path: Path, n: int = 1, cpu: str = "1", mem: str = "1Gi") -> Path:
    items = "".join(POD.format(name=f"p{i}", cpu=cpu, mem=mem) for i in range(n))
    path = tmp_path / "snapshot.yaml"
    path.write_text(PENDING.format(items=items), encoding="utf-8")
    return path


def simulate(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any], str]:
    code = main(["simulate", "-o", "json", *argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else {}), err


def new_nodes(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in doc["nodes"] if not n["existing"]]


# --- one unfit NodePool never stops the others -------------------------------------------


def test_windows_pool_beside_linux_pool_plans_from_linux(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc, err = simulate(capsys, "--policies", str(BUNDLES / "windows-beside-linux"),
                              str(pending(tmp_path, 3)))
    assert code == 0, err
    assert {n["nodePool"] for n in new_nodes(doc)} == {"linux"}
    assert not doc["unschedulable"]
    (idle,) = doc["summary"]["idleNodePools"]
    assert idle["name"] == "windows2022"
    (cond,) = idle["conditions"]
    assert (cond["type"], cond["status"], cond["reason"]) == (
        "Ready", "False", "NoCompatibleInstanceTypes")
    assert "kubernetes.io/os In [windows]" in cond["message"]
    assert "warning:" in err and "NodePool windows2022 stays idle" in err


def test_table_output_names_the_idle_pool(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["simulate", "--policies", str(BUNDLES / "windows-beside-linux"),
                 str(pending(tmp_path))])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "NodePool windows2022 is idle (NoCompatibleInstanceTypes)" in out


def test_validate_warns_about_the_idle_pool_and_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["policies", "validate", str(BUNDLES / "windows-beside-linux")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "warning: " in out and "NodePool windows2022 stays idle" in out


def test_run_simulate_launches_from_the_linux_pool(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "scaler", "run", "--simulate", "--snapshot",
         str(pending(tmp_path, 2)), "--policies", str(BUNDLES / "windows-beside-linux"),
         "--run-for", "2.5", "--batch-idle", "0.2", "--batch-max", "1"],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr
    log = proc.stderr
    assert "NodePool windows2022 stays idle" in log
    assert "nodepool/windows2022 Warning NoCompatibleInstanceTypes" in log
    assert "Launched" in log and "nodeclaim/linux-" in log
    assert "Traceback" not in log


# --- well-known labels: flex, encryption in transit, tenancy ---------------------------


def test_flex_eit_tenancy_requirements_choose_and_offer_only_matching_types(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc, err = simulate(capsys, "--policies", str(BUNDLES / "flex-eit-tenancy"),
                              str(pending(tmp_path, 4, cpu="1500m", mem="2Gi")))
    assert code == 0, err
    catalog = load_catalog("us-east-1")
    nodes = new_nodes(doc)
    assert nodes and {n["nodePool"] for n in nodes} == {"general"}
    for n in nodes:
        names = [n["instanceType"], *(a["instanceType"] for a in n["alternatives"])]
        for name in names:
            labels = catalog.get(name).labels  # type: ignore[union-attr]
            assert "-flex" not in name
            assert labels["karpenter.k8s.aws/instance-capability-flex"] == "false"
            assert labels["karpenter.k8s.aws/instance-encryption-in-transit-supported"] == "true"
            assert labels["karpenter.k8s.aws/instance-tenancy"] == "default"
    # The dedicated-only pool has no offering: idle, named, and the plan still comes.
    assert [i["name"] for i in doc["summary"]["idleNodePools"]] == ["dedicated"]


def test_without_the_flex_rule_flex_types_are_offered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The control: the same pod, with flex allowed, is offered c7i-flex among its choices.
    policy = tmp_path / "pool.yaml"
    policy.write_text(
        "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: flex}\nspec:\n"
        "  template:\n    spec:\n      requirements:\n"
        "        - {key: karpenter.k8s.aws/instance-capability-flex, operator: In, "
        "values: [\"true\"]}\n", encoding="utf-8")
    code, doc, err = simulate(capsys, "--policies", str(policy), str(pending(tmp_path)))
    assert code == 0, err
    names = {a["instanceType"] for n in new_nodes(doc) for a in n["alternatives"]}
    assert names and all("-flex." in n for n in names)


def test_catalog_labels_follow_karpenter() -> None:
    catalog = load_catalog("us-east-1")
    flex = [t for t in catalog.instance_types
            if t.labels["karpenter.k8s.aws/instance-capability-flex"] == "true"]
    assert flex and all("-flex" in t.name for t in flex)
    assert catalog.get("c7i.large").labels[  # type: ignore[union-attr]
        "karpenter.k8s.aws/instance-encryption-in-transit-supported"] == "true"
    assert catalog.get("m5.large").labels[  # type: ignore[union-attr]
        "karpenter.k8s.aws/instance-encryption-in-transit-supported"] == "false"


# --- EC2NodeClass kubelet and disks: Karpenter's allocatable ------------------------------

DAEMONSET = """\
- apiVersion: apps/v1
  kind: DaemonSet
  metadata: {name: agent, namespace: kube-system}
  spec:
    selector: {matchLabels: {app: agent}}
    template:
      metadata: {labels: {app: agent}}
      spec:
        containers: [{name: a, image: x, resources: {requests: {cpu: 10m, memory: 16Mi}}}]
"""
EPHEMERAL_POD = """\
- apiVersion: v1
  kind: Pod
  metadata: {{name: {name}, namespace: default}}
  spec:
    {tolerations}
    containers: [{{name: c, image: x, resources: {{requests: {{cpu: "1", memory: 1Gi,
      ephemeral-storage: {size}}}}}}}]
  status: {{phase: Pending}}
"""


def _bytes(text: str) -> int:
    from scaler.core.quantity import parse_quantity, to_int
    return to_int(parse_quantity(text))


def test_kubelet_max_pods_caps_each_node_daemonset_pods_included(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items = "".join(POD.format(name=f"p{i}", cpu="10m", mem="16Mi") for i in range(20))
    snap = tmp_path / "snap.yaml"
    snap.write_text(PENDING.format(items=items + DAEMONSET), encoding="utf-8")
    code, doc, err = simulate(capsys, "--policies", str(BUNDLES / "kubelet-max-pods"), str(snap))
    assert code == 0, err
    nodes = new_nodes(doc)
    assert not doc["unschedulable"]
    # maxPods 8 and one DaemonSet pod per node: at most 7 of the 20 pods on each node.
    assert all(n["pods"] <= 7 for n in nodes)
    assert len(nodes) == 3
    assert {n["allocatable"]["pods"] for n in nodes} == {"8"}


def test_kubelet_reservations_lower_allocatable_by_karpenters_formula(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc, err = simulate(capsys, "--policies", str(BUNDLES / "kubelet-max-pods"),
                              str(pending(tmp_path)))
    assert code == 0, err
    (node,) = new_nodes(doc)
    it = load_catalog("us-east-1").get(node["instanceType"])
    assert it is not None
    alloc = node["allocatable"]
    # cpu: capacity - kubeReserved 200m - systemReserved 100m (no cpu eviction threshold)
    from scaler.core.quantity import parse_quantity, to_milli
    assert to_milli(parse_quantity(alloc["cpu"])) == it.vcpu * 1000 - 300
    # memory: capacity - 100Mi - 100Mi - 5% of capacity (evictionHard memory.available)
    mem_cap = it.capacity["memory"]
    expected = mem_cap - 200 * 2**20 - -(-mem_cap * 5 // 100)
    assert abs(_bytes(alloc["memory"]) - expected) < 2**20  # printed to the MiB
    # ephemeral-storage: 20Gi root - 3Gi - 1Gi - 10% (2Gi)
    assert _bytes(alloc["ephemeral-storage"]) == 14 * 2**30


def test_block_device_root_volume_sets_ephemeral_storage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snap = tmp_path / "snap.yaml"
    snap.write_text(PENDING.format(items=EPHEMERAL_POD.format(
        name="scratch", size="50Gi", tolerations="tolerations: []")), encoding="utf-8")
    code, doc, err = simulate(capsys, "--policies", str(BUNDLES / "block-devices-raid0"),
                              str(snap))
    assert code == 0, err
    assert not doc["unschedulable"]
    (node,) = new_nodes(doc)
    assert node["nodePool"] == "big-root"
    # 100Gi - kubeReserved 1Gi - 10% eviction (10Gi)
    assert _bytes(node["allocatable"]["ephemeral-storage"]) == 89 * 2**30
    # Without the node class, the default 20Gi root volume cannot hold it.
    bare = tmp_path / "bare.yaml"
    bare.write_text("apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: bare}\n"
                    "spec: {template: {spec: {}}}\n", encoding="utf-8")
    code, doc, err = simulate(capsys, "--policies", str(bare), str(snap))
    assert code == 0 and len(doc["unschedulable"]) == 1


def test_raid0_instance_store_is_ephemeral_storage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snap = tmp_path / "snap.yaml"
    tol = "tolerations: [{key: storage, operator: Equal, value: nvme, effect: NoSchedule}]"
    snap.write_text(PENDING.format(items=EPHEMERAL_POD.format(
        name="cache", size="500Gi", tolerations=tol)), encoding="utf-8")
    code, doc, err = simulate(capsys, "--policies", str(BUNDLES / "block-devices-raid0"),
                              str(snap))
    assert code == 0, err
    assert not doc["unschedulable"]
    (node,) = new_nodes(doc)
    assert node["nodePool"] == "nvme"
    it = load_catalog("us-east-1").get(node["instanceType"])
    assert it is not None
    nvme_gb = int(it.labels["karpenter.k8s.aws/instance-local-nvme"])
    capacity = nvme_gb * 10**9  # Karpenter: the instance store's total, in decimal GB
    expected = capacity - 2**30 - -(-capacity // 10)
    assert abs(_bytes(node["allocatable"]["ephemeral-storage"]) - expected) < 2**20
    assert expected >= 500 * 2**30


# --- NodeOverlay: price, priceAdjustment, capacity --------------------------------------

FPGA_POD = """\
- apiVersion: v1
  kind: Pod
  metadata: {name: fpga, namespace: default}
  spec:
    containers: [{name: c, image: x, resources: {requests: {cpu: 500m, memory: 1Gi},
      limits: {example.com/fpga: "1"}}}]
  status: {phase: Pending}
"""


def test_node_overlay_price_and_adjustment_steer_the_choice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc, err = simulate(capsys, "--policies", str(BUNDLES / "node-overlay"),
                              str(pending(tmp_path, 1, cpu="1", mem="4Gi")))
    assert code == 0, err
    (node,) = new_nodes(doc)
    assert node["instanceType"] == "m5.large"
    assert node["pricePerHour"] == pytest.approx(0.001)
    # The c family costs 11 times its price now: its alternatives rank behind the rest.
    catalog = load_catalog("us-east-1")
    for alt in node["alternatives"]:
        it = catalog.get(alt["instanceType"])
        assert it is not None
        if it.labels.get("karpenter.k8s.aws/instance-category") == "c":
            base = it.cheapest("on-demand")
            assert base is not None
            assert alt["pricePerHour"] == pytest.approx(base.price * 11, rel=1e-6)


def test_node_overlay_capacity_adds_an_extended_resource(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snap = tmp_path / "snap.yaml"
    snap.write_text(PENDING.format(items=FPGA_POD), encoding="utf-8")
    code, doc, err = simulate(capsys, "--policies", str(BUNDLES / "node-overlay"), str(snap))
    assert code == 0, err
    assert not doc["unschedulable"]
    (node,) = new_nodes(doc)
    assert node["instanceType"] == "m6i.large"
    assert node["allocatable"]["example.com/fpga"] == "2"
    # Without the overlay no type has the resource: the pod stays pending.
    bare = tmp_path / "bare.yaml"
    bare.write_text("apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: bare}\n"
                    "spec: {template: {spec: {}}}\n", encoding="utf-8")
    code, doc, err = simulate(capsys, "--policies", str(bare), str(snap))
    assert code == 0 and len(doc["unschedulable"]) == 1


@pytest.mark.parametrize(("spec", "message"), [
    ('{price: "0.1", priceAdjustment: "+5%"}', "set price or priceAdjustment, not both"),
    ('{priceAdjustment: "5%"}', "invalid priceAdjustment '5%'"),
    ('{capacity: {cpu: "2"}}', "cpu cannot be overlaid"),
    ("{weight: 5}", "sets nothing"),
])
def test_node_overlay_mistakes_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: str, message: str
) -> None:
    path = tmp_path / "overlay.yaml"
    path.write_text("apiVersion: karpenter.sh/v1alpha1\nkind: NodeOverlay\n"
                    f"metadata: {{name: o}}\nspec: {spec}\n", encoding="utf-8")
    code = main(["policies", "validate", str(path)])
    _, err = capsys.readouterr()
    assert code == 2
    assert "NodeOverlay o: spec" in err and message in err


# --- limits.nodes -------------------------------------------------------------------------

SPREAD_POD = """\
- apiVersion: v1
  kind: Pod
  metadata: {{name: {name}, namespace: default, labels: {{app: one-per-node}}}}
  spec:
    affinity: {{podAntiAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: [
      {{labelSelector: {{matchLabels: {{app: one-per-node}}}},
        topologyKey: kubernetes.io/hostname}}]}}}}
    containers: [{{name: c, image: x, resources: {{requests: {{cpu: 500m, memory: 1Gi}}}}}}]
  status: {{phase: Pending}}
"""


def test_limits_nodes_caps_the_pools_node_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snap = tmp_path / "snap.yaml"
    snap.write_text(PENDING.format(items="".join(SPREAD_POD.format(name=f"p{i}")
                                                 for i in range(3))), encoding="utf-8")
    policy = tmp_path / "pool.yaml"
    policy.write_text("apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: one}\n"
                      "spec:\n  limits: {nodes: \"1\"}\n  template: {spec: {}}\n",
                      encoding="utf-8")
    code, doc, err = simulate(capsys, "--policies", str(policy), str(snap))
    assert code == 0, err
    assert len(new_nodes(doc)) == 1
    assert len(doc["unschedulable"]) == 2
    assert all("NodePool one would exceed its limits (0 nodes left)" in u["reason"]
               for u in doc["unschedulable"])
