"""Reading snapshot files into raw Kubernetes objects (plain dicts), `List`s flattened.

Input is what `kubectl get -o yaml` or `-o json` writes: one object, several YAML
documents, or a `kind: List` (or `PodList`, `NodeList`, ...) whose items are the objects.
Directories are read recursively (`*.yaml`, `*.yml`, `*.json`, sorted by path, hidden
files and directories skipped).

Parsing (JSON, YAML through libyaml, size and alias limits, duplicate keys, `List`s) is the
shared reader's, `scaler.kube_yaml`; this module adds where each object came from.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from scaler.errors import UserError
from scaler.kube_yaml import flatten, parse_documents, read_text

__all__ = [
    "CLUSTER_SCOPED",
    "DEFAULT_NAMESPACE",
    "SUFFIXES",
    "InputFile",
    "RawObject",
    "input_files",
    "parse_documents",
    "read_objects",
    "read_text",
]

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
    for flat in flatten(doc, file, position, item_kind):
        yield RawObject.of(flat.kind, flat.body, file, flat.position)
