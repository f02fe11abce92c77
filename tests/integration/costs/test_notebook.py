"""notebooks/cost-analysis.ipynb runs on reports `scaler report` writes, JSON and CSV."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from scaler.cli import main

ROOT = Path(__file__).resolve().parents[3]
NOTEBOOK = ROOT / "notebooks" / "cost-analysis.ipynb"


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_notebook_loads_and_plots_a_report(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code = main(["report", str(ROOT / "examples"), "--policies", str(ROOT / "policies"),
                 "--now", "2026-11-26T00:00:00Z", "--window", "3d", "--step", "1d",
                 "--include-idle", "--no-share-idle", "--output", fmt])
    out = capsys.readouterr()
    assert code == 0, out.err
    report = tmp_path / f"report.{fmt}"
    report.write_text(out.out)
    figures = tmp_path / "figures"
    monkeypatch.setenv("SCALER_REPORT", str(report))
    monkeypatch.setenv("SCALER_FIGURES", str(figures))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    first = "".join(o.get("text", "") for o in nb.cells[1].outputs if o.output_type == "stream")
    assert "3 steps" in first
    expected = {"cost_over_time.png", "efficiency.png"} | ({"savings.png"} if fmt == "json"
                                                            else set())
    assert {p.name for p in figures.iterdir()} == expected
    assert all(p.stat().st_size > 5000 for p in figures.iterdir())
