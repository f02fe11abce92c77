"""JSON Schemas and CRDs: generated from the models, in sync, valid, and agreeing with the
loader on the example repository.

What kubernetes-validate does with custom resources: it has schemas only for built-in kinds
(it reports "Couldn't find schema for kind NodePoolPolicy ..." as a warning and exits 0),
so it validates the CRDs themselves (CustomResourceDefinition, apiextensions.k8s.io/v1,
strict), and the custom resources are validated here with jsonschema against the
openAPIV3Schema of the generated CRD (and the JSON Schemas for Karpenter's kinds).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from scaler.policy import load_policies
from scaler.policy.kinds import BY_GROUP_KIND, KINDS, SCALER_KINDS, PolicyKind
from scaler.policy.schema import (
    NODECLAIM_CRD_PATH,
    crd_path,
    crd_schema,
    generated_files,
    json_schema,
    schema_path,
    stale_files,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "policies"
INVALID = ROOT / "tests" / "fixtures" / "policies" / "invalid"
CRDS = sorted((ROOT / "helm" / "scaler" / "crds").glob("*.yaml"))
EXAMPLE_FILES = sorted(EXAMPLE.rglob("*.yaml"))


def docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def kind_of(doc: dict[str, Any]) -> PolicyKind:
    return BY_GROUP_KIND[(doc["apiVersion"].split("/")[0], doc["kind"])]


def without_nulls(value: Any) -> Any:
    """What the API server validates: null fields are pruned first (nullable: false)."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def test_generated_files_are_in_sync() -> None:
    # Regenerates in memory and compares; run `python -m scaler.policy.schema` after
    # changing a model.
    assert stale_files(ROOT) == []
    crds = {crd_path(k) for k in SCALER_KINDS} | {NODECLAIM_CRD_PATH}
    expected = {schema_path(k) for k in KINDS} | crds
    assert set(generated_files()) == expected
    assert {p.relative_to(ROOT) for p in CRDS} == crds


def test_schema_check_command_reports_stale_files(tmp_path: Path) -> None:
    from scaler.policy.schema import main

    assert main(["--root", str(tmp_path), "--check"]) == 1
    assert main(["--root", str(tmp_path)]) == 0
    assert main(["--root", str(tmp_path), "--check"]) == 0


def test_kubernetes_validate_strict_on_every_crd_and_example_policy() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "kubernetes_validate", "--strict",
         *map(str, CRDS), *map(str, EXAMPLE_FILES)],
        capture_output=True,
        text=True,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "ERROR" not in out
    assert out.count("passed for resource customresourcedefinition/") == len(CRDS)
    # Custom resources: no schema in kubernetes-validate, a warning each, not a check.
    assert out.count("Couldn't find schema for kind") == len(EXAMPLE_FILES)


def test_kubernetes_validate_has_no_schema_for_custom_resources() -> None:
    # Documents why the custom resources are checked against our CRDs below instead.
    for path in EXAMPLE_FILES:
        for doc in docs(path):
            with pytest.raises(kubernetes_validate.SchemaNotFoundError):
                kubernetes_validate.validate(doc, "1.31", strict=True)


def test_crd_schemas_are_structural() -> None:
    def check(node: dict[str, Any], where: str) -> None:
        assert "$ref" not in node and "$defs" not in node, where
        assert "default" not in node, where  # the API server would add fields Git lacks
        int_or_string = node.get("x-kubernetes-int-or-string") is True
        if not int_or_string and not node.get("x-kubernetes-preserve-unknown-fields"):
            assert "type" in node, f"{where}: no type"
        if "anyOf" in node:
            assert int_or_string, where
            assert node["anyOf"] == [{"type": "integer"}, {"type": "string"}], where
        assert not ("properties" in node and "additionalProperties" in node), where
        for name, sub in node.get("properties", {}).items():
            check(sub, f"{where}.{name}")
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                check(node[key], f"{where}[{key}]")

    for path in CRDS:
        (crd,) = docs(path)
        (version,) = crd["spec"]["versions"]
        schema = version["schema"]["openAPIV3Schema"]
        check(schema, crd["metadata"]["name"])
        assert schema["properties"]["metadata"] == {"type": "object"}
        assert version["subresources"] == {"status": {}}


@pytest.mark.parametrize(
    "path", EXAMPLE_FILES, ids=[p.relative_to(EXAMPLE).as_posix() for p in EXAMPLE_FILES]
)
def test_every_example_policy_validates(path: Path) -> None:
    for doc in docs(path):
        kind = kind_of(doc)
        jsonschema.Draft202012Validator(json_schema(kind)).validate(doc)
        if kind.crd:
            # As the API server would check it once Flux or Argo CD applies the file.
            jsonschema.Draft202012Validator(crd_schema(kind)).validate(without_nulls(doc))


def test_the_whole_example_repository_validates() -> None:
    # scaler's own validation is of the bundle: references between files are checked too.
    ps = load_policies(EXAMPLE)
    assert ps.warnings == ()
    assert ps.counts() == {
        "CostAllocationPolicy": 1,
        "EC2NodeClass": 1,
        "NodePool": 3,
        "NodePoolPolicy": 1,
        "RightSizingPolicy": 2,
    }


@pytest.mark.parametrize(
    "case",
    [
        "nodepool-unknown-operator",
        "nodepool-quoted-weight",
        "nodepoolpolicy-unknown-band",
        "rightsizing-typo",
        "rightsizing-quoted-percentile",
        "costallocation-discount-out-of-range",
    ],
)
def test_schemas_reject_what_the_loader_rejects(case: str) -> None:
    # The field-level mistakes are caught by the schemas too (editor, kubectl, CI), not
    # only by scaler. Cross-object rules are the loader's alone.
    errors = []
    for path in sorted((INVALID / case).rglob("*.yaml")):
        for doc in docs(path):
            kind = kind_of(doc)
            schema = crd_schema(kind) if kind.crd else json_schema(kind)
            if kind.crd:
                schema = {**schema, "additionalProperties": False}  # strict field validation
                schema = _strict(schema)
            errors.extend(jsonschema.Draft202012Validator(schema).iter_errors(doc))
    assert errors, case


def _strict(node: Any) -> Any:
    """The CRD schema with unknown fields rejected, as `kubectl apply` (strict field
    validation, the default) rejects them."""
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items()}
        if "properties" in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


def test_json_schema_documents_the_kind() -> None:
    schema = json.loads((ROOT / schema_path(BY_GROUP_KIND[("scaler.dev", "NodePoolPolicy")]))
                        .read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["apiVersion"] == {
        "type": "string",
        "enum": ["scaler.dev/v1alpha1"],
    }
    band = schema["$defs"]["SpotPolicy"]["properties"]["maxInterruptionBand"]
    assert band["enum"] == ["<5%", "5-10%", "10-15%", "15-20%", ">20%"]
