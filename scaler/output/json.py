"""JSON output: stable key order, compact enough for large plans."""

from __future__ import annotations

import json
from typing import Any


def render_json(document: Any, indent: int | None = 2) -> str:
    """Indented for people; `indent=None` is one line, several times faster to write (the
    standard library's C encoder only serves unindented output), for programs."""
    if indent is None:
        return json.dumps(document, separators=(",", ":")) + "\n"
    return json.dumps(document, indent=indent, sort_keys=False) + "\n"
