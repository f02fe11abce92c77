"""The policy loader: Karpenter NodePools in, core NodePools out, one-line errors otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaler.core.model import LABEL_NODEPOOL, NodePool, Taint
from scaler.core.requirements import Requirement, Requirements
from scaler.core.resources import Resources
from scaler.errors import UserError
from scaler.policy import DEFAULT_NODE_POOL_YAML, PolicySet, default_node_pool, load_policies
from scaler.policy.loader import STATIC_NODE_POOL

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_POLICIES = REPO / "policies"

# The full NodePool from Karpenter's NodePools concept page (karpenter.sh/docs/concepts/
# nodepools), every field it shows, status included. The page writes alternatives as
# `720h | Never`; one choice is made here, nothing else is changed.
KARPENTER_DOCS_NODEPOOL = """\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  name: default
spec:
  template:
    metadata:
      labels:
        billing-team: my-team
      annotations:
        example.com/owner: "my-team"
    spec:
      nodeClassRef:
        group: karpenter.k8s.aws
        kind: EC2NodeClass
        name: default
      taints:
        - key: example.com/special-taint
          effect: NoSchedule
      startupTaints:
        - key: example.com/another-taint
          effect: NoSchedule
      expireAfter: 720h
      terminationGracePeriod: 48h
      requirements:
        - key: "karpenter.k8s.aws/instance-category"
          operator: In
          values: ["c", "m", "r"]
          minValues: 2
        - key: "karpenter.k8s.aws/instance-family"
          operator: In
          values: ["m5","m5d","c5","c5d","c4","r4"]
          minValues: 5
        - key: "karpenter.k8s.aws/instance-cpu"
          operator: In
          values: ["4", "8", "16", "32"]
        - key: "karpenter.k8s.aws/instance-hypervisor"
          operator: In
          values: ["nitro"]
        - key: "karpenter.k8s.aws/instance-generation"
          operator: Gt
          values: ["2"]
        - key: "topology.kubernetes.io/zone"
          operator: In
          values: ["us-west-2a", "us-west-2b"]
        - key: "kubernetes.io/arch"
          operator: In
          values: ["arm64", "amd64"]
        - key: "karpenter.sh/capacity-type"
          operator: In
          values: ["spot", "on-demand", "reserved"]
  disruption:
    consolidationPolicy: WhenEmptyOrUnderutilized
    consolidateAfter: 1m
    budgets:
    - nodes: 10%
    - schedule: "0 9 * * mon-fri"
      duration: 8h
      nodes: "0"
  limits:
    cpu: "1000"
    memory: 1000Gi
  weight: 10
status:
  conditions:
    - type: Initialized
      status: "False"
      observedGeneration: 1
      lastTransitionTime: "2024-02-02T19:54:34Z"
      reason: NodeClaimNotLaunched
      message: "NodeClaim hasn't succeeded launch"
  resources:
    cpu: "20"
    memory: "8192Mi"
    ephemeral-storage: "100Gi"
"""

# The shape of Karpenter's examples/v1 files: a comment, then NodePool and EC2NodeClass as
# two documents of one file.
KARPENTER_EXAMPLE_FILE = """\
# This example NodePool will provision general purpose instances
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  name: general-purpose
  annotations:
    kubernetes.io/description: "General purpose NodePool for generic workloads"
spec:
  template:
    spec:
      requirements:
        - key: kubernetes.io/arch
          operator: In
          values: ["amd64"]
        - key: kubernetes.io/os
          operator: In
          values: ["linux"]
        - key: karpenter.sh/capacity-type
          operator: In
          values: ["on-demand"]
        - key: karpenter.k8s.aws/instance-category
          operator: In
          values: ["c", "m", "r"]
        - key: karpenter.k8s.aws/instance-generation
          operator: Gt
          values: ["2"]
      nodeClassRef:
        group: karpenter.k8s.aws
        kind: EC2NodeClass
        name: default
---
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata:
  name: default
spec:
  role: "KarpenterNodeRole-${CLUSTER_NAME}"
  subnetSelectorTerms:
    - tags:
        karpenter.sh/discovery: "${CLUSTER_NAME}"
  securityGroupSelectorTerms:
    - tags:
        karpenter.sh/discovery: "${CLUSTER_NAME}"
  amiSelectorTerms:
    - alias: al2023@latest
