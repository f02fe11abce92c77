"""The AWS cloud provider: EC2 launches, lifecycle, live prices and interruptions via boto3.

See docs/aws.md for configuration, the IAM policy and what each feature calls.
"""

from scaler.adapters.aws.config import AwsClients, AwsConfig
from scaler.adapters.aws.interruptions import InterruptionQueue, Kind, Message, parse_message
from scaler.adapters.aws.nodeclass import (
    NodeClass,
    NodeClassSet,
    load_node_classes,
    node_classes_from_documents,
    parse_ec2_node_class,
)
from scaler.adapters.aws.offerings import UnavailableOfferings
from scaler.adapters.aws.prices import PriceStatus
from scaler.adapters.aws.provider import AwsCloudProvider
from scaler.adapters.aws.retry import Backoff

__all__ = [
    "AwsClients",
    "AwsCloudProvider",
    "AwsConfig",
    "Backoff",
    "InterruptionQueue",
    "Kind",
    "Message",
    "NodeClass",
    "NodeClassSet",
    "PriceStatus",
    "UnavailableOfferings",
    "load_node_classes",
    "node_classes_from_documents",
    "parse_ec2_node_class",
    "parse_message",
]
