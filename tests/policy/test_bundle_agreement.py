"""One verdict per bundle: `scaler policies validate` exits 0 exactly when `scaler simulate`
and the controller's policy load (its PolicyHolder and the AWS adapter's EC2NodeClasses)
accept it. Checked over every fixture bundle, valid and invalid, and the example repo."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaler.adapters.aws import node_classes_from_documents
from scaler.cli import main
from scaler.errors import UserError
from scaler.runtime.policies import LocalPolicies

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "policies"
SNAPSHOT = ROOT / "tests" / "fixtures" / "snapshots" / "small"
BUNDLES = sorted(
    [p for group in FIXTURES.iterdir() if group.is_dir() for p in group.iterdir() if p.is_dir()]
    + [ROOT / "policies"]
)


def _controller_accepts(bundle: Path) -> bool:
    try:
        policies = LocalPolicies(str(bundle)).current
        node_classes_from_documents((o.file, o.document) for o in policies.objects)
    except UserError:
        return False
    return True


def test_there_are_valid_and_invalid_bundles() -> None:
    names = {b.parent.name for b in BUNDLES}
    assert {"invalid", "karpenter"} <= names
    assert len(BUNDLES) > 25


@pytest.mark.parametrize("bundle", BUNDLES, ids=[f"{b.parent.name}/{b.name}" for b in BUNDLES])
def test_validate_simulate_and_the_controller_agree(
    bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    validate = main(["policies", "validate", str(bundle)])
    simulate = main(["simulate", "--policies", str(bundle), str(SNAPSHOT), "-o", "json"])
    _, err = capsys.readouterr()
    assert "Traceback" not in err
    controller = _controller_accepts(bundle)
    assert validate in (0, 2) and simulate in (0, 2)
    assert (validate == 0) == (simulate == 0) == controller, (validate, simulate, controller)
    if bundle.parent.name == "invalid":
        assert validate == 2
    else:
        assert validate == 0
