"""load_snapshot: kubectl output (YAML, JSON, Lists, directories) to a Snapshot."""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from scaler.core.model import Snapshot, Taint, Toleration
from scaler.core.requirements import Requirement, Requirements
from scaler.errors import UserError
from scaler.snapshot import load_snapshot

FIXTURES = Path(__file__).parent.parent / "fixtures" / "snapshots"
SAFE = "[bcdfghjklmnpqrstvwxz2456789]"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def load_yaml(tmp_path: Path, text: str, name: str = "snap.yaml") -> Snapshot:
    return load_snapshot([write(tmp_path, name, text)])


def pod(name: str, ns: str = "default", **spec: Any) -> dict[str, Any]:
    """A minimal Pod object as kubectl writes it in JSON."""
    labels = spec.pop("labels", {"app": name})
    owner = spec.pop("owner", None)
    phase = spec.pop("phase", "Running" if "nodeName" in spec else "Pending")
    meta: dict[str, Any] = {"name": name, "namespace": ns, "labels": labels}
    if owner:
        meta["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1], "controller": True}
        ]
    spec.setdefault(
        "containers",
        [{"name": "app", "image": "app", "resources": {"requests": {"cpu": "100m"}}}],
    )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": spec,
        "status": {"phase": phase},
    }


def node(name: str, cpu: str = "4", memory: str = "16Gi") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": "110"}},
    }


def as_list(*items: dict[str, Any], kind: str = "List") -> str:
    return json.dumps({"apiVersion": "v1", "kind": kind, "items": list(items)}, indent=4)


def error_of(paths: list[Path | str]) -> str:
    with pytest.raises(UserError) as info:
        load_snapshot(paths)
    text = str(info.value)
    assert "\n" not in text, text
    assert text == info.value.render()
    return text


# Reading files


def test_multi_document_yaml(tmp_path: Path) -> None:
    snap = load_yaml(
        tmp_path,
        """
        ---
        apiVersion: v1
        kind: Node
        metadata:
          name: node-a
          labels:
            node.kubernetes.io/instance-type: m5.large
            topology.kubernetes.io/zone: us-east-1a
        spec:
          unschedulable: true
          taints:
          - key: dedicated
            value: gpu
            effect: NoSchedule
        status:
          allocatable: {cpu: 1930m, memory: 7Gi, pods: "29"}
        ---
        # an empty document is skipped
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: web-1, namespace: shop, labels: {app: web}}
        spec:
          nodeName: node-a
          containers:
          - name: app
            resources: {requests: {cpu: 250m, memory: 256Mi}}
        status: {phase: Running}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: web-2}
        spec:
          containers:
          - name: app
            resources: {requests: {cpu: "1", memory: 1Gi}}
        """,
    )
    (n,) = snap.nodes
    assert n.name == "node-a"
    assert n.instance_type == "m5.large" and n.zone == "us-east-1a"
    assert n.allocatable["cpu"] == 1930 and n.allocatable["memory"] == 7 * 2**30
    assert n.allocatable["pods"] == 29
    assert n.taints == (Taint("dedicated", "NoSchedule", "gpu"),)
    assert n.unschedulable
    assert n.source.endswith("snap.yaml")
    assert [p.key for p in snap.pods] == ["shop/web-1", "default/web-2"]
    assert [p.key for p in snap.bound_pods] == ["shop/web-1"]
    assert [p.key for p in snap.pending_pods] == ["default/web-2"]
    bound = snap.bound_pods[0]
    assert bound.node_name == "node-a" and bound.labels == {"app": "web"}
    assert bound.requests["cpu"] == 250 and bound.requests["memory"] == 256 * 2**20
    assert snap.pending_pods[0].node_name is None


