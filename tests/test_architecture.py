"""The layering the design promises: the core decides without touching the world."""

from __future__ import annotations

import ast
from pathlib import Path

SCALER = Path(__file__).resolve().parents[1] / "scaler"
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


# The layer table: a package may import its own layer or any layer below, never above.
# Top-level modules (scaler/errors.py and friends) are the floor every package stands on.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("core", "solvers"),
    ("ports",),
    ("policy", "snapshot", "control"),
    ("adapters",),
    ("simulation", "report", "rightsizing", "gitops"),
    ("output",),
    ("cli", "runtime"),
)
RANK = {pkg: rank for rank, names in enumerate(LAYERS, start=1) for pkg in names}


def package_of(path: Path, root: Path) -> str:
    """The first folder under scaler/, or "" for a top-level module (the floor)."""
    rel = path.relative_to(root).parts
    return rel[0] if len(rel) > 1 else ""


def module_of(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def scaler_imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) for every absolute import of scaler.* in a file."""
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "scaler" or node.module.startswith("scaler."):
                found.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((a.name, []) for a in node.names if a.name.startswith("scaler."))
    return found


def layer_violations(root: Path) -> list[str]:
    """Every import that points up the table, names an unplaced package, closes a cycle
    between packages, or takes a private name from another module."""
    problems: list[str] = []
    edges: dict[str, set[str]] = {}
    for f in sorted(root.rglob("*.py")):
        if f == root / "__main__.py":
            continue  # `python -m scaler`: the entry point stands above every layer
        here, mod = package_of(f, root), module_of(f, root)
        if here and here not in RANK:
            problems.append(f"{f}: package scaler.{here} has no place in the layer table")
            continue
        for target, names in scaler_imports(f):
            parts = target.split(".")
            there = parts[1] if len(parts) > 2 or (len(parts) == 2 and
                                                   (root / parts[1]).is_dir()) else ""
            if there and here and there != here:
                edges.setdefault(here, set()).add(there)
                if there not in RANK:
                    problems.append(f"{f}: imports {target}, a package with no layer")
                elif RANK[there] > RANK[here]:
                    problems.append(f"{f}: scaler.{here} imports {target}, a layer above it")
            elif there and not here:
                problems.append(f"{f}: top-level module imports {target}; the floor imports "
                                "no package")
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and target != mod:
                problems.append(f"{f}: imports private {', '.join(private)} from {target}")
    problems.extend(f"package cycle: {' -> '.join(c)}" for c in cycles(edges))
    return problems


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected group of packages (depth-first, deterministic)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                found.append(path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for start in sorted(edges):
        if start not in state:
            visit(start, [start])
    return found


def test_imports_point_down_the_layers_without_cycles_or_private_names() -> None:
    assert layer_violations(SCALER) == []


def test_tests_use_only_public_names_of_scaler() -> None:
    """A test that needs a private helper is a sign the helper is a public contract."""
    found = [
        f"{f.relative_to(SCALER.parent)}: {name} from {target}"
        for f in sorted((SCALER.parent / "tests").rglob("*.py"))
        if f.name != "test_architecture.py"  # its planted violations are strings
        for target, names in scaler_imports(f)
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert found == []


def test_layer_check_catches_planted_violations(tmp_path: Path) -> None:
    root = tmp_path / "scaler"
    for pkg in ("core", "output", "rightsizing", "policy", "mystery"):
        (root / pkg).mkdir(parents=True)
        (root / pkg / "__init__.py").write_text("")
    (root / "errors.py").write_text("")
    (root / "core" / "model.py").write_text("from scaler.output.table import render\n")
    (root / "rightsizing" / "patches.py").write_text("from scaler.output.units import cpu\n")
    (root / "output" / "units.py").write_text("from scaler.rightsizing.report import Row\n")
    (root / "policy" / "common.py").write_text("from scaler.policy.nodepool import _fail\n")
    (root / "mystery" / "x.py").write_text("")
    found = "\n".join(layer_violations(root))
    assert "scaler.core imports scaler.output.table, a layer above it" in found
    assert "scaler.rightsizing imports scaler.output.units, a layer above it" in found
    assert "package cycle: output -> rightsizing -> output" in found
    assert "imports private _fail from scaler.policy.nodepool" in found
    assert "package scaler.mystery has no place in the layer table" in found


# Size limits: a function a reader can hold in mind, a module a reader can page through.
MAX_FUNCTION_LINES = 100
MAX_MODULE_LINES = 800
# Functions that are one literal table, where splitting would only scatter the table.
LITERAL_TABLES = {
    "scaler/adapters/aws/iam.py:controller_policy": "the controller's IAM policy document",
    "scaler/policy/schema.py:nodeclaim_crd": "the NodeClaim CRD's OpenAPI schema",
}


def oversized(root: Path) -> list[str]:
    """Modules over MAX_MODULE_LINES and functions over MAX_FUNCTION_LINES, as
    "path:function (n lines)" with paths relative to root's parent."""
    found: list[str] = []
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(root.parent).as_posix()
        text = f.read_text()
        if text.count("\n") > MAX_MODULE_LINES:
            found.append(f"{rel} ({text.count(chr(10))} lines)")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    found.append(f"{rel}:{node.name} ({lines} lines)")
    return found


def test_no_function_over_100_lines_and_no_module_over_800() -> None:
    allowed = set(LITERAL_TABLES)
    found = oversized(SCALER)
    assert [f for f in found if f.split(" (")[0] not in allowed] == []
    # An entry that no longer needs its exemption is dropped, so the list stays honest.
    assert {f.split(" (")[0] for f in found} >= allowed


def test_size_check_catches_planted_long_function_and_module(tmp_path: Path) -> None:
    root = tmp_path / "scaler"
    root.mkdir()
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    (root / "long.py").write_text(f"def f() -> None:\n{body}\n\ndef g() -> None:\n    pass\n")
    (root / "big.py").write_text("x = 1\n" * (MAX_MODULE_LINES + 1))
    found = oversized(root)
    assert found == [f"scaler/big.py ({MAX_MODULE_LINES + 1} lines)",
                     f"scaler/long.py:f ({MAX_FUNCTION_LINES + 1} lines)"]
