"""The part of a Kubernetes strategic merge patch our patches use: maps merge key by key,
`null` deletes a key, and lists of containers merge by `name` (their patch merge key)."""

from __future__ import annotations

import copy
from typing import Any

MERGE_BY_NAME = ("containers", "initContainers")


def merge(target: Any, patch: Any, key: str = "") -> Any:
    if isinstance(patch, dict) and isinstance(target, dict):
        out = copy.deepcopy(target)
        for k, v in patch.items():
            if v is None:
                out.pop(k, None)
            elif k in out:
                out[k] = merge(out[k], v, k)
            else:
                out[k] = copy.deepcopy(v)
        return out
    if isinstance(patch, list) and isinstance(target, list) and key in MERGE_BY_NAME:
        out_list = copy.deepcopy(target)
        for item in patch:
            i = next((j for j, t in enumerate(out_list) if t.get("name") == item["name"]), None)
            if i is None:
                raise AssertionError(f"patch names container {item['name']!r} the target lacks")
            out_list[i] = merge(out_list[i], item, "")
        return out_list
    return copy.deepcopy(patch)