def test_json_list(tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    path.write_text(as_list(node("n1"), pod("a", nodeName="n1"), pod("b")))
    snap = load_snapshot([path])
    assert [n.name for n in snap.nodes] == ["n1"]
    assert [p.name for p in snap.bound_pods] == ["a"]
    assert [p.name for p in snap.pending_pods] == ["b"]


def test_typed_list_items_without_kind(tmp_path: Path) -> None:
    """`kubectl get --raw /api/v1/pods` gives a PodList whose items have no kind."""
    items = [pod("a"), pod("b")]
    for item in items:
        del item["kind"]
    path = tmp_path / "pods"  # no extension: JSON is recognised by its first character
    path.write_text(as_list(*items, kind="PodList"))
    assert [p.name for p in load_snapshot([path]).pods] == ["a", "b"]


def test_yaml_list(tmp_path: Path) -> None:
    snap = load_yaml(
        tmp_path,
        """
        apiVersion: v1
        kind: List
        items:
        - apiVersion: v1
          kind: Node
          metadata: {name: n1}
          status: {allocatable: {cpu: "2"}}
        - apiVersion: v1
          kind: PodList
          items:
          - kind: Pod
            metadata: {name: p1}
            spec: {containers: [{name: c}], nodeName: n1}
        """,
    )
    assert [n.name for n in snap.nodes] == ["n1"]
    assert [p.key for p in snap.bound_pods] == ["default/p1"]


CONTAINERS = "spec: {containers: [{name: c}]}\n"


def test_directory_is_read_recursively_in_path_order(tmp_path: Path) -> None:
    root = tmp_path / "snap"
    (root / "b").mkdir(parents=True)
    (root / "b" / "pods.json").write_text(as_list(pod("from-b-json")))
    write(root, "a.yml", "kind: Pod\nmetadata: {name: from-a-yml}\n" + CONTAINERS)
    write(root, "b/z.yaml", "kind: Pod\nmetadata: {name: from-b-z}\n" + CONTAINERS)
    write(root, "c.yaml", "kind: Node\nmetadata: {name: n1}\n")
    write(root, "notes.txt", "kind: Pod\nmetadata: {name: not-read}\n")
    write(root, ".hidden/x.yaml", "kind: Pod\nmetadata: {name: hidden}\n")
    snap = load_snapshot([root])
    assert [p.name for p in snap.pods] == ["from-a-yml", "from-b-json", "from-b-z"]
    assert [n.name for n in snap.nodes] == ["n1"]


def test_several_paths_and_repeated_objects(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", "kind: Pod\nmetadata: {name: p1}\n" + CONTAINERS)
    b = write(
        tmp_path,
        "b.yaml",
        "kind: Pod\nmetadata: {name: p1}\n" + CONTAINERS
        + "---\nkind: Pod\nmetadata: {name: p2}\n" + CONTAINERS,
    )
    snap = load_snapshot([a, str(b), a])
    # The same file twice, or the same pod in two outputs, is read once.
    assert [p.key for p in snap.pods] == ["default/p1", "default/p2"]


def test_fixture_directory() -> None:
    snap = load_snapshot([FIXTURES / "small"])
    assert [n.name for n in snap.nodes] == ["ip-10-0-1-10.ec2.internal"]
    assert len(snap.bound_pods) == 2
    assert snap.daemonsets and snap.daemonsets[0].key == "kube-system/aws-node"
    assert snap.expanded_workloads == 1
    assert {p.owner_kind for p in snap.pending_pods} == {"ReplicaSet"}
    assert snap.ignored_kinds == {"Service": 1}


# Pods


def test_sidecars_init_containers_and_overhead_in_effective_requests(tmp_path: Path) -> None:
    snap = load_yaml(
        tmp_path,
        """
        kind: Pod
        metadata: {name: p}
        spec:
          overhead: {cpu: 10m, memory: 16Mi}
          initContainers:
          - name: migrate          # runs alone, before the sidecar starts
            resources: {requests: {cpu: 500m, memory: 64Mi}}
          - name: proxy            # a sidecar: runs alongside the app containers
            restartPolicy: Always
            resources: {requests: {cpu: 50m, memory: 32Mi}}
          containers:
          - name: app
            resources: {requests: {cpu: 100m, memory: 128Mi}}
          - name: limits-only      # request defaults to the limit
            resources: {limits: {cpu: 200m, memory: 256Mi}}
        """,
    )
    requests = snap.pods[0].requests
    # cpu: max(init 500, app 100 + 200 + sidecar 50) + overhead 10
    assert requests["cpu"] == 510
    # memory: max(init 64, app 128 + 256 + sidecar 32) + overhead 16 (Mi)
    assert requests["memory"] == (128 + 256 + 32 + 16) * 2**20


def test_pod_scheduling_priority_and_owner(tmp_path: Path) -> None:
    snap = load_yaml(
        tmp_path,
        """
        kind: Pod
        metadata:
          name: p
          namespace: batch
          ownerReferences:
          - {kind: Something, name: not-the-controller}
          - {kind: ReplicaSet, name: web-abc, controller: true}
        spec:
          priority: 1000
          nodeSelector: {kubernetes.io/arch: arm64}
          affinity:
            nodeAffinity:
              requiredDuringSchedulingIgnoredDuringExecution:
                nodeSelectorTerms:
                - matchExpressions:
                  - {key: karpenter.sh/capacity-type, operator: In, values: [spot]}
                  - {key: gpu, operator: DoesNotExist}
                - matchFields:
                  - {key: metadata.name, operator: In, values: [node-a, node-b]}
          tolerations:
          - {key: dedicated, value: batch, effect: NoSchedule}
          - {operator: Exists}
          containers: [{name: c}]
        """,
    )
    p = snap.pods[0]
    assert p.priority == 1000
    assert (p.owner_kind, p.owner_name) == ("ReplicaSet", "web-abc")
    s = p.scheduling
    assert s.node_selector == Requirements.from_labels({"kubernetes.io/arch": "arm64"})
    first, second = s.affinity_terms
    assert first.requirements == Requirements(
        [
            Requirement.of("karpenter.sh/capacity-type", "In", ["spot"]),
            Requirement.of("gpu", "DoesNotExist"),
        ]
    )
    assert first.node_names is None
    assert second.node_names == frozenset({"node-a", "node-b"})
    assert s.tolerations == (
        Toleration("dedicated", "Equal", "batch", "NoSchedule"),
        Toleration("", "Exists"),
    )
    assert s.tolerations[1].tolerates(Taint("anything", "NoExecute"))


def test_identical_pods_share_scheduling_and_requests(tmp_path: Path) -> None:
    spec: dict[str, Any] = {
        "nodeSelector": {"zone": "a"},
        "tolerations": [{"key": "k", "operator": "Exists"}],
    }
    path = tmp_path / "pods.json"
    path.write_text(as_list(pod("a", **spec), pod("b", **json.loads(json.dumps(spec)))))
    a, b = load_snapshot([path]).pods
    assert a.scheduling is b.scheduling
    assert a.requests is b.requests


def test_priority_from_priority_class(tmp_path: Path) -> None:
    snap = load_yaml(
        tmp_path,
        """
        kind: PriorityClass
        metadata: {name: high}
        value: 5000
        ---
        kind: PriorityClass
        metadata: {name: normal}
        value: 100
        globalDefault: true
        ---
        kind: Pod
        metadata: {name: named}
        spec: {priorityClassName: high, containers: [{name: c}]}
        ---
        kind: Pod
        metadata: {name: unnamed}
        spec: {containers: [{name: c}]}
        ---
        kind: Pod
        metadata: {name: system}
        spec: {priorityClassName: system-node-critical, containers: [{name: c}]}
        """,
    )
    assert {p.name: p.priority for p in snap.pods} == {
        "named": 5000,
        "unnamed": 100,
        "system": 2_000_001_000,
    }
    assert "PriorityClass" not in snap.ignored_kinds


def test_finished_pods_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "pods.json"
    path.write_text(
        as_list(
            pod("done", nodeName="n1", phase="Succeeded"),
            pod("crashed", nodeName="n1", phase="Failed"),
            pod("running", nodeName="n1"),
            pod("waiting"),
        )
    )
    assert [p.name for p in load_snapshot([path]).pods] == ["running", "waiting"]


def test_daemonset_pending_pods_are_dropped_and_daemonsets_kept(tmp_path: Path) -> None:
    snap = load_yaml(
        tmp_path,
        """
        kind: DaemonSet
        apiVersion: apps/v1
        metadata: {name: agent, namespace: kube-system}
        spec:
          selector: {matchLabels: {app: agent}}
          template:
            metadata: {labels: {app: agent}}
            spec:
              tolerations: [{operator: Exists}]
              containers:
              - name: agent
                resources: {requests: {cpu: 100m, memory: 200Mi}}
        ---
        kind: Pod
        metadata:
          name: agent-on-node
          namespace: kube-system
          ownerReferences: [{kind: DaemonSet, name: agent, controller: true}]
        spec: {nodeName: n1, containers: [{name: agent}]}
        ---
        kind: Pod
        metadata:
          name: agent-waiting-for-new-node
          namespace: kube-system
          ownerReferences: [{kind: DaemonSet, name: agent, controller: true}]
        spec: {containers: [{name: agent}]}
        """,
    )
    assert [p.name for p in snap.pods] == ["agent-on-node"]
    assert snap.pods[0].is_daemonset_pod
    (ds,) = snap.daemonsets
    assert ds.key == "kube-system/agent"
    assert ds.requests["cpu"] == 100 and ds.requests["memory"] == 200 * 2**20
    assert ds.scheduling.tolerations == (Toleration("", "Exists"),)
    assert snap.expanded_workloads == 0


def test_other_kinds_are_counted_and_pdbs_pvcs_kept(tmp_path: Path) -> None:
    snap = load_yaml(
        tmp_path,
        """
        kind: Service
        metadata: {name: a}
        ---
        kind: Service
        metadata: {name: b}
        ---
        kind: ConfigMap
        metadata: {name: c}
        ---
        kind: PodDisruptionBudget
        apiVersion: policy/v1
        metadata: {name: web}
        spec: {minAvailable: 1, selector: {matchLabels: {app: web}}}
        ---
        kind: PersistentVolumeClaim
        metadata: {name: data}
        spec: {resources: {requests: {storage: 10Gi}}}
        ---
        kind: Node
        metadata: {name: n1}
        """,
    )
    assert snap.ignored_kinds == {"ConfigMap": 1, "Service": 2}
    assert [pdb["metadata"] for pdb in snap.pod_disruption_budgets] == [{"name": "web"}]
    (pvc,) = snap.persistent_volume_claims
    assert pvc["spec"] == {"resources": {"requests": {"storage": "10Gi"}}}


# Workload expansion


DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, tier: front}}
    spec:
      priority: 7
      nodeSelector: {kubernetes.io/arch: amd64}
      containers:
      - name: web
        resources: {requests: {cpu: 500m, memory: 1Gi}}
