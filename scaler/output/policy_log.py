"""`scaler policies log`: commits that changed policies, with the semantic change of each."""

from __future__ import annotations

from collections.abc import Sequence

from scaler.gitops.audit import AuditEntry

FIELDS_SHOWN = 20


def log_text(entries: Sequence[AuditEntry]) -> str:
    if not entries:
        return "No commits changed the policies.\n"
    out: list[str] = []
    for e in entries:
        c = e.commit
        out.append(f"commit {c.sha}")
        out.append(f"Author: {c.author} <{c.email}>")
        out.append(f"Date:   {c.date}")
        out.append("")
        out.append(f"    {c.subject}")
        out.append("")
        if e.error:
            out.append(f"  REJECTED (scaler kept the previous revision): {e.error}")
        if not e.changes:
            out.append("  no effective change (comments, formatting or file moves only)")
        for ch in e.changes:
            where = f" ({ch.file})" if ch.file else ""
            out.append(f"  {ch.op} {ch.object}{where}")
            for f in ch.fields[:FIELDS_SHOWN]:
                out.append(f"      {f.describe()}")
            if len(ch.fields) > FIELDS_SHOWN:
                out.append(f"      ... and {len(ch.fields) - FIELDS_SHOWN} more fields")
        out.append("")
    return "\n".join(out)
