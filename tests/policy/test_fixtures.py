"""Every invalid-policy fixture fails with its one clear line, in the library and the CLI.

Each directory under tests/fixtures/policies/invalid/ is a small policy repo with one
mistake (README says which) and `expected-error.txt`, the exact message scaler gives.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scaler.cli import main
from scaler.errors import UserError
from scaler.policy import load_policies

INVALID = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "policies" / "invalid"
CASES = sorted(p for p in INVALID.iterdir() if p.is_dir())


def test_there_are_fixtures_for_every_kind() -> None:
    prefixes = {c.name.split("-")[0] for c in CASES}
    assert {"nodepool", "ec2nodeclass", "nodepoolpolicy", "rightsizing", "costallocation",
            "scaler", "malformed"} <= prefixes
    for case in CASES:
        assert (case / "README").is_file() and (case / "expected-error.txt").is_file(), case


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_invalid_fixture_fails_with_its_message(case: Path) -> None:
    expected = (case / "expected-error.txt").read_text(encoding="utf-8").strip()
    with pytest.raises(UserError) as info:
        load_policies(case, display_root=case)
    assert info.value.render() == expected
    # file:line first, then the object and the field (unless the YAML itself is broken)
    file_line = expected.split(": ", 1)[0]
    assert file_line.endswith(".yaml") or file_line.rsplit(":", 1)[1].isdigit()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_validate_command_prints_one_line_and_exits_2(
    case: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(case)
    expected = (case / "expected-error.txt").read_text(encoding="utf-8").strip()
    code = main(["policies", "validate", "."])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err == f"scaler: error: {expected}\n"
    assert "Traceback" not in err