"""


def test_deployment_expands_to_pending_pods_named_like_kubernetes(tmp_path: Path) -> None:
    snap = load_yaml(tmp_path, DEPLOYMENT)
    assert snap.expanded_workloads == 1
    pods = snap.pending_pods
    assert len(pods) == 3 and pods == snap.pods
    names = [p.name for p in pods]
    pattern = re.compile(rf"^web-({SAFE}{{10}})-{SAFE}{{5}}$")
    hashes = set()
    for p in pods:
        match = pattern.match(p.name)
        assert match, p.name
        hashes.add(match.group(1))
        assert p.namespace == "shop"
        assert p.labels == {"app": "web", "tier": "front", "pod-template-hash": match.group(1)}
        assert (p.owner_kind, p.owner_name) == ("ReplicaSet", f"web-{match.group(1)}")
        assert p.requests["cpu"] == 500 and p.requests["memory"] == 2**30
        assert p.priority == 7
        assert p.scheduling.node_selector == Requirements.from_labels(
            {"kubernetes.io/arch": "amd64"}
        )
    assert len(hashes) == 1
    assert len(set(names)) == 3

    # The same snapshot gives the same names, in another file too.
    again = load_yaml(tmp_path, DEPLOYMENT, name="other.yaml")
    assert [p.name for p in again.pods] == names
    # A changed template is a new ReplicaSet: another hash.
    changed = load_yaml(tmp_path, DEPLOYMENT.replace("500m", "600m"), name="changed.yaml")
    assert {p.owner_name for p in changed.pods} != {f"web-{h}" for h in hashes}


def test_replica_defaults_and_zero(tmp_path: Path) -> None:
    one = load_yaml(tmp_path, DEPLOYMENT.replace("  replicas: 3\n", ""))
    assert len(one.pods) == 1 and one.expanded_workloads == 1
    zero = load_yaml(tmp_path, DEPLOYMENT.replace("replicas: 3", "replicas: 0"), "zero.yaml")
    assert zero.pods == () and zero.expanded_workloads == 0


def test_replicaset_expansion(tmp_path: Path) -> None:
    snap = load_yaml(
        tmp_path,
        """
        kind: ReplicaSet
        metadata: {name: cache-7d9f}
        spec:
          replicas: 2
          selector: {matchLabels: {app: cache}}
          template:
            metadata: {labels: {app: cache}}
            spec: {containers: [{name: c, resources: {requests: {cpu: "1"}}}]}
        """,
    )
    assert len(snap.pods) == 2
    for p in snap.pods:
        assert re.fullmatch(rf"cache-7d9f-{SAFE}{{5}}", p.name)
        assert (p.owner_kind, p.owner_name) == ("ReplicaSet", "cache-7d9f")
        assert p.labels == {"app": "cache"}


def test_statefulset_ordinals(tmp_path: Path) -> None:
    snap = load_yaml(
        tmp_path,
        """
        kind: StatefulSet
        metadata: {name: db, namespace: data}
        spec:
          replicas: 3
          selector: {matchLabels: {app: db}}
          template:
            metadata: {labels: {app: db}}
            spec: {containers: [{name: db, resources: {requests: {memory: 4Gi}}}]}
        """,
    )
    assert [p.key for p in snap.pods] == ["data/db-0", "data/db-1", "data/db-2"]
    assert {(p.owner_kind, p.owner_name) for p in snap.pods} == {("StatefulSet", "db")}
    assert all(p.node_name is None for p in snap.pods)


JOB = """
kind: Job
apiVersion: batch/v1
metadata: {name: report}
spec:
  {parallelism}
  {completions}
  template:
    metadata: {labels: {job: report}}
    spec:
      restartPolicy: Never
      containers: [{name: r, resources: {requests: {cpu: 2}}}]
