"""The AWS cloud provider: scaler's cloud port on EC2, through boto3.

    provider = AwsCloudProvider(AwsConfig("us-east-1", "my-cluster"), load_node_classes(path))
    provider.instance_types(pool)      # bundled catalog + live prices, types and zones
    provider.create(request)           # CreateFleet with every ranked alternative
    provider.garbage_collect(claims)   # terminate what no node claim owns

Each NodePool launches with the EC2NodeClass its `nodeClassRef` names (the only one, or the
one called "default", when no reference is known).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from pricing import ON_DEMAND, SPOT, Catalog, CatalogError, InstanceType, load_catalog
from scaler.adapters.aws import retry
from scaler.adapters.aws.config import AwsClients, AwsConfig
from scaler.adapters.aws.fleet import (
    FleetError,
    FleetResult,
    Launched,
    Override,
    diverse_head,
    fleet_request,
    parse_fleet_response,
)
from scaler.adapters.aws.instances import Instances, instance_id, provider_id
from scaler.adapters.aws.nodeclass import (
    ARCHES,
    NodeClass,
    NodeClassSet,
    ResolvedNodeClass,
    ensure_launch_template,
    launch_template_data,
    resolve,
    static_hash,
    template_name,
)
from scaler.adapters.aws.offerings import CAPACITY_ERROR_CODES, UnavailableOfferings
from scaler.adapters.aws.prices import LiveInstanceTypes, PriceStatus
from scaler.adapters.aws.tags import (
    NODECLAIM,
    NODECLASS,
    NODECLASS_HASH,
    NODEPOOL,
    as_dict,
    cluster_tag,
    cluster_tags,
    instance_tags,
)
from scaler.core.model import NodePool
from scaler.core.scheduling.instancetypes import LaunchOption
from scaler.errors import UserError
from scaler.ports.cloud import (
    CloudError,
    CloudNode,
    CloudProvider,
    InsufficientCapacityError,
    NodeClaimRequest,
    NodeNotFoundError,
)

log = logging.getLogger(__name__)

# Karpenter's garbage collector spares instances launched in the last 30 seconds: a launch
# in flight has an instance before its node claim records it.
GC_GRACE_SECONDS = 30.0
RESOLVE_TTL_SECONDS = 60.0
_TEMPLATE_GONE = ("InvalidLaunchTemplateId.NotFound", "InvalidLaunchTemplateName.NotFoundException",
                  "InvalidLaunchTemplateId.VersionNotFound")
SUBNET_GONE = "InvalidSubnetID.NotFound"


class SubnetGoneError(CloudError):
    """A subnet the NodeClass selected was deleted: the selection is looked up again."""


def _cloud_error(what: str, exc: BaseException) -> CloudError:
    if isinstance(exc, CloudError):
        return exc
    code = retry.error_code(exc)
    text = " ".join(str(exc).split())
    return CloudError(f"{what} failed: {text}" if code is None or code in text
                      else f"{what} failed: {code}: {text}")


def _timestamp(value: object) -> float | None:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    return None


class AwsCloudProvider:
    name = "aws"

    def __init__(
        self,
        config: AwsConfig,
        node_classes: NodeClassSet | Mapping[str, NodeClass],
        *,
        clients: AwsClients | None = None,
        backoff: retry.Backoff | None = None,
        clock: Callable[[], float] = time.time,
        unavailable: UnavailableOfferings | None = None,
        gc_grace_seconds: float = GC_GRACE_SECONDS,
        resolve_ttl: float = RESOLVE_TTL_SECONDS,
        zones: Sequence[str] | None = None,
        live_on_demand: bool = True,
    ) -> None:
        self.config = config
        self.cluster = config.cluster_name
        self.node_classes = (node_classes if isinstance(node_classes, NodeClassSet)
                             else NodeClassSet(dict(node_classes)))
        if not self.node_classes.classes:
            raise UserError("no EC2NodeClass given: the AWS provider needs one to launch",
                            field="EC2NodeClass")
        self.clients = clients or AwsClients(config)
        self.backoff = backoff or retry.Backoff()
        self.clock = clock
        self.unavailable = unavailable or UnavailableOfferings()
        self.gc_grace_seconds = gc_grace_seconds
        self.resolve_ttl = resolve_ttl
        self._zones = tuple(zones) if zones else None
        self._live_on_demand = live_on_demand
        self.instances = Instances(lambda: self.clients.ec2, self.cluster, self.backoff)
        self._resolved: dict[str, tuple[float, ResolvedNodeClass]] = {}
        self._templates: dict[str, str] = {}  # launch template name -> id
        self._catalog: Catalog | None = None
        self._live: LiveInstanceTypes | None = None
        self._lock = threading.RLock()

    # -- node classes -------------------------------------------------------------------

    def node_class_for(self, node_pool: str) -> NodeClass:
        classes = self.node_classes.classes
        ref = self.node_classes.pool_refs.get(node_pool)
        if ref is not None:
            nc = classes.get(ref)
            if nc is None:
                raise UserError(f"nodeClassRef names EC2NodeClass {ref!r}, which is not defined",
                                obj=f"NodePool {node_pool}",
                                field="spec.template.spec.nodeClassRef")
            return nc
        if len(classes) == 1:
            return next(iter(classes.values()))
        if "default" in classes:
            return classes["default"]
        raise UserError("no nodeClassRef and no EC2NodeClass named 'default'",
                        obj=f"NodePool {node_pool}", field="spec.template.spec.nodeClassRef")

    def resolved(self, nc: NodeClass) -> ResolvedNodeClass:
        """What the NodeClass selects, looked up again after `resolve_ttl` seconds."""
        with self._lock:
            cached = self._resolved.get(nc.name)
            now = time.monotonic()
            if cached is not None and now - cached[0] < self.resolve_ttl \
                    and cached[1].node_class == nc:
                return cached[1]
            try:
                value = resolve(nc, ec2=self.clients.ec2, ssm=lambda: self.clients.ssm,
                                iam=lambda: self.clients.iam, cluster=self.cluster,
                                kubernetes_version=self.config.kubernetes_version,
                                backoff=self.backoff)
            except (UserError, CloudError):
                raise
            except Exception as e:
                raise _cloud_error(f"resolving EC2NodeClass {nc.name}", e) from e
            self._resolved[nc.name] = (now, value)
            return value

    def update_node_classes(self, node_classes: NodeClassSet | Mapping[str, NodeClass]) -> None:
        """New NodeClass specs (e.g. the policy repo changed); selections are looked up again."""
        with self._lock:
            self.node_classes = (node_classes if isinstance(node_classes, NodeClassSet)
                                 else NodeClassSet(dict(node_classes)))
            self._resolved.clear()

    def invalidate(self) -> None:
        """Forget cached selections (subnets, security groups, AMIs) and launch templates."""
        with self._lock:
            self._resolved.clear()
            self._templates.clear()

    # -- catalog and prices -------------------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        """The bundled catalog for the region and the zones the NodeClasses have subnets in."""
        with self._lock:
            if self._catalog is None:
                zones = self._zones or tuple(sorted({
                    z for nc in self.node_classes.classes.values()
                    for z in self.resolved(nc).zones
                }))
                try:
                    self._catalog = load_catalog(self.config.region, zones)
                except CatalogError as e:
                    raise UserError(str(e), field=e.param) from None
            return self._catalog

    @property
    def live(self) -> LiveInstanceTypes:
        with self._lock:
            if self._live is None:
                self._live = LiveInstanceTypes(
                    self.catalog,
                    region=self.config.region,
                    ec2=lambda: self.clients.ec2,
                    pricing=lambda: self.clients.pricing,
                    unavailable=self.unavailable,
                    backoff=self.backoff,
                    clock=self.clock,
                    live_on_demand=self._live_on_demand,
                )
            return self._live

    def instance_types(self, node_pool: NodePool) -> Sequence[InstanceType]:
        zones = self.resolved(self.node_class_for(node_pool.name)).zones
        return self.live.instance_types(zones)

    def refresh_prices(self, force: bool = True) -> PriceStatus:
        return self.live.refresh(force=force)

    def price_status(self) -> PriceStatus:
        return self.live.status()

    # -- launch -------------------------------------------------------------------------

    def _template_id(self, resolved: ResolvedNodeClass, arch: str) -> str:
        data = launch_template_data(resolved, arch, self.cluster)
        name = template_name(self.cluster, resolved.node_class, data)
        with self._lock:
            known = self._templates.get(name)
        if known:
            return known
        tags = {**cluster_tags(self.cluster), NODECLASS: resolved.node_class.name}
        try:
            lt = ensure_launch_template(self.clients.ec2, name, data, tags, self.backoff)
        except CloudError:
            raise
        except Exception as e:
            raise _cloud_error(f"launch template {name}", e) from e
        with self._lock:
            self._templates[name] = lt
        return lt

    def _usable(self, options: Sequence[LaunchOption],
                resolved: ResolvedNodeClass) -> list[LaunchOption]:
        return [
            o for o in options
            if o.arch in resolved.images
            and resolved.subnet_for(o.zone) is not None
            and not self.unavailable.is_unavailable(o.instance_type, o.zone, o.capacity_type)
        ]

    def create(self, request: NodeClaimRequest) -> CloudNode:
        """Launch the claim as the first alternative with capacity; never twice.

        An instance already tagged with the claim's name is returned as is (a retried
        create). Offerings EC2 reports out of capacity are marked unavailable and the next
        alternatives are tried, Spot and On-Demand in the order the ranking puts them.
        """
        existing = self.instances.find_by_claim(request.name)
        if existing is not None:
            log.info("node claim %s already has instance %s", request.name,
                     existing["InstanceId"])
            return self._node(existing)
        nc = self.node_class_for(request.node_pool)
        resolved = self.resolved(nc)
        zone_of_subnet = {s.id: s.zone for s in resolved.subnets}
        tags = instance_tags(self.cluster, request.node_pool, nc.name, request.name, nc.tags,
                             static_hash(nc))
        failures: list[str] = []
        refreshed = False
        while True:
            usable = self._usable(request.options, resolved)
            if not usable:
                tried = "; ".join(failures) or "no offering is available in the NodeClass's " \
                                                "zones and architectures"
                raise InsufficientCapacityError(
                    f"no capacity for node claim {request.name} among "
                    f"{len(request.options)} offerings ({tried})")
            capacity_type = usable[0].capacity_type
            group = diverse_head([o for o in usable if o.capacity_type == capacity_type])
            overrides = []
            for o in group:
                subnet = resolved.subnet_for(o.zone)
                assert subnet is not None  # _usable kept only zones with a subnet
                overrides.append(Override(o, subnet.id, self._template_id(resolved, o.arch)))
            params = fleet_request(request.name, capacity_type, overrides, tags,
                                   resolved.node_class.context)
            try:
                result = self._create_fleet(params, request.name, zone_of_subnet, capacity_type)
            except SubnetGoneError:
                if refreshed:
                    raise
                # Once, with the subnets the NodeClass selects now: a deleted subnet's zone
                # drops out of the choices (and out of `instance_types`).
                refreshed = True
                resolved = self.resolved(nc)
                zone_of_subnet = {s.id: s.zone for s in resolved.subnets}
                continue
            self._mark_unavailable(result.errors)
            capacity = [e for e in result.errors if e.code in CAPACITY_ERROR_CODES]
            others = [e for e in result.errors if e.code not in CAPACITY_ERROR_CODES]
            for e in others:
                log.warning("CreateFleet for %s: %s %s in %s: %s: %s", request.name,
                            e.capacity_type, e.instance_type, e.zone, e.code, e.message)
            if result.instances:
                return self._launched(request, result.instances, group)
            if others and not capacity:
                raise CloudError(f"CreateFleet for {request.name} launched nothing: " +
                                 "; ".join(f"{e.code}: {e.message}" for e in others[:3]))
            failures.append(f"{capacity_type}: {len(capacity)} offerings out of capacity")
            if self._usable(request.options, resolved) == usable:  # nothing learnt: stop
                raise InsufficientCapacityError(
                    f"CreateFleet for {request.name} launched nothing ({'; '.join(failures)})")

    def _create_fleet(self, params: dict[str, Any], claim: str, zone_of_subnet: Mapping[str, str],
                      capacity_type: str) -> FleetResult:
        """One CreateFleet call. Throttling is retried; if no answer came back, the instance is
        looked up by its claim tag before the request (same client token) is sent again."""
        ec2 = self.clients.ec2
        attempt = 0
        while True:
            try:
                response = retry.call(lambda: ec2.create_fleet(**params), what="CreateFleet",
                                      backoff=self.backoff, retry_on=retry.is_throttle)
                return parse_fleet_response(response, zone_of_subnet, capacity_type)
            except CloudError:
                raise
            except Exception as e:
                if retry.error_code(e) in _TEMPLATE_GONE:
                    self.invalidate()  # deleted behind our back: made again next time
                if retry.error_code(e) == SUBNET_GONE:
                    self.invalidate()
                    raise SubnetGoneError(f"CreateFleet for {claim}: {e}") from e
                if not retry.is_transient(e):
                    raise _cloud_error(f"CreateFleet for {claim}", e) from e
                attempt += 1
                log.warning("CreateFleet for %s: no usable answer (%s); checking whether it "
                            "launched", claim, retry.error_code(e) or type(e).__name__)
                found = self.instances.find_by_claim(claim)
                if found is not None:
                    zone = found.get("Placement", {}).get("AvailabilityZone")
                    lifecycle = SPOT if found.get("InstanceLifecycle") == SPOT else ON_DEMAND
                    return FleetResult((Launched(found["InstanceId"], found.get("InstanceType"),
                                                 found.get("SubnetId"), zone, lifecycle),), ())
                if attempt >= self.backoff.max_attempts:
                    raise _cloud_error(f"CreateFleet for {claim}", e) from e
                self.backoff.sleep(self.backoff.delay(attempt - 1))

    def mark_unavailable(self, instance_type: str, zone: str, capacity_type: str,
                         reason: str) -> None:
        self.unavailable.mark(instance_type, zone, capacity_type, reason)

    def _mark_unavailable(self, errors: Sequence[FleetError]) -> None:
        for e in errors:
            if e.code in CAPACITY_ERROR_CODES and e.instance_type and e.zone:
                self.unavailable.mark(e.instance_type, e.zone, e.capacity_type, e.code)

    def _launched(self, request: NodeClaimRequest, launched: Sequence[Launched],
                  group: Sequence[LaunchOption]) -> CloudNode:
        first, extra = launched[0], launched[1:]
        if extra:  # one node was asked for; never keep two
            log.warning("CreateFleet for %s started %d instances; terminating the extra",
                        request.name, len(launched))
            self.instances.terminate(i.instance_id for i in extra)
        itype = first.instance_type or ""
        zone = first.zone or ""
        option = next((o for o in group if o.instance_type == itype and o.zone == zone), None)
        if option is not None:
            price, estimated, arch = option.price, option.price_estimated, option.arch
        else:
            price, estimated = self.live.price(itype, zone, first.capacity_type)
            it = self.live.instance_type(itype)
            arch = it.arch if it else ""
        node = CloudNode(
            provider_id=provider_id(zone, first.instance_id),
            claim_name=request.name,
            node_pool=request.node_pool,
            instance_type=itype,
            zone=zone,
            capacity_type=first.capacity_type,
            arch=arch,
            price_per_hour=price,
            price_estimated=estimated,
            launched_at=self.clock(),
        )
        log.info("launched %s for node claim %s: %s %s in %s", first.instance_id, request.name,
                 node.capacity_type, itype, zone)
        return node

    # -- lifecycle ----------------------------------------------------------------------

    def _ours(self, inst: Mapping[str, Any]) -> bool:
        tags = as_dict(inst.get("Tags"))
        return tags.get(cluster_tag(self.cluster)) == "owned" and NODEPOOL in tags

    def _node(self, inst: Mapping[str, Any]) -> CloudNode:
        tags = as_dict(inst.get("Tags"))
        itype = str(inst.get("InstanceType", ""))
        zone = str((inst.get("Placement") or {}).get("AvailabilityZone", ""))
        capacity_type = SPOT if inst.get("InstanceLifecycle") == SPOT else ON_DEMAND
        price, estimated = self.live.price(itype, zone, capacity_type)
        it = self.live.instance_type(itype)
        arch = it.arch if it else ARCHES.get(str(inst.get("Architecture")), "")
        return CloudNode(
            provider_id=provider_id(zone, str(inst["InstanceId"])),
            claim_name=tags.get(NODECLAIM, ""),
            node_pool=tags.get(NODEPOOL, ""),
            instance_type=itype,
            zone=zone,
            capacity_type=capacity_type,
            arch=arch,
            price_per_hour=price,
            price_estimated=estimated,
            launched_at=_timestamp(inst.get("LaunchTime")),
            state=str((inst.get("State") or {}).get("Name", "")),
            image_id=str(inst.get("ImageId", "")),
            subnet_id=str(inst.get("SubnetId", "")),
            security_groups=tuple(sorted(str(g["GroupId"])
                                         for g in inst.get("SecurityGroups", []))),
            node_class_hash=tags.get(NODECLASS_HASH, ""),
        )

    def lookup(self, pid: str) -> CloudNode | None:
        """This cluster's instance in any state EC2 still reports (terminated included)."""
        inst = self.instances.get(instance_id(pid))
        if inst is None or not self._ours(inst):
            return None
        return self._node(inst)

    def get(self, provider_id: str) -> CloudNode:
        inst = self.instances.get(instance_id(provider_id))
        if inst is None or not self._ours(inst) \
                or inst.get("State", {}).get("Name") in ("shutting-down", "terminated"):
            raise NodeNotFoundError(provider_id)
        return self._node(inst)

    def list(self) -> Sequence[CloudNode]:
        return [self._node(i) for i in self.instances.list()]

    def delete(self, provider_id: str) -> None:
        """Terminate the instance and confirm EC2 is shutting it down."""
        self.get(provider_id)  # NodeNotFoundError if gone or not this cluster's
        try:
            self.instances.terminate([instance_id(provider_id)])
        except CloudError:
            raise
        except Exception as e:
            raise _cloud_error(f"terminating {provider_id}", e) from e

    def garbage_collect(self, live_claims: Collection[str],
                        now: float | None = None) -> Sequence[CloudNode]:
        """Terminate this cluster's instances whose node claim is not live, once they are
        older than the grace period; returns what was terminated."""
        now = self.clock() if now is None else now
        orphans: list[dict[str, Any]] = []
        for inst in self.instances.list():
            if inst.get("State", {}).get("Name") == "shutting-down":
                continue
            claim = as_dict(inst.get("Tags")).get(NODECLAIM, "")
            if claim and claim in live_claims:
                continue
            launched = _timestamp(inst.get("LaunchTime"))
            if launched is not None and now - launched < self.gc_grace_seconds:
                continue
            orphans.append(inst)
        if not orphans:
            return []
        nodes = [self._node(i) for i in orphans]
        self.instances.terminate(i["InstanceId"] for i in orphans)
        for n in nodes:
            log.warning("garbage-collected %s (node claim %r): no live node claim owns it",
                        n.provider_id, n.claim_name)
        return nodes

    # -- drift --------------------------------------------------------------------------

    def is_drifted(self, node: CloudNode, node_pool: NodePool) -> str | None:
        """Why the node no longer matches its NodePool's EC2NodeClass, or None.

        Checked like Karpenter: the AMI, subnet and security groups the instance was
        launched with (as `list`/`get` report them) against what the NodeClass selects now,
        and the NodeClass fields only a new instance picks up (user data, disks, metadata
        options, tags, role) by digest. No EC2 call but the NodeClass's lookup, cached for
        `resolve_ttl` seconds, when `node` came from `list` or `get` (a node `create`
        returned is described first).
        """
        if not node.image_id:
            node = self.get(node.provider_id)
        nc = self.node_class_for(node_pool.name)
        resolved = self.resolved(nc)
        reasons: list[str] = []
        if node.image_id and node.image_id not in resolved.all_image_ids:
            now = ", ".join(f"{i.id} ({a})" for a, i in sorted(resolved.images.items()))
            reasons.append(f"AMI drift: runs {node.image_id}; EC2NodeClass {nc.name} "
                           f"selects {now}")
        if node.subnet_id and node.subnet_id not in {s.id for s in resolved.subnets}:
            reasons.append(f"subnet drift: {node.subnet_id} is no longer selected by "
                           f"EC2NodeClass {nc.name}")
        # An instance EC2 reports without security groups (moto's fleets) is not judged on
        # them, as an unknown AMI or subnet is not: drift is never a guess.
        if node.security_groups and node.security_groups != resolved.security_groups:
            reasons.append(f"security group drift: has "
                           f"{', '.join(node.security_groups) or 'none'}; EC2NodeClass "
                           f"{nc.name} selects {', '.join(resolved.security_groups)}")
        if node.node_class_hash and node.node_class_hash != static_hash(nc):
            reasons.append(f"EC2NodeClass {nc.name} changed (user data, block devices, metadata "
                           "options, tags or role)")
        return "; ".join(reasons) or None


def _implements_the_port(provider: AwsCloudProvider) -> CloudProvider:
    return provider  # mypy checks AwsCloudProvider against the CloudProvider protocol here
