"""A real Prometheus for tests: backfilled history, started on 127.0.0.1, stopped after.

`write_openmetrics` renders series; `running_prometheus` backfills them with
`promtool tsdb create-blocks-from openmetrics`, starts `prometheus` on a free port, waits for
/-/ready and yields the URL. Put history in the recent past (ending an hour or so ago):
promtool cuts blocks on 2h boundaries and Prometheus only answers instant queries within its
lookback of the evaluation time.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Series:
    """One time series to backfill; `kind` is the OpenMetrics type (gauge or counter)."""

    name: str
    labels: Mapping[str, str]
    points: Sequence[tuple[float, float]]  # (unix seconds, value), ascending
    kind: str = "gauge"
    extra: Mapping[str, str] = field(default_factory=dict)


def binaries() -> tuple[str, str]:
    """Paths of prometheus and promtool, installing the Debian package when we may."""
    prom, tool = shutil.which("prometheus"), shutil.which("promtool")
    if prom and tool:
        return prom, tool
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "--no-install-recommends", "prometheus"]
        if subprocess.run(install, env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, capture_output=True)
            subprocess.run(install, env=env, capture_output=True)
        prom, tool = shutil.which("prometheus"), shutil.which("promtool")
        if prom and tool:
            return prom, tool
    pytest.fail(
        "prometheus/promtool not found: install the Debian package "
        "(apt-get install -y --no-install-recommends prometheus)"
    )


def _value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    body = ",".join(
        f'{k}="{str(v).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in sorted(labels.items())
    )
    return "{" + body + "}"


def write_openmetrics(series: Iterable[Series]) -> str:
    """OpenMetrics text: one family per metric name, `# TYPE` lines, `# EOF` at the end.

    Counters' family names drop the `_total` suffix their samples carry, as the format asks.
    """
    families: dict[str, list[Series]] = {}
    kinds: dict[str, str] = {}
    for s in series:
        families.setdefault(s.name, []).append(s)
        if kinds.setdefault(s.name, s.kind) != s.kind:
            raise ValueError(f"{s.name}: mixed types {kinds[s.name]} and {s.kind}")
    lines: list[str] = []
    for name, members in families.items():
        kind = kinds[name]
        family = name.removesuffix("_total") if kind == "counter" else name
        lines.append(f"# TYPE {family} {kind}")
        for s in members:
            lab = _labels({**s.labels, **s.extra})
            last = -math.inf
            for ts, v in s.points:
                if ts <= last:
                    raise ValueError(f"{name}{lab}: timestamps must ascend")
                last = ts
                lines.append(f"{name}{lab} {_value(v)} {ts:.3f}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prometheus exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"prometheus at {url} not ready after {timeout:.0f}s")


@contextlib.contextmanager
def running_prometheus(series: Iterable[Series], workdir: Path) -> Iterator[str]:
    """Backfill `series` into a fresh TSDB under workdir, serve it, yield the base URL."""
    prom, tool = binaries()
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "data"
    data.mkdir(exist_ok=True)
    source = workdir / "history.om"
    source.write_text(write_openmetrics(series))
    done = subprocess.run(
        [tool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"promtool backfill failed: {done.stderr.strip() or done.stdout}")
    config = workdir / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (workdir / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            prom,
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            "--storage.tsdb.retention.time=100y",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_ready(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextlib.contextmanager
def scraping_prometheus(
    target: str, workdir: Path, job: str = "scaler", interval: str = "1s"
) -> Iterator[str]:
    """A Prometheus scraping `target` (host:port) every `interval` with honor_labels, as
    OpenCost's scrape config does; yields the base URL."""
    prom, _ = binaries()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(
        f"global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n"
        f"scrape_configs:\n- job_name: {job}\n  honor_labels: true\n"
        f"  static_configs:\n  - targets: ['{target}']\n"
    )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (workdir / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [prom, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        _wait_ready(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