"""


@pytest.mark.parametrize(
    ("parallelism", "completions", "expected"),
    [
        ("", "", 1),
        ("parallelism: 4", "", 4),
        ("parallelism: 4", "completions: 2", 2),
        ("parallelism: 3", "completions: 10", 3),
        ("parallelism: 0", "completions: 10", 0),
    ],
)
def test_job_parallelism(tmp_path: Path, parallelism: str, completions: str, expected: int) -> None:
    text = JOB.replace("{parallelism}", parallelism).replace("{completions}", completions)
    snap = load_yaml(tmp_path, text)
    assert len(snap.pods) == expected
    assert snap.expanded_workloads == (1 if expected else 0)
    for p in snap.pods:
        assert re.fullmatch(rf"report-{SAFE}{{5}}", p.name)
        assert (p.owner_kind, p.owner_name) == ("Job", "report")
        assert p.requests["cpu"] == 2000
    assert len({p.name for p in snap.pods}) == expected


def test_finished_or_suspended_jobs_are_not_expanded(tmp_path: Path) -> None:
    base = JOB.replace("{parallelism}", "parallelism: 2").replace("{completions}", "")
    done = base + "status:\n  conditions: [{type: Complete, status: 'True'}]\n"
    assert load_yaml(tmp_path, done).pods == ()
    suspended = base.replace("parallelism: 2", "parallelism: 2\n  suspend: true")
    assert load_yaml(tmp_path, suspended, "suspended.yaml").pods == ()


def test_no_expansion_when_pods_match_the_selector(tmp_path: Path) -> None:
    snap = load_yaml(
        tmp_path,
        DEPLOYMENT
        + """
