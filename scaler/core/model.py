"""The cluster as the core sees it: frozen values built by the snapshot and policy loaders."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pricing.allocatable import NodeSettings
from scaler.core.requirements import Requirement, Requirements
from scaler.core.resources import Resources

# Labels whose values come from the instance type or its offering, so a NodePool that
# does not mention them still allows any value (Karpenter's "well-known labels").
LABEL_INSTANCE_TYPE = "node.kubernetes.io/instance-type"
LABEL_ARCH = "kubernetes.io/arch"
LABEL_OS = "kubernetes.io/os"
LABEL_ZONE = "topology.kubernetes.io/zone"
LABEL_REGION = "topology.kubernetes.io/region"
LABEL_HOSTNAME = "kubernetes.io/hostname"
LABEL_CAPACITY_TYPE = "karpenter.sh/capacity-type"
LABEL_NODEPOOL = "karpenter.sh/nodepool"
# Labels other tools put on nodes for the same facts; read when Karpenter's are missing.
LABEL_EKS_CAPACITY_TYPE = "eks.amazonaws.com/capacityType"
LABEL_BETA_INSTANCE_TYPE = "beta.kubernetes.io/instance-type"
LABEL_BETA_ZONE = "failure-domain.beta.kubernetes.io/zone"
# Well-known to Karpenter's AWS provider (pkg/apis/v1/labels.go) but not in the catalog: a
# NodePool or pod that requires a value of one gets no new node (the pool stays idle).
LABEL_ZONE_ID = "topology.k8s.aws/zone-id"
LABEL_WINDOWS_BUILD = "node.kubernetes.io/windows-build"

# Not a node label: the Spot Advisor interruption band of an offering, as its upper bound in
# percent (0 for on-demand). A NodePoolPolicy's band cap becomes `Lt` on this key.
LABEL_INTERRUPTION = "scaler.dev/interruption-max-pct"
# Not a node label either: which EC2NodeClass settings an instance-type row of the
# scheduler's table was computed with, when NodePools' node classes differ.
LABEL_NODE_SETTINGS = "scaler.dev/node-settings"

# On a pod or a node: never disrupt it voluntarily (Karpenter's annotation, value "true").
ANNOTATION_DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"

AWS_LABEL_PREFIX = "karpenter.k8s.aws/"
WELL_KNOWN_LABELS = frozenset(
    {
        LABEL_INSTANCE_TYPE,
        LABEL_ARCH,
        LABEL_OS,
        LABEL_ZONE,
        LABEL_REGION,
        LABEL_CAPACITY_TYPE,
        LABEL_INTERRUPTION,
        LABEL_ZONE_ID,
        LABEL_WINDOWS_BUILD,
        LABEL_NODE_SETTINGS,
    }
)
# Keys decided by the offering (zone, capacity type, band), not by the instance type.
OFFERING_LABELS = frozenset({LABEL_ZONE, LABEL_CAPACITY_TYPE, LABEL_INTERRUPTION})


def is_well_known(key: str) -> bool:
    return key in WELL_KNOWN_LABELS or key.startswith(AWS_LABEL_PREFIX)


SPOT = "spot"
ON_DEMAND = "on-demand"
CAPACITY_TYPES = (SPOT, ON_DEMAND)

NO_SCHEDULE = "NoSchedule"
NO_EXECUTE = "NoExecute"
PREFER_NO_SCHEDULE = "PreferNoSchedule"
TAINT_EFFECTS = (NO_SCHEDULE, NO_EXECUTE, PREFER_NO_SCHEDULE)


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    effect: str
    value: str = ""

    def __str__(self) -> str:
        if self.value:
            return f"{self.key}={self.value}:{self.effect}"
        return f"{self.key}:{self.effect}"


@dataclass(frozen=True, slots=True)
class Toleration:
    key: str = ""  # empty with Exists: tolerates every key
    operator: str = "Equal"  # Equal | Exists
    value: str = ""
    effect: str = ""  # empty: every effect

    def tolerates(self, taint: Taint) -> bool:
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator == "Exists":
            return True
        # Equal with an empty key is rejected by API validation; treat it as matching nothing.
        return bool(self.key) and self.value == taint.value


@dataclass(frozen=True, slots=True)
class NodeSelectorTerm:
    """One term of required node affinity: label requirements and metadata.name fields."""

    requirements: Requirements
    node_names: frozenset[str] | None = None  # matchFields metadata.name In [...]; None: any


DO_NOT_SCHEDULE = "DoNotSchedule"
SCHEDULE_ANYWAY = "ScheduleAnyway"
HONOR = "Honor"
IGNORE = "Ignore"


@dataclass(frozen=True, slots=True)
class TopologySpread:
    """One `topologySpreadConstraints` entry, with matchLabelKeys already folded in."""

    topology_key: str
    max_skew: int
    when_unsatisfiable: str = DO_NOT_SCHEDULE
    # Pods counted: label requirements (matchLabels as In, matchExpressions as written, and
    # matchLabelKeys as In [the pod's own value]); None: a null selector, which counts none.
    selector: Requirements | None = None
    min_domains: int | None = None
    node_affinity_policy: str = HONOR  # which nodes' domains count: Honor | Ignore
    node_taints_policy: str = IGNORE


@dataclass(frozen=True, slots=True)
class PodAffinityTerm:
    """A pod (anti-)affinity term: pods matching `selector` in `namespaces`, per topology key."""

    topology_key: str
    selector: Requirements | None  # None: a null labelSelector, which matches no pod
    namespaces: frozenset[str] | None  # None: every namespace (namespaceSelector: {})
    weight: int = 0  # preferred terms only

    def selects(self, namespace: str, labels: Mapping[str, str]) -> bool:
        if self.selector is None:
            return False
        if self.namespaces is not None and namespace not in self.namespaces:
            return False
        return self.selector.matches_labels(labels)


@dataclass(frozen=True, slots=True)
class HostPort:
    protocol: str  # TCP | UDP | SCTP
    port: int
    host_ip: str = "0.0.0.0"

    def conflicts(self, other: HostPort) -> bool:
        """Same port and protocol, and the addresses overlap (0.0.0.0 overlaps every one)."""
        if self.protocol != other.protocol or self.port != other.port:
            return False
        wild = ("0.0.0.0", "", "::")
        return self.host_ip in wild or other.host_ip in wild or self.host_ip == other.host_ip


@dataclass(frozen=True, slots=True)
class Scheduling:
    """What a pod asks of its node. Identical pods share one instance (equivalence class)."""

    node_selector: Requirements = field(default_factory=Requirements)
    # Required node-affinity terms, ORed; empty tuple: no affinity.
    affinity_terms: tuple[NodeSelectorTerm, ...] = ()
    tolerations: tuple[Toleration, ...] = ()
    # Preferred node affinity: (weight, term) pairs.
    preferred_terms: tuple[tuple[int, NodeSelectorTerm], ...] = ()
    topology_spread: tuple[TopologySpread, ...] = ()
    pod_affinity: tuple[PodAffinityTerm, ...] = ()  # required, ANDed
    pod_anti_affinity: tuple[PodAffinityTerm, ...] = ()  # required, ANDed
    preferred_pod_affinity: tuple[PodAffinityTerm, ...] = ()  # weights on the terms
    preferred_pod_anti_affinity: tuple[PodAffinityTerm, ...] = ()
    host_ports: tuple[HostPort, ...] = ()

    def alternatives(self) -> tuple[NodeSelectorTerm, ...]:
        """Each way the pod can be satisfied: nodeSelector ANDed with one affinity term."""
        if not self.affinity_terms:
            return (NodeSelectorTerm(self.node_selector),)
        return tuple(
            NodeSelectorTerm(self.node_selector.intersect(t.requirements), t.node_names)
            for t in self.affinity_terms
        )


@dataclass(frozen=True, slots=True)
class Pod:
    namespace: str
    name: str
    requests: Resources
    scheduling: Scheduling = field(default_factory=Scheduling)
    labels: Mapping[str, str] = field(default_factory=dict)
    node_name: str | None = None
    priority: int = 0
    owner_kind: str | None = None
    owner_name: str | None = None
    source: str = ""  # file it came from, for error messages
    do_not_disrupt: bool = False  # annotation karpenter.sh/do-not-disrupt: "true"

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def is_daemonset_pod(self) -> bool:
        return self.owner_kind == "DaemonSet"


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    labels: Mapping[str, str]
    allocatable: Resources
    taints: tuple[Taint, ...] = ()
    unschedulable: bool = False
    source: str = ""
    do_not_disrupt: bool = False  # annotation karpenter.sh/do-not-disrupt: "true"
    created: float | None = None  # metadata.creationTimestamp, seconds since the epoch (UTC)

    @property
    def instance_type(self) -> str | None:
        return self.labels.get(LABEL_INSTANCE_TYPE) or self.labels.get(LABEL_BETA_INSTANCE_TYPE)

    @property
    def zone(self) -> str | None:
        return self.labels.get(LABEL_ZONE) or self.labels.get(LABEL_BETA_ZONE)

    @property
    def capacity_type(self) -> str:
        ct = self.labels.get(LABEL_CAPACITY_TYPE)
        if ct:
            return ct
        eks = self.labels.get(LABEL_EKS_CAPACITY_TYPE, "").upper()
        return SPOT if eks == "SPOT" else ON_DEMAND

    @property
    def arch(self) -> str | None:
        return self.labels.get(LABEL_ARCH)

    @property
    def node_pool(self) -> str | None:
        return self.labels.get(LABEL_NODEPOOL)


@dataclass(frozen=True, slots=True)
class DaemonSet:
    namespace: str
    name: str
    requests: Resources  # of one pod
    scheduling: Scheduling = field(default_factory=Scheduling)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class NodePool:
    name: str
    requirements: Requirements
    taints: tuple[Taint, ...] = ()
    startup_taints: tuple[Taint, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    limits: Mapping[str, int] | None = None  # zero is a limit too (it stops the pool)
    weight: int = 0
    # Kept as written for the disruption work that reads it later.
    disruption: Mapping[str, object] = field(default_factory=dict)
    source: str = ""
    expire_after: str | None = None  # spec.template.spec.expireAfter as written ("720h", "Never")
    # From scaler's NodePoolPolicy: launch spot only in Spot Advisor bands up to this percent;
    # keep at least this percent of the new nodes' vCPU on on-demand; prefer an architecture
    # while it costs at most `prefer_arch_premium_pct` percent more than the cheapest choice.
    max_spot_interruption_pct: int | None = None
    min_on_demand_pct: float | None = None
    prefer_arch: str | None = None
    prefer_arch_premium_pct: float = 0.0
    # A spot launch lists at least this many instance types where that many fit its pods, so
    # the fleet request can fall back when a spot pool runs dry (Karpenter asks for 15
    # cheaper types before a spot-to-spot replacement).
    min_spot_types: int = 15
    # Its EC2NodeClass's kubelet and disk settings (maxPods, reservations, root volume,
    # RAID0): they change what each instance type can hold on this pool's nodes.
    node_settings: NodeSettings = NodeSettings()

    def launch_requirements(self) -> Requirements:
        """The requirements new nodes are chosen under: the NodePool's and scaler's own."""
        if self.max_spot_interruption_pct is None:
            return self.requirements
        cap = Requirement.of(LABEL_INTERRUPTION, "Lt", [str(self.max_spot_interruption_pct + 1)])
        return self.requirements.intersect(Requirements([cap]))


@dataclass(frozen=True, slots=True)
class IntOrPercent:
    """A count written as `3` or `"30%"`, as PodDisruptionBudgets and NodePool budgets do."""

    value: int
    percent: bool = False

    def scaled(self, total: int, round_up: bool = True) -> int:
        if not self.percent:
            return self.value
        whole, rest = divmod(self.value * total, 100)
        return whole + (1 if round_up and rest else 0)


@dataclass(frozen=True, slots=True)
class PodDisruptionBudget:
    """A policy/v1 PodDisruptionBudget: how many of the pods it selects may be evicted."""

    namespace: str
    name: str
    selector: Requirements | None  # None: a null selector, which selects no pod
    min_available: IntOrPercent | None = None
    max_unavailable: IntOrPercent | None = None
    # status.disruptionsAllowed when the snapshot has it (the API server's own count).
    disruptions_allowed: int | None = None
    source: str = ""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def selects(self, pod: Pod) -> bool:
        return (
            self.selector is not None
            and pod.namespace == self.namespace
            and self.selector.matches_labels(pod.labels)
        )


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A cluster at one moment, as read from `kubectl get -o yaml` output."""

    nodes: tuple[Node, ...] = ()
    pods: tuple[Pod, ...] = ()
    daemonsets: tuple[DaemonSet, ...] = ()
    # Kept raw for later work (disruption budgets, zonal volumes).
    pod_disruption_budgets: tuple[Mapping[str, object], ...] = ()
    persistent_volume_claims: tuple[Mapping[str, object], ...] = ()
    ignored_kinds: Mapping[str, int] = field(default_factory=dict)
    expanded_workloads: int = 0  # controllers whose pending pods were made up from replicas
    disruption_budgets: tuple[PodDisruptionBudget, ...] = ()  # the PDBs above, read
    warnings: tuple[str, ...] = ()  # what the reader noticed but did not refuse

    @property
    def bound_pods(self) -> tuple[Pod, ...]:
        return tuple(p for p in self.pods if p.node_name)

    @property
    def pending_pods(self) -> tuple[Pod, ...]:
        return tuple(p for p in self.pods if not p.node_name)
