"""`scaler run` against the API stand-in with the simulated cloud: dry-run changes nothing
but says what it would do; of two replicas only the Lease holder acts, and the other takes
over when the holder dies."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.integration.kubernetes.test_run_e2e import FAST_LOOP, events, start_scaler, wait_for
from tests.support.builders import pod_manifest
from tests.support.kube_api import KubeApi

NC = "scaler.dev/v1alpha1"


def config(kubeconfig: Path, identity: str, **extra: Any) -> dict[str, Any]:
    return {**FAST_LOOP, "kubeconfig": str(kubeconfig), "cloud": "simulated",
            "aws": {"region": "us-east-1"},
            "leaderElection": {**FAST_LOOP["leaderElection"], "identity": identity}, **extra}


def stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=10)


def test_dry_run_emits_events_and_changes_nothing(kube_api: KubeApi, kubeconfig: Path,
                                                 tmp_path: Path) -> None:
    kube_api.put("v1", "pods", pod_manifest("web-0", cpu="500m", owner="ReplicaSet/web"))
    kube_api.put("v1", "pods", pod_manifest("huge", cpu="5000", owner="ReplicaSet/huge"))
    proc, log = start_scaler(config(kubeconfig, "dry", dryRun=True), tmp_path)
    try:
        [nominated] = wait_for(lambda: events(kube_api, "Nominated"), "Nominated", proc, log)
        assert nominated["involvedObject"]["name"] == "web-0"
        assert nominated["message"].startswith("dry run: pod would schedule on nodeclaim/")
        [failed] = wait_for(lambda: events(kube_api, "FailedScheduling"), "FailedScheduling",
                            proc, log)
        assert failed["involvedObject"]["name"] == "huge" and failed["type"] == "Warning"
        assert "instance type" in failed["message"] or "cpu" in failed["message"]
        time.sleep(1.0)
        assert kube_api.objects(NC, "nodeclaims") == []
        writes = [r for r in kube_api.requests if r.method != "GET"
                  and "/events" not in r.path and "/leases" not in r.path]
        assert writes == []
        assert stop(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "dry run: would launch node claim" in log.read_text()


def test_two_replicas_only_the_leader_launches_and_the_other_takes_over(
        kube_api: KubeApi, kubeconfig: Path, tmp_path: Path) -> None:
    procs = {name: start_scaler(config(kubeconfig, name), tmp_path, name)
             for name in ("replica-a", "replica-b")}
    try:
        lease = wait_for(lambda: (kube_api.get("coordination.k8s.io/v1", "leases", "scaler",
                                               "kube-system") or {}).get("spec", {}).get(
                                                   "holderIdentity"),
                         "a leader", *procs["replica-a"])
        leader, follower = lease, ({"replica-a", "replica-b"} - {lease}).pop()
        time.sleep(0.5)  # both caches synced; both would launch if the fence let them
        kube_api.put("v1", "pods", pod_manifest("web-0", cpu="500m", owner="ReplicaSet/web"))
        wait_for(lambda: [c for c in kube_api.objects(NC, "nodeclaims")
                          if c.get("status", {}).get("providerID")],
                 "a launched claim", *procs[leader])
        time.sleep(1.0)
        assert len(kube_api.objects(NC, "nodeclaims")) == 1
        assert {e["reportingInstance"] for e in kube_api.objects("v1", "events")} == {leader}

        # The leader dies without releasing the Lease; the follower takes over on expiry.
        procs[leader][0].kill()
        procs[leader][0].wait()
        died = time.monotonic()
        kube_api.put("v1", "pods", pod_manifest("big", cpu="6", owner="ReplicaSet/big"))
        wait_for(lambda: len([c for c in kube_api.objects(NC, "nodeclaims")
                              if c.get("status", {}).get("providerID")]) == 2,
                 "a second claim, from the new leader", *procs[follower])
        assert time.monotonic() - died >= 2.5  # not before the 3 s lease expired
        holder = kube_api.get("coordination.k8s.io/v1", "leases", "scaler", "kube-system")
        assert holder is not None and holder["spec"]["holderIdentity"] == follower
        launched = wait_for(lambda: len(events(kube_api, "Launched")) == 2
                            and events(kube_api, "Launched"), "two Launched events",
                            *procs[follower])
        assert [e["reportingInstance"] for e in launched] == [leader, follower]
        assert stop(procs[follower][0]) == 0
    finally:
        for proc, _ in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
