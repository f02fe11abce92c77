"""Load a policy repo: Karpenter NodePools and the objects around them, as one bundle.

`load_policies(path)` reads a directory (every `*.yaml` / `*.yml` below it, sorted, hidden
files and directories skipped) or a single file; each file may hold several YAML documents,
and a `kind: List` (as `kubectl get -o yaml` writes) is read item by item.

* NodePools (`karpenter.sh/v1`) are validated and converted for the core.
* EC2NodeClasses (`karpenter.k8s.aws/v1`) are validated and kept; none of their fields is
  acted on yet (`ignored_fields`), and they are still counted in `ignored`.
* scaler's own kinds (`scaler.dev/v1alpha1`: NodePoolPolicy, RightSizingPolicy,
  CostAllocationPolicy) are validated strictly and kept as typed objects.
* Anything else is counted in `ignored` by kind.

The bundle is validated as a whole: every file is read even after one fails, and then the
references between objects are checked (a NodePoolPolicy names a NodePool of the bundle, at
most one CostAllocationPolicy, ...). Any problem raises `PolicyBundleError`, a `UserError`
that renders as the first problem, one line `file[:line]: Kind name: field.path: message`,
and carries all of them (one per broken file) in `errors`.

No NodePool at all, or no path, means the built-in default NodePool (`defaulted=True`).
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scaler.core.model import NodePool
from scaler.core.overlays import Overlay
from scaler.errors import UserError
from scaler.kube_yaml import load_text, read_text, yaml_documents
from scaler.policy import costallocation, ec2nodeclass, extensions, nodeoverlay, rightsizing
from scaler.policy.common import SCALER_API_VERSION, SCALER_GROUP, validate_object
from scaler.policy.costallocation import CostAllocationPolicy
from scaler.policy.defaults import DEFAULT_NODE_POOL_YAML, DEFAULT_SOURCE, default_node_pool
from scaler.policy.ec2nodeclass import EC2NodeClass
from scaler.policy.extensions import NodePoolPolicy, NodePoolPolicySpec
from scaler.policy.kinds import SCALER_KINDS
from scaler.policy.nodepool import (
    API_GROUP,
    API_VERSION,
    KIND,
    FieldPath,
    Locate,
    PolicyFieldError,
    format_path,
    located_error,
    node_pool_from_model,
    object_name,
    validate_node_pool,
)
from scaler.policy.rightsizing import RightSizingPolicy

YAML_SUFFIXES = (".yaml", ".yml")
KIND_CLASS = ec2nodeclass.KIND
STATIC_NODE_POOL = "NodePool (static, spec.replicas)"


@dataclass(frozen=True, slots=True)
class PolicyObject:
    """One Kubernetes object of the bundle, as written (for the digest and the audit diff)."""

    api_version: str
    kind: str
    name: str
    namespace: str | None
    file: str
    line: int | None
    document: Mapping[str, Any] = field(compare=False, repr=False)

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.group, self.kind, self.namespace or "", self.name)

    @property
    def label(self) -> str:
        """`NodePool default`, `ConfigMap ns/x`."""
        name = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {name}" if name else self.kind


@dataclass(frozen=True, slots=True)
class PolicySet:
    """What a policy path holds, ready for the core."""

    # Karpenter's order: weight descending, then name.
    node_pools: tuple[NodePool, ...]
    # Objects scaler reads but does not act on yet, counted by kind (e.g. EC2NodeClass).
    ignored: Mapping[str, int] = field(default_factory=dict)
    # The path as given, or "built-in default".
    source: str = DEFAULT_SOURCE
    # True when node_pools is the built-in default because no NodePool was found.
    # (node_pools is empty only when every NodePool found is static, spec.replicas.)
    defaulted: bool = False
    # The YAML files read, in reading order.
    files: tuple[str, ...] = ()
    # Names of static NodePools (spec.replicas), left out of node_pools.
    static_node_pools: tuple[str, ...] = ()
    # Karpenter EC2NodeClasses, validated and kept (by name).
    node_classes: tuple[EC2NodeClass, ...] = ()
    # scaler's extensions of NodePools, by NodePool name order.
    node_pool_policies: tuple[NodePoolPolicy, ...] = ()
    right_sizing_policies: tuple[RightSizingPolicy, ...] = ()
    cost_allocation: CostAllocationPolicy | None = None
    # Fields kept but not acted on yet, by object: {"EC2NodeClass default": ("spec.role",)}.
    ignored_fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Things worth a look that do not stop the bundle (one line each).
    warnings: tuple[str, ...] = ()
    # Every object read, sorted by group, kind, namespace and name.
    objects: tuple[PolicyObject, ...] = ()
    # sha256 of the canonical JSON of `objects` (formatting, comments, file layout and
    # object order do not change it; any change of a value does).
    digest: str = ""
    # Karpenter NodeOverlays (price, priceAdjustment, capacity), highest weight first.
    node_overlays: tuple[Overlay, ...] = ()

    def node_pool(self, name: str) -> NodePool | None:
        return next((p for p in self.node_pools if p.name == name), None)

    def node_pool_policy(self, pool: str) -> NodePoolPolicy | None:
        return next(
            (p for p in self.node_pool_policies if p.spec.node_pool_ref.name == pool), None
        )

    def counts(self) -> dict[str, int]:
        """Objects by kind, e.g. {"NodePool": 3, "EC2NodeClass": 1}."""
        return dict(sorted(Counter(o.kind for o in self.objects).items()))


class PolicyBundleError(UserError):
    """One or more problems in a bundle; renders as the first, keeps all in `errors`."""

    def __init__(self, errors: Sequence[UserError]) -> None:
        first = errors[0]
        super().__init__(first.message, file=first.file, obj=first.obj, field=first.field)
        self.errors: tuple[UserError, ...] = tuple(errors)

    def summary(self) -> str:
        """The first problem, and how many more there are."""
        more = len(self.errors) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        return self.render() + suffix


def bundle_digest(objects: Sequence[PolicyObject]) -> str:
    """`sha256:<hex>` of the canonical JSON of the objects (sorted keys, no whitespace)."""
    canonical = json.dumps(
        [o.document for o in objects],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_policies(
    path: str | Path | None, *, display_root: str | Path | None = None
) -> PolicySet:
    """Every policy object under `path` (directory or file), validated as one bundle; the
    built-in default NodePool if there is no NodePool.

    `display_root`: show file names relative to it in errors and `files` (a Git checkout
    exported to a temporary directory shows `policies/nodepools/gpu.yaml`).
    """
    if path is None:
        return _default_set()
    root = Path(path)
    if root.is_dir():
        files = _yaml_files(root)
    elif root.exists():
        files = [root]
    else:
        raise UserError(
            "no such file or directory (expected a policy directory or a YAML file)",
            file=str(path),
        )

    def display(f: Path) -> str:
        if display_root is not None:
            try:
                return f.relative_to(display_root).as_posix()
            except ValueError:
                pass
        return str(f)

    bundle = _Bundle()
    errors: list[UserError] = []
    for file in files:
        name = display(file)
        try:
            for doc, locate in _objects(file, name):
                bundle.add(doc, locate, name)
        except UserError as e:
            errors.append(e)
    if not errors:
        errors.extend(bundle.check_references())
    if errors:
        raise PolicyBundleError(errors)
    return bundle.result(
        source=str(path) if display_root is None else display(root) or ".",
        files=tuple(display(f) for f in files),
    )


def read_objects(
    path: str | Path, *, display_root: str | Path | None = None
) -> tuple[PolicyObject, ...]:
    """Every object under `path`, parsed but not validated (for diffs of any revision,
    broken ones included), sorted as `PolicySet.objects`. Malformed YAML still raises."""
    root = Path(path)
    if not root.exists():
        return ()
    files = _yaml_files(root) if root.is_dir() else [root]
    out: list[PolicyObject] = []
    for file in files:
        name = file.relative_to(display_root).as_posix() if display_root else str(file)
        for doc, locate in _objects(file, name):
            out.append(_policy_object(doc, locate, name))
    return tuple(sorted(out, key=lambda o: o.key))


def _policy_object(doc: Mapping[str, Any], locate: Locate, file: str) -> PolicyObject:
    kind, api_version = doc.get("kind"), doc.get("apiVersion")
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    namespace = meta.get("namespace") if isinstance(meta, Mapping) else None
    return PolicyObject(
        api_version=api_version if isinstance(api_version, str) else "",
        kind=str(kind),
        name=name if isinstance(name, str) else "",
        namespace=namespace if isinstance(namespace, str) else None,
        file=file,
        line=locate(()),
        document=doc,
    )


def _default_set() -> PolicySet:
    doc = load_text(DEFAULT_NODE_POOL_YAML, DEFAULT_SOURCE)
    obj = PolicyObject(API_VERSION, KIND, "default", None, DEFAULT_SOURCE, None, doc)
    return PolicySet(
        node_pools=(default_node_pool(),),
        defaulted=True,
        objects=(obj,),
        digest=bundle_digest([obj]),
    )


@dataclass
class _Seen:
    obj: PolicyObject
    locate: Locate

    def where(self, path: FieldPath) -> str:
        line = self.locate(path)
        return f"{self.obj.file}:{line}" if line else self.obj.file


class _Bundle:
    """The objects of one bundle as they are read, then checked against each other."""

    def __init__(self) -> None:
        self.pools: list[NodePool] = []
        self.pool_names: dict[str, str] = {}  # NodePool name -> where (static ones too)
        self.ignored: Counter[str] = Counter()
        self.static: list[str] = []
        self.objects: list[PolicyObject] = []
        self.node_classes: list[tuple[EC2NodeClass, _Seen]] = []
        self.pool_policies: list[tuple[NodePoolPolicy, _Seen]] = []
        self.right_sizing: list[tuple[RightSizingPolicy, _Seen]] = []
        self.cost: list[tuple[CostAllocationPolicy, _Seen]] = []
        self.names: dict[tuple[str, str], str] = {}  # (kind, name) -> where
        self.ignored_fields: dict[str, tuple[str, ...]] = {}
        self.node_class_refs: list[tuple[str, str, _Seen]] = []  # pool, class name, where
        self.overlays: list[Overlay] = []
        # Fields accepted that scaler does not act on (yet), said at every load.
        self.field_warnings: list[str] = []

    def add(self, doc: Mapping[str, Any], locate: Locate, file: str) -> None:
        kind = doc.get("kind")
        obj = _policy_object(doc, locate, file)
        seen = _Seen(obj, locate)
        self.objects.append(obj)
        group = obj.group
        if kind == KIND and group == API_GROUP:
            self._node_pool(doc, seen)
        elif kind == ec2nodeclass.KIND and group == ec2nodeclass.API_GROUP:
            self._node_class(doc, seen)
        elif kind == nodeoverlay.KIND and group == nodeoverlay.API_GROUP:
            self._node_overlay(doc, seen)
        elif group == SCALER_GROUP:
            self._scaler_kind(doc, seen)
        else:
            self.ignored[_ignored_key(kind, doc.get("apiVersion"))] += 1

    def _check_version(self, doc: Mapping[str, Any], seen: _Seen, expected: str, hint: str) -> None:
        if doc.get("apiVersion") != expected:
            raise located_error(
                f"unsupported apiVersion {doc.get('apiVersion')!r} (expected {expected}{hint})",
                file=seen.obj.file,
                obj=object_name(doc),
                path=("apiVersion",),
                locate=seen.locate,
            )

    def _unique(self, kind: str, name: str, seen: _Seen) -> None:
        where = seen.where(("metadata", "name"))
        first = self.names.get((kind, name))
        if first is not None:
            raise UserError(
                f"duplicate {kind} name (also defined in {first})",
                file=where,
                obj=f"{kind} {name}",
                field="metadata.name",
            )
        self.names[(kind, name)] = where

    def _node_pool(self, doc: Mapping[str, Any], seen: _Seen) -> None:
        file, locate = seen.obj.file, seen.locate
        self._check_version(
            doc,
            seen,
            API_VERSION,
            "; convert older NodePools as Karpenter's v1 upgrade guide describes",
        )
        model = validate_node_pool(doc, file=file, locate=locate)
        pool_name = model.metadata.name
        self._unique(KIND, pool_name, seen)
        self.pool_names[pool_name] = seen.where(("metadata", "name"))
        ref = model.spec.template.spec.node_class_ref
        if ref is not None and (ref.group, ref.kind) == (ec2nodeclass.API_GROUP, KIND_CLASS):
            self.node_class_refs.append((pool_name, ref.name, seen))
        tpl = model.spec.template
        for path, what in (
            (("spec", "template", "metadata", "annotations"),
             tpl.metadata.annotations if tpl.metadata else None),
            (("spec", "template", "spec", "terminationGracePeriod"),
             tpl.spec.termination_grace_period),
        ):
            if what:
                self.field_warnings.append(
                    f"{seen.where(path)}: NodePool {pool_name}: {format_path(path)}: "
                    "accepted but not acted on: scaler does not "
                    + ("copy template annotations to its nodes yet" if "annotations" in path
                       else "force-drain after a grace period yet (drains wait for "
                       "PodDisruptionBudgets)"))
        if model.is_static:
            self.ignored[STATIC_NODE_POOL] += 1
            self.static.append(pool_name)
            return
        self.pools.append(node_pool_from_model(model, file=file, locate=locate))

    def _node_class(self, doc: Mapping[str, Any], seen: _Seen) -> None:
        file, locate = seen.obj.file, seen.locate
        self._check_version(
            doc, seen, ec2nodeclass.API_VERSION, "; convert older EC2NodeClasses first"
        )
        model = validate_object(ec2nodeclass.EC2NodeClass, doc, file=file, locate=locate)
        self._raise_first(ec2nodeclass.semantic_errors(model), doc, seen)
        self._unique(ec2nodeclass.KIND, model.name, seen)
        self.node_classes.append((model, seen))
        for line in ec2nodeclass.launch_warnings(model):
            field = line.split(":", 1)[0]
            where = seen.where(tuple(field.split(".")))
            self.field_warnings.append(f"{where}: {ec2nodeclass.KIND} {model.name}: {line}")
        unknown = ec2nodeclass.ignored_fields(model)
        if unknown:
            self.ignored_fields[f"{ec2nodeclass.KIND} {model.name}"] = unknown

    def _node_overlay(self, doc: Mapping[str, Any], seen: _Seen) -> None:
        file, locate = seen.obj.file, seen.locate
        self._check_version(doc, seen, nodeoverlay.API_VERSION, "")
        model = validate_object(nodeoverlay.NodeOverlay, doc, file=file, locate=locate)
        self._raise_first(nodeoverlay.semantic_errors(model), doc, seen)
        self._unique(nodeoverlay.KIND, model.name, seen)
        self.overlays.append(nodeoverlay.to_overlay(model))
        unknown = tuple(sorted(f"spec.{k}" for k in model.spec.model_extra or {}))
        if unknown:
            self.ignored_fields[f"{nodeoverlay.KIND} {model.name}"] = unknown

    def _scaler_kind(self, doc: Mapping[str, Any], seen: _Seen) -> None:
        file, locate = seen.obj.file, seen.locate
        kind = doc.get("kind")
        spec = next((k for k in SCALER_KINDS if k.kind == kind), None)
        if spec is None:
            names = [k.kind for k in SCALER_KINDS]
            close = [n for n in names if str(kind).lower() == n.lower()]
            close = close or difflib.get_close_matches(str(kind), names, n=1)
            hint = f"did you mean {close[0]}?" if close else f"expected {', '.join(names)}"
            raise located_error(
                f"unknown kind {kind!r} in API group {SCALER_GROUP} ({hint})",
                file=file,
                obj=object_name(doc),
                path=("kind",),
                locate=locate,
            )
        self._check_version(doc, seen, SCALER_API_VERSION, "")
        if spec.kind == extensions.KIND:
            npp = validate_object(extensions.NodePoolPolicy, doc, file=file, locate=locate)
            self._unique(spec.kind, npp.name, seen)
            self.pool_policies.append((npp, seen))
        elif spec.kind == rightsizing.KIND:
            rsp = validate_object(rightsizing.RightSizingPolicy, doc, file=file, locate=locate)
            self._raise_first(rightsizing.semantic_errors(rsp), doc, seen)
            self._unique(spec.kind, rsp.name, seen)
            self.right_sizing.append((rsp, seen))
        else:
            cap = validate_object(
                costallocation.CostAllocationPolicy, doc, file=file, locate=locate
            )
            self._raise_first(costallocation.semantic_errors(cap), doc, seen)
            self._unique(spec.kind, cap.name, seen)
            self.cost.append((cap, seen))

    @staticmethod
    def _raise_first(
        problems: Iterator[PolicyFieldError], doc: Mapping[str, Any], seen: _Seen
    ) -> None:
        for p in problems:
            raise located_error(
                p.message,
                file=seen.obj.file,
                obj=object_name(doc),
                path=p.path,
                locate=seen.locate,
            )

    def check_references(self) -> Iterator[UserError]:
        """Rules across objects, checked once every file has been read."""
        by_pool: dict[str, _Seen] = {}
        for npp, seen in self.pool_policies:
            ref = npp.spec.node_pool_ref.name
            obj = f"{extensions.KIND} {npp.name}"
            if ref not in self.pool_names:
                known = ", ".join(sorted(self.pool_names)) or "none"
                yield located_error(
                    f"no NodePool {ref!r} in this bundle (NodePools: {known})",
                    file=seen.obj.file,
                    obj=obj,
                    path=("spec", "nodePoolRef", "name"),
                    locate=seen.locate,
                )
                continue
            if ref in by_pool:
                first = by_pool[ref]
                yield UserError(
                    f"NodePool {ref} is already extended by {first.obj.label} "
                    f"({first.where(('spec', 'nodePoolRef', 'name'))}); merge the two",
                    file=seen.where(("spec", "nodePoolRef", "name")),
                    obj=obj,
                    field="spec.nodePoolRef.name",
                )
                continue
            by_pool[ref] = seen
            pool = next((p for p in self.pools if p.name == ref), None)
            for problem in extensions.pool_errors(npp, pool) if pool else ():
                yield located_error(
                    problem.message,
                    file=seen.obj.file,
                    obj=obj,
                    path=problem.path,
                    locate=seen.locate,
                )
        if len(self.cost) > 1:
            (first_cap, first_seen), (cap, seen) = self.cost[0], self.cost[1]
            yield UserError(
                "only one CostAllocationPolicy per bundle (also "
                f"{first_cap.name} in {first_seen.where(('metadata', 'name'))})",
                file=seen.where(("metadata", "name")),
                obj=f"{costallocation.KIND} {cap.name}",
                field="metadata.name",
            )

    def warnings(self) -> list[str]:
        classes = {nc.name for nc, _ in self.node_classes}
        out = list(self.field_warnings)
        if classes:
            for pool, ref, seen in self.node_class_refs:
                if ref not in classes:
                    path = ("spec", "template", "spec", "nodeClassRef", "name")
                    out.append(
                        f"{seen.where(path)}: NodePool {pool}: {format_path(path)}: "
                        f"EC2NodeClass {ref!r} is not in this bundle "
                        f"(EC2NodeClasses: {', '.join(sorted(classes))})"
                    )
        return out

    def result(self, *, source: str, files: tuple[str, ...]) -> PolicySet:
        # Static NodePools count as NodePools here: Karpenter would not provision
        # dynamically beside them either, so node_pools is empty rather than defaulted.
        pools = list(self.pools)
        defaulted = not self.pool_names
        if defaulted:
            pools.append(default_node_pool())
        pools.sort(key=lambda p: (-p.weight, p.name))
        # scaler's extensions that the scheduler acts on, carried onto their NodePools.
        extensions = {p.spec.node_pool_ref.name: p.spec for p, _ in self.pool_policies}
        pools = [
            _with_extensions(p, extensions[p.name]) if p.name in extensions else p
            for p in pools
        ]
        # Each pool's nodes as its EC2NodeClass makes them (kubelet, disks).
        classes = {nc.name: nc for nc, _ in self.node_classes}
        refs = {pool: ref for pool, ref, _ in self.node_class_refs}
        pools = [
            dataclasses.replace(p, node_settings=ec2nodeclass.node_settings(classes[refs[p.name]]))
            if refs.get(p.name) in classes else p
            for p in pools
        ]
        objects = tuple(sorted(self.objects, key=lambda o: o.key))
        return PolicySet(
            node_pools=tuple(pools),
            ignored=dict(sorted(self.ignored.items())),
            source=source,
            defaulted=defaulted,
            files=files,
            static_node_pools=tuple(sorted(self.static)),
            node_classes=tuple(sorted((nc for nc, _ in self.node_classes), key=lambda n: n.name)),
            node_pool_policies=tuple(
                sorted((p for p, _ in self.pool_policies), key=lambda p: p.spec.node_pool_ref.name)
            ),
            right_sizing_policies=tuple(
                sorted(
                    (p for p, _ in self.right_sizing), key=lambda p: (-p.spec.priority, p.name)
                )
            ),
            cost_allocation=self.cost[0][0] if self.cost else None,
            ignored_fields=dict(sorted(self.ignored_fields.items())),
            warnings=tuple(self.warnings()),
            node_overlays=tuple(sorted(self.overlays, key=lambda o: (-o.weight, o.name))),
            objects=objects,
            digest=bundle_digest(objects),
        )


def _with_extensions(pool: NodePool, spec: NodePoolPolicySpec) -> NodePool:
    """A NodePool with the NodePoolPolicy settings the scheduler acts on."""
    return dataclasses.replace(
        pool,
        max_spot_interruption_pct=(
            BAND_MAX_PCT[spec.spot.max_interruption_band] if spec.spot else None
        ),
        min_on_demand_pct=(
            float(spec.on_demand_share.min_percent) if spec.on_demand_share else None
        ),
        prefer_arch=spec.architecture.prefer if spec.architecture else None,
        prefer_arch_premium_pct=(
            float(spec.architecture.max_price_premium_percent) if spec.architecture else 0.0
        ),
        min_spot_types=spec.spot.min_instance_types if spec.spot else pool.min_spot_types,
    )


# The Spot Advisor's bands as their upper bounds in percent (the catalog's interruption_max_pct).
BAND_MAX_PCT = {"<5%": 5, "5-10%": 11, "10-15%": 16, "15-20%": 22, ">20%": 100}


def _yaml_files(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        found.extend(
            Path(dirpath) / f
            for f in filenames
            if f.endswith(YAML_SUFFIXES) and not f.startswith(".")
        )
    return sorted(found, key=lambda p: p.relative_to(root).parts)


def _in_group(api_version: object, group: str) -> bool:
    return isinstance(api_version, str) and api_version.split("/")[0] == group


def _ignored_key(kind: object, api_version: object) -> str:
    if kind == KIND:  # a NodePool of some other API group (not Karpenter's)
        return f"{KIND} ({api_version})"
    return str(kind)


def _objects(file: Path, name: str) -> Iterator[tuple[Mapping[str, Any], Locate]]:
    """Each Kubernetes object in the file, lists expanded, with a field-path -> line lookup."""
    for doc, node in yaml_documents(read_text(file, name), name):
        if doc is None or node is None:  # an empty document, e.g. a leading or trailing `---`
            continue
        yield from _expand(doc, _locator(node), name)


def _expand(
    doc: Any, locate: Locate, name: str, prefix: FieldPath = ()
) -> Iterator[tuple[Mapping[str, Any], Locate]]:
    def fail(message: str, path: FieldPath, obj: str | None = None) -> UserError:
        line = locate(prefix + path)
        return UserError(message, file=f"{name}:{line}" if line else name, obj=obj)

    if not isinstance(doc, Mapping):
        what = "a list" if isinstance(doc, list) else f"{type(doc).__name__} {doc!r}"
        raise fail(f"expected a Kubernetes object (apiVersion, kind, ...), got {what}", ())
    kind = doc.get("kind")
    if not isinstance(kind, str) or not kind:
        raise fail(
            "not a Kubernetes object: 'kind' is missing (policy files hold Kubernetes objects)",
            (),
        )
    if kind.endswith("List") and "items" in doc:
        items = doc.get("items") or []
        if not isinstance(items, list):
            raise fail("items: expected a list", ("items",), kind)
        for i, item in enumerate(items):
            item_prefix = (*prefix, "items", i)
            yield from _expand(item, locate, name, item_prefix)
        return
    yield doc, _shifted(locate, prefix)


def _shifted(locate: Locate, prefix: FieldPath) -> Locate:
    return (lambda path: locate(prefix + path)) if prefix else locate


def _locator(root: yaml.Node) -> Locate:
    """1-based line of the deepest node on `path` that exists (a missing field reports its
    parent); mapping entries report the line of their key."""

    def locate(path: FieldPath) -> int | None:
        node = root
        line = root.start_mark.line + 1
        for part in path:
            if part == "[key]":
                continue
            nxt: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                for key, value in node.value:
                    if isinstance(key, yaml.ScalarNode) and key.value == part:
                        nxt, line = value, key.start_mark.line + 1
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if 0 <= part < len(node.value):
                    nxt = node.value[part]
                    line = nxt.start_mark.line + 1
            if nxt is None:
                break
            node = nxt
        return line

    return locate
