"""`scaler policies validate`: what a valid bundle holds, as text or a JSON document."""

from __future__ import annotations

from typing import Any

from scaler.policy import PolicySet


def validation_document(ps: PolicySet) -> dict[str, Any]:
    return {
        "valid": True,
        "source": ps.source,
        "digest": ps.digest,
        "files": list(ps.files),
        "objects": ps.counts(),
        "nodePools": [p.name for p in ps.node_pools],
        "defaulted": ps.defaulted,
        "ignored": dict(ps.ignored),
        "ignoredFields": {k: list(v) for k, v in ps.ignored_fields.items()},
        "warnings": list(ps.warnings),
    }


def validation_text(ps: PolicySet) -> str:
    counts = ", ".join(f"{n} {k}" for k, n in ps.counts().items()) or "no objects"
    out = [
        f"{ps.source}: valid ({len(ps.files)} file{'s' if len(ps.files) != 1 else ''}: {counts})",
        f"digest: {ps.digest}",
        "NodePools, in the order tried: " + ", ".join(p.name for p in ps.node_pools)
        + (" (built-in default: no NodePool found)" if ps.defaulted else ""),
    ]
    for obj, fields in ps.ignored_fields.items():
        out.append(f"{obj}: fields newer than Karpenter v1.14, kept unvalidated: "
                   f"{', '.join(fields)}")
    other = {k: n for k, n in ps.ignored.items() if k != "EC2NodeClass"}
    if other:
        out.append("ignored (not policy kinds): " + ", ".join(f"{n} {k}" for k, n in other.items()))
    for w in ps.warnings:
        out.append(f"warning: {w}")
    return "\n".join(out) + "\n"
