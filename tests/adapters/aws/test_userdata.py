"""EC2NodeClass `kubelet` settings reach AL2 and Bottlerocket nodes in Karpenter's formats
(aws/karpenter-provider-aws `pkg/providers/amifamily/bootstrap`): AL2 runs
`/etc/eks/bootstrap.sh` after the user's user data with the settings as kubelet flags;
Bottlerocket gets them as `[settings.kubernetes]` keys merged over the user's TOML. Families
scaler cannot write them for are refused with a reason at load."""

from __future__ import annotations

import base64
import dataclasses
import tomllib

import pytest

from scaler.adapters.aws.nodeclass import launch_template_data, parse_ec2_node_class
from scaler.errors import UserError
from tests.adapters.aws.test_nodeclass import doc, resolved

KUBELET = {"maxPods": 8, "podsPerCore": 2, "clusterDNS": ["10.0.0.10"],
           "systemReserved": {"memory": "100Mi", "cpu": "100m"},
           "kubeReserved": {"cpu": "200m"}, "evictionHard": {"memory.available": "5%"},
           "imageGCHighThresholdPercent": 85, "cpuCFSQuota": False}


def _user_data(**spec: object) -> str:
    nc = parse_ec2_node_class(doc(**spec), "nc.yaml")
    data = launch_template_data(dataclasses.replace(resolved(), node_class=nc), "amd64",
                                "my-cluster")
    return base64.b64decode(data["UserData"]).decode()


def test_al2_runs_bootstrap_sh_with_the_kubelet_flags_after_the_users_script() -> None:
    text = _user_data(amiFamily="AL2", kubelet=KUBELET)
    assert text.startswith("MIME-Version: 1.0")
    user, boot = text.split("--//scaler//")[1:3]
    assert "#!/bin/bash\necho hi" in user  # the user's part first, as Karpenter merges
    assert "Content-Type: text/x-shellscript" in boot
    assert "/etc/eks/bootstrap.sh 'my-cluster'" in boot
    assert "--dns-cluster-ip '10.0.0.10'" in boot
    assert "--use-max-pods false" in boot  # maxPods set: the ENI-based default is off
    args = boot.split("--kubelet-extra-args '", 1)[1].split("'", 1)[0].split(" ")
    assert args == ["--max-pods=8", "--pods-per-core=2", "--image-gc-high-threshold=85",
                    '--system-reserved="cpu=100m,memory=100Mi"', '--kube-reserved="cpu=200m"',
                    '--eviction-hard="memory.available<5%"', "--cpu-cfs-quota=false"]
    assert "NodeConfig" not in text  # AL2023's format is not used on AL2


def test_al2_without_max_pods_keeps_the_eni_default() -> None:
    text = _user_data(amiFamily="AL2", kubelet={"kubeReserved": {"cpu": "200m"}})
    assert "--use-max-pods false" not in text and "--max-pods" not in text


def test_bottlerocket_merges_the_settings_over_the_users_toml() -> None:
    users = ('[settings.kubernetes]\nmax-pods = 30\n"cluster-name" = "x"\n'
             '[settings.host-containers.admin]\nenabled = true\n')
    text = _user_data(amiFamily="Bottlerocket", userData=users, kubelet=KUBELET)
    settings = tomllib.loads(text)["settings"]
    kube = settings["kubernetes"]
    assert kube["max-pods"] == 8  # the NodeClass's kubelet wins, as in Karpenter
    assert kube["cluster-name"] == "x"
    assert kube["cluster-dns-ip"] == "10.0.0.10"
    assert kube["system-reserved"] == {"memory": "100Mi", "cpu": "100m"}
    assert kube["kube-reserved"] == {"cpu": "200m"}
    assert kube["eviction-hard"] == {"memory.available": "5%"}
    assert kube["image-gc-high-threshold-percent"] == "85"  # a string, as Karpenter writes
    assert kube["cpu-cfs-quota-enforced"] is False
    assert settings["host-containers"]["admin"]["enabled"] is True
    # Bottlerocket has no pods-per-core setting (Karpenter writes none either).
    assert "pods-per-core" not in kube


def test_bottlerocket_without_user_data() -> None:
    text = _user_data(amiFamily="Bottlerocket", userData=None, kubelet={"maxPods": 20})
    assert tomllib.loads(text) == {"settings": {"kubernetes": {"max-pods": 20}}}


def test_custom_family_user_data_is_left_as_written() -> None:
    assert _user_data(amiFamily="Custom", kubelet=KUBELET) == "#!/bin/bash\necho hi\n"


@pytest.mark.parametrize(("spec", "field", "words"), [
    ({"amiFamily": "Windows2022"}, "spec.kubelet", "not supported"),
    ({"amiFamily": "AL2", "userData": "#!/bin/bash\n/etc/eks/bootstrap.sh c\n"},
     "spec.userData", "remove the bootstrap.sh call"),
    ({"amiFamily": "Bottlerocket", "userData": "#!/bin/bash\necho hi\n"},
     "spec.userData", "must be TOML"),
    ({"amiFamily": "Bottlerocket", "userData": "settings = 1\n"},
     "spec.userData", "must be tables"),
])
def test_kubelet_settings_that_cannot_reach_the_node_are_refused(
        spec: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(UserError) as err:
        parse_ec2_node_class(doc(**spec, kubelet={"maxPods": 8}), "nc.yaml")
    assert f"{field}: " in str(err.value) and words in str(err.value)
    parse_ec2_node_class(doc(**spec, kubelet=None), "nc.yaml")  # without kubelet: fine
