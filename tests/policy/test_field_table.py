"""docs/policies.md carries one row per Karpenter field, each honoured, refused or warned
(said out loud at every load), never "ignored"; the models' fields all have a row."""

from __future__ import annotations

import re
from pathlib import Path

from scaler.policy.ec2nodeclass import EC2NodeClassSpec, KubeletConfiguration
from scaler.policy.nodeoverlay import NodeOverlaySpec

DOC = (Path(__file__).resolve().parents[2] / "docs" / "policies.md").read_text(encoding="utf-8")
STATUSES = re.compile(r"^(honoured|refused|warned|n/a)( \(\w+\))?(; (honoured|warned) \(\w+\))?$")


def _table(heading: str) -> list[list[str]]:
    section = DOC.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [[c.strip() for c in line.strip("|").split("|")] for line in rows]


def test_every_row_has_a_status_and_none_is_ignored() -> None:
    for heading in ("NodePool fields", "EC2NodeClass", "NodeOverlay"):
        rows = _table(heading)
        assert rows, heading
        for row in rows:
            assert STATUSES.match(row[2]), (heading, row[0], row[2])
            assert "ignored" not in row[2]


def test_every_modelled_field_has_a_row() -> None:
    nodeclass = " ".join(r[0] for r in _table("EC2NodeClass"))
    for name, info in EC2NodeClassSpec.model_fields.items():
        assert (info.alias or name) in nodeclass, name
    for name, info in KubeletConfiguration.model_fields.items():
        assert (info.alias or name).split("Percent")[0][:7] in nodeclass, name
    overlay = " ".join(r[0] for r in _table("NodeOverlay"))
    for name, info in NodeOverlaySpec.model_fields.items():
        assert (info.alias or name) in overlay, name
    nodepool = " ".join(r[0] for r in _table("NodePool fields"))
    for field in ("consolidationThreshold", "limits", "terminationGracePeriod", "expireAfter",
                  "startupTaints", "nodeClassRef", "budgets", "replicas", "annotations"):
        assert field in nodepool, field