"""

# A small NodePool the error cases edit one line at a time. Line numbers matter below.
TEAM = """\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  name: team
spec:
  weight: 5
  template:
    metadata:
      labels:
        team: payments
    spec:
      requirements:
        - key: kubernetes.io/arch
          operator: In
          values: ["amd64"]
        - key: karpenter.k8s.aws/instance-generation
          operator: Gt
          values: ["4"]
      taints:
        - key: dedicated
          value: payments
          effect: NoSchedule
  limits:
    cpu: "100"
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def load_one(tmp_path: Path, text: str, name: str = "team.yaml") -> PolicySet:
    return load_policies(write(tmp_path / "policies", {name: text}))


def error_of(tmp_path: Path, text: str, name: str = "team.yaml") -> str:
    with pytest.raises(UserError) as info:
        load_one(tmp_path, text, name)
    message = str(info.value)
    assert "\n" not in message
    assert "Traceback" not in message
    return message


def req(key: str, op: str, *values: str, min_values: int | None = None) -> Requirement:
    return Requirement.of(key, op, values, min_values)


def limits(quantities: dict[str, str]) -> dict[str, int]:
    parsed = Resources.parse(quantities)
    return {name: parsed.get(name) for name in quantities}


# --- the example policy repo ---------------------------------------------------------------


def test_example_policy_repo_loads() -> None:
    ps = load_policies(EXAMPLE_POLICIES)
    assert ps.source == str(EXAMPLE_POLICIES)
    assert not ps.defaulted
    # weight 10 first, then weight 0 by name
    assert [p.name for p in ps.node_pools] == ["gpu", "default", "stateful"]
    assert dict(ps.ignored) == {}  # the EC2NodeClass is acted on now, not ignored
    assert [Path(f).relative_to(EXAMPLE_POLICIES).as_posix() for f in ps.files] == [
        "cost/allocation.yaml",
        "extensions/default.yaml",
        "nodeclasses/default.yaml",
        "nodepools/default.yaml",
        "nodepools/gpu.yaml",
        "nodepools/stateful.yaml",
        "rightsizing/batch.yaml",
        "rightsizing/services.yaml",
    ]
    assert ps.counts() == {
        "CostAllocationPolicy": 1,
        "EC2NodeClass": 1,
        "NodePool": 3,
        "NodePoolPolicy": 1,
        "RightSizingPolicy": 2,
    }
    assert ps.warnings == ()


def test_example_default_pool() -> None:
    pool = load_policies(EXAMPLE_POLICIES).node_pool("default")
    assert pool is not None
    assert pool.weight == 0
    assert pool.taints == ()
    assert pool.requirements == Requirements(
        [
            req("kubernetes.io/arch", "In", "amd64", "arm64"),
            req("kubernetes.io/os", "In", "linux"),
            req("karpenter.sh/capacity-type", "In", "spot", "on-demand"),
            req("karpenter.k8s.aws/instance-category", "In", "c", "m", "r"),
            req("karpenter.k8s.aws/instance-generation", "Gt", "4"),
            req(LABEL_NODEPOOL, "In", "default"),
        ]
    )
    assert pool.limits == limits({"cpu": "1000", "memory": "4000Gi"})
    assert pool.disruption["consolidationPolicy"] == "WhenEmptyOrUnderutilized"
    assert pool.source.endswith("nodepools/default.yaml")


def test_example_gpu_pool() -> None:
    pool = load_policies(EXAMPLE_POLICIES).node_pool("gpu")
    assert pool is not None
    assert pool.weight == 10
    assert pool.taints == (Taint("nvidia.com/gpu", "NoSchedule", "true"),)
    assert pool.requirements["karpenter.k8s.aws/instance-category"] == req(
        "karpenter.k8s.aws/instance-category", "In", "g"
    )
    assert pool.requirements["karpenter.sh/capacity-type"] == req(
        "karpenter.sh/capacity-type", "In", "on-demand"
    )
    assert pool.limits == limits(
        {"cpu": "256", "memory": "1024Gi", "nvidia.com/gpu": "16"}
    )


