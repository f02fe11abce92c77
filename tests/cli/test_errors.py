"""Bad input: one line naming file, object and field; exit 2; no traceback; nothing printed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scaler.cli import main

NODE = """\
apiVersion: v1
kind: Node
metadata:
  name: n1
  labels: {kubernetes.io/arch: amd64}
status:
  allocatable: {cpu: "2", memory: 8Gi, pods: "110"}
"""

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop}
spec:
  containers:
  - name: app
    resources:
      requests: {cpu: CPU, memory: 1Gi}
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, out: str, err: str, *parts: str) -> None:
    assert code == 2
    assert out == ""  # nothing half-done on stdout
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("scaler: error: ")
    for part in parts:
        assert part in lines[0], (part, lines[0])


def test_malformed_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "snap.yaml"
    bad.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: [unclosed\n")
    assert_one_line_error(*run(capsys, "simulate", str(bad)), "snap.yaml", "YAML")


def test_invalid_quantity_names_file_object_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snap = tmp_path / "snap.yaml"
    snap.write_text(POD.replace("CPU", "12Q"))
    assert_one_line_error(
        *run(capsys, "simulate", str(snap)),
        "snap.yaml",
        "Pod shop/web-1",
        "spec.containers[0].resources.requests.cpu",
        "12Q",
    )


def test_nodepool_no_instance_type_satisfies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snap = tmp_path / "snap.yaml"
    snap.write_text(POD.replace("CPU", "1"))
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "np.yaml").write_text(
        """\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: tiny}
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
      - {key: node.kubernetes.io/instance-type, operator: In, values: [m99.huge]}
"""
    )
    # As in Karpenter, the pool stays idle (not an error): a one-line warning names the file,
    # the NodePool and why, and the pod's reason says the pool is idle.
    code, out, err = run(capsys, "simulate", str(snap), "--policies", str(policies),
                         "-o", "json")
    assert code == 0
    (line,) = err.strip().splitlines()
    assert line.startswith("scaler: warning: ") and "np.yaml" in line
    assert "NodePool tiny stays idle" in line and "no instance type" in line
    (pod,) = json.loads(out)["unschedulable"]
    assert "NodePool tiny is idle: no instance type in region us-east-1" in pod["reason"]


def test_unknown_region(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap = tmp_path / "snap.yaml"
    snap.write_text(NODE)
    assert_one_line_error(
        *run(capsys, "simulate", str(snap), "--region", "mars-east-1"), "--region", "mars-east-1"
    )


def test_empty_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap = tmp_path / "empty.yaml"
    snap.write_text("# nothing here\n---\n")
    assert_one_line_error(*run(capsys, "simulate", str(snap)), "empty.yaml")


def test_missing_snapshot_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert_one_line_error(
        *run(capsys, "simulate", str(tmp_path / "nope.yaml")), "nope.yaml"
    )


def test_real_process_exit_code_and_no_traceback(tmp_path: Path) -> None:
    snap = tmp_path / "snap.yaml"
    snap.write_text(POD.replace("CPU", "1K"))
    proc = subprocess.run(
        [sys.executable, "-m", "scaler", "simulate", str(snap)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "1K" in proc.stderr


CATALOG = """\
apiVersion: scaler.dev/v1alpha1
kind: InstanceTypeCatalog
metadata: {name: mine}
spec:
  region: lab
  zones: [lab-1]
  instanceTypes:
    - name: box
      capacity: {cpu: "4", memory: 8Gi, pods: "20"}
      offerings: [{zone: lab-1, capacityType: on-demand, price: PRICE}]
"""


@pytest.mark.parametrize("price, field", [("-1", "offerings[0].price"),
                                          ("cheap", "offerings[0].price")])
def test_bad_catalog_file_names_the_type_and_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, price: str, field: str
) -> None:
    (tmp_path / "pod.yaml").write_text(POD.replace("CPU", "1"))
    (tmp_path / "catalog.yaml").write_text(CATALOG.replace("PRICE", price))
    code, out, err = run(capsys, "simulate", str(tmp_path / "pod.yaml"),
                         "--catalog", str(tmp_path / "catalog.yaml"))
    assert_one_line_error(code, out, err, "catalog.yaml", "box", field)


def test_bad_catalog_quantity_names_the_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "pod.yaml").write_text(POD.replace("CPU", "1"))
    (tmp_path / "catalog.yaml").write_text(
        CATALOG.replace("PRICE", "1").replace("memory: 8Gi", "memory: 8Gb"))
    code, out, err = run(capsys, "simulate", str(tmp_path / "pod.yaml"),
                         "--catalog", str(tmp_path / "catalog.yaml"))
    assert_one_line_error(code, out, err, "catalog.yaml", "box", "capacity")
