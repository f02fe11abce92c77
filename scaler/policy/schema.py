"""JSON Schemas and CustomResourceDefinitions, generated from the pydantic policy models.

    python -m scaler.policy.schema            # rewrite docs/schemas/ and helm/scaler/crds/
    python -m scaler.policy.schema --check    # exit 1 if a generated file is out of date

* `docs/schemas/<group>/<kind>_<version>.json`: a JSON Schema (draft 2020-12) per kind,
  Karpenter's included, in the layout kubeconform and the CRDs catalog use, for editors
  (yaml-language-server) and CI.
* `helm/scaler/crds/<group>_<plural>.yaml`: an `apiextensions.k8s.io/v1` CRD per scaler kind
  (Karpenter's CRDs ship with Karpenter), with a structural OpenAPI v3 schema: references
  inlined, no nulls, unknown fields preserved where the model keeps them, no defaults (so
  the API server stores exactly what Git holds and the bundle digest stays the same).

Checks that only code expresses (cross-field rules, references between objects) are in the
loader; the schemas carry types, enums, ranges and patterns.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from scaler.policy.kinds import KINDS, PolicyKind

SCHEMA_DIR = Path("docs") / "schemas"
CRD_DIR = Path("helm") / "scaler" / "crds"
SCHEMA_BASE_URL = "https://scaler.dev/schemas"
GENERATED_BY = "python -m scaler.policy.schema"

Schema = dict[str, Any]


# --- from pydantic's JSON Schema to a clean one --------------------------------------------


def _is_null(s: Any) -> bool:
    return isinstance(s, Mapping) and s.get("type") == "null" and len(s) == 1


def _clean(node: Any) -> Any:
    """Titles dropped, `X | None` written as X (null means absent in Kubernetes)."""
    if isinstance(node, list):
        return [_clean(x) for x in node]
    if not isinstance(node, dict):
        return node
    out: Schema = {}
    for key, value in node.items():
        if key == "title" and isinstance(value, str):
            continue
        if key == "default" and value is None:
            continue
        out[key] = _clean(value) if key not in ("enum", "const", "default", "required") else value
    if "const" in out:  # Literal["USD"]: an enum of one reads the same in every tool
        out["enum"] = [out.pop("const")]
    pattern_props = out.get("patternProperties")
    if isinstance(pattern_props, dict) and len(pattern_props) == 1 and (
        "additionalProperties" not in out
    ):
        # dict[ConstrainedKey, V]: every key must match, so say it with propertyNames.
        ((pattern, value),) = pattern_props.items()
        del out["patternProperties"]
        out["additionalProperties"] = value
        out["propertyNames"] = {**out.get("propertyNames", {}), "pattern": pattern}
    any_of = out.get("anyOf")
    if isinstance(any_of, list) and any(_is_null(s) for s in any_of):
        rest = [s for s in any_of if not _is_null(s)]
        del out["anyOf"]
        if len(rest) == 1:
            # Field-level keys (description, and json_schema_extra such as an enum for the
            # items of a list) refine the type's own schema.
            out = {**rest[0], **out}
        else:
            out["anyOf"] = rest
    return out


def json_schema(kind: PolicyKind) -> Schema:
    """The JSON Schema (draft 2020-12) of one kind."""
    raw = kind.model.model_json_schema(by_alias=True, mode="validation")
    schema: Schema = _clean(raw)
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {"type": "string", "enum": [kind.api_version]}
    props["kind"] = {"type": "string", "enum": [kind.kind]}
    required = [r for r in ("apiVersion", "kind", "metadata", "spec") if r in props]
    schema["required"] = required
    head: Schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA_BASE_URL}/{kind.group}/{kind.singular}_{kind.version}.json",
        "title": f"{kind.kind} ({kind.api_version})",
        "description": kind.description,
    }
    schema.pop("description", None)
    return {**head, **schema}


# --- from the JSON Schema to a structural OpenAPI v3 schema for a CRD -------------------------

_DROP_IN_CRD = ("default", "const", "propertyNames", "$schema", "$id", "title", "examples")


def _inline(node: Any, defs: Mapping[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline(x, defs) for x in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = copy.deepcopy(defs[node["$ref"].rsplit("/", 1)[-1]])
        extra = {k: v for k, v in node.items() if k != "$ref"}
        node = {**target, **extra}
    return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}


def _structural(node: Any) -> Any:
    if isinstance(node, list):
        return [_structural(x) for x in node]
    if not isinstance(node, dict):
        return node
    out: Schema = {}
    for key, value in node.items():
        if key in _DROP_IN_CRD:
            continue
        if key in ("properties",):
            out[key] = {k: _structural(v) for k, v in value.items()}
        elif key in ("enum", "required"):
            out[key] = value
        else:
            out[key] = _structural(value)
    extra = out.pop("additionalProperties", None)
    if out.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        return out
    if "anyOf" in out:  # only int-or-string unions are structural
        raise ValueError(f"a union other than int-or-string cannot go into a CRD: {out}")
    if extra is True or extra == {}:
        out["type"] = "object"
        out["x-kubernetes-preserve-unknown-fields"] = True
    elif isinstance(extra, dict):
        if "properties" in out:
            raise ValueError("properties and additionalProperties together are not structural")
        out["type"] = "object"
        out["additionalProperties"] = extra
    if "type" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
        out["x-kubernetes-preserve-unknown-fields"] = True  # `Any`: kept as written
    return out


def crd_schema(kind: PolicyKind) -> Schema:
    """The openAPIV3Schema of the kind's CRD."""
    schema = json_schema(kind)
    inlined: Schema = _inline(schema, schema.get("$defs", {}))
    root: Schema = _structural(inlined)
    props = root["properties"]
    props["apiVersion"] = {
        "type": "string",
        "description": "APIVersion defines the versioned schema of this representation.",
    }
    props["kind"] = {"type": "string", "description": "Kind is the type of this resource."}
    # Only metadata.name/generateName may be constrained; the API server validates the rest.
    props["metadata"] = {"type": "object"}
    props["status"] = {
        "type": "object",
        "description": "Set by scaler; not part of what Git holds.",
        "x-kubernetes-preserve-unknown-fields": True,
    }
    root["required"] = [r for r in root.get("required", []) if r not in ("apiVersion", "kind")]
    root["description"] = kind.description
    root.pop("additionalProperties", None)
    root.pop("x-kubernetes-preserve-unknown-fields", None)
    root["type"] = "object"
    return root