def test_single_file_path(tmp_path: Path) -> None:
    ps = load_policies(EXAMPLE_POLICIES / "nodepools" / "gpu.yaml")
    assert [p.name for p in ps.node_pools] == ["gpu"]
    assert ps.ignored == {}
    ps = load_policies(str(EXAMPLE_POLICIES / "nodepools" / "gpu.yaml"))  # str works too
    assert [p.name for p in ps.node_pools] == ["gpu"]


# --- Karpenter's own objects, unchanged ----------------------------------------------------


def test_karpenter_docs_nodepool_accepted_unchanged(tmp_path: Path) -> None:
    ps = load_one(tmp_path, KARPENTER_DOCS_NODEPOOL)
    (pool,) = ps.node_pools
    assert pool.name == "default"
    assert pool.weight == 10
    assert pool.labels == {"billing-team": "my-team"}
    assert pool.taints == (Taint("example.com/special-taint", "NoSchedule"),)
    assert pool.startup_taints == (Taint("example.com/another-taint", "NoSchedule"),)
    assert pool.limits == limits({"cpu": "1000", "memory": "1000Gi"})
    r = pool.requirements
    assert r["karpenter.k8s.aws/instance-category"] == req(
        "karpenter.k8s.aws/instance-category", "In", "c", "m", "r", min_values=2
    )
    assert r["karpenter.k8s.aws/instance-family"].min_values == 5
    assert r["karpenter.k8s.aws/instance-generation"] == req(
        "karpenter.k8s.aws/instance-generation", "Gt", "2"
    )
    assert r["karpenter.sh/capacity-type"].values == {"spot", "on-demand", "reserved"}
    assert r["billing-team"] == req("billing-team", "In", "my-team")
    assert r[LABEL_NODEPOOL] == req(LABEL_NODEPOOL, "In", "default")
    assert len(r) == 10  # 8 listed + 1 label + nodepool name
    assert pool.disruption == {
        "consolidationPolicy": "WhenEmptyOrUnderutilized",
        "consolidateAfter": "1m",
        "budgets": [
            {"nodes": "10%"},
            {"schedule": "0 9 * * mon-fri", "duration": "8h", "nodes": "0"},
        ],
    }


def test_karpenter_example_file_with_nodeclass(tmp_path: Path) -> None:
    ps = load_one(tmp_path, KARPENTER_EXAMPLE_FILE, "general-purpose.yaml")
    assert [p.name for p in ps.node_pools] == ["general-purpose"]
    assert ps.ignored == {}
    assert [nc.name for nc in ps.node_classes] == ["default"]
    assert not ps.defaulted


def test_unknown_fields_are_kept(tmp_path: Path) -> None:
    text = TEAM.replace(
        "  limits:\n",
        "  disruption:\n"
        "    consolidateWhen: WhenCostJustifiesDisruption\n"
        "    decisionRatioThreshold: 1.5\n"
        "  someFutureField: {a: 1}\n"
        "  limits:\n",
    ).replace("      taints:\n", "      kubelet: {maxPods: 20}\n      taints:\n")
    (pool,) = load_one(tmp_path, text).node_pools
    assert pool.disruption == {
        "consolidateWhen": "WhenCostJustifiesDisruption",
        "decisionRatioThreshold": 1.5,
    }


def test_kubectl_list_output(tmp_path: Path) -> None:
    items = "\n".join("  " + line if line else line for line in TEAM.splitlines())
    text = "apiVersion: v1\nkind: List\nitems:\n- " + items.lstrip() + "\n"
    ps = load_one(tmp_path, text)
    assert [p.name for p in ps.node_pools] == ["team"]
    bad = text.replace("operator: Gt", "operator: Gtt")
    message = error_of(tmp_path / "bad", bad)
    assert message.endswith(
        "team.yaml:20: NodePool team: spec.template.spec.requirements[1].operator: "
        "unknown operator 'Gtt' (expected In, NotIn, Exists, DoesNotExist, Gt, Lt, Gte, Lte)"
    )


# --- conversion ----------------------------------------------------------------------------


def test_conversion(tmp_path: Path) -> None:
    (pool,) = load_one(tmp_path, TEAM).node_pools
    assert pool == NodePool(
        name="team",
        requirements=Requirements(
            [
                req("kubernetes.io/arch", "In", "amd64"),
                req("karpenter.k8s.aws/instance-generation", "Gt", "4"),
                req("team", "In", "payments"),
                req(LABEL_NODEPOOL, "In", "team"),
            ]
        ),
        taints=(Taint("dedicated", "NoSchedule", "payments"),),
        labels={"team": "payments"},
        limits=limits({"cpu": "100"}),
        weight=5,
        disruption={},
        source=str(tmp_path / "policies" / "team.yaml"),
    )


