"""What a reader notices in reports: money with the sign before the dollar (`-$0.28`, never
`$-0.28`) wherever money is printed, and notes that describe the product as it is."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from scaler.cli import main
from scaler.core.money import money, money_auto

ROOT = Path(__file__).resolve().parents[2]
BASE = [str(ROOT / "examples"), "--policies", str(ROOT / "policies"),
        "--now", "2026-11-26T10:30:00Z", "--window", "yesterday"]
WRONG_SIGN = re.compile(r"\$-\d")


def report(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(["report", *BASE, *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_money_puts_the_sign_before_the_dollar() -> None:
    assert money(-0.03) == "-$0.03"
    assert money(-1234.5) == "-$1,234.50"
    assert money(0.03) == "$0.03"
    assert money(-0.001) == "$0.00"  # rounds to nothing: no sign
    assert money_auto(-0.05) == "-$0.0500" and money_auto(-12.3) == "-$12.30"


def test_negative_savings_read_minus_dollar_in_the_html_report(
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = json.loads(report(capsys, "--output", "json"))
    negative = [w["savings"] for w in doc["scaler"]["savings"]["workloads"] if w["savings"] < 0]
    assert negative, "the example has workloads that use more than they ask for"
    html = report(capsys, "--output", "html")
    assert not WRONG_SIGN.search(html)
    assert money(min(negative)) in html


def test_notes_speak_of_the_product_as_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads(report(capsys, "--output", "json"))
    method = doc["scaler"]["savings"]["nodes"]["method"]
    assert "not landed" not in method and "consolidation" in method
    notes = " ".join(doc["scaler"]["warnings"])
    assert "not landed" not in notes and "1 could not be placed and is not" in notes
    table = report(capsys)
    assert "not landed" not in table and not WRONG_SIGN.search(table)


def test_a_rightsizing_that_costs_more_reads_minus_dollar(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    examples = ROOT / "examples"
    args = [str(examples / "workloads"), "--usage", str(examples / "usage.csv.gz"),
            "--cpu-min", "4"]
    assert main(["rightsize", *args, "--write-patches", str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert re.search(r"expected saving -\$[\d,]+\.\d\d/month", out)
    assert not WRONG_SIGN.search(out)
    patches = "".join(p.read_text() for p in (tmp_path / "p").rglob("*.yaml"))
    assert "expected saving -$" in patches and not WRONG_SIGN.search(patches)