---
kind: Pod
metadata: {name: web-abc-xyz, namespace: shop, labels: {app: web, tier: front}}
spec: {nodeName: n1, containers: [{name: web}]}
""",
    )
    assert [p.name for p in snap.pods] == ["web-abc-xyz"]
    assert snap.expanded_workloads == 0


def test_selector_match_expressions(tmp_path: Path) -> None:
    deployment = DEPLOYMENT.replace(
        "selector: {matchLabels: {app: web}}",
        "selector: {matchExpressions: [{key: app, operator: In, values: [web, www]},"
        " {key: canary, operator: DoesNotExist}]}",
    )
    canary = (
        "\n---\nkind: Pod\nmetadata: {name: c, namespace: shop, labels: {app: web, canary: 'y'}}\n"
        "spec: {containers: [{name: c}]}\n"
    )
    other_ns = ("\n---\nkind: Pod\nmetadata: {name: o, namespace: other, labels: {app: web}}\n"
                "spec: {containers: [{name: c}]}\n")
    snap = load_yaml(tmp_path, deployment + canary + other_ns)
    assert snap.expanded_workloads == 1  # neither pod is the Deployment's
    match = ("\n---\nkind: Pod\nmetadata: {name: m, namespace: shop, labels: {app: www}}\n"
             "spec: {containers: [{name: c}]}\n")
    snap = load_yaml(tmp_path, deployment + match, "match.yaml")
    assert snap.expanded_workloads == 0


def test_no_expansion_when_pods_are_owned_through_a_replicaset(tmp_path: Path) -> None:
    """Pods are the Deployment's through its ReplicaSet, even with other labels."""
    snap = load_yaml(
        tmp_path,
        DEPLOYMENT
        + """
---
kind: ReplicaSet
metadata:
  name: web-5d4f8c7b9
  namespace: shop
  ownerReferences: [{kind: Deployment, name: web, controller: true}]
spec:
  replicas: 3
  selector: {matchLabels: {app: web, pod-template-hash: 5d4f8c7b9}}
  template:
    metadata: {labels: {app: web, pod-template-hash: 5d4f8c7b9}}
    spec: {containers: [{name: web}]}
---
kind: Pod
metadata:
  name: web-5d4f8c7b9-q2x7z
  namespace: shop
  labels: {relabelled: "true"}
  ownerReferences: [{kind: ReplicaSet, name: web-5d4f8c7b9, controller: true}]
spec: {nodeName: n1, containers: [{name: web}]}
""",
    )
    assert [p.name for p in snap.pods] == ["web-5d4f8c7b9-q2x7z"]
    assert snap.expanded_workloads == 0


