"""OpenCost's cost metrics on the controller's /metrics, so OpenCost's Grafana dashboards and
recording rules work on scaler: the same names and labels as OpenCost's cost-model exporter
(pkg/costmodel/metrics.go), computed at scrape time from the cluster as it is now.

    node_total_hourly_cost{instance,node,instance_type,region,provider_id,arch}   USD/h
    node_cpu_hourly_cost{...}        USD per core-hour      node_ram_hourly_cost{...}  per GiB-hour
    node_gpu_hourly_cost{...}        USD per GPU-hour       node_gpu_count{...}
    kubecost_node_is_spot{...}       1 for spot nodes
    container_cpu_allocation{namespace,pod,container,instance,node}          cores
    container_memory_allocation_bytes{...}  container_gpu_allocation{...}
    pv_hourly_cost{volumename,persistentvolume,provider_id}                  (no PVs modelled)
    kubecost_cluster_management_cost{provisioner_name}                       EKS' $0.10/h

The node's price is split as the report splits it (OpenCost's default per-unit ratios scaled
to the node's price). `instance` is the node's name, as OpenCost writes it: scrape with
`honor_labels: true` (OpenCost's own scrape config does) so joins on `instance` keep working.
The cluster model keeps requests per pod, so the container series carry the pod's requests
with an empty `container` label.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from fractions import Fraction

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from scaler.core.allocation.prices import GIB, ResourceRatios
from scaler.core.model import Node, Snapshot
from scaler.core.resources import CPU, MEMORY

GPU = "nvidia.com/gpu"
EKS_PER_HOUR = 0.10
NODE_LABELS = ("instance", "node", "instance_type", "region", "provider_id", "arch")
CONTAINER_LABELS = ("namespace", "pod", "container", "instance", "node")

# (node) -> USD per hour, or None when unknown
NodePricer = Callable[[Node], float | None]
# (node) -> (cores, bytes, GPUs) of capacity
NodeCapacity = Callable[[Node], tuple[float, float, float]]


def _allocatable(node: Node) -> tuple[float, float, float]:
    res = dict(node.allocatable.items())
    return res.get(CPU, 0) / 1000, float(res.get(MEMORY, 0)), float(res.get(GPU, 0))


class CostCollector(Collector):
    def __init__(
        self,
        snapshot: Callable[[], Snapshot | None],
        price: NodePricer,
        region: str,
        capacity: NodeCapacity = _allocatable,
        provisioner: str = "EKS",
        management_per_hour: float = EKS_PER_HOUR,
        ratios: ResourceRatios | None = None,
    ) -> None:
        self._snapshot = snapshot
        self._price = price
        self._capacity = capacity
        self._region = region
        self._provisioner = provisioner
        self._management = management_per_hour
        self._ratios = ratios or ResourceRatios()

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # collected at scrape time only

    def collect(self) -> Iterator[GaugeMetricFamily]:
        def node_family(name: str, doc: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=NODE_LABELS)

        total = node_family("node_total_hourly_cost", "Total node cost per hour")
        cpu = node_family("node_cpu_hourly_cost", "Hourly cost for each CPU on this node")
        ram = node_family("node_ram_hourly_cost", "Hourly cost for each GiB of RAM on this node")
        gpu = node_family("node_gpu_hourly_cost", "Hourly cost for each GPU on this node")
        gpus = node_family("node_gpu_count", "Count of GPUs on this node")
        spot = node_family("kubecost_node_is_spot", "Cloud provider info about preemptibility")
        c_cpu = GaugeMetricFamily("container_cpu_allocation", "CPU cores allocated",
                                  labels=CONTAINER_LABELS)
        c_ram = GaugeMetricFamily("container_memory_allocation_bytes", "Bytes of RAM allocated",
                                  labels=CONTAINER_LABELS)
        c_gpu = GaugeMetricFamily("container_gpu_allocation", "GPUs allocated",
                                  labels=CONTAINER_LABELS)
        pv = GaugeMetricFamily("pv_hourly_cost", "Cost per GiB per hour on a persistent disk",
                               labels=("volumename", "persistentvolume", "provider_id"))
        mgmt = GaugeMetricFamily("kubecost_cluster_management_cost",
                                 "Hourly cost paid as a cluster management fee",
                                 labels=("provisioner_name",))
        snap = self._snapshot()
        if snap is not None:
            for n in snap.nodes:
                labels = [n.name, n.name, n.instance_type or "", self._region,
                          n.labels.get("scaler.io/provider-id", "") or _provider_id(n),
                          n.arch or "amd64"]
                spot.add_metric(labels, 1.0 if n.capacity_type == "spot" else 0.0)
                cores, ram_bytes, n_gpus = self._capacity(n)
                gpus.add_metric(labels, n_gpus)
                price = self._price(n)
                if price is None:
                    continue
                per_core, per_gib, per_gpu = self._split(price, cores, ram_bytes, n_gpus)
                total.add_metric(labels, price)
                cpu.add_metric(labels, per_core)
                ram.add_metric(labels, per_gib)
                gpu.add_metric(labels, per_gpu)
            for p in snap.pods:
                if not p.node_name:
                    continue
                labels = [p.namespace, p.name, "", p.node_name, p.node_name]
                req = dict(p.requests.items())
                c_cpu.add_metric(labels, req.get(CPU, 0) / 1000)
                c_ram.add_metric(labels, float(req.get(MEMORY, 0)))
                if req.get(GPU):
                    c_gpu.add_metric(labels, float(req[GPU]))
            mgmt.add_metric([self._provisioner], self._management)
        yield from (total, cpu, ram, gpu, gpus, spot, c_cpu, c_ram, c_gpu, pv, mgmt)

    def _split(
        self, price: float, cores: float, ram_bytes: float, gpus: float
    ) -> tuple[float, float, float]:
        """Per-core, per-GiB and per-GPU hourly prices that add up to the node's price."""
        r = self._ratios
        cpu_w = Fraction(cores) * r.cpu_per_core_hour
        ram_w = Fraction(ram_bytes) / GIB * r.ram_per_gib_hour
        gpu_w = Fraction(max(gpus, 0)) * r.gpu_per_hour
        whole = cpu_w + ram_w + gpu_w
        if whole <= 0:
            return (price / cores if cores > 0 else 0.0), 0.0, 0.0
        scale = Fraction(price) / whole
        return (
            float(r.cpu_per_core_hour * scale) if cores > 0 else 0.0,
            float(r.ram_per_gib_hour * scale) if ram_bytes > 0 else 0.0,
            float(r.gpu_per_hour * scale) if gpus > 0 else 0.0,
        )


def _provider_id(node: Node) -> str:
    return str(getattr(node, "provider_id", "") or "")
