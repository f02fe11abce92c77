"""The chaos suite's rig: the real `scaler run` process, the Kubernetes API stand-in,
moto_server, the cluster simulator, fault proxies, and a compressed clock.

The clock: every duration `scaler run` is configured with (loop intervals, batch windows,
validation delay, emptiness grace, Lease timings, NodePool consolidateAfter) and every
duration the cluster plays (node registration) is its production value divided by `SCALE`,
so one wall second is `SCALE` seconds of controller time (`ctl()` converts). Figures the
tests print are in controller time unless they say "wall".
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chaos.cluster import ClusterSim
from tests.integration.aws.conftest import (  # noqa: F401  (moto fixtures)
    CLUSTER,
    NODE_CLASS,
    REGION,
    ZONES,
    PricingReplay,
    World,
    boto_session,
    dummy_credentials,
    free_port,
    moto,
    moto_server,
    pricing_replay,
    world,
)
from tests.support.http_faults import HttpFaultProxy
from tests.support.kube_api import KubeApi

SCALE = 10.0  # controller seconds per wall second
REGISTRATION = 30.0  # controller seconds from launch to a Ready node (EC2 boot + kubelet)
NC = "scaler.dev/v1alpha1"


def ctl(seconds: float) -> float:
    """Controller seconds -> wall seconds."""
    return seconds / SCALE


def nodepool(name: str = "default", *, policy: str = "WhenEmptyOrUnderutilized",
             after: float = 30.0, capacity: tuple[str, ...] = ("on-demand",),
             types: tuple[str, ...] = ("m5.large", "m5.xlarge")) -> str:
    return yaml.safe_dump({
        "apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": name},
        "spec": {
            "template": {"spec": {
                "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass",
                                 "name": "default"},
                "requirements": [
                    {"key": "node.kubernetes.io/instance-type", "operator": "In",
                     "values": list(types)},
                    {"key": "karpenter.sh/capacity-type", "operator": "In",
                     "values": list(capacity)}]}},
            "disruption": {"consolidationPolicy": policy,
                           # Karpenter's durations are whole seconds: 30 s becomes 3 s at SCALE 10.
                           "consolidateAfter": f"{round(ctl(after))}s"},
        }})


def loop_config(**over: Any) -> dict[str, Any]:
    """`scaler run`'s production defaults (scaler/runtime/settings.py), divided by SCALE."""
    cfg: dict[str, Any] = {
        "logLevel": "INFO",
        "leaderElection": {"leaseDuration": ctl(15), "renewDeadline": ctl(10),
                           "retryPeriod": ctl(2)},
        "batch": {"idle": ctl(1), "max": ctl(10)},
        "intervals": {"provisioningTick": 0.05, "lifecycle": ctl(2), "disruption": ctl(10),
                      "garbageCollection": ctl(60), "policySync": ctl(60),
                      "costAccrual": ctl(60), "interruptions": ctl(5)},
        "disruption": {"validationDelay": ctl(15), "nominationTTL": ctl(20),
                       "emptyAfter": ctl(30), "drainTimeout": ctl(60),
                       "registrationTTL": ctl(900)},
        "watch": {"timeout": 5, "readTimeout": 3},
    }
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


class Scaler:
    """One `scaler run --config` subprocess with its log; `kill()` is kill -9."""

    def __init__(self, config: dict[str, Any], tmp: Path, name: str) -> None:
        self.config, self.tmp, self.name = config, tmp, name
        self.path = tmp / f"{name}.yaml"
        self.path.write_text(yaml.safe_dump(config))
        self.log = tmp / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> Scaler:
        self.starts += 1
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "scaler", "run", "--config", str(self.path)],
                stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def healthz(self) -> int:
        port = self.config.get("httpPort")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                return int(r.status)
        except urllib.error.HTTPError as e:
            return int(e.code)
        except OSError:
            return 0


def wait_for(check: Callable[[], Any], what: str, timeout: float,
             procs: tuple[Scaler, ...] = ()) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.name}\n{p.text()[-3000:]}" for p in procs)
            pytest.fail(f"{what}: not reached within {timeout:.1f}s wall\n{logs}")
        time.sleep(0.05)


