"""End to end: `scaler run` (a real subprocess) against the Kubernetes API stand-in and
moto_server. Pending pods become a NodeClaim and an EC2 instance; the test plays the
kubelet (creates the Node with the instance's providerID) and kube-scheduler (binds the
pods); once the pods are gone, scaler drains, deletes the node, terminates the instance."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from scaler.policy.schema import nodeclaim_crd
from tests.integration.aws.conftest import (
    CLUSTER,
    NODE_CLASS,
    REGION,
    ZONES,
    PricingReplay,
    World,
)
from tests.support.builders import node_manifest, pod_manifest
from tests.support.kube_api import KubeApi

NODEPOOL = """
apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  name: default
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
        - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.large, m5.xlarge]}
        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
"""
NC = "scaler.dev/v1alpha1"
EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "aws" / "events"
PLACEHOLDER = "i-0123456789abcdef0"


def wait_for(check: Callable[[], Any], what: str, proc: subprocess.Popen[bytes],
             log: Path, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{what}: not reached (exit {proc.poll()})\n"
                        + log.read_text()[-4000:])
        time.sleep(0.05)


def start_scaler(config: dict[str, Any], tmp_path: Path, name: str = "scaler"
                 ) -> tuple[subprocess.Popen[bytes], Path]:
    """`scaler run --config` as a subprocess, its output in a log file."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    log = tmp_path / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "scaler", "run", "--config", str(path)],
                                stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))
    return proc, log


FAST_LOOP: dict[str, Any] = {
    "leaderElection": {"leaseDuration": 3, "renewDeadline": 2, "retryPeriod": 0.3},
    "batch": {"idle": 0.3, "max": 2},
    "intervals": {"provisioningTick": 0.1, "lifecycle": 0.2, "disruption": 0.3},
    "disruption": {"emptyAfter": 1, "drainTimeout": 5, "validationDelay": 0.5,
                   "nominationTTL": 1},
    "watch": {"timeout": 5, "readTimeout": 3},
}


@pytest.fixture
def scaler_run(kube_api: KubeApi, kubeconfig: Path, world: World,
               pricing_replay: PricingReplay, tmp_path: Path
               ) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "nodepool.yaml").write_text(NODEPOOL)
    (policies / "nodeclass.yaml").write_text(NODE_CLASS)
    config = {
        **FAST_LOOP,
        "kubeconfig": str(kubeconfig),
        "policies": str(policies),
        "cloud": "aws",
        "aws": {"region": REGION, "clusterName": CLUSTER, "endpointUrl": world.url,
                "endpointUrls": {"pricing": pricing_replay.url}, "zones": list(ZONES),
                "interruptionQueue": world.queue_url},
    }
    config["intervals"] = {**FAST_LOOP["intervals"], "interruptions": 0.5}
    config["leaderElection"] = {**FAST_LOOP["leaderElection"], "identity": "e2e"}
    proc, log = start_scaler(config, tmp_path)
    try:
        yield proc, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def events(kube_api: KubeApi, reason: str) -> list[dict[str, Any]]:
    return [e for e in kube_api.objects("v1", "events") if e["reason"] == reason]