def test_gte_lte_and_normalized_keys(tmp_path: Path) -> None:
    text = TEAM.replace("operator: Gt", "operator: Gte").replace(
        "        - key: kubernetes.io/arch\n",
        "        - key: karpenter.k8s.aws/instance-cpu\n          operator: Lte\n"
        '          values: ["16"]\n'
        "        - key: beta.kubernetes.io/arch\n",
    )
    (pool,) = load_one(tmp_path, text).node_pools
    r = pool.requirements
    assert r["karpenter.k8s.aws/instance-generation"] == req(
        "karpenter.k8s.aws/instance-generation", "Gt", "3"
    )
    assert r["karpenter.k8s.aws/instance-cpu"] == req("karpenter.k8s.aws/instance-cpu", "Lt", "17")
    assert r["kubernetes.io/arch"] == req("kubernetes.io/arch", "In", "amd64")
    assert "beta.kubernetes.io/arch" not in r


def test_same_key_requirements_intersect(tmp_path: Path) -> None:
    text = TEAM.replace(
        "      taints:\n",
        "        - key: kubernetes.io/arch\n          operator: In\n"
        '          values: ["amd64", "arm64"]\n          minValues: 1\n      taints:\n',
    )
    (pool,) = load_one(tmp_path, text).node_pools
    assert pool.requirements["kubernetes.io/arch"] == req(
        "kubernetes.io/arch", "In", "amd64", min_values=1
    )


def test_numeric_limits_and_no_limits(tmp_path: Path) -> None:
    text = TEAM.replace('    cpu: "100"\n', "    cpu: 100\n    memory: 400Gi\n")
    (pool,) = load_one(tmp_path, text).node_pools
    assert pool.limits == limits({"cpu": "100", "memory": "400Gi"})
    text = TEAM.replace('  limits:\n    cpu: "100"\n', "")
    (pool,) = load_one(tmp_path / "b", text).node_pools
    assert pool.limits is None


def test_zero_limit_is_kept(tmp_path: Path) -> None:
    # `cpu: "0"` is how Karpenter users stop a pool; it must not read as "no limit".
    text = TEAM.replace('    cpu: "100"\n', '    cpu: "0"\n    nvidia.com/gpu: 0\n')
    (pool,) = load_one(tmp_path, text).node_pools
    assert pool.limits == {"cpu": 0, "nvidia.com/gpu": 0}


def test_minimal_nodepool_like_karpenter_docs(tmp_path: Path) -> None:
    # The docs' "Cilium startup taint" example: no requirements, no nodeClassRef.
    text = """\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  name: cilium-startup
spec:
  disruption:
    consolidationPolicy: WhenEmptyOrUnderutilized
  template:
    spec:
      startupTaints:
      - key: node.cilium.io/agent-not-ready
        value: "true"
        effect: NoExecute
"""
    (pool,) = load_one(tmp_path, text).node_pools
    assert pool.requirements == Requirements([req(LABEL_NODEPOOL, "In", "cilium-startup")])
    assert pool.startup_taints == (Taint("node.cilium.io/agent-not-ready", "NoExecute", "true"),)
    assert pool.weight == 0


# --- which files, defaults, duplicates -----------------------------------------------------


def test_default_when_no_path() -> None:
    ps = load_policies(None)
    assert ps.defaulted
    assert ps.source == "built-in default"
    assert ps.node_pools == (default_node_pool(),)
    (pool,) = ps.node_pools
    assert pool.name == "default"
    assert pool.weight == 0
    assert pool.limits is None
    assert pool.taints == ()
    assert pool.requirements == Requirements(
        [
            req("kubernetes.io/arch", "In", "amd64", "arm64"),
            req("kubernetes.io/os", "In", "linux"),
            req("karpenter.sh/capacity-type", "In", "spot", "on-demand"),
            req("karpenter.k8s.aws/instance-hypervisor", "In", "nitro", "xen"),
            req(LABEL_NODEPOOL, "In", "default"),
        ]
    )


