"""The policy kinds beyond NodePool: EC2NodeClass, NodePoolPolicy, RightSizingPolicy,
CostAllocationPolicy; whole-bundle validation; the bundle digest."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaler.errors import UserError
from scaler.policy import load_policies
from scaler.policy.loader import PolicyBundleError, read_objects

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "policies"


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def example_files() -> dict[str, str]:
    return {
        p.relative_to(EXAMPLE).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(EXAMPLE.rglob("*.yaml"))
    }


def error_of(root: Path) -> str:
    with pytest.raises(UserError) as info:
        load_policies(root, display_root=root)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- the example repository, as a user reads it ----------------------------------------------


def test_example_extensions_are_typed() -> None:
    ps = load_policies(EXAMPLE)
    npp = ps.node_pool_policy("default")
    assert npp is not None
    assert npp.spec.spot is not None and npp.spec.spot.max_interruption_band == "10-15%"
    assert npp.spec.on_demand_share is not None and npp.spec.on_demand_share.min_percent == 20
    assert npp.spec.architecture is not None and npp.spec.architecture.prefer == "arm64"
    assert ps.node_pool_policy("gpu") is None


def test_example_right_sizing_policies_highest_priority_first() -> None:
    ps = load_policies(EXAMPLE)
    assert [p.name for p in ps.right_sizing_policies] == ["batch", "services"]
    services = ps.right_sizing_policies[1].spec
    assert services.mode == "Recommend"
    assert services.selector.namespaces == ["shop", "payments"]
    assert services.cpu is not None and services.cpu.max == "4"
    assert services.memory is not None and services.memory.percentile == 100
    batch = ps.right_sizing_policies[0].spec
    assert batch.min_change_percent == 10  # the default when left out


def test_example_cost_allocation() -> None:
    cap = load_policies(EXAMPLE).cost_allocation
    assert cap is not None
    teams = cap.spec.teams
    assert teams.from_label is not None and teams.from_label.key == "team"
    assert [t.team for t in teams.from_namespaces or ()] == ["shop", "payments", "data", "ml"]
    shared = cap.spec.shared_namespaces
    assert shared is not None and shared.split == "Weighted"
    assert shared.weights == {"shop": 3, "payments": 2, "data": 2, "ml": 1}
    assert [c.name for c in cap.spec.shared_costs or ()] == ["support-plan", "nat-gateways"]
    assert cap.spec.idle is not None and cap.spec.idle.handling == "Distribute"
    pricing = cap.spec.pricing
    assert pricing is not None and pricing.reserved_instances is not None
    assert pricing.reserved_instances[0].instance_type == "m5.xlarge"


def test_ec2_node_class_is_acted_on_and_nothing_is_reported_ignored() -> None:
    ps = load_policies(EXAMPLE)
    (nc,) = ps.node_classes
    assert nc.name == "default"
    assert nc.spec.role == "KarpenterNodeRole-my-cluster"
    assert ps.ignored_fields == {}
    # Its root volume is what the pools referring to it get as ephemeral storage.
    pools = {p.name: p for p in ps.node_pools}
    assert pools["default"].node_settings.root_volume_bytes is not None


def test_ec2_node_class_unknown_fields_are_kept_and_reported(tmp_path: Path) -> None:
    files = example_files()
    files["nodeclasses/default.yaml"] += "  futureField: {a: 1}\n"
    ps = load_policies(write(tmp_path, files))
    assert "spec.futureField" in ps.ignored_fields["EC2NodeClass default"]


# --- whole-bundle validation ---------------------------------------------------------------


def test_every_broken_file_is_reported_and_the_first_is_the_message(tmp_path: Path) -> None:
    files = example_files()
    files["nodepools/gpu.yaml"] = files["nodepools/gpu.yaml"].replace("weight: 10", "weight: 0")
    files["rightsizing/batch.yaml"] = files["rightsizing/batch.yaml"].replace(
        "mode: Recommend", "mode: Auto"
    )
    root = write(tmp_path, files)
    with pytest.raises(PolicyBundleError) as info:
        load_policies(root, display_root=root)
    err = info.value
    assert [e.render() for e in err.errors] == [
        "nodepools/gpu.yaml:9: NodePool gpu: spec.weight: weight 0 out of range "
        "(expected 1..100; leave it out for 0)",
        "rightsizing/batch.yaml:12: RightSizingPolicy batch: spec.mode: unknown value 'Auto' "
        "(expected Off, Recommend, Apply)",
    ]
    assert str(err) == err.errors[0].render()
    assert err.summary().endswith("(and 1 more problem)")


def test_a_reference_across_files_is_checked(tmp_path: Path) -> None:
    files = example_files()
    del files["nodepools/default.yaml"]
    message = error_of(write(tmp_path, files))
    assert message == (
        "extensions/default.yaml:11: NodePoolPolicy default: spec.nodePoolRef.name: "
        "no NodePool 'default' in this bundle (NodePools: gpu, stateful)"
    )


def test_extension_must_fit_its_node_pool(tmp_path: Path) -> None:
    files = example_files()
    files["nodepools/default.yaml"] = files["nodepools/default.yaml"].replace(
        'values: ["spot", "on-demand"]', 'values: ["spot"]'
    )
    message = error_of(write(tmp_path, files))
    assert message.startswith(
        "extensions/default.yaml:19: NodePoolPolicy default: spec.onDemandShare.minPercent: "
        "NodePool default does not allow on-demand (karpenter.sh/capacity-type In [spot])"
    )


def test_two_extensions_of_one_node_pool(tmp_path: Path) -> None:
    files = example_files()
    files["extensions/more.yaml"] = files["extensions/default.yaml"].replace(
        "  name: default\nspec:", "  name: more\nspec:"
    )
    message = error_of(write(tmp_path, files))
    assert message == (
        "extensions/more.yaml:11: NodePoolPolicy more: spec.nodePoolRef.name: NodePool default "
        "is already extended by NodePoolPolicy default (extensions/default.yaml:11); merge the two"
    )


def test_node_class_reference_to_a_missing_class_is_a_warning(tmp_path: Path) -> None:
    files = example_files()
    files["nodepools/gpu.yaml"] = files["nodepools/gpu.yaml"].replace(
        "        name: default", "        name: gpu"
    )
    ps = load_policies(write(tmp_path, files), display_root=tmp_path)
    assert ps.warnings == (
        "nodepools/gpu.yaml:18: NodePool gpu: spec.template.spec.nodeClassRef.name: "
        "EC2NodeClass 'gpu' is not in this bundle (EC2NodeClasses: default)",
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "    split: Even\n    - name: nat-gateways",
            "    split: Even\n      weights: {shop: 1}\n    - name: nat-gateways",
            "spec.sharedCosts[0].weights: weights are only used with split: Weighted",
            id="weights-with-even",
        ),
        pytest.param(
            "      costPerMonth: 1000\n",
            "      costPerMonth: 1000\n      costPerHour: 1\n",
            "spec.sharedCosts[0]: set exactly one of costPerMonth and costPerHour",
            id="cost-per-month-and-hour",
        ),
        pytest.param(
            "    handling: Distribute",
            "    handling: distribute",
            "spec.idle.handling: unknown value 'distribute' (expected Distribute, Separate)",
            id="enum-case",
        ),
        pytest.param(
            "      object: Pod",
            "      on: Pod",
            "spec.teams.fromLabel: a key is a boolean, not a field name (YAML reads a bare on",
            id="yaml-on-is-a-boolean",
        ),
        pytest.param(
            '["kube-system", "monitoring"]',
            '["kube-system", "monitoring", "shop"]',
            "spec.sharedNamespaces.namespaces[2]: namespace shop is shared but also belongs to "
            "team shop",
            id="shared-and-owned",
        ),
        pytest.param(
            "        count: 2",
            "        count: 0",
            "count 0 must be at least 1",
            id="ri-count",
        ),
    ],
)
def test_cost_allocation_errors(tmp_path: Path, old: str, new: str, expected: str) -> None:
    files = {"cost/allocation.yaml": (EXAMPLE / "cost" / "allocation.yaml").read_text()}
    assert old in files["cost/allocation.yaml"]
    files["cost/allocation.yaml"] = files["cost/allocation.yaml"].replace(old, new, 1)
    message = error_of(write(tmp_path, files))
    assert message.startswith("cost/allocation.yaml:")
    assert "CostAllocationPolicy teams: " in message
    assert expected in message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param("window: 168h", "window: 10m", "spec.window: window 10m is too short",
                     id="short-window"),
        pytest.param("window: 168h", "window: 1w", "spec.window: invalid duration '1w'",
                     id="bad-duration"),
        pytest.param("percentile: 95", "percentile: 40",
                     "spec.cpu.percentile: percentile 40 out of range (expected 50..100)",
                     id="percentile-range"),
        pytest.param('namespaces: ["shop", "payments"]', 'namespaces: ["Shop"]',
                     "spec.selector.namespaces[0]: invalid name 'Shop'", id="namespace-name"),
        pytest.param("kinds: [\"Deployment\", \"StatefulSet\"]", "kinds: [\"Deploy\"]",
                     "spec.selector.kinds[0]: unknown value 'Deploy'", id="workload-kind"),
        pytest.param("  mode: Recommend\n", "  mode: Recommend\n  extra: 1\n",
                     "spec.extra: unknown field 'extra'", id="unknown-field"),
    ],
)
def test_right_sizing_errors(tmp_path: Path, old: str, new: str, expected: str) -> None:
    text = (EXAMPLE / "rightsizing" / "services.yaml").read_text()
    assert old in text
    message = error_of(write(tmp_path, {"rs.yaml": text.replace(old, new, 1)}))
    assert message.startswith("rs.yaml:") and "RightSizingPolicy services: " in message
    assert expected in message


def test_a_missing_name_is_named_as_such(tmp_path: Path) -> None:
    text = (EXAMPLE / "rightsizing" / "services.yaml").read_text()
    text = text.replace("  name: services\n", "  labels: {team: shop}\n")
    message = error_of(write(tmp_path, {"rs.yaml": text}))
    assert message == "rs.yaml:6: RightSizingPolicy: metadata.name: required field is missing"


def test_scaler_kinds_read_back_from_a_cluster_load(tmp_path: Path) -> None:
    # What `kubectl get -o yaml` returns: server-set metadata and a status are fine.
    text = (EXAMPLE / "rightsizing" / "services.yaml").read_text().replace(
        "  name: services\n",
        "  name: services\n  uid: 1b2c\n  resourceVersion: '42'\n  generation: 3\n",
    ) + "status:\n  observedGeneration: 3\n"
    ps = load_policies(write(tmp_path, {"rs.yaml": text}))
    assert [p.name for p in ps.right_sizing_policies] == ["services"]


# --- the digest ----------------------------------------------------------------------------


def test_digest_ignores_layout_comments_and_order(tmp_path: Path) -> None:
    files = example_files()
    digest = load_policies(write(tmp_path / "a", files)).digest
    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64
    # One file instead of eight, reversed, comments dropped, flow style: same objects.
    import yaml

    docs = [yaml.safe_load(t) for t in files.values()][::-1]
    one = "---\n".join(yaml.safe_dump(d, default_flow_style=True) for d in docs)
    assert load_policies(write(tmp_path / "b", {"all.yaml": one})).digest == digest


def test_digest_changes_with_any_value(tmp_path: Path) -> None:
    files = example_files()
    before = load_policies(write(tmp_path / "a", files)).digest
    files["rightsizing/batch.yaml"] = files["rightsizing/batch.yaml"].replace(
        "priority: 10", "priority: 11"
    )
    assert load_policies(write(tmp_path / "b", files)).digest != before


def test_read_objects_does_not_validate(tmp_path: Path) -> None:
    root = write(tmp_path, {"x.yaml": "apiVersion: karpenter.sh/v1\nkind: NodePool\n"
                                      "metadata: {name: x}\nspec: {weight: 0}\n"})
    (obj,) = read_objects(root, display_root=root)
    assert (obj.label, obj.file, obj.line) == ("NodePool x", "x.yaml", 1)


def test_node_pool_policy_band_cap_reaches_the_node_pool() -> None:
    from pathlib import Path

    from scaler.policy import load_policies

    root = Path(__file__).resolve().parents[2] / "policies"
    pools = {p.name: p for p in load_policies(root).node_pools}
    assert pools["default"].max_spot_interruption_pct == 16  # "10-15%" in extensions/default
    assert pools["gpu"].max_spot_interruption_pct is None
