"""JSON output: stable key order, compact enough for large plans."""

from __future__ import annotations

import json
from typing import Any


def render_json(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"
