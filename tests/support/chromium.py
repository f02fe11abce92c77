"""Headless Chromium for tests: screenshots and the DOM of a local page, console included.

Finds the Debian `chromium` binary, installing it (as root, with apt-get) when missing. Each
run gets a fresh profile and the flags that keep it off the network and the sandbox (tests
run as root in containers).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
)


@dataclass(frozen=True)
class PageRun:
    stdout: str
    console: list[str]  # console messages the page logged (errors included)


def binary() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
        if subprocess.run(install, env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, capture_output=True)
            subprocess.run(install, env=env, capture_output=True)
        found = shutil.which("chromium")
        if found:
            return found
    pytest.fail("chromium not found: apt-get install -y --no-install-recommends chromium")


def run_page(page: Path, *extra: str, timeout: float = 90) -> PageRun:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        done = subprocess.run(
            [binary(), *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    if done.returncode != 0:
        raise RuntimeError(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return PageRun(done.stdout, console)


def screenshot(page: Path, out: Path, width: int, height: int) -> PageRun:
    return run_page(page, f"--window-size={width},{height}", f"--screenshot={out}")


def dom(page: Path) -> PageRun:
    return run_page(page, "--dump-dom")