def test_scaler_run_launches_registers_and_scales_in(
        kube_api: KubeApi, world: World, scaler_run: tuple[subprocess.Popen[bytes], Path]
        ) -> None:
    proc, log = scaler_run
    for i in range(3):
        kube_api.put("v1", "pods", pod_manifest(f"web-{i}", cpu="600m", labels={"app": "web"},
                                                owner="ReplicaSet/web-abc"))

    # Pending pods -> one NodeClaim, launched as one EC2 instance (1.8 vCPU: one m5.xlarge).
    claim = wait_for(lambda: next((c for c in kube_api.objects(NC, "nodeclaims")
                                   if c.get("status", {}).get("providerID")), None),
                     "a launched NodeClaim", proc, log)
    assert len(kube_api.objects(NC, "nodeclaims")) == 1
    status = claim["status"]
    # What the controller writes is what the CRD it ships accepts.
    (version,) = nodeclaim_crd()["spec"]["versions"]
    jsonschema.validate(claim, version["schema"]["openAPIV3Schema"])
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions["Launched"] == "True"
    [instance] = world.instances()
    assert status["providerID"] == f"aws:///{status['zone']}/{instance['InstanceId']}"
    assert world.tags(instance["InstanceId"])["karpenter.sh/nodeclaim"] == \
        claim["metadata"]["name"]
    nominated = wait_for(lambda: len(events(kube_api, "Nominated")) >= 3 and
                         events(kube_api, "Nominated"), "Nominated events", proc, log)
    assert {e["involvedObject"]["name"] for e in nominated} == {"web-0", "web-1", "web-2"}
    assert all(f"nodeclaim/{claim['metadata']['name']}" in e["message"] for e in nominated)
    time.sleep(1.0)  # more batches pass while the node is in flight: no second launch
    assert len(world.instances()) == 1

    # The kubelet registers the node (with the labels it knows itself); kube-scheduler binds
    # the pods there.
    node_name = f"ip-10-0-0-1.{REGION}.compute.internal"
    kubelet_labels = {"kubernetes.io/hostname": node_name, "kubernetes.io/os": "linux",
                      "node.kubernetes.io/instance-type": status["instanceType"],
                      "topology.kubernetes.io/zone": status["zone"]}
    kube_api.put("v1", "nodes", node_manifest(node_name, status["providerID"],
                                              labels=kubelet_labels,
                                              allocatable=status["allocatable"]))
    for i in range(3):
        kube_api.put("v1", "pods", pod_manifest(f"web-{i}", node=node_name, cpu="600m",
                                                labels={"app": "web"}, owner="ReplicaSet/web-abc"))
    kube_api.put("v1", "pods", pod_manifest("agent", node=node_name, owner="DaemonSet/agent"))

    def registered() -> bool:
        c = kube_api.get(NC, "nodeclaims", claim["metadata"]["name"]) or {}
        conds = {x["type"]: x["status"] for x in c.get("status", {}).get("conditions", [])}
        return c.get("status", {}).get("nodeName") == node_name and \
            conds.get("Registered") == "True" and conds.get("Initialized") == "True"

    wait_for(registered, "the NodeClaim registered and initialized", proc, log)
    # Registration gave the node the claim's labels (Karpenter's sync), kubelet's kept.
    labels = (kube_api.get("v1", "nodes", node_name) or {})["metadata"]["labels"]
    assert labels["karpenter.sh/nodepool"] == "default"
    assert labels["scaler.dev/nodeclaim"] == claim["metadata"]["name"]
    assert labels["karpenter.sh/capacity-type"] == "on-demand"
    assert labels["kubernetes.io/hostname"] == node_name
    time.sleep(1.5)  # longer than emptyAfter: a busy node is not touched
    assert kube_api.get("v1", "nodes", node_name) is not None

    # The workload goes away: only the DaemonSet pod is left, so the node is empty.
    for i in range(3):
        kube_api.delete("v1", "pods", f"web-{i}", "default")
    wait_for(lambda: kube_api.get("v1", "nodes", node_name) is None, "the node deleted",
             proc, log)
    wait_for(lambda: not kube_api.objects(NC, "nodeclaims"), "the NodeClaim deleted", proc, log)
    assert world.state(instance["InstanceId"]) in ("shutting-down", "terminated")
    [consolidated] = wait_for(lambda: events(kube_api, "Consolidated"), "a Consolidated event",
                              proc, log)
    assert consolidated["involvedObject"]["name"] == claim["metadata"]["name"]
    assert "Empty" in consolidated["message"]
    assert events(kube_api, "Launched") and events(kube_api, "Registered")

    # Graceful shutdown: exit 0, the Lease released for the next replica.
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0, log.read_text()[-3000:]
    lease = kube_api.get("coordination.k8s.io/v1", "leases", "scaler", "kube-system")
    assert lease is not None and not lease["spec"].get("holderIdentity")
    text = log.read_text()
    assert "Traceback" not in text
    assert "summary: " in text and "1 nodes launched, 1 registered, 1 disrupted" in text


