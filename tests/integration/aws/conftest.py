"""moto_server on 127.0.0.1, driven by real boto3 over HTTP, with a fault proxy in front.

One moto_server process serves the session (it is reset before each test); each test gets
its own fault proxy, Price List replay server, VPC, subnets, security group, AMIs, node role
and interruption queue. Credentials are dummies from the environment (boto3's standard chain).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from pricing import load_catalog
from scaler.adapters.aws import AwsCloudProvider, AwsConfig, Backoff, parse_ec2_node_class
from scaler.adapters.aws.config import new_session
from scaler.adapters.aws.nodeclass import NodeClass, NodeClassSet
from scaler.core.model import NodePool
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.ports.cloud import NodeClaimRequest
from tests.integration.aws.faults import FaultProxy
from tests.integration.aws.pricing_replay import PricingReplay, load_recording

REGION = "eu-west-1"
ZONES = ("eu-west-1a", "eu-west-1b", "eu-west-1c")
CLUSTER = "test-cluster"
ROLE = f"KarpenterNodeRole-{CLUSTER}"
ACCESS_KEY_ID = "AKIASCALERTEST000001"
SECRET_ACCESS_KEY = "scalerTEST/secret+key/DO-NOT-LOG/0123456789"
SESSION_TOKEN = "scalerTESTsessionTOKEN/DO-NOT-LOG/IQoJb3JpZ2luX2VjEJr"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _moto_server_command(port: int) -> list[str]:
    exe = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or shutil.which(
        "moto_server")
    if exe is None:
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    return [exe, "-H", "127.0.0.1", "-p", str(port)]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """Start moto_server on a free port, wait until it answers, kill it at the end."""
    port = free_port()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(_moto_server_command(port), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"moto_server exited: {log.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not answer within 30 s") from None
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def moto(moto_server: str) -> str:
    """moto_server, emptied of every resource the previous test made."""
    req = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(req, timeout=10):
        pass
    return moto_server


@pytest.fixture(autouse=True)
def dummy_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only boto3's environment credentials; never a real profile, role or metadata."""
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN",
                "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def proxy(moto: str) -> Iterator[FaultProxy]:
    p = FaultProxy(moto).start()
    yield p
    p.stop()


@pytest.fixture
def pricing_replay() -> Iterator[PricingReplay]:
    r = PricingReplay(load_recording(REGION)).start()
    yield r
    r.stop()


@pytest.fixture(scope="session")
def boto_session() -> Any:
    return new_session(region=REGION)


def client(session: Any, service: str, url: str) -> Any:
    """A boto3 client straight to moto (the test's own view of AWS, not through the proxy)."""
    return session.client(service, endpoint_url=url)


@dataclass
class World:
    url: str
    ec2: Any
    sqs: Any
    vpc: str
    subnets: dict[str, str]  # zone -> subnet id (tagged for discovery)
    other_subnet: str  # not tagged: never selected
    security_group: str
    amis: dict[str, str]  # arch -> image id (tagged)
    spare_amis: dict[str, str]  # arch -> another image (untagged)
    queue_url: str
    node_class: NodeClass

    def instances(self, states: tuple[str, ...] = ("pending", "running")) -> list[dict[str, Any]]:
        pages = self.ec2.describe_instances(
            Filters=[{"Name": "instance-state-name", "Values": list(states)}])
        return [i for r in pages["Reservations"] for i in r["Instances"]]

    def state(self, instance_id: str) -> str:
        found = self.ec2.describe_instances(InstanceIds=[instance_id])
        return str(found["Reservations"][0]["Instances"][0]["State"]["Name"])

    def tags(self, instance_id: str) -> dict[str, str]:
        found = self.ec2.describe_instances(InstanceIds=[instance_id])
        inst = found["Reservations"][0]["Instances"][0]
        return {t["Key"]: t["Value"] for t in inst.get("Tags", [])}


NODE_CLASS = f"""
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata:
  name: default
spec:
  role: {ROLE}
  amiSelectorTerms:
    - tags:
        scaler-test/ami: node
  subnetSelectorTerms:
    - tags:
        karpenter.sh/discovery: {CLUSTER}
  securityGroupSelectorTerms:
    - tags:
        karpenter.sh/discovery: {CLUSTER}
  userData: |
    #!/bin/bash
    echo "joining {CLUSTER}"
  blockDeviceMappings:
    - deviceName: /dev/xvda
      ebs:
        volumeSize: 100Gi
        volumeType: gp3
        encrypted: true
  tags:
    team: platform
"""