def test_default_yaml_is_documented() -> None:
    docs = (REPO / "docs" / "policies.md").read_text(encoding="utf-8")
    assert DEFAULT_NODE_POOL_YAML in docs


def test_default_when_directory_has_no_nodepool(tmp_path: Path) -> None:
    nodeclass = KARPENTER_EXAMPLE_FILE.split("---\n")[2]
    ps = load_one(tmp_path, nodeclass, "nodeclass.yaml")
    assert ps.defaulted
    assert ps.node_pools == (default_node_pool(),)
    assert ps.ignored == {}
    empty = tmp_path / "empty"
    empty.mkdir()
    ps = load_policies(empty)
    assert ps.defaulted and ps.files == ()


def test_directory_walk(tmp_path: Path) -> None:
    other = TEAM.replace("name: team", "name: other")
    root = write(
        tmp_path / "repo",
        {
            "b/team.yml": TEAM,
            "a.yaml": other,
            "notes.txt": "not yaml: [",
            ".github/workflows/ci.yaml": "on: push\n",
            "b/.hidden.yaml": "{{ template }}",
            "empty.yaml": "---\n# nothing\n---\n",
        },
    )
    ps = load_policies(root)
    assert [Path(f).relative_to(root).as_posix() for f in ps.files] == [
        "a.yaml",
        "b/team.yml",
        "empty.yaml",
    ]
    assert [p.name for p in ps.node_pools] == ["other", "team"]  # same weight: by name


def test_other_kinds_are_counted(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\n"
        "apiVersion: example.com/v1\nkind: NodePool\nmetadata: {name: y}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: z}\n---\n" + TEAM
    )
    ps = load_one(tmp_path, text)
    assert ps.ignored == {"ConfigMap": 2, "NodePool (example.com/v1)": 1}
    assert [p.name for p in ps.node_pools] == ["team"]


def test_static_nodepool_is_ignored(tmp_path: Path) -> None:
    text = TEAM.replace("  weight: 5\n", "  replicas: 3\n")
    ps = load_one(tmp_path, text)
    assert ps.ignored == {STATIC_NODE_POOL: 1}
    assert ps.node_pools == ()
    assert not ps.defaulted
    (pool,) = load_one(tmp_path / "2", text + "---\n" + TEAM.replace("team", "other")).node_pools
    assert pool.name == "other"


def test_duplicate_names_name_both_files(tmp_path: Path) -> None:
    root = write(tmp_path / "policies", {"a.yaml": TEAM, "b/c.yaml": TEAM})
    with pytest.raises(UserError) as info:
        load_policies(root)
    assert str(info.value) == (
        f"{root / 'b' / 'c.yaml'}:4: NodePool team: metadata.name: duplicate NodePool name "
        f"(also defined in {root / 'a.yaml'}:4)"
    )


def test_duplicate_names_in_one_file(tmp_path: Path) -> None:
    message = error_of(tmp_path, TEAM + "---\n" + TEAM)
    assert message.endswith(
        "team.yaml:29: NodePool team: metadata.name: duplicate NodePool name "
        f"(also defined in {tmp_path / 'policies' / 'team.yaml'}:4)"
    )


# --- bad input: one line naming file, object and field -------------------------------------