def launched_claim(kube_api: KubeApi, proc: subprocess.Popen[bytes], log: Path,
                   exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    return wait_for(lambda: next((c for c in kube_api.objects(NC, "nodeclaims")
                                  if c.get("status", {}).get("providerID")
                                  and c["metadata"]["name"] not in exclude), None),
                    "a launched NodeClaim", proc, log)


def register(kube_api: KubeApi, claim: dict[str, Any], node_name: str,
             pods: list[str]) -> None:
    """The kubelet registers the claim's node; kube-scheduler binds `pods` there."""
    status = claim["status"]
    kube_api.put("v1", "nodes", node_manifest(node_name, status["providerID"],
                                              labels=claim["metadata"]["labels"],
                                              allocatable=status["allocatable"]))
    for name in pods:
        kube_api.put("v1", "pods", pod_manifest(name, node=node_name, cpu="600m",
                                                labels={"app": "web"},
                                                owner="ReplicaSet/web-abc"))


def test_a_spot_interruption_drains_the_node_and_provisioning_replaces_it(
        kube_api: KubeApi, world: World, scaler_run: tuple[subprocess.Popen[bytes], Path]
        ) -> None:
    proc, log = scaler_run
    names = [f"web-{i}" for i in range(3)]
    for name in names:
        kube_api.put("v1", "pods", pod_manifest(name, cpu="600m", labels={"app": "web"},
                                                owner="ReplicaSet/web-abc"))
    first = launched_claim(kube_api, proc, log)
    node_name = f"ip-10-0-0-1.{REGION}.compute.internal"
    register(kube_api, first, node_name, names)
    [instance] = world.instances()
    iid = instance["InstanceId"]

    # EventBridge puts the two-minute warning on the queue.
    body = (EVENTS / "spot_interruption.json").read_text().replace(PLACEHOLDER, iid)
    world.sqs.send_message(QueueUrl=world.queue_url, MessageBody=body)
    wait_for(lambda: kube_api.get("v1", "nodes", node_name) is None, "the node deleted",
             proc, log)
    wait_for(lambda: kube_api.get(NC, "nodeclaims", first["metadata"]["name"]) is None,
             "the interrupted claim deleted", proc, log)
    assert world.state(iid) in ("shutting-down", "terminated")
    [warning] = wait_for(lambda: events(kube_api, "SpotInterrupted"), "SpotInterrupted",
                         proc, log)
    assert warning["involvedObject"]["name"] == first["metadata"]["name"]
    # Capacity for the pods was launched before they were evicted (through the Eviction
    # API); their ReplicaSet makes new ones, which go to it: no further launch.
    assert kube_api.count("POST", "/eviction") == 3
    assert kube_api.count("POST", "/nodeclaims") == 2
    for name in names:
        kube_api.put("v1", "pods", pod_manifest(f"{name}-new", cpu="600m", labels={"app": "web"},
                                                owner="ReplicaSet/web-abc"))
    second = launched_claim(kube_api, proc, log, frozenset({first["metadata"]["name"]}))
    nominated = wait_for(lambda: [e for e in events(kube_api, "Nominated")
                                  if e["involvedObject"]["name"].endswith("-new")],
                         "the new pods nominated", proc, log)
    assert all(second["metadata"]["name"] in e["message"] for e in nominated)
    time.sleep(0.5)
    assert kube_api.count("POST", "/nodeclaims") == 2
    [replacement] = world.instances()
    assert replacement["InstanceId"] != iid
    assert second["status"]["providerID"].endswith(replacement["InstanceId"])

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0, log.read_text()[-3000:]
    assert "1 interrupted" in log.read_text()
    assert not world.sqs.receive_message(QueueUrl=world.queue_url).get("Messages")


def test_a_node_whose_instance_stopped_is_replaced_and_its_offering_avoided(
        kube_api: KubeApi, world: World, scaler_run: tuple[subprocess.Popen[bytes], Path]
        ) -> None:
    """No interruption event arrives (none is sent): the lifecycle pass finds the NotReady
    node's instance stopped, drains and deletes the node, terminates the instance, deletes
    the claim; the pods' replacements get a new claim, not of the stopped offering. A
    NotReady node whose instance still runs is left alone (the kubelet may come back)."""
    proc, log = scaler_run
    names = [f"web-{i}" for i in range(3)]
    for name in names:
        kube_api.put("v1", "pods", pod_manifest(name, cpu="600m", labels={"app": "web"},
                                       owner="ReplicaSet/web-abc"))
    first = launched_claim(kube_api, proc, log)
    node_name = f"ip-10-0-0-1.{REGION}.compute.internal"
    register(kube_api, first, node_name, names)
    wait_for(lambda: events(kube_api, "Registered"), "the claim registered", proc, log)
    [instance] = world.instances()
    iid = instance["InstanceId"]

    def not_ready() -> None:
        node = kube_api.get("v1", "nodes", node_name)
        node["status"]["conditions"] = [{"type": "Ready", "status": "Unknown"}]
        kube_api.put("v1", "nodes", node)

    not_ready()  # the kubelet stopped posting, the instance still runs
    time.sleep(1.5)  # several lifecycle passes (0.2 s)
    assert kube_api.get("v1", "nodes", node_name) is not None
    assert world.state(iid) == "running" and not events(kube_api, "InstanceStopped")

    world.ec2.stop_instances(InstanceIds=[iid])
    wait_for(lambda: kube_api.get("v1", "nodes", node_name) is None, "the node deleted",
             proc, log)
    wait_for(lambda: kube_api.get(NC, "nodeclaims", first["metadata"]["name"]) is None,
             "the claim deleted", proc, log)
    assert world.state(iid) in ("shutting-down", "terminated")
    [warning] = events(kube_api, "InstanceStopped")
    assert warning["involvedObject"]["name"] == first["metadata"]["name"]
    assert kube_api.count("POST", "/eviction") == 3
    for name in names:  # their ReplicaSet makes them again
        kube_api.put("v1", "pods", pod_manifest(f"{name}-new", cpu="600m", labels={"app": "web"},
                                       owner="ReplicaSet/web-abc"))
    second = launched_claim(kube_api, proc, log, frozenset({first["metadata"]["name"]}))
    old = (first["status"]["instanceType"], first["status"]["zone"])
    assert (second["status"]["instanceType"], second["status"]["zone"]) != old
