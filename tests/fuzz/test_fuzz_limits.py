"""The worst inputs for memory and time, each in a child process under `resource.setrlimit`
(1 GiB of address space, 60 s of CPU) and a 120 s wall clock: each must end in exit 2 with
one line (or success), not in MemoryError, a kill by the kernel, or a hang."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz.strategies import ALIAS_BOMB

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "tests" / "fixtures" / "snapshots" / "small"
MEMORY_CAP = 1 << 30
CPU_CAP = 60


def _limit() -> None:  # runs in the child, before exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_CAP, CPU_CAP))


def run_capped(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scaler", *argv], capture_output=True,
                          text=True, timeout=120, preexec_fn=_limit, check=False, cwd=ROOT)


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 1000000000
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, resources: {requests: {cpu: 100m, memory: 8Ei}}}]
"""


def _cases(tmp: Path) -> dict[str, list[str]]:
    (tmp / "policies").mkdir()
    (tmp / "policies" / "bomb.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata:\n"
        + "".join("  " + line + "\n" for line in ALIAS_BOMB.splitlines()[1:]))
    (tmp / "snap-bomb.yaml").write_text("kind: Pod\nmetadata: {name: p}\n" + ALIAS_BOMB)
    (tmp / "replicas.yaml").write_text(DEPLOYMENT)
    (tmp / "deep.yaml").write_text("a: " + "[" * 200_000 + "]" * 200_000 + "\n")
    (tmp / "deep.json").write_text("[" * 200_000 + "]" * 200_000)
    (tmp / "timeline.csv").write_text("time,workload,replicas\n0,shop/search,1\n"
                                      "99999999h,shop/search,2\n")
    (tmp / "many.csv").write_text("time,workload,replicas\n0,shop/search,1\n"
                                  "2000h,shop/search,2\n")
    return {
        "policy-alias-bomb": ["policies", "validate", str(tmp / "policies")],
        "simulate-policy-alias-bomb": ["simulate", str(SMALL), "--policies",
                                       str(tmp / "policies")],
        "snapshot-alias-bomb": ["simulate", str(tmp / "snap-bomb.yaml")],
        "billion-replicas": ["simulate", str(tmp / "replicas.yaml")],
        "billion-replicas-limit-raised": ["--limit", "workload-replicas=2000000000",
                                          "simulate", str(tmp / "replicas.yaml")],
        "deep-yaml": ["simulate", str(tmp / "deep.yaml")],
        "deep-json": ["simulate", str(tmp / "deep.json")],
        "far-timeline": ["simulate", str(SMALL), "--timeline", str(tmp / "timeline.csv")],
        "many-steps": ["simulate", str(SMALL), "--timeline", str(tmp / "many.csv")],
    }


NAMES = ["policy-alias-bomb", "simulate-policy-alias-bomb", "snapshot-alias-bomb",
         "billion-replicas", "billion-replicas-limit-raised", "deep-yaml", "deep-json",
         "far-timeline", "many-steps"]


@pytest.mark.parametrize("name", NAMES)
def test_worst_inputs_under_rlimits(tmp_path: Path, name: str) -> None:
    done = run_capped(*_cases(tmp_path)[name])
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("scaler"), done.stderr