def test_replicaset_of_a_present_deployment_is_not_expanded_itself(tmp_path: Path) -> None:
    snap = load_yaml(
        tmp_path,
        DEPLOYMENT
        + """
---
kind: ReplicaSet
metadata:
  name: web-5d4f8c7b9
  namespace: shop
  ownerReferences: [{kind: Deployment, name: web, controller: true}]
spec:
  replicas: 3
  selector: {matchLabels: {app: web, pod-template-hash: 5d4f8c7b9}}
  template:
    metadata: {labels: {app: web, pod-template-hash: 5d4f8c7b9}}
    spec: {containers: [{name: web}]}
""",
    )
    assert snap.expanded_workloads == 1
    assert len(snap.pods) == 3
    assert all(p.name.startswith("web-") and p.requests["cpu"] == 500 for p in snap.pods)


def test_expanded_names_do_not_collide_with_existing_pods(tmp_path: Path) -> None:
    first = load_yaml(tmp_path, DEPLOYMENT)
    taken = first.pods[0]
    # A pod of another app that happens to have the name the first replica would get.
    existing = (
        "\n---\nkind: Pod\n"
        f"metadata: {{name: {taken.name}, namespace: shop, labels: {{app: other}}}}\n"
        "spec: {containers: [{name: c}]}\n"
    )
    snap = load_yaml(tmp_path, DEPLOYMENT + existing, "collide.yaml")
    keys = [p.key for p in snap.pods]
    assert len(keys) == 4 and len(set(keys)) == 4


