"""The least-privilege IAM policy the AWS provider needs, and the API calls behind it.

`API_CALLS` lists, per feature, every AWS API action scaler calls (the tests check that every
call made against moto is listed); `controller_policy` is the IAM policy document granting
exactly those, scoped by region, by the cluster's tags and by the node role and queue ARNs.
docs/aws.md shows it with placeholders; the tests keep the two in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

API_CALLS: Mapping[str, tuple[str, ...]] = {
    "launch (CreateFleet with launch templates)": (
        "ec2:CreateFleet",
        "ec2:RunInstances",  # CreateFleet launches through RunInstances permissions
        "ec2:CreateTags",  # tags applied at launch
        "ec2:CreateLaunchTemplate",
        "ec2:DescribeLaunchTemplates",
        "iam:PassRole",  # the node role, through the instance profile
    ),
    "EC2NodeClass selectors and instance profile": (
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeImages",
        "ssm:GetParameter",  # amiSelectorTerms alias
        "iam:GetInstanceProfile",
        "iam:CreateInstanceProfile",
        "iam:TagInstanceProfile",
        "iam:AddRoleToInstanceProfile",
        "iam:RemoveRoleFromInstanceProfile",
    ),
    "lifecycle (list, get, delete, garbage collection, drift)": (
        "ec2:DescribeInstances",
        "ec2:TerminateInstances",
    ),
    "live prices and instance types": (
        "pricing:GetProducts",
        "ec2:DescribeSpotPriceHistory",
        "ec2:DescribeInstanceTypes",
        "ec2:DescribeInstanceTypeOfferings",
    ),
    "interruptions (SQS)": (
        "sqs:GetQueueUrl",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
    ),
}


def all_actions() -> frozenset[str]:
    return frozenset(a for actions in API_CALLS.values() for a in actions)


def controller_policy(
    *,
    cluster: str = "${CLUSTER_NAME}",
    region: str = "${AWS_REGION}",
    account: str = "${AWS_ACCOUNT_ID}",
    partition: str = "${AWS_PARTITION}",
    node_role: str = "KarpenterNodeRole-${CLUSTER_NAME}",
    queue: str = "${CLUSTER_NAME}",
) -> dict[str, Any]:
    """The controller's IAM policy document (placeholders by default, as in docs/aws.md)."""
    ec2 = f"arn:{partition}:ec2:{region}"
    owned = {f"aws:RequestTag/kubernetes.io/cluster/{cluster}": "owned",
             "aws:RequestTag/eks:eks-cluster-name": cluster}
    resource_owned = {f"aws:ResourceTag/kubernetes.io/cluster/{cluster}": "owned"}
    launched = [f"{ec2}:*:{r}/*" for r in ("fleet", "instance", "volume", "network-interface",
                                          "spot-instances-request")]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "AllowScopedEC2InstanceAccessActions",
            "Effect": "Allow",
            "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
            "Resource": [f"{ec2}::image/*", f"{ec2}::snapshot/*", f"{ec2}:*:security-group/*",
                         f"{ec2}:*:subnet/*"],
        },
        {
            "Sid": "AllowScopedEC2LaunchTemplateAccessActions",
            "Effect": "Allow",
            "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
            "Resource": f"{ec2}:*:launch-template/*",
            "Condition": {
                "StringEquals": resource_owned,
                "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"},
            },
        },
        {
            "Sid": "AllowScopedEC2InstanceActionsWithTags",
            "Effect": "Allow",
            "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
            "Resource": launched,
            "Condition": {
                "StringEquals": owned,
                "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
            },
        },
        {
            "Sid": "AllowScopedLaunchTemplateCreation",
            "Effect": "Allow",
            "Action": ["ec2:CreateLaunchTemplate"],
            "Resource": f"{ec2}:*:launch-template/*",
            "Condition": {
                "StringEquals": owned,
                "StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"},
            },
        },
        {
            "Sid": "AllowScopedResourceCreationTagging",
            "Effect": "Allow",
            "Action": ["ec2:CreateTags"],
            "Resource": [*launched, f"{ec2}:*:launch-template/*"],
            "Condition": {
                "StringEquals": {
                    **owned,
                    "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"],
                },
            },
        },
        {
            "Sid": "AllowScopedDeletion",
            "Effect": "Allow",
            "Action": ["ec2:TerminateInstances"],
            "Resource": f"{ec2}:*:instance/*",
            "Condition": {
                "StringEquals": resource_owned,
                "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
            },
        },
        {
            "Sid": "AllowRegionalReadActions",
            "Effect": "Allow",
            "Action": [
                "ec2:DescribeImages",
                "ec2:DescribeInstanceTypeOfferings",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeInstances",
                "ec2:DescribeLaunchTemplates",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSpotPriceHistory",
                "ec2:DescribeSubnets",
            ],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
        },
        {
            "Sid": "AllowSSMReadActions",
            "Effect": "Allow",
            "Action": ["ssm:GetParameter"],
            "Resource": f"arn:{partition}:ssm:{region}::parameter/aws/service/*",
        },
        {
            "Sid": "AllowPricingReadActions",
            "Effect": "Allow",
            "Action": ["pricing:GetProducts"],
            "Resource": "*",
        },
        {
            "Sid": "AllowInterruptionQueueActions",
            "Effect": "Allow",
            "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
            "Resource": f"arn:{partition}:sqs:{region}:{account}:{queue}",
        },
        {
            "Sid": "AllowPassingInstanceRole",
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "Resource": f"arn:{partition}:iam::{account}:role/{node_role}",
            "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
        },
        {
            "Sid": "AllowScopedInstanceProfileCreationActions",
            "Effect": "Allow",
            "Action": ["iam:CreateInstanceProfile", "iam:TagInstanceProfile"],
            "Resource": f"arn:{partition}:iam::{account}:instance-profile/*",
            "Condition": {"StringEquals": owned},
        },
        {
            "Sid": "AllowScopedInstanceProfileActions",
            "Effect": "Allow",
            "Action": ["iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile"],
            "Resource": f"arn:{partition}:iam::{account}:instance-profile/*",
            "Condition": {"StringEquals": resource_owned},
        },
        {
            "Sid": "AllowInstanceProfileReadActions",
            "Effect": "Allow",
            "Action": ["iam:GetInstanceProfile"],
            "Resource": f"arn:{partition}:iam::{account}:instance-profile/*",
        },
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def policy_actions(policy: Mapping[str, Any]) -> frozenset[str]:
    out: set[str] = set()
    for st in policy["Statement"]:
        actions = st["Action"]
        out.update([actions] if isinstance(actions, str) else actions)
    return frozenset(out)
