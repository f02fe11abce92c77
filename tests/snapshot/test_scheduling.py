"""load_snapshot: preferred node affinity, topology spread, pod (anti-)affinity, host ports
and zonal volumes, for Pods and for workload and DaemonSet templates."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from scaler.core.model import (
    HostPort,
    NodeSelectorTerm,
    Pod,
    PodAffinityTerm,
    Snapshot,
    TopologySpread,
)
from scaler.core.requirements import Requirement, Requirements
from scaler.errors import UserError
from scaler.snapshot import load_snapshot

FIXTURES = Path(__file__).parent.parent / "fixtures" / "snapshots"
ZONE = "topology.kubernetes.io/zone"
BETA_ZONE = "failure-domain.beta.kubernetes.io/zone"
HOSTNAME = "kubernetes.io/hostname"
REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"


def pod(
    name: str, ns: str = "default", labels: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    spec.setdefault("containers", [{"name": "app", "resources": {"requests": {"cpu": "1"}}}])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {"app": name}},
        "spec": spec,
        "status": {"phase": "Pending"},
    }


def obj(kind: str, name: str, ns: str | None = None, **fields: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if ns is not None:
        meta["namespace"] = ns
    meta.update(fields.pop("metadata", {}))
    return {"apiVersion": "v1", "kind": kind, "metadata": meta, **fields}


def deployment(name: str, ns: str = "default", replicas: int = 2, **spec: Any) -> dict[str, Any]:
    labels = spec.pop("labels", {"app": name})
    spec.setdefault("containers", [{"name": "app", "resources": {"requests": {"cpu": "1"}}}])
    return obj(
        "Deployment",
        name,
        ns,
        spec={
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": spec},
        },
    )


def load(tmp_path: Path, *items: dict[str, Any]) -> Snapshot:
    path = tmp_path / "snap.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": list(items)}))
    return load_snapshot([path])


def only_pod(snap: Snapshot) -> Pod:
    (p,) = snap.pods
    return p


def error(tmp_path: Path, *items: dict[str, Any]) -> str:
    with pytest.raises(UserError) as info:
        load(tmp_path, *items)
    text = str(info.value)
    assert "\n" not in text and text == info.value.render()
    assert text.startswith(str(tmp_path / "snap.json") + ": ")
    return text


def reqs(*items: tuple[str, str, list[str]]) -> Requirements:
    return Requirements(Requirement.of(k, op, v) for k, op, v in items)


SPREAD = {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule"}


# Preferred node affinity


def test_preferred_node_affinity_terms_keep_their_weights(tmp_path: Path) -> None:
    preferred = [
        {
            "weight": 80,
            "preference": {
                "matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]
            },
        },
        {
            "weight": 1,
            "preference": {
                "matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]
            },
        },
    ]
    p = only_pod(
        load(
            tmp_path,
            pod(
                "a",
                affinity={
                    "nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": preferred}
                },
            ),
        )
    )
    assert p.scheduling.preferred_terms == (
        (80, NodeSelectorTerm(reqs(("disk", "In", ["ssd"])))),
        (1, NodeSelectorTerm(Requirements(), frozenset({"n1"}))),
    )
    assert p.scheduling.affinity_terms == ()  # preferences do not restrict the pod


@pytest.mark.parametrize(
    ("weight", "message"), [(0, "got 0"), (101, "got 101"), (None, "required field missing")]
)
def test_preferred_node_affinity_weight_is_1_to_100(
    tmp_path: Path, weight: int | None, message: str
) -> None:
    term: dict[str, Any] = {
        "preference": {"matchExpressions": [{"key": "a", "operator": "Exists"}]}
    }
    if weight is not None:
        term["weight"] = weight
    text = error(
        tmp_path,
        pod(
            "a",
            affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [term]}},
        ),
    )
    assert f": Pod default/a: spec.affinity.nodeAffinity.{PREFERRED}[0].weight: " in text
    assert message in text


# Topology spread


def test_topology_spread_fields_and_defaults(tmp_path: Path) -> None:
    constraints = [
        {**SPREAD, "labelSelector": {"matchLabels": {"app": "web"}}},
        {
            "maxSkew": 3,
            "topologyKey": HOSTNAME,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {
                "matchExpressions": [
                    {"key": "tier", "operator": "NotIn", "values": ["batch"]},
                    {"key": "team", "operator": "Exists"},
                    {"key": "canary", "operator": "DoesNotExist"},
                ]
            },
            "nodeAffinityPolicy": "Ignore",
            "nodeTaintsPolicy": "Honor",
        },
        {
            **SPREAD,
            "topologyKey": "rack",
            "minDomains": 3,
            "labelSelector": {"matchLabels": {"app": "web"}},
        },
    ]
    p = only_pod(load(tmp_path, pod("web", topologySpreadConstraints=constraints)))
    assert p.scheduling.topology_spread == (
        TopologySpread(ZONE, 1, "DoNotSchedule", reqs(("app", "In", ["web"]))),
        TopologySpread(
            HOSTNAME,
            3,
            "ScheduleAnyway",
            reqs(
                ("tier", "NotIn", ["batch"]), ("team", "Exists", []), ("canary", "DoesNotExist", [])
            ),
            node_affinity_policy="Ignore",
            node_taints_policy="Honor",
        ),
        TopologySpread("rack", 1, "DoNotSchedule", reqs(("app", "In", ["web"])), min_domains=3),
    )
    first = p.scheduling.topology_spread[0]
    assert first.min_domains is None  # the scheduler treats it as 1
    assert (first.node_affinity_policy, first.node_taints_policy) == ("Honor", "Ignore")


def test_null_spread_selector_counts_no_pod_and_empty_counts_every_pod(tmp_path: Path) -> None:
    nothing, everything = only_pod(
        load(
            tmp_path,
            pod(
                "a",
                topologySpreadConstraints=[
                    SPREAD,
                    {**SPREAD, "topologyKey": HOSTNAME, "labelSelector": {}},
                ],
            ),
        )
    ).scheduling.topology_spread
    assert nothing.selector is None
    assert everything.selector is not None and everything.selector.matches_labels({"any": "pod"})


def test_spread_match_label_keys_take_the_pods_own_values(tmp_path: Path) -> None:
    spread = {
        **SPREAD,
        "labelSelector": {"matchLabels": {"app": "web"}},
        "matchLabelKeys": ["version", "absent"],
    }
    snap = load(
        tmp_path,
        pod("v1", labels={"app": "web", "version": "1"}, topologySpreadConstraints=[spread]),
        pod("v2", labels={"app": "web", "version": "2"}, topologySpreadConstraints=[spread]),
        pod("none", labels={"app": "web"}, topologySpreadConstraints=[spread]),
    )
    selectors = [p.scheduling.topology_spread[0].selector for p in snap.pods]
    assert selectors == [
        reqs(("app", "In", ["web"]), ("version", "In", ["1"])),
        reqs(("app", "In", ["web"]), ("version", "In", ["2"])),
        reqs(("app", "In", ["web"])),  # keys the pod lacks are ignored
    ]


def test_deployment_spread_by_pod_template_hash(tmp_path: Path) -> None:
    """matchLabelKeys: [pod-template-hash] spreads one revision: expanded pods get the
    hash label, and the selector takes its value."""
    spread = {
        **SPREAD,
        "labelSelector": {"matchLabels": {"app": "web"}},
        "matchLabelKeys": ["pod-template-hash"],
    }
    snap = load(tmp_path, deployment("web", replicas=3, topologySpreadConstraints=[spread]))
    assert len(snap.pods) == 3
    (scheduling,) = {id(p.scheduling): p.scheduling for p in snap.pods}.values()  # shared
    revision = snap.pods[0].labels["pod-template-hash"]
    assert scheduling.topology_spread[0].selector == reqs(
        ("app", "In", ["web"]), ("pod-template-hash", "In", [revision])
    )


def test_spread_already_merged_by_the_api_server_is_unchanged(tmp_path: Path) -> None:
    """Since Kubernetes 1.34 the API server merges matchLabelKeys into the selector of a
    live pod and keeps the list: folding it again changes nothing."""
    spread = {
        **SPREAD,
        "labelSelector": {
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "pod-template-hash", "operator": "In", "values": ["abc"]}],
        },
        "matchLabelKeys": ["pod-template-hash"],
    }
    p = only_pod(
        load(
            tmp_path,
            pod(
                "a",
                labels={"app": "web", "pod-template-hash": "abc"},
                topologySpreadConstraints=[spread],
            ),
        )
    )
    assert p.scheduling.topology_spread[0].selector == reqs(
        ("app", "In", ["web"]), ("pod-template-hash", "In", ["abc"])
    )


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        (
            {"whenUnsatisfiable": "Maybe"},
            "whenUnsatisfiable",
            "unknown value 'Maybe'; expected DoNotSchedule or ScheduleAnyway",
        ),
        ({"whenUnsatisfiable": None}, "whenUnsatisfiable", "required field missing"),
        ({"maxSkew": 0}, "maxSkew", "must be at least 1, got 0"),
        ({"maxSkew": None}, "maxSkew", "required field missing"),
        ({"maxSkew": "1"}, "maxSkew", "expected an integer, got the string '1'"),
        ({"topologyKey": None}, "topologyKey", "required field missing"),
        ({"minDomains": 0}, "minDomains", "must be at least 1, got 0"),
        (
            {"minDomains": 2, "whenUnsatisfiable": "ScheduleAnyway"},
            "minDomains",
            "only allowed with whenUnsatisfiable: DoNotSchedule, not ScheduleAnyway",
        ),
        (
            {"nodeAffinityPolicy": "Always"},
            "nodeAffinityPolicy",
            "unknown policy 'Always'; expected Honor or Ignore",
        ),
        (
            {"nodeTaintsPolicy": "honor"},
            "nodeTaintsPolicy",
            "unknown policy 'honor'; expected Honor or Ignore",
        ),
        (
            {"matchLabelKeys": ["version"]},
            "matchLabelKeys",
            "must not be set when labelSelector is not set",
        ),
        (
            {
                "labelSelector": {
                    "matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]
                }
            },
            "labelSelector.matchExpressions[0].operator",
            "unknown operator 'Gt'; expected one of In, NotIn, Exists, DoesNotExist",
        ),
        (
            {"labelSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}},
            "labelSelector.matchExpressions[0].values",
            "operator In needs at least one value",
        ),
        (
            {
                "labelSelector": {
                    "matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]
                }
            },
            "labelSelector.matchExpressions[0].values",
            "operator Exists takes no values",
        ),
    ],
)
def test_invalid_topology_spread(
    tmp_path: Path, change: dict[str, Any], where: str, message: str
) -> None:
    constraint = {k: v for k, v in {**SPREAD, **change}.items() if v is not None}
    text = error(tmp_path, pod("a", topologySpreadConstraints=[constraint]))
    assert text.endswith(f": Pod default/a: spec.topologySpreadConstraints[0].{where}: {message}")


def test_duplicate_spread_constraint(tmp_path: Path) -> None:
    text = error(tmp_path, pod("a", topologySpreadConstraints=[SPREAD, {**SPREAD, "maxSkew": 2}]))
    assert text.endswith(
        ": Pod default/a: spec.topologySpreadConstraints[1]: same topologyKey and "
        f"whenUnsatisfiable as spec.topologySpreadConstraints[0] ({ZONE}, DoNotSchedule)"
    )


def test_template_errors_name_the_template_path(tmp_path: Path) -> None:
    text = error(tmp_path, deployment("web", topologySpreadConstraints=[{**SPREAD, "maxSkew": -1}]))
    assert text.endswith(
        ": Deployment default/web: spec.template.spec.topologySpreadConstraints[0].maxSkew: "
        "must be at least 1, got -1"
    )


# Pod affinity and anti-affinity


def affinity_pod(
    name: str,
    kind: str,
    required: Sequence[Any] = (),
    preferred: Sequence[Any] = (),
    **kw: Any,
) -> dict[str, Any]:
    terms: dict[str, Any] = {}
    if required:
        terms[REQUIRED] = list(required)
    if preferred:
        terms[PREFERRED] = list(preferred)
    return pod(name, affinity={kind: terms}, **kw)


def test_pod_affinity_and_anti_affinity_required_and_preferred(tmp_path: Path) -> None:
    term = {"topologyKey": ZONE, "labelSelector": {"matchLabels": {"app": "db"}}}
    anti = {"topologyKey": HOSTNAME, "labelSelector": {"matchLabels": {"app": "web"}}}
    spec = {
        "podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [term],
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 30, "podAffinityTerm": term}
            ],
        },
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [anti],
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "podAffinityTerm": anti}
            ],
        },
    }
    s = only_pod(load(tmp_path, pod("web", ns="shop", affinity=spec))).scheduling
    db = reqs(("app", "In", ["db"]))
    web = reqs(("app", "In", ["web"]))
    own = frozenset({"shop"})
    assert s.pod_affinity == (PodAffinityTerm(ZONE, db, own),)
    assert s.preferred_pod_affinity == (PodAffinityTerm(ZONE, db, own, weight=30),)
    assert s.pod_anti_affinity == (PodAffinityTerm(HOSTNAME, web, own),)
    assert s.preferred_pod_anti_affinity == (PodAffinityTerm(HOSTNAME, web, own, weight=100),)
    assert s.pod_anti_affinity[0].selects("shop", {"app": "web"})
    assert not s.pod_anti_affinity[0].selects("other", {"app": "web"})


NAMESPACES = [
    obj("Namespace", "shop", metadata={"labels": {"team": "retail"}}),
    obj("Namespace", "cart", metadata={"labels": {"team": "retail"}}),
    obj("Namespace", "ops", metadata={"labels": {"team": "platform"}}),
]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, frozenset({"shop"})),  # neither: the pod's own namespace
        ({"namespaces": ["ops", "cart"]}, frozenset({"ops", "cart"})),
        ({"namespaceSelector": {"matchLabels": {"team": "retail"}}}, frozenset({"shop", "cart"})),
        (
            {"namespaces": ["ops"], "namespaceSelector": {"matchLabels": {"team": "retail"}}},
            frozenset({"shop", "cart", "ops"}),
        ),
        # Every namespace has the kubernetes.io/metadata.name label, even one the snapshot
        # only knows from the objects in it.
        (
            {
                "namespaceSelector": {
                    "matchExpressions": [
                        {
                            "key": "kubernetes.io/metadata.name",
                            "operator": "In",
                            "values": ["ops", "apps"],
                        }
                    ]
                }
            },
            frozenset({"ops", "apps"}),
        ),
        ({"namespaceSelector": {"matchLabels": {"team": "nobody"}}}, frozenset()),  # selects none
        ({"namespaceSelector": {}}, None),  # every namespace
        ({"namespaces": ["ops"], "namespaceSelector": {}}, None),
    ],
)
def test_affinity_term_namespaces(
    tmp_path: Path, fields: dict[str, Any], expected: frozenset[str] | None
) -> None:
    term = {"topologyKey": ZONE, "labelSelector": {"matchLabels": {"app": "db"}}, **fields}
    snap = load(
        tmp_path,
        *NAMESPACES,
        pod("other", ns="apps"),
        affinity_pod("web", "podAffinity", [term], ns="shop"),
    )
    web = next(p for p in snap.pods if p.name == "web")
    assert web.scheduling.pod_affinity[0].namespaces == expected
    assert "Namespace" not in snap.ignored_kinds


def test_affinity_match_and_mismatch_label_keys(tmp_path: Path) -> None:
    term = {
        "topologyKey": HOSTNAME,
        "labelSelector": {"matchLabels": {"app": "web"}},
        "matchLabelKeys": ["pod-template-hash", "absent"],
        "mismatchLabelKeys": ["tenant"],
    }
    p = only_pod(
        load(
            tmp_path,
            affinity_pod(
                "a",
                "podAntiAffinity",
                [term],
                labels={"app": "web", "pod-template-hash": "h1", "tenant": "t1"},
            ),
        )
    )
    (t,) = p.scheduling.pod_anti_affinity
    assert t.selector == reqs(
        ("app", "In", ["web"]), ("pod-template-hash", "In", ["h1"]), ("tenant", "NotIn", ["t1"])
    )
    assert t.selects("default", {"app": "web", "pod-template-hash": "h1", "tenant": "t2"})
    assert not t.selects("default", {"app": "web", "pod-template-hash": "h1", "tenant": "t1"})
    assert not t.selects("default", {"app": "web", "pod-template-hash": "h0", "tenant": "t2"})


def test_null_affinity_selector_selects_no_pod_and_empty_selects_all(tmp_path: Path) -> None:
    null_term = {"topologyKey": ZONE}
    empty_term = {"topologyKey": ZONE, "labelSelector": {}}
    s = only_pod(
        load(tmp_path, affinity_pod("a", "podAffinity", [null_term, empty_term]))
    ).scheduling
    null, empty = s.pod_affinity
    assert null.selector is None and not null.selects("default", {"app": "a"})
    assert empty.selector == Requirements() and empty.selects("default", {"app": "a"})


def test_one_workload_shares_one_scheduling_per_namespace_and_label_value(tmp_path: Path) -> None:
    term = {
        "topologyKey": HOSTNAME,
        "labelSelector": {"matchLabels": {"app": "web"}},
        "matchLabelKeys": ["v"],
    }
    spec: dict[str, Any] = {
        "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    }
    snap = load(
        tmp_path,
        pod("a1", labels={"app": "web", "v": "1"}, **spec),
        pod("a2", labels={"app": "web", "v": "1"}, **spec),
        pod("b1", labels={"app": "web", "v": "2"}, **spec),
        pod("c1", ns="other", labels={"app": "web", "v": "1"}, **spec),
    )
    a1, a2, b1, c1 = snap.pods
    assert a1.scheduling is a2.scheduling
    assert b1.scheduling.pod_anti_affinity[0].selector == reqs(
        ("app", "In", ["web"]), ("v", "In", ["2"])
    )
    assert c1.scheduling.pod_anti_affinity[0].namespaces == frozenset({"other"})
    assert a1.scheduling.pod_anti_affinity[0].namespaces == frozenset({"default"})


@pytest.mark.parametrize(
    ("term", "where", "message"),
    [
        ({"labelSelector": {}}, "topologyKey", "required field missing"),
        (
            {"topologyKey": ZONE, "mismatchLabelKeys": ["a"]},
            "mismatchLabelKeys",
            "must not be set when labelSelector is not set",
        ),
        (
            {
                "topologyKey": ZONE,
                "labelSelector": {},
                "matchLabelKeys": ["a", "b"],
                "mismatchLabelKeys": ["b"],
            },
            "matchLabelKeys[1]",
            "'b' is in both matchLabelKeys and mismatchLabelKeys",
        ),
        (
            {"topologyKey": ZONE, "namespaces": "shop"},
            "namespaces",
            "expected a list, got the string 'shop'",
        ),
        (
            {
                "topologyKey": ZONE,
                "namespaceSelector": {
                    "matchExpressions": [{"key": "a", "operator": "Lt", "values": ["1"]}]
                },
            },
            "namespaceSelector.matchExpressions[0].operator",
            "unknown operator 'Lt'",
        ),
    ],
)
def test_invalid_affinity_term(
    tmp_path: Path, term: dict[str, Any], where: str, message: str
) -> None:
    text = error(tmp_path, affinity_pod("a", "podAffinity", [term]))
    assert f": Pod default/a: spec.affinity.podAffinity.{REQUIRED}[0].{where}: {message}" in text


@pytest.mark.parametrize("weight", [0, 101, -5])
def test_affinity_weight_out_of_range(tmp_path: Path, weight: int) -> None:
    preferred = [{"weight": weight, "podAffinityTerm": {"topologyKey": ZONE, "labelSelector": {}}}]
    text = error(tmp_path, affinity_pod("a", "podAntiAffinity", preferred=preferred))
    assert text.endswith(
        f": Pod default/a: spec.affinity.podAntiAffinity.{PREFERRED}[0]"
        f".weight: must be between 1 and 100, got {weight}"
    )


def test_preferred_affinity_term_missing(tmp_path: Path) -> None:
    text = error(tmp_path, affinity_pod("a", "podAffinity", preferred=[{"weight": 5}]))
    assert text.endswith(f"{PREFERRED}[0].podAffinityTerm.topologyKey: required field missing")


# Host ports


def test_host_ports_of_containers_and_sidecars(tmp_path: Path) -> None:
    p = only_pod(
        load(
            tmp_path,
            pod(
                "a",
                containers=[
                    {
                        "name": "app",
                        "ports": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 9090}],
                    },
                    {
                        "name": "dns",
                        "ports": [
                            {
                                "containerPort": 53,
                                "hostPort": 53,
                                "protocol": "UDP",
                                "hostIP": "10.0.0.5",
                            }
                        ],
                    },
                ],
                initContainers=[
                    {
                        "name": "proxy",
                        "restartPolicy": "Always",
                        "ports": [{"containerPort": 15000, "hostPort": 15000}],
                    },
                    {
                        "name": "setup",
                        "ports": [{"containerPort": 1, "hostPort": 1234}],
                    },  # runs before: not held
                ],
            ),
        )
    )
    assert p.scheduling.host_ports == (
        HostPort("TCP", 8080, "0.0.0.0"),
        HostPort("UDP", 53, "10.0.0.5"),
        HostPort("TCP", 15000, "0.0.0.0"),
    )


def test_host_network_pods_hold_their_container_ports(tmp_path: Path) -> None:
    snap = load(
        tmp_path,
        obj(
            "DaemonSet",
            "node-exporter",
            "monitoring",
            spec={
                "selector": {"matchLabels": {"app": "ne"}},
                "template": {
                    "metadata": {"labels": {"app": "ne"}},
                    "spec": {
                        "hostNetwork": True,
                        "containers": [{"name": "ne", "ports": [{"containerPort": 9100}]}],
                    },
                },
            },
        ),
        pod("no-host-network", containers=[{"name": "app", "ports": [{"containerPort": 9100}]}]),
    )
    assert snap.daemonsets[0].scheduling.host_ports == (HostPort("TCP", 9100),)
    assert only_pod(snap).scheduling.host_ports == ()


@pytest.mark.parametrize(
    ("port", "where", "message"),
    [
        (
            {"containerPort": 80, "hostPort": 70000},
            "hostPort",
            "must be between 1 and 65535, got 70000",
        ),
        ({"containerPort": 80, "hostPort": -1}, "hostPort", "must be between 1 and 65535, got -1"),
        (
            {"containerPort": 80, "hostPort": 80, "protocol": "ICMP"},
            "protocol",
            "unknown protocol 'ICMP'; expected one of TCP, UDP, SCTP",
        ),
        (
            {"containerPort": 80, "hostPort": "80"},
            "hostPort",
            "expected an integer, got the string '80'",
        ),
    ],
)
def test_invalid_host_port(tmp_path: Path, port: dict[str, Any], where: str, message: str) -> None:
    text = error(tmp_path, pod("a", containers=[{"name": "app", "ports": [port]}]))
    assert text.endswith(f": Pod default/a: spec.containers[0].ports[0].{where}: {message}")


# Zonal volumes


def pvc(
    name: str, ns: str = "default", volume: str | None = None, storage_class: str | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "10Gi"}},
    }
    if volume:
        spec["volumeName"] = volume
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    return obj("PersistentVolumeClaim", name, ns, spec=spec)


def pv(
    name: str, zones: list[str] | None = None, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {"capacity": {"storage": "10Gi"}}
    if zones:
        spec["nodeAffinity"] = {
            "required": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": ZONE, "operator": "In", "values": zones}]}
                ]
            }
        }
    return obj("PersistentVolume", name, metadata={"labels": labels or {}}, spec=spec)


def storage_class(name: str, mode: str = "WaitForFirstConsumer", **fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name},
        "provisioner": "ebs.csi.aws.com",
        "volumeBindingMode": mode,
        **fields,
    }


def with_claims(name: str, *claims: str, **spec: Any) -> dict[str, Any]:
    volumes = [
        {"name": f"v{i}", "persistentVolumeClaim": {"claimName": c}} for i, c in enumerate(claims)
    ]
    volumes.append({"name": "kube-api-access-x1y2z", "projected": {"sources": []}})
    return pod(name, volumes=volumes, **spec)


def zone_of(p: Pod) -> Requirement | None:
    return p.scheduling.node_selector.get(ZONE)


def test_bound_volume_pins_the_pod_to_its_zone(tmp_path: Path) -> None:
    snap = load(
        tmp_path,
        pv("pv-1", zones=["us-east-1b"]),
        pvc("data", volume="pv-1"),
        with_claims("db", "data"),
    )
    assert zone_of(only_pod(snap)) == Requirement.of(ZONE, "In", ["us-east-1b"])
    assert {"PersistentVolume", "PersistentVolumeClaim"}.isdisjoint(snap.ignored_kinds)
    (claim,) = snap.persistent_volume_claims  # kept as written
    assert claim["metadata"] == {"name": "data", "namespace": "default"}


def test_volume_zone_labels_beta_key_and_several_zones(tmp_path: Path) -> None:
    snap = load(
        tmp_path,
        pv("beta", labels={BETA_ZONE: "us-east-1a"}),
        pv("multi", labels={ZONE: "us-east-1a__us-east-1c"}),
        pvc("b", volume="beta"),
        pvc("m", volume="multi"),
        with_claims("uses-beta", "b"),
        with_claims("uses-multi", "m"),
    )
    beta, multi = snap.pods
    assert zone_of(beta) == Requirement.of(ZONE, "In", ["us-east-1a"])  # read as the GA key
    assert zone_of(multi) == Requirement.of(ZONE, "In", ["us-east-1a", "us-east-1c"])


def test_volume_zone_intersects_the_pods_own_zones(tmp_path: Path) -> None:
    snap = load(
        tmp_path,
        pv("pv-1", zones=["us-east-1a", "us-east-1b"]),
        pvc("data", volume="pv-1"),
        with_claims("db", "data", nodeSelector={ZONE: "us-east-1b", "disk": "ssd"}),
    )
    assert only_pod(snap).scheduling.node_selector == reqs(
        (ZONE, "In", ["us-east-1b"]), ("disk", "In", ["ssd"])
    )


def test_volume_in_another_zone_than_the_pod_allows(tmp_path: Path) -> None:
    text = error(
        tmp_path,
        pv("pv-1", zones=["us-east-1b"]),
        pvc("data", volume="pv-1"),
        with_claims("db", "data", nodeSelector={ZONE: "us-east-1a"}),
    )
    assert text.endswith(
        ": Pod default/db: spec.volumes[0].persistentVolumeClaim.claimName: PersistentVolumeClaim "
        "data is bound to PersistentVolume pv-1 in zone us-east-1b, but the pod can only run in "
        "zone us-east-1a (its nodeSelector or other volumes)"
    )


def test_two_volumes_in_different_zones(tmp_path: Path) -> None:
    text = error(
        tmp_path,
        pv("pv-a", zones=["us-east-1a"]),
        pv("pv-b", labels={ZONE: "us-east-1b"}),
        pvc("a", volume="pv-a"),
        pvc("b", volume="pv-b"),
        with_claims("db", "a", "b"),
    )
    assert (
        ": Pod default/db: spec.volumes[1].persistentVolumeClaim.claimName: PersistentVolumeClaim b"
        in text
    )


def test_unbound_claims_and_missing_objects_add_no_constraint(tmp_path: Path) -> None:
    snap = load(
        tmp_path,
        storage_class("gp3"),
        pvc("wffc", storage_class="gp3"),  # provisioned where the pod lands
        pvc("lost", volume="pv-not-in-snapshot"),
        with_claims("a", "wffc", "lost", "claim-not-in-snapshot"),
    )
    assert zone_of(only_pod(snap)) is None
    assert "StorageClass" not in snap.ignored_kinds


def test_unbound_claim_limited_by_storage_class_allowed_topologies(tmp_path: Path) -> None:
    """kube-scheduler's VolumeBinding only provisions on nodes the class's
    allowedTopologies allow, WaitForFirstConsumer or not."""
    allowed = [{"matchLabelExpressions": [{"key": ZONE, "values": ["us-east-1a", "us-east-1b"]}]}]
    snap = load(
        tmp_path,
        storage_class(
            "zonal",
            allowedTopologies=allowed,
            metadata={
                "name": "zonal",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
        ),
        pvc("named", storage_class="zonal"),
        pvc("default-class"),  # no storageClassName: the default class
        with_claims("a", "named"),
        with_claims("b", "default-class"),
    )
    assert [zone_of(p) for p in snap.pods] == [
        Requirement.of(ZONE, "In", ["us-east-1a", "us-east-1b"])
    ] * 2


def test_storage_class_zones_the_pod_cannot_use(tmp_path: Path) -> None:
    allowed = [{"matchLabelExpressions": [{"key": ZONE, "values": ["us-east-1c"]}]}]
    text = error(
        tmp_path,
        storage_class("zonal", allowedTopologies=allowed),
        pvc("data", storage_class="zonal"),
        with_claims("db", "data", nodeSelector={ZONE: "us-east-1a"}),
    )
    assert text.endswith(
        ": PersistentVolumeClaim data is not bound yet, and its StorageClass zonal allows only "
        "zone us-east-1c, but the pod can only run in zone us-east-1a (its nodeSelector or "
        "other volumes)"
    )


def test_volume_whose_labels_and_node_affinity_disagree(tmp_path: Path) -> None:
    text = error(
        tmp_path,
        pv("pv-1", zones=["us-east-1a"], labels={ZONE: "us-east-1b"}),
        pvc("data", volume="pv-1"),
        with_claims("db", "data"),
    )
    assert text.endswith(
        ": Pod default/db: spec.volumes[0].persistentVolumeClaim.claimName: PersistentVolumeClaim "
        "data is bound to PersistentVolume pv-1 in no zone"
    )


def test_template_volumes_pin_deployment_pods(tmp_path: Path) -> None:
    claim = [{"name": "shared", "persistentVolumeClaim": {"claimName": "shared"}}]
    snap = load(
        tmp_path,
        pv("pv-1", zones=["eu-west-1c"]),
        pvc("shared", ns="shop", volume="pv-1"),
        deployment("web", ns="shop", volumes=claim),
    )
    assert [zone_of(p) for p in snap.pods] == [Requirement.of(ZONE, "In", ["eu-west-1c"])] * 2


def test_statefulset_pods_follow_their_own_claims(tmp_path: Path) -> None:
    sts = obj(
        "StatefulSet",
        "db",
        "shop",
        spec={
            "replicas": 3,
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "db"}]},
            },
            "volumeClaimTemplates": [
                {"metadata": {"name": "data"}, "spec": {"storageClassName": "gp3"}}
            ],
        },
    )
    snap = load(
        tmp_path,
        storage_class("gp3"),
        pv("pv-0", zones=["us-east-1a"]),
        pv("pv-1", zones=["us-east-1b"]),
        pvc("data-db-0", ns="shop", volume="pv-0"),
        pvc("data-db-1", ns="shop", volume="pv-1"),
        sts,
    )
    assert [(p.name, zone_of(p)) for p in snap.pods] == [
        ("db-0", Requirement.of(ZONE, "In", ["us-east-1a"])),
        ("db-1", Requirement.of(ZONE, "In", ["us-east-1b"])),
        ("db-2", None),  # its claim will be new, and gp3 waits for the pod
    ]


def test_claim_error_in_a_template_names_the_template_path(tmp_path: Path) -> None:
    """A pod and a template with the same spec share its parsing, not its field paths."""
    volumes = [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
    spec: dict[str, Any] = {"volumes": volumes, "nodeSelector": {ZONE: "us-east-1a"}}
    text = error(
        tmp_path,
        pv("pv-a", zones=["us-east-1a"]),
        pv("pv-b", zones=["us-east-1b"]),
        pvc("data", ns="a", volume="pv-a"),
        pvc("data", ns="b", volume="pv-b"),
        pod("web", ns="a", **spec),
        deployment("web", ns="b", **spec),
    )
    assert (
        ": Deployment b/web: spec.template.spec.volumes[0].persistentVolumeClaim.claimName: "
        in text
    )


def test_claim_without_name(tmp_path: Path) -> None:
    text = error(
        tmp_path, pod("a", volumes=[{"name": "v", "persistentVolumeClaim": {"readOnly": True}}])
    )
    assert text.endswith(
        ": Pod default/a: spec.volumes[0].persistentVolumeClaim.claimName: required field missing"
    )


def test_malformed_persistent_volume_is_located(tmp_path: Path) -> None:
    broken = obj(
        "PersistentVolume",
        "pv-1",
        spec={
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [{"matchExpressions": [{"key": ZONE, "operator": "Near"}]}]
                }
            }
        },
    )
    text = error(tmp_path, broken, pvc("data", volume="pv-1"), with_claims("db", "data"))
    assert text.endswith(
        ": PersistentVolume pv-1: spec.nodeAffinity.required.nodeSelectorTerms[0]"
        ".matchExpressions[0].operator: unknown operator 'Near'; "
        "expected one of In, NotIn, Exists, DoesNotExist, Gt, Lt"
    )


# A fixture directory as kubectl writes it


def test_zonal_fixture() -> None:
    snap = load_snapshot([FIXTURES / "zonal"])
    assert snap.ignored_kinds == {}
    by_name = {p.name: p for p in snap.pods}
    assert zone_of(by_name["postgres-0"]) == Requirement.of(ZONE, "In", ["us-east-1b"])
    web = [p for p in snap.pods if p.owner_kind == "ReplicaSet"]
    assert len(web) == 3 and len({id(p.scheduling) for p in web}) == 1
    s = web[0].scheduling
    revision = web[0].labels["pod-template-hash"]
    assert s.topology_spread == (
        TopologySpread(
            ZONE,
            1,
            "DoNotSchedule",
            reqs(("app", "In", ["web"]), ("pod-template-hash", "In", [revision])),
            min_domains=3,
        ),
    )
    assert s.preferred_pod_anti_affinity[0].namespaces == frozenset({"shop"})
    assert s.pod_affinity[0].namespaces == frozenset({"shop", "cache"})
    assert snap.daemonsets[0].scheduling.host_ports == (HostPort("TCP", 9100),)
