"""The semantic diff behind `scaler policies log`: objects and field paths, not text lines."""

from __future__ import annotations

from typing import Any

from scaler.policy.diff import diff_bundles, diff_values
from scaler.policy.loader import PolicyObject


def obj(kind: str, name: str, doc: dict[str, Any], file: str = "a.yaml") -> PolicyObject:
    api = "karpenter.sh/v1" if kind == "NodePool" else "scaler.dev/v1alpha1"
    return PolicyObject(api, kind, name, None, file, 1,
                        {"apiVersion": api, "kind": kind, "metadata": {"name": name}, **doc})


def reqs(*items: tuple[str, str, list[str]]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"requirements": [
        {"key": k, "operator": op, "values": v} for k, op, v in items]}}}}


def test_requirement_inserted_first_is_one_addition_not_a_shifted_list() -> None:
    old = reqs(("kubernetes.io/arch", "In", ["amd64", "arm64"]))
    new = reqs(("karpenter.sh/capacity-type", "In", ["spot"]),
               ("kubernetes.io/arch", "In", ["amd64"]))
    changes = [c.describe() for c in diff_values(old, new)]
    assert changes == [
        '~ spec.template.spec.requirements[key=kubernetes.io/arch].values: ["amd64", "arm64"] '
        '-> ["amd64"]',
        "+ spec.template.spec.requirements[key=karpenter.sh/capacity-type]: "
        '{"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]}',
    ]


def test_objects_are_matched_by_identity_not_file() -> None:
    a = obj("NodePool", "gpu", {"spec": {"weight": 10}}, file="nodepools/gpu.yaml")
    moved = obj("NodePool", "gpu", {"spec": {"weight": 10}}, file="pools/all.yaml")
    assert diff_bundles([a], [moved]) == []


def test_added_removed_and_modified_objects() -> None:
    before = [obj("NodePool", "gpu", {"spec": {"weight": 10}}),
              obj("RightSizingPolicy", "old", {"spec": {}})]
    after = [obj("NodePool", "gpu", {"spec": {"weight": 20, "limits": {"cpu": "8"}}}),
             obj("CostAllocationPolicy", "teams", {"spec": {}})]
    changes = diff_bundles(before, after)
    assert [(c.object, c.op) for c in changes] == [
        ("NodePool gpu", "modified"),
        ("CostAllocationPolicy teams", "added"),
        ("RightSizingPolicy old", "removed"),
    ]
    assert [f.describe() for f in changes[0].fields] == [
        '+ spec.limits: {"cpu": "8"}',
        "~ spec.weight: 10 -> 20",
    ]
    assert changes[0].to_json()["fields"][1] == {
        "path": "spec.weight", "op": "changed", "old": 10, "new": 20}


def test_a_value_changing_type_is_a_change() -> None:
    # `"10"` and `10` look alike in YAML and mean different things to the API server.
    assert [c.describe() for c in diff_values({"w": 10}, {"w": "10"})] == ['~ w: 10 -> "10"']
