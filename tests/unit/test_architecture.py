"""The layering the design promises: the core decides without touching the world."""

from __future__ import annotations

import ast
from pathlib import Path

SCALER = Path(__file__).resolve().parents[2] / "scaler"
# The core may use the catalog's value types and numpy; never adapters, readers or I/O.
FORBIDDEN_IN_CORE = (
    "scaler.adapters",
    "scaler.snapshot",
    "scaler.policy",
    "scaler.simulation",
    "scaler.cli",
    "scaler.output",
    "scaler.ports",
    "os",
    "io",
    "pathlib",
    "subprocess",
    "socket",
    "yaml",
    "json",
    "kubernetes",
    "boto3",
)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_imports_no_adapter_and_no_io() -> None:
    files = sorted((SCALER / "core").rglob("*.py"))
    assert len(files) > 5
    for f in files:
        for name in imports_of(f):
            for bad in FORBIDDEN_IN_CORE:
                assert name != bad and not name.startswith(bad + "."), f"{f.name} imports {name}"


def test_pricing_does_not_import_scaler() -> None:
    for f in sorted((SCALER.parent / "pricing").rglob("*.py")):
        assert not any(n == "scaler" or n.startswith("scaler.") for n in imports_of(f)), f


def test_the_control_layer_acts_only_through_the_ports() -> None:
    """scaler.control (the provisioning step, the disruption executor) sits above core and
    ports and below the adapters, simulation and runtime that call it: it reaches the world
    only through the ports it is handed."""
    allowed = ("scaler.core", "scaler.ports", "scaler.control", "scaler.errors", "pricing")
    files = sorted((SCALER / "control").rglob("*.py"))
    assert len(files) >= 3
    for f in files:
        for name in imports_of(f):
            if name.startswith(("scaler", "pricing")):
                assert name.startswith(allowed), f"{f.name} imports {name}"
            for bad in ("os", "io", "pathlib", "subprocess", "socket", "kubernetes", "boto3"):
                assert name != bad and not name.startswith(bad + "."), f"{f.name} imports {name}"