ERROR_CASES = [
    pytest.param(
        "operator: Gt",
        "operator: Inn",
        "17: NodePool team: spec.template.spec.requirements[1].operator: unknown operator 'Inn' "
        "(expected In, NotIn, Exists, DoesNotExist, Gt, Lt, Gte, Lte)",
        id="unknown-operator",
    ),
    pytest.param(
        'values: ["4"]',
        'values: ["four"]',
        "18: NodePool team: spec.template.spec.requirements[1].values: operator Gt needs "
        "exactly one non-negative integer value, got 'four'",
        id="gt-not-integer",
    ),
    pytest.param(
        'values: ["4"]',
        'values: ["4", "5"]',
        "18: NodePool team: spec.template.spec.requirements[1].values: operator Gt needs "
        "exactly one non-negative integer value, got '4', '5'",
        id="gt-two-values",
    ),
    pytest.param(
        'values: ["4"]',
        'values: ["-1"]',
        "18: NodePool team: spec.template.spec.requirements[1].values: operator Gt needs "
        "exactly one non-negative integer value, got '-1'",
        id="gt-negative",
    ),
    pytest.param(
        'values: ["amd64"]',
        "values: []",
        "15: NodePool team: spec.template.spec.requirements[0].values: operator In needs at "
        "least one value (Kubernetes rejects an empty In)",
        id="in-without-values",
    ),
    pytest.param(
        '          values: ["amd64"]\n',
        "",
        "13: NodePool team: spec.template.spec.requirements[0].values: operator In needs at "
        "least one value (Kubernetes rejects an empty In)",
        id="in-values-missing",
    ),
    pytest.param(
        "weight: 5",
        "weight: 101",
        "6: NodePool team: spec.weight: weight 101 out of range (expected 1..100; "
        "leave it out for 0)",
        id="weight-too-high",
    ),
    pytest.param(
        "weight: 5",
        "weight: 0",
        "6: NodePool team: spec.weight: weight 0 out of range (expected 1..100; "
        "leave it out for 0)",
        id="weight-zero",
    ),
    pytest.param(
        "weight: 5",
        'weight: "5"',
        "6: NodePool team: spec.weight: expected an integer, got string '5' "
        "(write it without quotes)",
        id="weight-string",
    ),
    pytest.param(
        'cpu: "100"',
        "cpu: true",
        '24: NodePool team: spec.limits.cpu: expected a quantity like "1000" or '
        '"4000Gi", got boolean true',
        id="limit-not-quantity",
    ),
    pytest.param(
        "effect: NoSchedule",
        "effect: NoSchedul",
        "22: NodePool team: spec.template.spec.taints[0].effect: unknown taint effect "
        "'NoSchedul' (expected NoSchedule, NoExecute, PreferNoSchedule)",
        id="taint-effect",
    ),
    pytest.param(
        "          value: payments\n",
        "          value: true\n",
        "21: NodePool team: spec.template.spec.taints[0].value: expected a string, got "
        "boolean true (quote it in YAML)",
        id="taint-value-bool",
    ),
    pytest.param(
        'values: ["4"]',
        "values: [4]",
        "18: NodePool team: spec.template.spec.requirements[1].values[0]: expected a string, "
        "got number 4 (quote it in YAML)",
        id="value-not-string",
    ),
    pytest.param(
        "        team: payments",
        "        team: pay ments",
        "10: NodePool team: spec.template.metadata.labels.team: invalid label value "
        "'pay ments': must be empty or alphanumeric, '-', '_' or '.', starting and ending "
        "alphanumeric",
        id="label-value",
    ),
    pytest.param(
        "- key: kubernetes.io/arch",
        "- key: karpenter.sh/nodepool",
        "13: NodePool team: spec.template.spec.requirements[0].key: label key "
        "'karpenter.sh/nodepool' is restricted: it is set from metadata.name",
        id="nodepool-key-restricted",
    ),
    pytest.param(
        "        team: payments",
        "        team: payments\n        kubernetes.io/arch: arm64",
        "11: NodePool team: spec.template.metadata.labels.kubernetes.io/arch: label "
        "kubernetes.io/arch=arm64 contradicts requirement kubernetes.io/arch In [amd64]",
        id="label-contradicts-requirement",
    ),
    pytest.param(
        "      taints:\n",
        "        - key: kubernetes.io/arch\n          operator: NotIn\n"
        '          values: ["amd64"]\n      taints:\n',
        "13: NodePool team: spec.template.spec.requirements[0]: requirements on "
        "kubernetes.io/arch allow no value at all, so no node can launch",
        id="requirements-empty",
    ),
    pytest.param(
        'values: ["amd64"]',
        'values: ["amd64"]\n          minValues: 2',
        "16: NodePool team: spec.template.spec.requirements[0].minValues: minValues 2 is "
        "more than the 1 values listed",
        id="min-values-exceeds",
    ),
    pytest.param(
        "  limits:\n",
        "      startupTaints:\n        - key: dedicated\n          effect: NoSchedule\n  limits:\n",
        "24: NodePool team: spec.template.spec.startupTaints[0]: duplicate taint "
        "dedicated:NoSchedule (also at taints[0])",
        id="duplicate-taint",
    ),
    pytest.param(
        "  limits:\n",
        "  disruption:\n    consolidationPolicy: WhenUnderutilized\n  limits:\n",
        "24: NodePool team: spec.disruption.consolidationPolicy: unknown consolidation "
        "policy 'WhenUnderutilized' (expected WhenEmpty, WhenEmptyOrUnderutilized, Balanced)",
        id="v1beta1-consolidation-policy",
    ),
    pytest.param(
        "  limits:\n",
        '  disruption:\n    budgets:\n      - nodes: "0"\n        schedule: "@daily"\n  limits:\n',
        "25: NodePool team: spec.disruption.budgets[0]: schedule and duration must be set together",
        id="budget-schedule-without-duration",
    ),
    pytest.param(
        "      taints:\n",
        "      expireAfter: 720h | Never\n      taints:\n",
        "19: NodePool team: spec.template.spec.expireAfter: invalid duration '720h | Never' "
        "(expected e.g. 720h or Never)",
        id="expire-after",
    ),
    pytest.param(
        "  name: team\n",
        "  labels: {a: b}\n",
        "3: NodePool: metadata.name: required field is missing",
        id="name-missing",
    ),
    pytest.param(
        "  name: team\n",
        "  name: Team_1\n",
        "4: NodePool Team_1: metadata.name: invalid NodePool name 'Team_1': lowercase "
        "alphanumeric, '-' or '.', at most 63 characters",
        id="name-invalid",
    ),
    pytest.param(
        '  limits:\n    cpu: "100"\n',
        "  limits:\n    - cpu\n",
        "23: NodePool team: spec.limits: expected a mapping, got a list",
        id="wrong-shape",
    ),
    pytest.param(
        "        - key: dedicated\n          value: payments\n          effect: NoSchedule\n",
        "          key: dedicated\n          effect: NoSchedule\n",
        "19: NodePool team: spec.template.spec.taints: expected a list, got a mapping",
        id="wrong-shape-list",
    ),
    pytest.param(
        "      requirements:\n",
        "      nodeClassRef:\n        apiVersion: karpenter.k8s.aws/v1beta1\n"
        "        kind: EC2NodeClass\n        name: default\n      requirements:\n",
        "12: NodePool team: spec.template.spec.nodeClassRef.group: required field is missing",
        id="v1beta1-nodeclassref",
    ),
    pytest.param(
        "apiVersion: karpenter.sh/v1\n",
        "apiVersion: karpenter.sh/v1beta1\n",
        "1: NodePool team: apiVersion: unsupported apiVersion 'karpenter.sh/v1beta1' "
        "(expected karpenter.sh/v1; convert older NodePools as Karpenter's v1 upgrade "
        "guide describes)",
        id="v1beta1",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), ERROR_CASES)