# Bad input


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert error_of([missing]) == f"{missing}: no such file or directory"


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "snap.yaml", "kind: Pod\nmetadata:\n  name: [unclosed\n")
    text = error_of([path])
    assert re.match(rf"{re.escape(str(path))}:\d+: invalid YAML: ", text), text


def test_yaml_syntax_error_line_number(tmp_path: Path) -> None:
    path = write(tmp_path, "snap.yaml", "kind: Pod\nmetadata:\n  name: a\n bad: indent\n")
    assert error_of([path]).startswith(f"{path}:4: invalid YAML: ")


def test_json_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    path.write_text('{\n  "kind": "Pod",\n  "metadata": {"name": "a",}\n}\n')
    assert error_of([path]).startswith(f"{path}:3: invalid JSON: ")


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "snap.yaml"
    path.write_bytes(b"kind: Pod\nmetadata:\n  name: caf\xe9\n")
    text = error_of([path])
    assert text.startswith(f"{path}:3: not UTF-8 text")


def test_document_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "snap.yaml", "kind: Node\nmetadata: {name: n}\n---\njust a string\n")
    text = error_of([path])
    assert text.startswith(f"{path}: document 2: expected a Kubernetes object"), text


def test_document_without_kind(tmp_path: Path) -> None:
    path = write(tmp_path, "snap.yaml", "apiVersion: v1\nmetadata: {name: n}\n")
    assert (
        error_of([path]) == f"{path}: document 1: kind: not a Kubernetes object: 'kind' is missing"
    )


