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


def test_simulate_serves_metrics_and_probes_while_it_runs() -> None:
    """A user watching `scaler run --simulate` sees the loop's Prometheus series and the
    probes the chart points Kubernetes at, and the logs are JSON lines."""
    import json
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "scaler", "run", "--simulate", "--snapshot", str(SMALL),
         "--run-for", "6", "--batch-idle", "0.2", "--batch-max", "1", "--http-port",
         str(port)], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        metrics = ""
        deadline = time.monotonic() + 30
        while "scaler_nodes_created_total{" not in metrics and time.monotonic() < deadline:
            time.sleep(0.3)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    metrics = r.read().decode()
            except OSError:
                continue
        assert 'scaler_nodes_created_total{nodepool="default"' in metrics
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            assert r.status == 200
    finally:
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert any("Launched" in rec["msg"] for rec in lines)
