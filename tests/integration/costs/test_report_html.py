"""The HTML report in headless Chromium: it renders without console errors, its script
runs, it loads nothing from the network, and each chart panel has drawn something."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scaler.cli import main
from scaler.output.report_html import HEADER_H, PANEL_H, PANEL_W
from tests.support import chromium

ROOT = Path(__file__).resolve().parents[3]
WIDTH, HEIGHT = 1200, 900
CHARTS = ("chart-cost", "chart-idle", "chart-efficiency", "chart-savings")


def render(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> Path:
    code = main(["report", *args, "--now", "2026-11-26T00:00:00Z", "--output", "html"])
    out = capsys.readouterr()
    assert code == 0, out.err
    page = tmp_path / "report.html"
    page.write_text(out.out)
    return page


def colored_pixels(shot: Path) -> dict[str, int]:
    """Per chart panel (2x2 grid under the header), pixels that are clearly colored: bars,
    not the white background, grey grid lines or black text."""
    img = Image.open(shot).convert("RGB")
    assert img.size == (WIDTH, HEIGHT)
    counts = {}
    for i, name in enumerate(CHARTS):
        x0 = 20 + (i % 2) * (PANEL_W + 20)
        y0 = HEADER_H + (i // 2) * (PANEL_H + 20) + 34  # below the caption
        region = img.crop((x0 + 2, y0, x0 + PANEL_W - 2, y0 + PANEL_H - 40))
        px = np.asarray(region, dtype=np.int16)
        counts[name] = int(((px.max(axis=2) - px.min(axis=2)) > 60).sum())
    return counts


def test_html_report_renders_with_charts_and_no_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = render(tmp_path, capsys, str(ROOT / "examples"), "--policies", str(ROOT / "policies"))
    text = page.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text)
    assert "<link" not in text and "@import" not in text
    for chart in CHARTS:
        assert f'id="{chart}"' in text
    shot = tmp_path / "shot.png"
    run = chromium.screenshot(page, shot, WIDTH, HEIGHT)
    assert run.console == []
    assert 'data-ready="1"' in chromium.dom(page).stdout  # the inline script ran to its end
    counts = colored_pixels(shot)
    for chart, n in counts.items():
        assert n > 1500, (chart, counts)


def test_console_errors_and_empty_charts_are_caught(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The checks above can fail: a page with a script error shows in the console, and a
    # cluster with one idle node and no pods draws nothing in the cost, efficiency and
    # savings panels (only the idle panel has bars).
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>undefinedFunction();</script></body></html>")
    assert any("Uncaught" in line for line in chromium.dom(bad).console)
    snap = tmp_path / "node.yaml"
    snap.write_text(
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: lonely\n  labels:\n"
        "    node.kubernetes.io/instance-type: m5.large\n"
        "status:\n  capacity: {cpu: '2', memory: 8Gi, pods: '29'}\n"
    )
    page = render(tmp_path, capsys, str(snap), "--window", "1d", "--no-node-savings")
    shot = tmp_path / "empty.png"
    assert chromium.screenshot(page, shot, WIDTH, HEIGHT).console == []
    counts = colored_pixels(shot)
    assert counts["chart-idle"] > 1500
    for chart in ("chart-cost", "chart-efficiency", "chart-savings"):
        assert counts[chart] < 50, (chart, counts)
