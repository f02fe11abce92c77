"""Typed reads from raw Kubernetes objects, failing with the file, object and field path.

Manifests are plain dicts and lists from the JSON or YAML parser. Every read that the
snapshot adapter makes goes through a `Fields` so a wrong type (a string where a list
belongs, `cpu: true`) is reported as one `UserError` line naming where it is, for example
`snap.yaml: Pod default/web-1: spec.containers[0].resources.requests.cpu: ...`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

from scaler.errors import UserError
from scaler.kube_yaml import describe

__all__ = ["EMPTY", "Fields", "describe", "join"]

EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})


def join(path: str, key: str) -> str:
    """`spec` + `containers` -> `spec.containers`."""
    return f"{path}.{key}" if path else key


class Fields:
    """Reads the fields of one object; errors name `file` and `obj` (`Kind ns/name`)."""

    __slots__ = ("file", "obj")

    def __init__(self, file: str, obj: str) -> None:
        self.file = file
        self.obj = obj

    def error(self, field: str, message: str) -> UserError:
        return UserError(message, file=self.file, obj=self.obj, field=field or None)

    def mapping(self, value: object, field: str) -> Mapping[str, Any]:
        """A mapping; null or missing is empty."""
        if type(value) is dict:  # the common case, without the slower ABC check
            return value
        if value is None:
            return EMPTY
        if isinstance(value, Mapping):
            return value
        raise self.error(field, f"expected a mapping, got {describe(value)}")

    def sequence(self, value: object, field: str) -> Sequence[Any]:
        """A list; null or missing is empty."""
        if type(value) is list:
            return value
        if value is None:
            return ()
        if isinstance(value, list | tuple):
            return value
        raise self.error(field, f"expected a list, got {describe(value)}")

    def mappings(self, value: object, field: str) -> list[tuple[str, Mapping[str, Any]]]:
        """A list of mappings, each with its own field path (`field[i]`)."""
        out = []
        for i, item in enumerate(self.sequence(value, field)):
            path = f"{field}[{i}]"
            out.append((path, self.mapping(item, path)))
        return out

    def string(self, value: object, field: str, default: str = "") -> str:
        """A string; null or missing is `default`."""
        if value is None:
            return default
        if isinstance(value, str):
            return value
        raise self.error(field, f"expected a string, got {describe(value)} (quote it)")

    def required_string(self, value: object, field: str) -> str:
        text = self.string(value, field)
        if not text:
            raise self.error(field, "required field missing")
        return text

    def strings(self, value: object, field: str) -> list[str]:
        return [self.string(v, f"{field}[{i}]") for i, v in enumerate(self.sequence(value, field))]

    def labels(self, value: object, field: str) -> dict[str, str]:
        """A string-to-string map (labels, nodeSelector); null values are empty strings."""
        raw = self.mapping(value, field)
        out: dict[str, str] = {}
        for key, val in raw.items():
            if not isinstance(key, str):
                raise self.error(field, f"expected string keys, got {describe(key)} (quote it)")
            if isinstance(val, str):
                out[key] = val
            else:
                out[key] = self.string(val, join(field, key))
        return out

    def integer(self, value: object, field: str, default: int) -> int:
        """An integer; null or missing is `default`."""
        if value is None:
            return default
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise self.error(field, f"expected an integer, got {describe(value)}")

    def count(self, value: object, field: str, default: int) -> int:
        """A non-negative integer (replicas, parallelism)."""
        n = self.integer(value, field, default)
        if n < 0:
            raise self.error(field, f"must not be negative, got {n}")
        return n

    def boolean(self, value: object, field: str, default: bool = False) -> bool:
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        raise self.error(field, f"expected true or false, got {describe(value)}")