def crd(kind: PolicyKind) -> Schema:
    """The CustomResourceDefinition of one scaler kind."""
    columns = [
        {
            "name": c.name,
            "type": c.type,
            "jsonPath": c.json_path,
            **({"description": c.description} if c.description else {}),
        }
        for c in kind.columns
    ]
    columns.append({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"})
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{kind.plural}.{kind.group}",
            "labels": {"app.kubernetes.io/part-of": "scaler"},
        },
        "spec": {
            "group": kind.group,
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": ["scaler"],
            },
            "scope": "Cluster",
            "versions": [
                {
                    "name": kind.version,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {"openAPIV3Schema": crd_schema(kind)},
                }
            ],
        },
    }


# --- scaler's NodeClaim: written by the controller, never by Git ------------------------------

NODECLAIM_CONDITIONS = ("Launched", "Registered", "Initialized", "Drifted")


def nodeclaim_crd() -> Schema:
    """scaler.dev/v1alpha1 NodeClaim: one per node scaler launches (Karpenter's shape).

    Its field names are the controller's (scaler/adapters/kubernetes/nodeclaims.py)."""
    string: Schema = {"type": "string"}
    quantities: Schema = {"type": "object", "additionalProperties": {
        "x-kubernetes-int-or-string": True,
        "anyOf": [{"type": "integer"}, {"type": "string"}]}}
    requirement: Schema = {
        "type": "object", "required": ["key", "operator"],
        "properties": {
            "key": string,
            "operator": {"type": "string",
                         "enum": ["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]},
            "values": {"type": "array", "items": string},
        },
    }
    taint: Schema = {
        "type": "object", "required": ["key", "effect"],
        "properties": {"key": string, "value": string,
                       "effect": {"type": "string",
                                  "enum": ["NoSchedule", "PreferNoSchedule", "NoExecute"]}},
    }
    condition: Schema = {
        "type": "object", "required": ["type", "status"],
        "properties": {
            "type": {"type": "string", "description": ", ".join(NODECLAIM_CONDITIONS)},
            "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
            "reason": string,
            "message": string,
            "lastTransitionTime": {"type": "string", "format": "date-time"},
        },
    }
    schema: Schema = {
        "type": "object",
        "description": "A node scaler launched: what was asked (spec) and what happened "
                       "(status, with conditions Launched, Registered, Initialized, Drifted).",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "properties": {
                    "nodePool": string,
                    "requirements": {"type": "array", "items": requirement},
                    "taints": {"type": "array", "items": taint},
                    "resources": {"type": "object",
                                  "properties": {"requests": quantities}},
                },
            },
            "status": {
                "type": "object",
                "properties": {
                    "providerID": string,
                    "nodeName": string,
                    "instanceType": string,
                    "zone": string,
                    "capacityType": string,
                    "pricePerHour": string,
                    "allocatable": quantities,
                    "conditions": {
                        "type": "array", "items": condition,
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["type"],
                    },
                },
            },
        },
    }
    columns = [
        ("Type", "string", ".status.instanceType"),
        ("Capacity", "string", ".status.capacityType"),
        ("Zone", "string", ".status.zone"),
        ("Node", "string", ".status.nodeName"),
        ("Ready", "string", '.status.conditions[?(@.type=="Initialized")].status'),
        ("Age", "date", ".metadata.creationTimestamp"),
        ("NodePool", "string", ".spec.nodePool"),
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "nodeclaims.scaler.dev",
                     "labels": {"app.kubernetes.io/part-of": "scaler"}},
        "spec": {
            "group": "scaler.dev",
            "names": {"kind": "NodeClaim", "listKind": "NodeClaimList", "plural": "nodeclaims",
                      "singular": "nodeclaim", "shortNames": ["snc"],
                      "categories": ["scaler"]},
            "scope": "Cluster",
            "versions": [{
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": n, "type": t, "jsonPath": j} for n, t, j in columns],
                "schema": {"openAPIV3Schema": schema},
            }],
        },
    }