@pytest.fixture
def world(moto: str, boto_session: Any) -> World:
    ec2 = client(boto_session, "ec2", moto)
    discovery = [{"Key": "karpenter.sh/discovery", "Value": CLUSTER}]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = {}
    for i, zone in enumerate(ZONES):
        subnets[zone] = ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=zone,
            TagSpecifications=[{"ResourceType": "subnet", "Tags": discovery}],
        )["Subnet"]["SubnetId"]
    other = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.9.0/24",
                              AvailabilityZone=ZONES[0])["Subnet"]["SubnetId"]
    # The nodes' security group is the one moto gives every instance its CreateFleet
    # launches (the default VPC's `default`: moto ignores a launch template's
    # SecurityGroupIds), so the NodeClass selects what the instances carry, as on EC2, and
    # security-group drift is judged against the truth.
    [default_vpc] = ec2.describe_vpcs(
        Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    [group] = ec2.describe_security_groups(Filters=[
        {"Name": "group-name", "Values": ["default"]},
        {"Name": "vpc-id", "Values": [default_vpc["VpcId"]]}])["SecurityGroups"]
    sg = group["GroupId"]
    ec2.create_tags(Resources=[sg], Tags=discovery)
    # moto's copies of Amazon Linux 2023 AMIs (a narrow query: listing all is slow).
    images = ec2.describe_images(
        Owners=["amazon"], Filters=[{"Name": "name", "Values": ["al2023-ami-2023.*"]}])["Images"]
    by_arch: dict[str, list[str]] = {"amd64": [], "arm64": []}
    for img in sorted(images, key=lambda i: i["ImageId"]):
        arch = {"x86_64": "amd64", "arm64": "arm64"}.get(img.get("Architecture", ""))
        if arch and img.get("State") == "available":
            by_arch[arch].append(img["ImageId"])
    amis = {a: ids[0] for a, ids in by_arch.items()}
    spare = {a: ids[1] for a, ids in by_arch.items()}
    ec2.create_tags(Resources=list(amis.values()),
                    Tags=[{"Key": "scaler-test/ami", "Value": "node"}])
    iam = client(boto_session, "iam", moto)
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                       "Action": "sts:AssumeRole"}],
    }))
    sqs = client(boto_session, "sqs", moto)
    queue = sqs.create_queue(QueueName=f"{CLUSTER}-interruptions")["QueueUrl"]
    node_class = parse_ec2_node_class(yaml.safe_load(NODE_CLASS), "nodeclass.yaml")
    return World(moto, ec2, sqs, vpc, subnets, other, sg, amis, spare, queue, node_class)


@dataclass
class Sleeps:
    """Backoff sleeps, recorded instead of slept."""

    delays: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@dataclass
class Rig:
    world: World
    proxy: FaultProxy
    pricing: PricingReplay
    sleeps: Sleeps
    make: Callable[..., AwsCloudProvider]


@pytest.fixture
def rig(world: World, proxy: FaultProxy, pricing_replay: PricingReplay) -> Rig:
    sleeps = Sleeps()

    def make(node_classes: NodeClassSet | dict[str, NodeClass] | None = None,
             backoff: Backoff | None = None, pricing_url: str | None = None,
             kubernetes_version: str | None = None, **kwargs: Any) -> AwsCloudProvider:
        config = AwsConfig(
            REGION, CLUSTER, endpoint_url=proxy.url,
            endpoint_urls={"pricing": pricing_url or pricing_replay.url},
            interruption_queue=world.queue_url, kubernetes_version=kubernetes_version,
        )
        return AwsCloudProvider(
            config,
            node_classes or {"default": world.node_class},
            backoff=backoff or Backoff(base=0.2, cap=5.0, max_attempts=5, sleep=sleeps),
            **kwargs,
        )

    return Rig(world, proxy, pricing_replay, sleeps, make)


def claim_request(provider: AwsCloudProvider, pool: NodePool, name: str,
                  live: bool = False) -> NodeClaimRequest:
    """What the scheduler hands the cloud for one claim of `pool`: its ranked offerings.

    From the provider's live instance types, or (faster: no price refresh) from the bundled
    catalog of the world's zones.
    """
    types = provider.instance_types(pool) if live else load_catalog(REGION, ZONES).instance_types
    table = InstanceTypeTable(types)
    idx = table.mask(pool.requirements).nonzero()[0]
    options = table.options(idx, pool.requirements, 60)
    return NodeClaimRequest(name, pool.name, pool.requirements, options)