def test_bad_nodepool(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in TEAM
    message = error_of(tmp_path, TEAM.replace(old, new, 1))
    assert message == f"{tmp_path / 'policies' / 'team.yaml'}:{expected}"


def test_invalid_quantity_in_limits(tmp_path: Path) -> None:
    file = tmp_path / "policies" / "team.yaml"
    message = error_of(tmp_path, TEAM.replace('cpu: "100"', "cpu: 100 cores"))
    assert message.startswith(f"{file}:24: NodePool team: spec.limits.cpu: ")
    assert "'100 cores'" in message
    message = error_of(tmp_path / "gpu", TEAM.replace('cpu: "100"', 'nvidia.com/gpu: "1.5"'))
    assert message.startswith(
        f"{tmp_path / 'gpu' / 'policies' / 'team.yaml'}:24: NodePool team: "
        "spec.limits.nvidia.com/gpu: "
    )


def test_empty_limits_mean_unlimited(tmp_path: Path) -> None:
    text = TEAM.replace('  limits:\n    cpu: "100"\n', "  limits: {}\n")
    (pool,) = load_one(tmp_path, text).node_pools
    assert pool.limits is None


def test_spec_missing(tmp_path: Path) -> None:
    text = TEAM.split("spec:\n")[0]
    message = error_of(tmp_path, text)
    file = tmp_path / "policies" / "team.yaml"
    assert message == f"{file}:1: NodePool team: spec: required field is missing"


def test_malformed_yaml_has_line(tmp_path: Path) -> None:
    text = TEAM.replace('    cpu: "100"', '    cpu: "100\n  memory: [')
    message = error_of(tmp_path, TEAM + "---\nkind: NodePool\nmetadata:\n  name: x\n bad: y\n")
    assert message.startswith(f"{tmp_path / 'policies' / 'team.yaml'}:29: invalid YAML: ")
    message = error_of(tmp_path / "2", text)
    assert "invalid YAML" in message


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    text = TEAM.replace("  limits:\n", "  weight: 7\n  limits:\n")
    message = error_of(tmp_path, text)
    file = tmp_path / "policies" / "team.yaml"
    assert message == f"{file}:23: duplicate key 'weight' (first on line 6)"


def test_timestamps_stay_strings(tmp_path: Path) -> None:
    text = TEAM.replace(
        "        team: payments", "        team: payments\n        since: 2024-01-01"
    )
    (pool,) = load_one(tmp_path, text).node_pools
    assert pool.labels["since"] == "2024-01-01"


def test_recursive_alias_does_not_hang(tmp_path: Path) -> None:
    message = error_of(tmp_path, "a: &x [*x]\n")
    assert "recursive YAML alias" in message


def test_unknown_yaml_tag(tmp_path: Path) -> None:
    message = error_of(tmp_path, TEAM.replace('cpu: "100"', "cpu: !Ref CpuLimit"))
    assert message.startswith(f"{tmp_path / 'policies' / 'team.yaml'}:24: invalid YAML: ")


def test_document_not_an_object(tmp_path: Path) -> None:
    message = error_of(tmp_path, TEAM + "---\n- a\n- b\n")
    assert message == (
        f"{tmp_path / 'policies' / 'team.yaml'}:26: expected a Kubernetes object "
        "(apiVersion, kind, ...), got a list"
    )


def test_document_without_kind(tmp_path: Path) -> None:
    message = error_of(tmp_path, "replicaCount: 3\n", "values.yaml")
    assert message == (
        f"{tmp_path / 'policies' / 'values.yaml'}:1: not a Kubernetes object: 'kind' is "
        "missing (policy files hold Kubernetes objects)"
    )


def test_not_utf8(tmp_path: Path) -> None:
    root = tmp_path / "policies"
    root.mkdir()
    (root / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(UserError) as info:
        load_policies(root)
    assert str(info.value).startswith(
        f"{root / 'latin1.yaml'}:1: not UTF-8 text (byte 0xe9 at offset 9)")


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(UserError) as info:
        load_policies(missing)
    assert str(info.value) == (
        f"{missing}: no such file or directory (expected a policy directory or a YAML file)"
    )


def test_error_in_example_repo_names_file_object_field(tmp_path: Path) -> None:
    # The example from the brief: a typo in the second requirement of the GPU pool.
    text = (EXAMPLE_POLICIES / "nodepools" / "gpu.yaml").read_text(encoding="utf-8")
    text = text.replace(
        'operator: In\n          values: ["on-demand"]',
        'operator: Inn\n          values: ["on-demand"]',
    )
    root = write(tmp_path / "policies", {"nodepools/gpu.yaml": text})
    with pytest.raises(UserError) as info:
        load_policies(root)
    file = root / "nodepools" / "gpu.yaml"
    line = text.splitlines().index("          operator: Inn") + 1
    assert str(info.value) == (
        f"{file}:{line}: NodePool gpu: spec.template.spec.requirements[1].operator: "
        "unknown operator 'Inn' (expected In, NotIn, Exists, DoesNotExist, Gt, Lt, Gte, Lte)"
    )


def _mutations(text: str) -> list[str]:
    """Every line deleted, and every value replaced by something of another type."""
    lines = text.splitlines()
    out = ["\n".join(lines[:i] + lines[i + 1 :]) for i in range(len(lines))]
    for i, line in enumerate(lines):
        head, colon, _ = line.partition(": ")
        if colon:
            for value in ("null", "[]", "{}", "5", "true", '""', "[1, x]", "{a: b}"):
                out.append("\n".join([*lines[:i], f"{head}: {value}", *lines[i + 1 :]]))
    return out


@pytest.mark.parametrize("base", [TEAM, KARPENTER_DOCS_NODEPOOL], ids=["team", "docs"])
def test_never_a_traceback(tmp_path: Path, base: str) -> None:
    for n, text in enumerate(_mutations(base)):
        try:
            load_one(tmp_path / str(n), text)
        except UserError as e:
            message = str(e)
            assert "\n" not in message
            assert message.startswith(str(tmp_path / str(n) / "policies" / "team.yaml"))
