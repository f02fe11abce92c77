"""Load a policy repo: Karpenter NodePools (and the objects around them) from YAML files.

`load_policies(path)` reads a directory (every `*.yaml` / `*.yml` below it, sorted, hidden
files and directories skipped) or a single file; each file may hold several YAML documents,
and a `kind: List` (as `kubectl get -o yaml` writes) is read item by item. NodePools
(`karpenter.sh/v1`) are validated and converted; other kinds are counted in `ignored`.
No NodePool at all, or no path, means the built-in default NodePool (`defaulted=True`).

Every problem is one `UserError` line: `file[:line]: Kind name: field.path: message`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scaler.core.model import NodePool
from scaler.errors import UserError
from scaler.policy.defaults import DEFAULT_SOURCE, default_node_pool
from scaler.policy.nodepool import (
    API_GROUP,
    API_VERSION,
    KIND,
    FieldPath,
    Locate,
    located_error,
    node_pool_from_model,
    object_name,
    validate_node_pool,
)

YAML_SUFFIXES = (".yaml", ".yml")
STATIC_NODE_POOL = "NodePool (static, spec.replicas)"


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

    def node_pool(self, name: str) -> NodePool | None:
        return next((p for p in self.node_pools if p.name == name), None)


def load_policies(path: str | Path | None) -> PolicySet:
    """Every NodePool under `path` (directory or file); the built-in default if none."""
    if path is None:
        return PolicySet(node_pools=(default_node_pool(),), defaulted=True)
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

    pools: list[NodePool] = []
    first_seen: dict[str, str] = {}
    ignored: Counter[str] = Counter()
    for file in files:
        name = str(file)
        for doc, locate in _objects(file, name):
            kind, api_version = doc.get("kind"), doc.get("apiVersion")
            if kind != KIND or not _in_group(api_version, API_GROUP):
                ignored[_ignored_key(kind, api_version)] += 1
                continue
            if api_version != API_VERSION:
                raise located_error(
                    f"unsupported apiVersion {api_version!r} (expected {API_VERSION}; "
                    "convert older NodePools as Karpenter's v1 upgrade guide describes)",
                    file=name,
                    obj=object_name(doc),
                    path=("apiVersion",),
                    locate=locate,
                )
            model = validate_node_pool(doc, file=name, locate=locate)
            pool_name = model.metadata.name
            where = _where(name, locate, ("metadata", "name"))
            if pool_name in first_seen:
                raise UserError(
                    f"duplicate NodePool name (also defined in {first_seen[pool_name]})",
                    file=where,
                    obj=f"{KIND} {pool_name}",
                    field="metadata.name",
                )
            first_seen[pool_name] = where
            if model.is_static:
                ignored[STATIC_NODE_POOL] += 1
                continue
            pools.append(node_pool_from_model(model, file=name, locate=locate))

    # Static NodePools count as NodePools here: Karpenter would not provision dynamically
    # beside them either, so node_pools is empty rather than defaulted.
    defaulted = not first_seen
    if defaulted:
        pools.append(default_node_pool())
    pools.sort(key=lambda p: (-p.weight, p.name))
    return PolicySet(
        node_pools=tuple(pools),
        ignored=dict(sorted(ignored.items())),
        source=str(path),
        defaulted=defaulted,
        files=tuple(str(f) for f in files),
    )


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


def _where(file: str, locate: Locate, path: FieldPath) -> str:
    line = locate(path)
    return f"{file}:{line}" if line else file


def _read(file: Path, name: str) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise UserError(f"not UTF-8 text (byte {e.start})", file=name) from None
    except OSError as e:
        raise UserError(f"cannot read: {e.strerror or e}", file=name) from None


class _Loader(yaml.CSafeLoader):
    """libyaml's safe loader, with timestamps kept as the strings they are written as
    (kubectl sends them to the API server as strings, so `2024-01-01` is a valid label)."""


_Loader.add_constructor(
    "tag:yaml.org,2002:timestamp",
    lambda loader, node: loader.construct_scalar(node),  # type: ignore[arg-type]
)


def _documents(text: str, name: str) -> Iterator[tuple[Any, yaml.Node]]:
    """Each YAML document with its node tree (for line numbers), via libyaml."""
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                break
            _check_duplicate_keys(node, name)
            yield loader.construct_document(node), node
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{name}:{mark.line + 1}" if mark else name
        problem = e.problem or e.context or "unreadable"
        context = f" ({e.context})" if e.context and e.problem else ""
        raise UserError(f"malformed YAML: {problem}{context}", file=where) from None
    except yaml.YAMLError as e:
        raise UserError(f"malformed YAML: {' '.join(str(e).split())}", file=name) from None
    finally:
        loader.dispose()


def _check_duplicate_keys(node: yaml.Node, name: str) -> None:
    """A key written twice in one mapping is an error, as kubectl makes it: YAML loaders
    silently keep the last one, which loses the first (e.g. half the requirements)."""
    stack, visited = [node], set()
    while stack:
        n = stack.pop()
        if id(n) in visited:  # aliases share nodes, and may even form cycles
            continue
        visited.add(id(n))
        if isinstance(n, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in n.value:
                if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                    line = key.start_mark.line + 1
                    if key.value in seen:
                        raise UserError(
                            f"duplicate key {key.value!r} (first on line {seen[key.value]})",
                            file=f"{name}:{line}",
                        )
                    seen[key.value] = line
                stack.append(value)
        elif isinstance(n, yaml.SequenceNode):
            stack.extend(n.value)


def _objects(file: Path, name: str) -> Iterator[tuple[Mapping[str, Any], Locate]]:
    """Each Kubernetes object in the file, lists expanded, with a field-path -> line lookup."""
    for doc, node in _documents(_read(file, name), name):
        if doc is None:  # an empty document, e.g. a leading or trailing `---`
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
