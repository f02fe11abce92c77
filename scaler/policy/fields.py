"""Located errors for policy fields: how a check fails and how pydantic's errors read, shared
by every policy model (NodePool, EC2NodeClass, NodeOverlay, scaler's own kinds)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from pydantic_core import ErrorDetails, PydanticCustomError


def fail(message: str) -> PydanticCustomError:
    # The message is passed through the context so braces in user values are not templates.
    return PydanticCustomError("scaler", "{message}", {"message": message})


def one_of(what: str, value: str, choices: Sequence[str]) -> PydanticCustomError:
    return fail(f"unknown {what} {value!r} (expected {', '.join(choices)})")


def describe_value(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def error_message(err: ErrorDetails) -> str:
    kind, value = err["type"], err.get("input")
    if kind == "scaler":
        return err["msg"]
    if kind == "missing":
        return "required field is missing"
    if kind == "string_type":
        hint = " (quote it in YAML)" if isinstance(value, bool | int | float) else ""
        return f"expected a string, got {describe_value(value)}{hint}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        hint = " (write it without quotes)" if isinstance(value, str) and value.isdigit() else ""
        return f"expected an integer, got {describe_value(value)}{hint}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"expected a mapping, got {describe_value(value)}"
    if kind == "list_type":
        return f"expected a list, got {describe_value(value)}"
    if kind in ("float_type", "float_parsing"):
        hint = " (write it without quotes)" if isinstance(value, str) else ""
        return f"expected a number, got {describe_value(value)}{hint}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {describe_value(value)}"
    if kind == "literal_error":
        expected = re.findall(r"'([^']*)'", str((err.get("ctx") or {}).get("expected", "")))
        return f"unknown value {value!r} (expected {', '.join(expected)})"
    if kind == "extra_forbidden":
        return "unknown field"
    msg = err["msg"]
    return f"{msg[:1].lower()}{msg[1:]} (got {describe_value(value)})"
