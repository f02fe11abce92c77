"""The IAM policy in docs/aws.md is the one the code grants itself, and covers every call."""

from __future__ import annotations

import json
import re

from scaler.adapters.aws.iam import API_CALLS, all_actions, controller_policy, policy_actions
from tests.support.paths import REPO

DOC = REPO / "docs" / "aws.md"


def test_the_documented_policy_is_the_generated_one() -> None:
    blocks = re.findall(r"```json\n(.*?)\n```", DOC.read_text(), re.DOTALL)
    documented = [json.loads(b) for b in blocks if '"Statement"' in b]
    assert documented == [controller_policy()]


def test_every_listed_call_is_granted_and_nothing_else() -> None:
    assert policy_actions(controller_policy()) == all_actions()


def test_writes_are_scoped_to_the_cluster_by_tag() -> None:
    policy = controller_policy(cluster="prod", region="eu-west-1", account="111122223333",
                               partition="aws")
    for st in policy["Statement"]:
        actions = set(st["Action"])
        if actions & {"ec2:TerminateInstances", "ec2:CreateLaunchTemplate", "ec2:CreateTags",
                      "iam:CreateInstanceProfile", "iam:AddRoleToInstanceProfile"}:
            assert "kubernetes.io/cluster/prod" in json.dumps(st["Condition"]), st["Sid"]
        if st["Resource"] == "*":
            assert actions <= {a for a in all_actions() if ":Describe" in a or ":Get" in a}


def test_each_feature_lists_its_calls_in_the_docs() -> None:
    text = DOC.read_text()
    for feature, actions in API_CALLS.items():
        assert feature in text
        for action in actions:
            assert f"`{action}`" in text, action
