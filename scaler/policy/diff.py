"""A semantic diff of two policy bundles: which objects changed, and which fields.

Objects are matched by API group, kind, namespace and name, wherever they live in the repo,
so moving an object to another file, reordering files, reformatting or editing comments is
no change at all. Inside an object, mappings are compared key by key and lists of objects
with a natural key (a requirement's or taint's `key`, a `name`, a `team`, ...) item by item
on that key, so inserting a requirement shows as one added requirement rather than every
later one changed: `spec.template.spec.requirements[key=kubernetes.io/arch].values`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from scaler.policy.loader import PolicyObject

# Fields that name a list item, tried in this order.
ITEM_KEYS = ("key", "name", "team", "instanceType", "deviceName", "alias", "id")

FieldOp = Literal["added", "removed", "changed"]
ObjectOp = Literal["added", "removed", "modified"]


@dataclass(frozen=True, slots=True)
class FieldChange:
    path: str
    op: FieldOp
    old: Any = None
    new: Any = None

    def describe(self) -> str:
        if self.op == "added":
            return f"+ {self.path}: {show(self.new)}"
        if self.op == "removed":
            return f"- {self.path}: {show(self.old)}"
        return f"~ {self.path}: {show(self.old)} -> {show(self.new)}"

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"path": self.path, "op": self.op}
        if self.op != "added":
            doc["old"] = self.old
        if self.op != "removed":
            doc["new"] = self.new
        return doc


@dataclass(frozen=True, slots=True)
class ObjectChange:
    object: str  # "NodePool default"
    api_version: str
    op: ObjectOp
    file: str  # where it is now (where it was, when removed)
    fields: tuple[FieldChange, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "object": self.object,
            "apiVersion": self.api_version,
            "op": self.op,
            "file": self.file,
            "fields": [f.to_json() for f in self.fields],
        }


def show(value: Any) -> str:
    """A value on one line, as JSON (strings quoted, lists and mappings inline)."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def diff_bundles(
    old: Sequence[PolicyObject], new: Sequence[PolicyObject]
) -> list[ObjectChange]:
    """What changed from `old` to `new`, object by object, in a stable order."""
    before = {o.key: o for o in old}
    after = {o.key: o for o in new}
    changes: list[ObjectChange] = []
    for key in sorted(before.keys() | after.keys()):
        a, b = before.get(key), after.get(key)
        if a is None and b is not None:
            changes.append(ObjectChange(b.label, b.api_version, "added", b.file))
        elif b is None and a is not None:
            changes.append(ObjectChange(a.label, a.api_version, "removed", a.file))
        elif a is not None and b is not None:
            fields = diff_values(a.document, b.document)
            if fields:
                changes.append(ObjectChange(b.label, b.api_version, "modified", b.file, fields))
    return changes


def diff_values(old: Any, new: Any, path: str = "") -> tuple[FieldChange, ...]:
    """Field-level changes between two values (mappings and lists recursed into)."""
    out: list[FieldChange] = []
    _diff(old, new, path, out)
    return tuple(out)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _diff(old: Any, new: Any, path: str, out: list[FieldChange]) -> None:
    if _same(old, new):
        return
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for k in sorted(set(old) | set(new), key=str):
            p = _join(path, str(k))
            if k not in old:
                out.append(FieldChange(p, "added", new=new[k]))
            elif k not in new:
                out.append(FieldChange(p, "removed", old=old[k]))
            else:
                _diff(old[k], new[k], p, out)
        return
    if isinstance(old, list) and isinstance(new, list):
        item_key = _item_key(old, new)
        if item_key is not None:
            a = {item[item_key]: item for item in old}
            b = {item[item_key]: item for item in new}
            for k in [*a, *(k for k in b if k not in a)]:
                p = f"{path}[{item_key}={k}]"
                if k not in b:
                    out.append(FieldChange(p, "removed", old=a[k]))
                elif k not in a:
                    out.append(FieldChange(p, "added", new=b[k]))
                else:
                    _diff(a[k], b[k], p, out)
            return
        if len(old) == len(new) and all(isinstance(x, Mapping) for x in old + new):
            for i, (x, y) in enumerate(zip(old, new, strict=True)):
                _diff(x, y, f"{path}[{i}]", out)
            return
    out.append(FieldChange(path, "changed", old=old, new=new))


def _same(a: Any, b: Any) -> bool:
    # `1` and `1.0` or `true` and `1` differ in YAML; compare types as well as values.
    return type(a) is type(b) and a == b


def _item_key(old: list[Any], new: list[Any]) -> str | None:
    items = old + new
    if not items or not all(isinstance(x, Mapping) for x in items):
        return None
    for key in ITEM_KEYS:
        if all(isinstance(x.get(key), str) for x in items):
            if len({x[key] for x in old}) == len(old) and len({x[key] for x in new}) == len(new):
                return key
    return None
