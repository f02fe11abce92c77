"""Reading snapshot files into raw Kubernetes objects (plain dicts), `List`s flattened.

Input is what `kubectl get -o yaml` or `-o json` writes: one object, several YAML
documents, or a `kind: List` (or `PodList`, `NodeList`, ...) whose items are the objects.
Directories are read recursively (`*.yaml`, `*.yml`, `*.json`, sorted by path, hidden
files and directories skipped).

JSON goes through `json`; YAML through libyaml (`yaml.CSafeLoader`), never the
pure-Python parser: a 20k-pod snapshot is tens of megabytes. `_FastLoader` also replaces
PyYAML's generic object constructor with a direct walk of libyaml's node tree, which
halves YAML load time; anything unusual (merge keys, tags, recursive aliases) falls back
to the stock safe constructor, so the result is always what `yaml.safe_load` gives,
except that timestamps stay the strings they are written as (as kubectl sends them).
"""

from __future__ import annotations

import codecs
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from scaler.errors import UserError
from scaler.snapshot.fields import describe

SUFFIXES: Final = (".yaml", ".yml", ".json")
DEFAULT_NAMESPACE: Final = "default"
# Kinds without a namespace among those the adapter reads.
CLUSTER_SCOPED: Final = frozenset(
    {"Node", "PriorityClass", "Namespace", "PersistentVolume", "StorageClass"}
)


@dataclass(frozen=True, slots=True)
class RawObject:
    """One Kubernetes object as written, with where it came from."""

    kind: str
    body: Mapping[str, Any]
    file: str  # as the user named it, for messages
    position: str  # "document 2" or "document 1, items[3]": where, before its name is known
    name: str = ""  # metadata.name ("" when missing or not a string)
    namespace: str = ""  # metadata.namespace, "default" when unset; "" if cluster-scoped

    @staticmethod
    def of(kind: str, body: Mapping[str, Any], file: str, position: str) -> RawObject:
        meta = body.get("metadata")
        if not isinstance(meta, Mapping):
            meta = {}
        name = meta.get("name")
        namespace = meta.get("namespace")
        if kind in CLUSTER_SCOPED:
            namespace = ""
        elif not isinstance(namespace, str) or not namespace:
            namespace = DEFAULT_NAMESPACE
        return RawObject(
            kind, body, file, position, name if isinstance(name, str) else "", namespace
        )

    @property
    def metadata(self) -> Mapping[str, Any]:
        meta = self.body.get("metadata")
        return meta if isinstance(meta, Mapping) else {}

    @property
    def label(self) -> str:
        """`Kind namespace/name` (`Kind name` when cluster-scoped), as errors name it."""
        if not self.name:
            return f"{self.kind} ({self.position})"
        if self.kind in CLUSTER_SCOPED:
            return f"{self.kind} {self.name}"
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class InputFile:
    path: Path
    name: str  # as shown in messages: the path given, or directory + relative path


def input_files(paths: Sequence[str | Path]) -> list[InputFile]:
    """The files to read, in order: each path, directories expanded; each file once."""
    files: list[InputFile] = []
    seen: set[Path] = set()
    for given in paths:
        root = Path(given)
        if root.is_dir():
            found = _directory_files(root)
            if not found:
                raise UserError(
                    f"no {', '.join('*' + s for s in SUFFIXES)} files in this directory",
                    file=str(given),
                )
        elif root.exists():
            found = [root]
        else:
            raise UserError("no such file or directory", file=str(given))
        for path in found:
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                files.append(InputFile(path, str(path)))
    return files


