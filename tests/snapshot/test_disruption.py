"""What the snapshot reader gives the disruption pass: PDBs, creation times, annotations."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from scaler.core.disruption.safety import pdb_allowance
from scaler.core.model import IntOrPercent, Snapshot
from scaler.errors import UserError
from scaler.snapshot import load_snapshot

SNAPSHOT = """\
apiVersion: v1
kind: Node
metadata:
  name: n1
  creationTimestamp: "2026-01-01T00:00:00Z"
  annotations: {karpenter.sh/do-not-disrupt: "true"}
status: {allocatable: {cpu: "4", memory: 8Gi, pods: "50"}}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: shop
  labels: {app: web}
  annotations: {karpenter.sh/do-not-disrupt: "true"}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-5d, uid: u,
                     controller: true}]
spec: {nodeName: n1, containers: [{name: a, resources: {requests: {cpu: 100m}}}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, namespace: shop, labels: {app: web}}
spec: {nodeName: n1, containers: [{name: a, resources: {requests: {cpu: 100m}}}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-3, namespace: shop, labels: {app: web}}
spec: {containers: [{name: a, resources: {requests: {cpu: 100m}}}]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: shop}
spec:
  SPEC
  selector: {matchLabels: {app: web}}
"""


def load(tmp_path: Path, spec: str = "minAvailable: 1") -> Snapshot:
    f = tmp_path / "snap.yaml"
    f.write_text(SNAPSHOT.replace("SPEC", spec))
    return load_snapshot([f])


def test_annotations_creation_time_and_pdb(tmp_path: Path) -> None:
    snap = load(tmp_path, 'maxUnavailable: "50%"')
    node = snap.nodes[0]
    assert node.do_not_disrupt and node.created == 1767225600.0
    pods = {p.name: p for p in snap.pods}
    assert pods["web-1"].do_not_disrupt and not pods["web-2"].do_not_disrupt
    assert pods["web-2"].owner_kind is None  # controller-less: would not come back
    (pdb,) = snap.disruption_budgets
    assert pdb.max_unavailable == IntOrPercent(50, percent=True) and pdb.min_available is None
    # 3 expected (one pending), 2 healthy: ceil(50% of 3) = 2 unavailable allowed, 1 is.
    assert pdb_allowance([pdb], snap.pods) == {"shop/web": 1}


@pytest.mark.parametrize(("spec", "allowed"), [
    ("minAvailable: 1", 1), ("minAvailable: 2", 0), ('minAvailable: "100%"', 0),
    ("maxUnavailable: 0", 0), ("maxUnavailable: 3", 2),
])
def test_pdb_allowance(tmp_path: Path, spec: str, allowed: int) -> None:
    snap = load(tmp_path, spec)
    pdbs = snap.disruption_budgets
    assert pdb_allowance(pdbs, snap.pods) == {"shop/web": allowed}


@pytest.mark.parametrize(("spec", "field"), [
    ('minAvailable: "half"', "spec.minAvailable"),
    ("maxUnavailable: -1", "spec.maxUnavailable"),
    ("minAvailable: 1\n  maxUnavailable: 1", "spec"),
])
def test_bad_pdb_is_one_located_error(tmp_path: Path, spec: str, field: str) -> None:
    with pytest.raises(UserError) as err:
        load(tmp_path, spec)
    text = err.value.render()
    assert "snap.yaml" in text and "PodDisruptionBudget shop/web" in text and field in text


def test_bad_creation_timestamp(tmp_path: Path) -> None:
    f = tmp_path / "snap.yaml"
    f.write_text(textwrap.dedent(SNAPSHOT.replace("SPEC", "minAvailable: 1")).replace(
        '"2026-01-01T00:00:00Z"', "yesterday"))
    with pytest.raises(UserError, match="metadata.creationTimestamp"):
        load_snapshot([f])
