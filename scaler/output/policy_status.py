"""`scaler policies status`: the policy source, its revisions, conditions and drift."""

from __future__ import annotations

from scaler.gitops.credentials import redact_url
from scaler.gitops.git import describe_source
from scaler.gitops.status import PolicySource
from scaler.output.table import render_table


def status_table(obj: PolicySource) -> str:
    spec, st = obj.spec, obj.status
    out = [
        f"Source:      {describe_source(redact_url(spec.url), spec.ref, spec.path)}",
        f"Interval:    {spec.to_json()['interval']} (jitter up to {spec.jitter:.0%} earlier)"
        + ("   SUSPENDED" if spec.suspend else ""),
        f"Applied:     {st.last_applied_revision or '-'}"
        + (f" at {st.last_applied_time}" if st.last_applied_time else ""),
        f"Digest:      {st.last_applied_digest or '-'}",
        f"Attempted:   {st.last_attempted_revision or '-'}"
        + (f" at {st.last_attempted_time}" if st.last_attempted_time else ""),
        f"Next poll:   {'suspended' if spec.suspend else st.next_reconcile_time or 'now'}",
        f"Generation:  {obj.generation} (observed {st.observed_generation})",
    ]
    if st.objects:
        out.append("Objects:     " + ", ".join(f"{n} {k}" for k, n in st.objects.items()))
    out.append("")
    if st.conditions:
        out.append(
            render_table(
                ["CONDITION", "STATUS", "REASON", "SINCE", "MESSAGE"],
                [
                    [c.type, c.status, c.reason, c.last_transition_time, c.message]
                    for c in st.conditions
                ],
            )
        )
    else:
        out.append("Conditions: none yet (not reconciled)")
    for w in st.warnings:
        out.append(f"warning: {w}")
    out.append("")
    if st.drift:
        out.append(f"Drifted nodes: {len(st.drift)}")
        out.append(
            render_table(
                ["NODE", "NODEPOOL", "CAUSE", "SINCE", "REASON"],
                [
                    [d["node"], d["nodePool"], d.get("cause", ""), d.get("since", ""), d["reason"]]
                    for d in st.drift
                ],
            )
        )
    else:
        out.append("Drifted nodes: none")
    return "\n".join(out) + "\n"
