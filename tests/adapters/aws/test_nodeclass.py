"""EC2NodeClass objects: read as Karpenter writes them, one-line errors, the launch template."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from scaler.adapters.aws.nodeclass import (
    Image,
    ResolvedNodeClass,
    Subnet,
    launch_template_data,
    load_node_classes,
    parse_ec2_node_class,
    static_hash,
    template_name,
)
from scaler.errors import UserError
from tests.support.paths import REPO

ROOT = REPO

GOOD = """
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: default}
spec:
  role: KarpenterNodeRole-my-cluster
  amiSelectorTerms: [{id: ami-0123}]
  subnetSelectorTerms: [{tags: {karpenter.sh/discovery: my-cluster}}, {id: subnet-9}]
  securityGroupSelectorTerms: [{name: nodes}]
  userData: "#!/bin/bash\\necho hi\\n"
  blockDeviceMappings:
    - deviceName: /dev/xvda
      ebs: {volumeSize: 100Gi, volumeType: gp3, encrypted: true, iops: 3000}
  metadataOptions: {httpPutResponseHopLimit: 2}
  tags: {team: platform}
  kubelet: {maxPods: 110}
"""


def doc(**spec_changes: Any) -> dict[str, Any]:
    d: dict[str, Any] = yaml.safe_load(GOOD)
    for k, v in spec_changes.items():
        if v is None:
            d["spec"].pop(k, None)
        else:
            d["spec"][k] = v
    return d


def test_a_node_class_as_karpenter_writes_it() -> None:
    nc = parse_ec2_node_class(doc(), "nc.yaml")
    assert nc.name == "default" and nc.role == "KarpenterNodeRole-my-cluster"
    assert [t.tags for t in nc.subnet_terms] == [{"karpenter.sh/discovery": "my-cluster"}, {}]
    assert nc.subnet_terms[1].id == "subnet-9"
    assert nc.block_devices[0].volume_size_gib == 100
    assert nc.metadata_options.http_tokens == "required"
    assert nc.metadata_options.http_put_response_hop_limit == 2


def test_the_bundled_policy_repo_loads_with_its_node_pools_references() -> None:
    found = load_node_classes(ROOT / "policies")
    assert set(found.classes) == {"default"}
    assert found.classes["default"].ami_terms[0].alias == "al2023@latest"
    assert set(found.pool_refs.values()) == {"default"}


@pytest.mark.parametrize(("change", "message"), [
    ({"metadataOptions": {"httpTokens": "optional"}},
     "nc.yaml: EC2NodeClass default: spec.metadataOptions.httpTokens: 'optional' refused: "
     "scaler requires IMDSv2 (httpTokens: required)"),
    ({"instanceProfile": "prof"},
     "nc.yaml: EC2NodeClass default: spec.role: set exactly one of role and instanceProfile "
     "(both are set)"),
    ({"subnetSelectorTerms": []},
     "nc.yaml: EC2NodeClass default: spec.subnetSelectorTerms: needs at least one term"),
    ({"amiSelectorTerms": [{"id": "ami-1", "name": "x"}]},
     "nc.yaml: EC2NodeClass default: spec.amiSelectorTerms[0]: id cannot be combined with other "
     "fields"),
    ({"amiSelectorTerms": [{"alias": "al2023"}]},
     "nc.yaml: EC2NodeClass default: spec.amiSelectorTerms[0].alias: invalid AMI alias 'al2023' "
     "(expected family@version, e.g. al2023@latest)"),
    ({"tags": {"karpenter.sh/nodepool": "x"}},
     "nc.yaml: EC2NodeClass default: spec.tags.karpenter.sh/nodepool: this tag is set by scaler "
     "and cannot be overridden"),
    ({"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": "12Q"}}]},
     "nc.yaml: EC2NodeClass default: spec.blockDeviceMappings[0].ebs.volumeSize: invalid "
     "quantity '12Q': unknown suffix 'Q'"),
    ({"subnetSelectorTerms": [{"zone": "a"}]},
     "nc.yaml: EC2NodeClass default: spec.subnetSelectorTerms[0].zone: unknown field; expected "
     "id, tags"),
])
def test_mistakes_are_one_line_naming_file_object_and_field(change: dict[str, Any],
                                                            message: str) -> None:
    with pytest.raises(UserError) as err:
        parse_ec2_node_class(doc(**change), "nc.yaml")
    assert str(err.value) == message


def resolved() -> ResolvedNodeClass:
    nc = parse_ec2_node_class(doc(), "nc.yaml")
    return ResolvedNodeClass(
        node_class=nc,
        subnets=(Subnet("subnet-a", "eu-west-1a", 200), Subnet("subnet-a2", "eu-west-1a", 900),
                 Subnet("subnet-b", "eu-west-1b", 10)),
        security_groups=("sg-1",),
        images={"amd64": Image("ami-x86", "amd64", "al2023", "2026-01-01"),
                "arm64": Image("ami-arm", "arm64", "al2023", "2026-01-01")},
        all_image_ids=frozenset({"ami-x86", "ami-arm"}),
        instance_profile="my-cluster_abc",
    )


def test_the_launch_template_requires_imdsv2_and_carries_the_node_class() -> None:
    r = resolved()
    data = launch_template_data(r, "arm64", "my-cluster")
    assert data["ImageId"] == "ami-arm"
    assert data["MetadataOptions"] == {"HttpEndpoint": "enabled", "HttpProtocolIpv6": "disabled",
                                       "HttpPutResponseHopLimit": 2, "HttpTokens": "required"}
    assert data["IamInstanceProfile"] == {"Name": "my-cluster_abc"}
    assert data["SecurityGroupIds"] == ["sg-1"]
    # kubelet maxPods 110 rides along as a nodeadm NodeConfig; the user's script follows.
    user_data = base64.b64decode(data["UserData"]).decode()
    assert "maxPods: 110" in user_data and "#!/bin/bash\necho hi\n" in user_data
    assert data["BlockDeviceMappings"] == [{"DeviceName": "/dev/xvda", "Ebs": {
        "DeleteOnTermination": True, "VolumeSize": 100, "VolumeType": "gp3", "Iops": 3000,
        "Encrypted": True}}]
    volume_tags = {t["Key"]: t["Value"] for t in data["TagSpecifications"][0]["Tags"]}
    assert volume_tags == {"team": "platform", "kubernetes.io/cluster/my-cluster": "owned",
                           "eks:eks-cluster-name": "my-cluster"}
    # Named by content: same data, same template; changed data, a new one.
    name = template_name("my-cluster", r.node_class, data)
    assert name == template_name("my-cluster", r.node_class, dict(data))
    assert name != template_name("my-cluster", r.node_class,
                                 launch_template_data(r, "amd64", "my-cluster"))
    assert r.subnet_for("eu-west-1a") == Subnet("subnet-a2", "eu-west-1a", 900)  # most free IPs
    assert r.subnet_for("eu-west-1c") is None


def test_the_static_hash_changes_with_fields_only_a_new_instance_picks_up() -> None:
    base = parse_ec2_node_class(doc(), "nc.yaml")
    assert static_hash(base) == static_hash(parse_ec2_node_class(doc(), "other.yaml"))
    assert static_hash(base) != static_hash(parse_ec2_node_class(doc(userData="#!/bin/sh"), ""))
    # Selectors are checked against what they select, not hashed.
    assert static_hash(base) == static_hash(
        parse_ec2_node_class(doc(securityGroupSelectorTerms=[{"id": "sg-2"}]), ""))


def test_karpenter_launch_fields_reach_the_launch_template_and_fleet() -> None:
    import dataclasses

    import yaml

    from scaler.adapters.aws.fleet import Override, fleet_request
    from scaler.core.scheduling.instancetypes import LaunchOption

    nc = parse_ec2_node_class(doc(detailedMonitoring=True, associatePublicIPAddress=False,
                                  ipPrefixCount=1, context="ctx-1",
                                  kubelet={"maxPods": 8, "kubeReserved": {"cpu": "200m"}}),
                              "nc.yaml")
    r = dataclasses.replace(resolved(), node_class=nc)
    data = launch_template_data(r, "amd64", "my-cluster")
    assert data["Monitoring"] == {"Enabled": True}
    assert "SecurityGroupIds" not in data
    assert data["NetworkInterfaces"] == [{"DeviceIndex": 0, "Groups": ["sg-1"],
                                          "AssociatePublicIpAddress": False,
                                          "Ipv4PrefixCount": 1}]
    # AL2023: the kubelet settings travel as a nodeadm NodeConfig beside the user's script.
    text = base64.b64decode(data["UserData"]).decode()
    assert text.startswith("MIME-Version: 1.0")
    parts = text.split("--//scaler//")
    config = yaml.safe_load(parts[1].split("\n\n", 1)[1])
    assert config["kind"] == "NodeConfig"
    assert config["spec"]["kubelet"]["config"] == {"maxPods": 8, "kubeReserved": {"cpu": "200m"}}
    assert "#!/bin/bash\necho hi" in parts[2]
    option = LaunchOption("m5.large", "eu-west-1a", "on-demand", 0.1, False, None, "amd64")
    params = fleet_request("c1", "on-demand", [Override(option, "subnet-a", "lt-1")], {},
                           nc.context)
    assert params["Context"] == "ctx-1"
