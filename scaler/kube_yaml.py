"""The one reader of Kubernetes-style YAML and JSON files, for every file scaler reads.

Snapshots, policy directories (and the bundle digest built from them), the default
NodePool, catalog files, `scaler run` settings and EC2NodeClasses all come through here,
so each gets the same guarantees:

* safe: libyaml's safe loader (`yaml.CSafeLoader`), never Python tags;
* bounded: a file larger than `--limit file-bytes` is refused before it is read; YAML
  aliases may add at most `--limit yaml-alias-nodes` nodes to a document (a "billion
  laughs" of a few hundred bytes is refused at once, not expanded by whoever walks the
  result later: validation, diffs, the bundle digest); recursive aliases are refused (no
  Kubernetes object is recursive, and JSON cannot say it); nesting is bounded;
* exact: a key written twice in one mapping is refused (loaders keep the last silently,
  which loses the first), and errors carry `file:line`;
* kubectl-shaped: timestamps stay the strings they are written as (kubectl sends them as
  strings), and `kind: List` (or `PodList`, ...) is flattened by `flatten`.

Speed: `_FastLoader` replaces PyYAML's generic object constructor with a direct walk of
libyaml's node tree, which halves the load time of a large snapshot; anything unusual
(merge keys, explicit tags) falls back to the stock safe constructor, so the result is
what `yaml.safe_load` gives (timestamps aside). The alias check costs nothing on files
without aliases (kubectl never writes them).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from scaler import limits
from scaler.errors import UserError
from scaler.limits import LimitError

__all__ = [
    "Flat",
    "flatten",
    "load_one",
    "load_text",
    "parse_documents",
    "read_text",
    "yaml_documents",
]


def read_text(path: Path, name: str) -> str:
    """The file's text (UTF-8, or UTF-16 with a byte-order mark), at most `file-bytes`."""
    cap = limits.current().file_bytes
    try:
        with path.open("rb") as f:
            data = f.read(cap + 1)
    except OSError as e:
        raise UserError(f"cannot read: {e.strerror or e}", file=name) from None
    if len(data) > cap:
        raise LimitError("the file's size", "file-bytes", cap, file=name)
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
            f"not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); save it as UTF-8",
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
            if isinstance(json_error, LimitError):
                raise
            try:  # YAML flow style, perhaps (`{kind: Pod, ...}`)
                return [doc for doc, _ in yaml_documents(text, name)]
            except LimitError:
                raise
            except UserError:
                raise json_error from None  # it looked like JSON: say what is wrong with it
    return [doc for doc, _ in yaml_documents(text, name)]


def load_one(path: Path, name: str) -> Any:
    """The single document of a YAML or JSON file (None when empty)."""
    docs = parse_documents(read_text(path, name), path, name)
    if len(docs) > 1:
        raise UserError(f"expected one document, found {len(docs)}", file=name)
    return docs[0] if docs else None


def load_text(text: str, name: str) -> Any:
    """The single YAML (or JSON) document of a string (None when empty)."""
    docs = [doc for doc, _ in yaml_documents(text, name)]
    if len(docs) > 1:
        raise UserError(f"expected one document, found {len(docs)}", file=name)
    return docs[0] if docs else None


def _parse_json(text: str, name: str) -> list[Any]:
    """One JSON value, or several written one after the other."""
    decoder = json.JSONDecoder(object_pairs_hook=_json_object(name))
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