def _directory_files(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        found.extend(
            Path(dirpath) / f
            for f in filenames
            if f.lower().endswith(SUFFIXES) and not f.startswith(".")
        )
    return sorted(found, key=lambda p: p.relative_to(root).parts)


def read_objects(file: InputFile) -> Iterator[RawObject]:
    """Every object in one file, `List`s flattened, in file order."""
    text = read_text(file.path, file.name)
    for number, doc in enumerate(parse_documents(text, file.path, file.name), start=1):
        if doc is None:  # an empty document, e.g. a trailing `---`
            continue
        if isinstance(doc, list):  # a top-level array of objects (JSON or YAML)
            for i, item in enumerate(doc):
                yield from _flatten(item, file.name, f"document {number}[{i}]", "")
        else:
            yield from _flatten(doc, file.name, f"document {number}", "")


def _flatten(doc: object, file: str, position: str, item_kind: str) -> Iterator[RawObject]:
    if not isinstance(doc, Mapping):
        raise UserError(
            f"expected a Kubernetes object (a mapping with apiVersion, kind, ...), "
            f"got {describe(doc)}",
            file=file,
            obj=position,
        )
    kind = doc.get("kind") or item_kind
    if not kind:
        raise UserError(
            "not a Kubernetes object: 'kind' is missing", file=file, obj=position, field="kind"
        )
    if not isinstance(kind, str):
        raise UserError(
            f"expected a string, got {describe(kind)}", file=file, obj=position, field="kind"
        )
    if kind.endswith("List") and "items" in doc:
        items = doc.get("items") or []
        if not isinstance(items, list):
            raise UserError(
                f"expected a list, got {describe(items)}", file=file, obj=position, field="items"
            )
        # Items of a typed list from the API (`PodList`) may leave out their kind.
        inner = kind[: -len("List")] if kind != "List" else ""
        for i, item in enumerate(items):
            yield from _flatten(item, file, f"{position}, items[{i}]", inner)
        return
    if "kind" not in doc:
        doc = {**doc, "kind": kind}
    yield RawObject.of(kind, doc, file, position)


def read_text(path: Path, name: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UserError(f"cannot read: {e.strerror or e}", file=name) from None
    # PowerShell's `>` writes UTF-16 with a byte-order mark; take it as it is.
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise UserError("not valid UTF-16 text", file=name) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise UserError(
            f"not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); "
            "save the snapshot as UTF-8",
            file=f"{name}:{line}",
        ) from None


def parse_documents(text: str, path: Path, name: str) -> list[Any]:
    """The documents of a file: JSON for `.json` or text starting with `{`/`[`, else YAML."""
    if path.suffix.lower() == ".json":
        return _parse_json(text, name)
    start = _skip_space(text, 0)
    if text[start : start + 1] in ("{", "["):
        try:
            return _parse_json(text, name)
        except UserError as json_error:
            try:  # YAML flow style, perhaps (`{kind: Pod, ...}`)
                return _parse_yaml(text, name)
            except UserError:
                raise json_error from None  # it looked like JSON: say what is wrong with it
    return _parse_yaml(text, name)


def _parse_json(text: str, name: str) -> list[Any]:
    """One JSON value, or several written one after the other."""
    decoder = json.JSONDecoder()
    docs: list[Any] = []
    end = len(text)
    i = _skip_space(text, 0)
    try:
        while i < end:
            doc, i = decoder.raw_decode(text, i)
            docs.append(doc)
            i = _skip_space(text, i)
    except json.JSONDecodeError as e:
        raise UserError(
            f"invalid JSON: {e.msg} (column {e.colno})", file=f"{name}:{e.lineno}"
        ) from None
    except RecursionError:
        raise UserError("invalid JSON: nested too deeply", file=name) from None
    return docs


def _skip_space(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in " \t\r\n":
        i += 1
    return i


def _parse_yaml(text: str, name: str) -> list[Any]:
    try:
        return list(yaml.load_all(text, Loader=_FastLoader))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        problem = _one_line(e.problem or e.context or "unreadable")
        context = f" ({_one_line(e.context)})" if e.context and e.problem else ""
        raise UserError(f"invalid YAML: {problem}{context}", file=where) from None
    except yaml.YAMLError as e:
        raise UserError(f"invalid YAML: {_one_line(str(e))}", file=name) from None
    except RecursionError:
        raise UserError("invalid YAML: nested too deeply", file=name) from None


def _one_line(text: str) -> str:
    return " ".join(text.split())


_STR: Final = "tag:yaml.org,2002:str"
_MAP: Final = "tag:yaml.org,2002:map"
_SEQ: Final = "tag:yaml.org,2002:seq"
_TIMESTAMP: Final = "tag:yaml.org,2002:timestamp"
_MERGE: Final = "tag:yaml.org,2002:merge"
_RESOLVED_CACHE_MAX: Final = 65536


class _Fallback(Exception):
    """The document needs PyYAML's full constructor."""


class _FastLoader(yaml.CSafeLoader):
    """libyaml's safe loader with a faster constructor (see the module docstring)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        # Plain scalars repeat ("name", "cpu", "true"): resolve each spelling once.
        self._resolved: dict[str, str] = {}

    def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode and implicit[0]:
            tag = self._resolved.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
                if len(self._resolved) < _RESOLVED_CACHE_MAX:
                    self._resolved[value] = tag
            return tag
        resolved: str = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        return resolved

    def construct_document(self, node: Node) -> Any:
        try:
            return self._build(node)
        except (_Fallback, RecursionError):
            self.constructed_objects = {}
            return super().construct_document(node)
        finally:
            self.constructed_objects = {}  # as the stock constructor leaves it

    def _build(self, root: Node) -> Any:
        built: dict[int, Any] = {}  # id(node) -> value: aliases share one object
        construct_scalar = self.construct_object

        def build(node: Node) -> Any:
            cls = node.__class__
            if cls is ScalarNode:
                if node.tag == _STR:
                    return node.value
                if node.tag == _TIMESTAMP:
                    return node.value
                return construct_scalar(node, deep=True)
            key = id(node)
            if key in built:
                value = built[key]
                if value is None:  # an alias to a node still being built
                    raise _Fallback
                return value
            built[key] = None
            if cls is MappingNode:
                if node.tag != _MAP:
                    raise _Fallback
                mapping: dict[Any, Any] = {}
                for k, v in node.value:
                    if k.__class__ is not ScalarNode or k.tag == _MERGE:
                        raise _Fallback
                    mapping[build(k)] = build(v)
                built[key] = mapping
                return mapping
            if cls is SequenceNode:
                if node.tag != _SEQ:
                    raise _Fallback
                items = [build(item) for item in node.value]
                built[key] = items
                return items
            raise _Fallback

        return build(root)


def _timestamp_as_string(loader: yaml.SafeLoader, node: Node) -> Any:
    return loader.construct_scalar(node)  # type: ignore[arg-type]


# For documents that take the fallback path: timestamps stay strings there too.
_FastLoader.add_constructor(_TIMESTAMP, _timestamp_as_string)