def test_object_without_name(tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    item = pod("x")
    del item["metadata"]["name"]
    path.write_text(as_list(node("n1"), item))
    text = error_of([path])
    assert text == f"{path}: Pod (document 1, items[1]): metadata.name: required field missing"


def test_invalid_quantity(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "snap.yaml",
        """
        kind: Pod
        metadata: {name: web-1}
        spec:
          containers:
          - name: app
            resources: {requests: {memory: 1Gi, cpu: 12Q}}
        """,
    )
    assert error_of([path]) == (
        f"{path}: Pod default/web-1: spec.containers[0].resources.requests.cpu: "
        "invalid quantity '12Q': unknown suffix 'Q'"
    )


def test_invalid_quantity_in_a_node_and_a_template(tmp_path: Path) -> None:
    bad_node = write(tmp_path, "node.json", as_list(node("n1", memory="lots")))
    text = error_of([bad_node])
    assert text.startswith(f"{bad_node}: Node n1: status.allocatable.memory: invalid quantity")
    bad_template = write(tmp_path, "deploy.yaml", DEPLOYMENT.replace("500m", "half"))
    text = error_of([bad_template])
    assert text.startswith(
        f"{bad_template}: Deployment shop/web: "
        "spec.template.spec.containers[0].resources.requests.cpu: invalid quantity 'half'"
    ), text


def test_unknown_node_selector_operator(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "snap.yaml",
        """
        kind: Pod
        metadata: {name: p, namespace: ns}
        spec:
          affinity:
            nodeAffinity:
              requiredDuringSchedulingIgnoredDuringExecution:
                nodeSelectorTerms:
                - matchExpressions:
                  - {key: zone, operator: Within, values: [a]}
        """,
    )
    text = error_of([path])
    assert text.startswith(
        f"{path}: Pod ns/p: spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuring"
        "Execution.nodeSelectorTerms[0].matchExpressions[0].operator: unknown operator 'Within'"
    ), text


def test_unsupported_match_fields(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "snap.yaml",
        """
        kind: Pod
        metadata: {name: p}
        spec:
          affinity:
            nodeAffinity:
              requiredDuringSchedulingIgnoredDuringExecution:
                nodeSelectorTerms:
                - matchFields:
                  - {key: metadata.name, operator: NotIn, values: [n1]}
        """,
    )
    text = error_of([path])
    assert text.startswith(
        f"{path}: Pod default/p: spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuring"
        "Execution.nodeSelectorTerms[0].matchFields[0]: unsupported matchFields metadata.name NotIn"
    ), text


def test_wrong_field_type(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "snap.yaml",
        "kind: Pod\nmetadata: {name: p, labels: {version: 2}}\nspec: {containers: [{name: c}]}\n",
    )
    assert error_of([path]) == (
        f"{path}: Pod default/p: metadata.labels.version: "
        "expected a string, got the number 2 (quote it)"
    )


def test_empty_snapshot(tmp_path: Path) -> None:
    path = write(tmp_path, "snapshot.yaml", "---\n---\n")
    assert error_of([path]) == f"{path}: no Nodes, Pods or workloads found"
    other = write(tmp_path, "other.yaml", "kind: Service\nmetadata: {name: s}\n")
    assert error_of([path, other]) == (
        f"{path}, {other}: no Nodes, Pods or workloads found (only Service)"
    )


def test_directory_without_snapshot_files(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    text = error_of([tmp_path / "empty"])
    assert text == f"{tmp_path / 'empty'}: no *.yaml, *.yml, *.json files in this directory"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            "kind: Node\nmetadata: {name: n}\nspec: {taints: [{key: k, effect: NoWay}]}\n",
            "Node n: spec.taints[0].effect: unknown taint effect 'NoWay'",
        ),
        (
            "kind: Pod\nmetadata: {name: p}\nspec: {tolerations: [{key: k, operator: Is}]}\n",
            "Pod default/p: spec.tolerations[0].operator: unknown toleration operator 'Is'",
        ),
        (
            "kind: Pod\nmetadata: {name: p}\nspec: {containers: {name: c}}\n",
            "Pod default/p: spec.containers: expected a list, got a mapping",
        ),
        (
            "kind: Pod\nmetadata: {name: p}\nspec: {priority: high}\n",
            "Pod default/p: spec.priority: expected an integer, got the string 'high'",
        ),
        (
            "kind: StatefulSet\nmetadata: {name: s}\nspec: {replicas: -1}\n",
            "StatefulSet default/s: spec.replicas: must not be negative, got -1",
        ),
        (
            "kind: ReplicaSet\nmetadata: {name: r}\nspec: {replicas: 2}\n",
            "ReplicaSet default/r: spec.template: required field missing",
        ),
        (
            "kind: Job\nmetadata: {name: j}\nspec:\n  selector: {matchExpressions: "
            "[{key: a, operator: Gt, values: ['1']}]}\n  template: {spec: {}}\n",
            "Job default/j: spec.selector.matchExpressions[0].operator: unknown operator 'Gt'",
        ),
    ],
)
def test_malformed_fields_are_located(tmp_path: Path, text: str, where: str) -> None:
    path = write(tmp_path, "snap.yaml", text)
    assert error_of([path]).startswith(f"{path}: {where}")


def test_pod_level_resources(tmp_path: Path) -> None:
    snap = load_yaml(
        tmp_path,
        """
        kind: Pod
        metadata: {name: p}
        spec:
          resources:
            requests: {cpu: "1"}
            limits: {memory: 2Gi}
          containers:
          - name: a
            resources: {requests: {cpu: 100m}}
        """,
    )
    requests = snap.pods[0].requests
    assert requests["cpu"] == 1000  # the pod-level request replaces the containers' sum
    assert requests["memory"] == 2 * 2**30  # no container asks for memory: the limit


def test_names_do_not_depend_on_python_hash_seed(tmp_path: Path) -> None:
    path = write(tmp_path, "deploy.yaml", DEPLOYMENT)
    code = (
        "import sys; from scaler.snapshot import load_snapshot; "
        "print(' '.join(p.name for p in load_snapshot([sys.argv[1]]).pods))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code, str(path)],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1
    assert [p.name for p in load_snapshot([path]).pods] == outputs.pop().split()


def test_garbage_collection_is_restored(tmp_path: Path) -> None:
    assert gc.isenabled()
    load_yaml(tmp_path, DEPLOYMENT)
    assert gc.isenabled()
    with pytest.raises(UserError):
        load_snapshot([tmp_path / "missing.yaml"])
    assert gc.isenabled()