def _json_object(name: str) -> Any:
    def build(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    raise UserError(f"invalid JSON: duplicate key {key[:60]!r}", file=name)
                seen.add(key)
        return out

    return build


def _skip_space(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in " \t\r\n":
        i += 1
    return i


def yaml_documents(text: str, name: str) -> Iterator[tuple[Any, Node | None]]:
    """Each YAML document with its node tree (for line numbers); `(None, None)` for an
    empty one. Errors are one `UserError` with `file:line`."""
    _check_nesting(text, name)
    loader = _FastLoader(text, name)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                break
            yield loader.construct_document(node), node
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
    finally:
        loader.dispose()


_FLOW_BYTES: Final = b"[]{}"
_NOT_FLOW: Final = bytes(c for c in range(256) if c not in _FLOW_BYTES)
_FLOW_STEP: Final = np.zeros(256, dtype=np.int64)
_FLOW_STEP[[ord("["), ord("{")]] = 1
_FLOW_STEP[[ord("]"), ord("}")]] = -1


def _check_nesting(text: str, name: str) -> None:
    """Refuse nesting deeper than `yaml-depth` before libyaml sees it: its composer recurses
    in C, and a few hundred kilobytes of `[[[[...` or `- - - -...` overflow the C stack (a
    crash, not an error). Block nesting needs indentation (or `- `/`? ` indicators) at least
    as deep as itself; flow nesting needs as many unclosed brackets. Both checks are cheap
    C scans (well under a second on a 50 MB snapshot)."""
    cap = limits.current().yaml_depth
    if re.search(rf"(?:\A|\n)[ \t?-]{{{cap}}}", text):
        raise LimitError("the document's nesting (indentation)", "yaml-depth", cap, file=name)
    if text.count("[") + text.count("{") <= cap:
        return
    brackets = text.encode("utf-8", "surrogatepass").translate(None, _NOT_FLOW)
    depth = np.cumsum(_FLOW_STEP[np.frombuffer(brackets, dtype=np.uint8)])
    # Brackets inside quoted strings count too: an over-estimate, never an under-estimate.
    if depth.size and int(depth.max()) > cap:
        raise LimitError("the document's nesting (brackets)", "yaml-depth", cap, file=name)


def _one_line(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class Flat:
    """One object of a document, `List`s flattened."""

    kind: str
    body: Mapping[str, Any]
    path: tuple[str | int, ...]  # from the document root: () or ("items", 3)
    position: str  # "document 2" or "document 1, items[3]", for messages


def flatten(doc: object, file: str, position: str, item_kind: str = "",
            path: tuple[str | int, ...] = ()) -> Iterator[Flat]:
    """The Kubernetes objects in one document: itself, or the items of a `List`."""
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
            yield from flatten(item, file, f"{position}, items[{i}]", inner, (*path, "items", i))
        return
    if "kind" not in doc:
        doc = {**doc, "kind": kind}
    yield Flat(kind, doc, path, position)


def describe(value: object) -> str:
    """What a value is, for messages: `a list`, `the number 3`, `the string 'x'`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int) and value.bit_length() > 200:
        return "a number of more than 60 digits"  # printing a huge int is itself slow
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = repr(value)
        return f"the string {shown if len(shown) <= 42 else shown[:40] + '...'}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


_STR: Final = "tag:yaml.org,2002:str"
_MAP: Final = "tag:yaml.org,2002:map"
_SEQ: Final = "tag:yaml.org,2002:seq"
_TIMESTAMP: Final = "tag:yaml.org,2002:timestamp"
_MERGE: Final = "tag:yaml.org,2002:merge"
_RESOLVED_CACHE_MAX: Final = 65536


class _Fallback(Exception):
    """The document needs PyYAML's full constructor."""


class _FastLoader(yaml.CSafeLoader):
    """libyaml's safe loader with a faster constructor and the checks of the module
    docstring."""

    def __init__(self, stream: str, name: str) -> None:
        super().__init__(stream)
        self._name = name
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
            value, aliased = self._build(node)
            if aliased:
                _check_graph(node, self._name)
            return value
        except (_Fallback, RecursionError):
            self.constructed_objects = {}
            _check_graph(node, self._name)
            return super().construct_document(node)
        finally:
            self.constructed_objects = {}  # as the stock constructor leaves it

    def _build(self, root: Node) -> tuple[Any, bool]:
        built: dict[int, Any] = {}  # id(node) -> value: aliases share one object
        construct_scalar = self.construct_object
        aliased = False
        name = self._name
        depth_cap = limits.current().yaml_depth

        def build(node: Node, depth: int) -> Any:
            nonlocal aliased
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
                aliased = True
                return value
            if depth > depth_cap:
                raise LimitError("the document's nesting", "yaml-depth", depth_cap,
                                 file=f"{name}:{node.start_mark.line + 1}")
            built[key] = None
            if cls is MappingNode:
                if node.tag != _MAP:
                    raise _Fallback
                mapping: dict[Any, Any] = {}
                for k, v in node.value:
                    if k.__class__ is not ScalarNode or k.tag == _MERGE:
                        raise _Fallback
                    kv = build(k, depth + 1)
                    if kv in mapping:
                        raise _duplicate(k, node, name)
                    mapping[kv] = build(v, depth + 1)
                built[key] = mapping
                return mapping
            if cls is SequenceNode:
                if node.tag != _SEQ:
                    raise _Fallback
                items = [build(item, depth + 1) for item in node.value]
                built[key] = items
                return items
            raise _Fallback

        return build(root, 0), aliased


def _duplicate(key: Node, mapping: Node, name: str) -> UserError:
    first = next(
        (k for k, _ in mapping.value if isinstance(k, ScalarNode) and k.value == key.value), key
    )
    shown = repr(key.value) if len(repr(key.value)) <= 42 else repr(key.value)[:40] + "..."
    return UserError(
        f"duplicate key {shown} (first on line {first.start_mark.line + 1})",
        file=f"{name}:{key.start_mark.line + 1}",
    )


def _check_graph(root: Node, name: str) -> None:
    """Refuse recursive aliases, aliases that expand past the limit, and duplicate keys
    (for documents the fast constructor did not walk)."""
    cap = limits.current().yaml_alias_nodes
    depth_cap = limits.current().yaml_depth
    size: dict[int, int] = {}  # id(node) -> nodes when fully expanded; -1 while in progress
    distinct = 0

    def expanded(node: Node, depth: int) -> int:
        nonlocal distinct
        key = id(node)
        known = size.get(key)
        if known is not None:
            if known < 0:
                raise UserError("recursive YAML alias (a Kubernetes object cannot contain "
                                "itself)", file=f"{name}:{node.start_mark.line + 1}")
            return known
        if depth > depth_cap:
            raise LimitError("the document's nesting", "yaml-depth", depth_cap,
                             file=f"{name}:{node.start_mark.line + 1}")
        size[key] = -1
        distinct += 1
        total = 1
        if isinstance(node, MappingNode):
            seen: set[tuple[str, str]] = set()
            for k, v in node.value:
                if isinstance(k, ScalarNode) and k.tag != _MERGE:
                    if (k.tag, k.value) in seen:
                        raise _duplicate(k, node, name)
                    seen.add((k.tag, k.value))
                total += expanded(k, depth + 1) + expanded(v, depth + 1)
        elif isinstance(node, SequenceNode):
            for item in node.value:
                total += expanded(item, depth + 1)
        size[key] = total
        if total - distinct > cap:
            raise LimitError("YAML alias expansion", "yaml-alias-nodes", cap,
                             file=f"{name}:{root.start_mark.line + 1}")
        return total

    expanded(root, 0)


def _timestamp_as_string(loader: yaml.SafeLoader, node: Node) -> Any:
    return loader.construct_scalar(node)  # type: ignore[arg-type]


# For documents that take the fallback path: timestamps stay strings there too.
_FastLoader.add_constructor(_TIMESTAMP, _timestamp_as_string)