@pytest.fixture
def kube_api() -> Iterator[KubeApi]:
    api = KubeApi(bookmark_interval=0.2).start()
    yield api
    api.stop()


@pytest.fixture
def rig(kube_api: KubeApi, world: World, pricing_replay: PricingReplay,  # noqa: F811
        tmp_path: Path) -> Iterator[Callable[..., Scaler]]:
    """make(policies_yaml, name=..., kube_url=..., ec2_url=..., **config) -> a started
    scaler; every process it made is killed at the end."""
    made: list[Scaler] = []

    def make(pool: str, *, name: str = "scaler", kube_url: str | None = None,
             aws_url: str | None = None, start: bool = True, **over: Any) -> Scaler:
        policies = tmp_path / f"policies-{name}"
        policies.mkdir(exist_ok=True)
        (policies / "nodepool.yaml").write_text(pool)
        (policies / "nodeclass.yaml").write_text(NODE_CLASS)
        kubeconfig = tmp_path / f"kubeconfig-{name}"
        kubeconfig.write_text(kube_api.kubeconfig().replace(kube_api.url,
                                                            kube_url or kube_api.url))
        aws = {"region": REGION, "clusterName": CLUSTER, "endpointUrl": aws_url or world.url,
               "endpointUrls": {"pricing": pricing_replay.url}, "zones": list(ZONES),
               "interruptionQueue": world.queue_url,
               "unavailableOfferingsTTL": ctl(180)}
        config = loop_config(kubeconfig=str(kubeconfig), policies=str(policies),
                             cloud="aws", aws=aws, httpPort=free_port(), **over)
        config["leaderElection"] = {**config["leaderElection"], "identity": name}
        s = Scaler(config, tmp_path, name)
        made.append(s)
        return s.start() if start else s

    yield make
    for s in made:
        s.kill()


@pytest.fixture
def cluster(kube_api: KubeApi) -> Iterator[Callable[..., ClusterSim]]:
    """make(cls=ClusterSim, **options) -> a started cluster simulator on the API stand-in,
    nodes registering REGISTRATION after their launch unless `register_after` says
    otherwise; every one it made is stopped at the end."""
    made: list[ClusterSim] = []

    def make(cls: type[ClusterSim] = ClusterSim, **options: Any) -> ClusterSim:
        options.setdefault("register_after", ctl(REGISTRATION))
        sim = cls(kube_api, **options)
        made.append(sim)
        return sim.start()

    yield make
    for sim in made:
        sim.stop()


@pytest.fixture
def ec2_proxy(world: World) -> Iterator[HttpFaultProxy]:  # noqa: F811
    """A fault proxy in front of moto (no faults until a test adds some), stopped at the end."""
    proxy = HttpFaultProxy(world.url).start()
    yield proxy
    proxy.stop()


def instance_state(aws: World) -> Callable[[str], bool | None]:
    """providerID -> True (pending/running), False (stopping/stopped), None (gone)."""
    def alive(provider_id: str) -> bool | None:
        iid = provider_id.rsplit("/", 1)[-1]
        try:
            state = aws.state(iid)
        except Exception:
            return None
        return {"pending": True, "running": True, "stopping": False,
                "stopped": False}.get(state)
    return alive


def scaler_instances(aws: World) -> list[dict[str, Any]]:
    """Pending or running instances scaler launched (tagged with their node claim)."""
    return [i for i in aws.instances()
            if any(t["Key"] == "karpenter.sh/nodeclaim" for t in i.get("Tags", []))]


def launches_per_claim(aws: World) -> dict[str, int]:
    """Node claim name -> instances ever launched for it (any state): above 1 is a double
    launch."""
    out: dict[str, int] = {}
    for i in aws.instances(("pending", "running", "shutting-down", "terminated",
                              "stopping", "stopped")):
        for t in i.get("Tags", []):
            if t["Key"] == "karpenter.sh/nodeclaim":
                out[t["Value"]] = out.get(t["Value"], 0) + 1
    return out
