"""Reading snapshot files: YAML through libyaml, JSON, Lists, encodings."""

from __future__ import annotations

import codecs
import textwrap
from pathlib import Path

import pytest
import yaml

from scaler.errors import UserError
from scaler.snapshot import load_snapshot
from scaler.snapshot.documents import InputFile, parse_documents, read_objects

TRICKY_YAML = """
plain: text
quoted: "true"
single: '0755'
int: 42
octal: 0o17
float: 1.5
bool: true
null_value: null
tilde: ~
empty:
date: 2024-05-01
list: [a, 1, {b: c}]
block: |
  line one
  line two
folded: >
  folded
  text
explicit: !!str 123
base: &base {cpu: 100m, memory: 1Gi}
alias: *base
nested:
  - &item {name: x}
  - *item
"""


def test_yaml_matches_pyyaml_safe_load_but_keeps_timestamps_as_text() -> None:
    docs = parse_documents(textwrap.dedent(TRICKY_YAML), Path("x.yaml"), "x.yaml")
    expected = yaml.safe_load(TRICKY_YAML)
    expected["date"] = "2024-05-01"  # kubectl sends timestamps as strings; so do we
    assert docs == [expected]
    (doc,) = docs
    assert doc["alias"] is doc["base"]  # an alias is the same object, as in PyYAML


def test_yaml_merge_keys_fall_back_to_pyyaml() -> None:
    text = "base: &b {cpu: 1}\nmerged:\n  <<: *b\n  memory: 2\n"
    (merged,) = parse_documents(text, Path("x.yaml"), "x.yaml")
    assert merged == {"base": {"cpu": 1}, "merged": {"cpu": 1, "memory": 2}}


def test_yaml_recursive_aliases_are_refused() -> None:
    # No Kubernetes object contains itself, and walking one (a digest, a diff) never ends.
    with pytest.raises(UserError, match=r"x.yaml:3: recursive YAML alias"):
        parse_documents("a: 1\n---\nself: &s [*s]\n", Path("x.yaml"), "x.yaml")


def test_yaml_refuses_python_tags() -> None:
    with pytest.raises(UserError, match="invalid YAML"):
        parse_documents("a: !!python/object:os.system x\n", Path("x.yaml"), "x.yaml")


def test_concatenated_json_values() -> None:
    text = '{"kind": "Pod", "metadata": {"name": "a"}}\n{"kind": "Pod", "metadata": {"name": "b"}}'
    docs = parse_documents(text, Path("x.json"), "x.json")
    assert [d["metadata"]["name"] for d in docs] == ["a", "b"]


def test_yaml_flow_mapping_that_is_not_json() -> None:
    docs = parse_documents("{kind: Pod, metadata: {name: a}}", Path("x.yaml"), "x.yaml")
    assert docs == [{"kind": "Pod", "metadata": {"name": "a"}}]


def test_top_level_array_of_objects(tmp_path: Path) -> None:
    path = tmp_path / "pods.json"
    path.write_text(
        '[{"kind": "Pod", "metadata": {"name": "a"}}, {"kind": "Node", "metadata": {"name": "n"}}]'
    )
    objects = list(read_objects(InputFile(path, "pods.json")))
    assert [(o.kind, o.name, o.position) for o in objects] == [
        ("Pod", "a", "document 1[0]"),
        ("Node", "n", "document 1[1]"),
    ]


def test_utf16_with_bom_as_powershell_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "snap.yaml"
    path.write_bytes(
        codecs.BOM_UTF16_LE
        + "kind: Pod\nmetadata: {name: café}\nspec: {containers: [{name: c}]}\n".encode(
            "utf-16-le")
    )
    assert [p.name for p in load_snapshot([path]).pods] == ["café"]


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    path.write_bytes(codecs.BOM_UTF8 + b'{"kind": "Pod", "metadata": {"name": "a"}, '
                     b'"spec": {"containers": [{"name": "c"}]}}')
    assert [p.name for p in load_snapshot([path]).pods] == ["a"]


def test_list_items_must_be_a_list(tmp_path: Path) -> None:
    path = tmp_path / "snap.yaml"
    path.write_text("kind: List\nitems: {a: b}\n")
    with pytest.raises(UserError) as info:
        load_snapshot([path])
    assert str(info.value) == f"{path}: document 1: items: expected a list, got a mapping"


def test_unreadable_path_is_a_user_error(tmp_path: Path) -> None:
    target = tmp_path / "dir.yaml"
    target.mkdir()
    (target / "inner.txt").write_text("")
    with pytest.raises(UserError, match="no \\*.yaml, \\*.yml, \\*.json files"):
        load_snapshot([target])


def test_json_looking_file_reports_the_json_error(tmp_path: Path) -> None:
    path = tmp_path / "snapshot"  # no extension: recognised by its first character
    path.write_text('{\n  "kind": "Pod",\n  "metadata": {"name": "a"}\n  "spec": {}\n}\n')
    with pytest.raises(UserError) as info:
        load_snapshot([path])
    assert str(info.value).startswith(f"{path}:4: invalid JSON: Expecting ',' delimiter")
