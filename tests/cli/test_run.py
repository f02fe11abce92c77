"""`scaler run`: --simulate runs the loop on a snapshot; bad settings are one line, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "tests" / "fixtures" / "snapshots" / "small"


def scaler(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scaler", *argv], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, check=False)


def test_simulate_runs_the_loop_on_a_snapshot_and_stops_cleanly() -> None:
    proc = scaler("run", "--simulate", "--snapshot", str(SMALL), "--run-for", "2.5",
                  "--batch-idle", "0.2", "--batch-max", "1")
    assert proc.returncode == 0, proc.stderr
    log = proc.stderr
    assert "on the simulated cluster and cloud" in log
    assert "Launched" in log and "Nominated" in log and "Registered as node/" in log
    assert "summary: 1 provisioning passes, 1 nodes launched, 1 registered" in log
    assert "Traceback" not in log


def test_simulate_dry_run_launches_nothing() -> None:
    proc = scaler("run", "--simulate", "--dry-run", "--snapshot", str(SMALL), "--run-for",
                  "2", "--batch-idle", "0.2", "--batch-max", "1")
    assert proc.returncode == 0, proc.stderr
    assert "dry run: would launch node claim" in proc.stderr
    assert "0 nodes launched" in proc.stderr


def test_bad_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "scaler.yaml"
    cfg.write_text("batch: {idle: 5, max: 1}\n")
    proc = scaler("run", "--config", str(cfg))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"scaler: error: {cfg}: batch: Value error, max must be at least idle"]


def test_unreachable_kubeconfig_is_one_line(tmp_path: Path) -> None:
    proc = scaler("run", "--kubeconfig", str(tmp_path / "missing"), "--cloud", "simulated")
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"scaler: error: {tmp_path / 'missing'}: cannot load the Kubernetes")