NODECLAIM_CRD_PATH = CRD_DIR / "scaler.dev_nodeclaims.yaml"


# --- files ---------------------------------------------------------------------------------


def schema_path(kind: PolicyKind) -> Path:
    return SCHEMA_DIR / kind.group / f"{kind.singular}_{kind.version}.json"


def crd_path(kind: PolicyKind) -> Path:
    return CRD_DIR / f"{kind.group}_{kind.plural}.yaml"


def generated_files() -> dict[Path, str]:
    """Every generated file (path relative to the repository root) and its content."""
    files: dict[Path, str] = {}
    for kind in KINDS:
        files[schema_path(kind)] = json.dumps(json_schema(kind), indent=2) + "\n"
        if kind.crd:
            header = (
                f"# {kind.kind} ({kind.api_version}): generated by `{GENERATED_BY}` from "
                "scaler/policy; do not edit.\n"
            )
            body = yaml.safe_dump(crd(kind), sort_keys=False, width=100)
            files[crd_path(kind)] = header + body
    files[NODECLAIM_CRD_PATH] = (
        "# NodeClaim (scaler.dev/v1alpha1): generated by "
        f"`{GENERATED_BY}`; do not edit.\n"
        + yaml.safe_dump(nodeclaim_crd(), sort_keys=False, width=100))
    return files


def stale_files(root: Path) -> list[Path]:
    """Generated files that are missing or differ from what the models give."""
    return [
        path
        for path, text in generated_files().items()
        if not (root / path).is_file() or (root / path).read_text(encoding="utf-8") != text
    ]


def write_files(root: Path) -> list[Path]:
    written = []
    for path, text in generated_files().items():
        target = root / path
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {__name__}", description="Regenerate the policy JSON Schemas and CRDs."
    )
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root")
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.root)
        for path in stale:
            print(f"out of date: {path} (run {GENERATED_BY})", file=sys.stderr)
        return 1 if stale else 0
    for path in write_files(args.root):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
