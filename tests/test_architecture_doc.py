"""docs/architecture.md names real code: every repository path and every `scaler.…` name in
it exists, so the code map fails a test the day a file or function it cites moves."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"

# A repository path: scaler/core/provisioning.py, tests/cli/, tests/unit/test_aws_*.py.
PATH = re.compile(r"(?<![\w./-])((?:scaler|tests|docs|pricing|helm)/[\w./*-]*)")
# A dotted name: a module, or something in one (scaler.core.provisioning.decide_provisioning,
# scaler.runtime.controller.Controller.disrupt).
DOTTED = re.compile(r"(?<![\w./-])(scaler(?:\.\w+)+)")
# The short form a row uses after naming the class in full: `Provisioner.launch`.
SHORT = re.compile(r"`([A-Z]\w*)\.(\w+)`")


def resolve(name: str) -> object | None:
    """The object a dotted name stands for: the longest importable module prefix, then
    attributes. None when it does not exist."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return None
            obj = getattr(obj, attr)
        return obj
    return None


def broken_references(text: str, root: Path = ROOT) -> list[str]:
    broken = []
    for raw in sorted(set(PATH.findall(text))):
        path = raw.rstrip(".,:;)")
        found = any(root.glob(path)) if "*" in path else (root / path).exists()
        if not found:
            broken.append(f"path {path}")
    classes: dict[str, list[object]] = {}
    for raw in sorted(set(DOTTED.findall(text))):
        name = raw.rstrip(".")
        if resolve(name) is None:
            broken.append(f"name {name}")
            continue
        parts = name.split(".")
        for i in range(2, len(parts) + 1):
            obj = resolve(".".join(parts[:i]))
            if isinstance(obj, type):
                classes.setdefault(obj.__name__, []).append(obj)
    for cls_name, attr in sorted(set(SHORT.findall(text))):
        if not any(hasattr(c, attr) for c in classes.get(cls_name, [])):
            broken.append(f"name {cls_name}.{attr} (no class {cls_name} named in full has it)")
    return broken


def test_every_path_and_name_in_the_code_map_exists() -> None:
    assert broken_references(DOC.read_text()) == []


def test_the_code_map_cites_the_decision_code() -> None:
    """The checks above see the map's references (a broken pattern would pass vacuously)."""
    text = DOC.read_text()
    names = set(DOTTED.findall(text))
    assert len(names) >= 40 and len(set(PATH.findall(text))) >= 40
    for decider in ("scaler.core.provisioning.decide_provisioning",
                    "scaler.core.disruption.plan.plan_disruptions",
                    "scaler.control.disruption.DisruptionExecutor.advance",
                    "scaler.core.rightsizing.recommend.recommend",
                    "scaler.core.allocation.compute.allocate",
                    "scaler.gitops.reconciler.Reconciler.reconcile_once"):
        assert decider in names


def test_a_moved_file_or_renamed_function_is_reported() -> None:
    planted = ("`scaler/core/gone.py`, `tests/unit/test_nothing_*.py`, "
               "`scaler.core.provisioning.decide_nothing`, `scaler.core.nowhere.f`, "
               "`scaler.control.provisioning.Provisioner.provision`, `Provisioner.vanish`, "
               "`Unnamed.method`, and fine ones: `scaler/core/`, `scaler.core.model.Pod`.")
    assert broken_references(planted) == [
        "path scaler/core/gone.py",
        "path tests/unit/test_nothing_*.py",
        "name scaler.core.nowhere.f",
        "name scaler.core.provisioning.decide_nothing",
        "name Provisioner.vanish (no class Provisioner named in full has it)",
        "name Unnamed.method (no class Unnamed named in full has it)",
    ]


def test_the_readme_links_the_code_map() -> None:
    assert "(docs/architecture.md)" in (ROOT / "README.md").read_text()
