"""The NodePool scaler uses when no policy names one (docs/policies.md, "The default NodePool").

It is written as the Karpenter object a user would commit, and goes through the same parser,
so what the docs show is exactly what is used.
"""

from __future__ import annotations

from typing import Any

from scaler.core.model import NodePool
from scaler.kube_yaml import load_text
from scaler.policy.nodepool import parse_node_pool

DEFAULT_SOURCE = "built-in default"

# Bare-metal instance types have no hypervisor label, so `instance-hypervisor In [...]`
# excludes them (Karpenter's docs use the same requirement for "no metal").
DEFAULT_NODE_POOL_YAML = """\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  name: default
spec:
  template:
    spec:
      nodeClassRef:
        group: karpenter.k8s.aws
        kind: EC2NodeClass
        name: default
      requirements:
        - key: kubernetes.io/arch
          operator: In
          values: ["amd64", "arm64"]
        - key: kubernetes.io/os
          operator: In
          values: ["linux"]
        - key: karpenter.sh/capacity-type
          operator: In
          values: ["spot", "on-demand"]
        - key: karpenter.k8s.aws/instance-hypervisor
          operator: In
          values: ["nitro", "xen"]
  disruption:
    consolidationPolicy: WhenEmptyOrUnderutilized
    consolidateAfter: 0s
"""


def default_node_pool() -> NodePool:
    """NodePool `default`: both arches, Linux, spot or on-demand, no bare metal, weight 0,
    no limits."""
    doc: Any = load_text(DEFAULT_NODE_POOL_YAML, DEFAULT_SOURCE)
    return parse_node_pool(doc, file=DEFAULT_SOURCE)
