"""Hypothesis strategies for broken and extreme input files (see tests/fuzz/README section
in the top-level README: "Fuzz suite").

Every generator starts from a valid file of its kind and breaks it the ways a user (or a
pull request) does: a leaf replaced by an extreme or wrong-typed value, a key dropped or
written twice, an object duplicated, the text truncated, an alias bomb or binary bytes
inserted, a non-UTF-8 encoding, or an empty file.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from hypothesis import strategies as st

EXTREME_NUMBERS: list[Any] = [
    0, -1, -0.0, 1, 2**31, 2**63 - 1, 2**63, 2**64, 10**30, 10**400, -(10**20),
    float("nan"), float("inf"), float("-inf"), 1e308, 1e-320, 0.1,
]
EXTREME_STRINGS: list[Any] = [
    "", " ", "8Ei", "99999999999Ti", "1e19", "1e17", "-1", "nan", ".nan", ".inf", "NaN",
    "1e400", "9" * 120, "0.0000000001n", "12Q", "Mi", "1.5Gi", "maybe", "true", "null",
    "\x00", "\ufeff", "é" * 50, "${VAR}", "2024-01-01", "99999-01-01T00:00:00Z",
]
WRONG_TYPES: list[Any] = [None, True, [], {}, [1, 2], {"a": {"b": "c"}}, ["x"] * 3]

leaf_values = st.sampled_from(EXTREME_NUMBERS + EXTREME_STRINGS + WRONG_TYPES)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.extend(_paths(v, (*prefix, i)))
    return out


def _set(doc: Any, path: tuple[Any, ...], value: Any, *, delete: bool = False) -> Any:
    doc = json.loads(json.dumps(doc))
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


@st.composite
def mutated_docs(draw: st.DrawFn, base: list[dict[str, Any]]) -> list[Any]:
    """`base` documents with up to three structural mutations."""
    docs: list[Any] = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(docs) - 1))
        paths = _paths(docs[i])
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "duplicate",
                                       "wrap"]))
        if action == "duplicate":
            docs.append(json.loads(json.dumps(docs[i])))
            continue
        if action == "wrap":
            docs = [{"apiVersion": "v1", "kind": "List", "items": docs}]
            continue
        if not paths or not isinstance(docs[i], dict):
            continue
        path = draw(st.sampled_from(paths))
        if action == "delete":
            docs[i] = _set(docs[i], path, None, delete=True)
        else:
            docs[i] = _set(docs[i], path, draw(leaf_values))
    return docs


def _dump_yaml(docs: list[Any]) -> str:
    def clean(v: Any) -> Any:  # YAML spells NaN/inf itself; json cannot
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    return yaml.safe_dump_all([clean(d) for d in docs], sort_keys=False)


ALIAS_BOMB = (
    "bomb:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 9))
)


@st.composite
def text_mutation(draw: st.DrawFn, text: str) -> bytes:
    """The text of a file, broken at the byte level (or left alone)."""
    kind = draw(st.sampled_from(
        ["none", "none", "truncate", "bomb", "dupkey", "binary", "latin1", "utf16", "empty",
         "garbage", "nul", "deep"]))
    data = text.encode("utf-8")
    if kind == "truncate" and data:
        return data[: draw(st.integers(0, len(data) - 1))]
    if kind == "bomb":
        lines = text.splitlines(keepends=True)
        at = draw(st.integers(0, len(lines)))
        # At the top level of a document: after a `---` or at the start.
        return ("".join(lines[:at]) + "\n---\n" + ALIAS_BOMB + "---\n"
                + "".join(lines[at:])).encode()
    if kind == "dupkey":
        lines = text.splitlines(keepends=True)
        if lines:
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i])
        return "".join(lines).encode()
    if kind == "binary":
        return draw(st.binary(min_size=1, max_size=512))
    if kind == "latin1":
        return text.replace("a", "é", 3).encode("latin-1", "replace")
    if kind == "utf16":
        return text.encode("utf-16")
    if kind == "empty":
        return b""
    if kind == "garbage":
        at = draw(st.integers(0, len(data)))
        junk = draw(st.sampled_from([b"{", b"[", b":", b"- ", b"\t", b"&a", b"*b", b"!!python/x",
                                     b"<<: *z", b"'", b'"', b"\xff\xfe", b"%YAML 9.9\n"]))
        return data[:at] + junk + data[at:]
    if kind == "nul":
        at = draw(st.integers(0, len(data)))
        return data[:at] + b"\x00" + data[at:]
    if kind == "deep":
        depth = draw(st.sampled_from([50, 2000, 20000]))
        return data + b"\n---\nx: " + b"[" * depth + b"]" * depth + b"\n"
    return data


@st.composite
def yaml_file(draw: st.DrawFn, base: list[dict[str, Any]]) -> bytes:
    docs = draw(mutated_docs(base))
    as_json = draw(st.booleans()) and len(docs) == 1
    try:
        text = (json.dumps(docs[0], allow_nan=True) if as_json else _dump_yaml(docs))
    except (ValueError, OverflowError):
        text = _dump_yaml(docs)
    return draw(text_mutation(text))


@st.composite
def csv_file(draw: st.DrawFn, header: list[str], row: list[str], rows: int = 3) -> bytes:
    """A CSV with `rows` copies of `row`, cells replaced by extreme values."""
    lines = [",".join(header)]
    for _ in range(rows):
        cells = list(row)
        for _ in range(draw(st.integers(0, 2))):
            i = draw(st.integers(0, len(cells) - 1))
            cells[i] = str(draw(st.sampled_from(EXTREME_NUMBERS + EXTREME_STRINGS)))
        if draw(st.integers(0, 9)) == 0:
            cells = cells[: draw(st.integers(0, len(cells)))]
        lines.append(",".join(c.replace(",", ";").replace("\n", " ") for c in cells))
    return draw(text_mutation("\n".join(lines) + "\n"))
