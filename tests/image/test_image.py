"""The container image, built and run as CI can: no registry, no network in the build.

tests/support/build_image.sh (docs/image.md) makes a Debian bookworm base with debootstrap
(cached by the hash of its recipe), the wheels on this host, and `buildah bud` of the
Dockerfile in a network namespace of its own. The image then runs under `buildah run`
(chroot isolation, vfs storage) the way the chart runs it: as 65532, with /tmp and
/var/lib/scaler the only writable mounts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "tests" / "support" / "build_image.sh"
CHART = REPO / "helm" / "scaler"
BUILDAH = ["buildah", "--storage-driver", "vfs"]
RUN = [*BUILDAH, "run", "--isolation", "chroot"]
TOOLS = ("buildah", "debootstrap", "unshare", "ip", "git")
# The goal, uncompressed; a dev extra, a pruned package or pip coming back breaks it.
# docs/image.md records the measured size and where the bytes go.
SIZE_LIMIT = 250 * 10**6
EXAMPLE = ["/usr/share/scaler/examples", "--policies", "/usr/share/scaler/policies"]


def _unavailable() -> str | None:
    if os.geteuid() != 0:
        return "the image build needs root (debootstrap, buildah's vfs storage)"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return (f"{', '.join(missing)} not installed: apt-get install buildah debootstrap "
                "iproute2 git (.ci/run does)")
    return None


@pytest.fixture(scope="module")
def image() -> Iterator[dict[str, str]]:
    problem = _unavailable()
    if problem and (os.geteuid() == 0 or os.environ.get("CI") == "true"):
        pytest.fail(problem)  # CI must build the image; a root shell should have the tools
    if problem:
        pytest.skip(problem)
    name = f"localhost/scaler-test:{uuid.uuid4().hex[:8]}"
    proc = subprocess.run(["bash", str(BUILD), name], capture_output=True, text=True,
                          timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    built = dict(line.split(": ", 1) for line in proc.stdout.splitlines() if ": " in line)
    print(proc.stdout, end="")
    try:
        yield built
    finally:
        subprocess.run([*BUILDAH, "rmi", name], capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def container(image: dict[str, str]) -> Iterator[str]:
    proc = subprocess.run([*BUILDAH, "from", "--quiet", "--pull-never", image["image"]],
                          capture_output=True, text=True, timeout=300, check=True)
    name = proc.stdout.strip()
    try:
        yield name
    finally:
        subprocess.run([*BUILDAH, "rm", name], capture_output=True, timeout=300)


def _run(container: str, *argv: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RUN, container, "--", *argv], capture_output=True, text=True,
                          timeout=timeout)


def test_image_is_what_the_chart_runs(image: dict[str, str]) -> None:
    proc = subprocess.run([*BUILDAH, "inspect", "--type", "image", image["image"]],
                          capture_output=True, text=True, timeout=120, check=True)
    config = json.loads(proc.stdout)["OCIv1"]["config"]
    assert config["Entrypoint"] == ["scaler"]
    deployment = (CHART / "templates" / "deployment.yaml").read_text()
    uid = re.search(r"runAsUser: (\d+)", deployment)
    gid = re.search(r"runAsGroup: (\d+)", deployment)
    assert uid and gid and config["User"] == f"{uid[1]}:{gid[1]}"
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["PYTHONDONTWRITEBYTECODE"] == "1" and env["HOME"] == "/tmp"
    # The chart's default image is the one build_image.sh tags by default.
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert values["image"]["tag"] == "" and chart["appVersion"] == version
    assert values["image"]["repository"] == "localhost/scaler"
    assert "default IMAGE: localhost/scaler:<version>" in BUILD.read_text()
    assert int(image["size"]) < SIZE_LIMIT, f"image is {int(image['size']) / 1e6:.0f} MB"
    print(f"image size: {int(image['size']) / 1e6:.0f} MB")


# Every module of scaler imports (so every dependency it imports loads from what the build
# kept: bytecode-only packages, pruned numpy and botocore), every AWS client scaler makes and
# every one its credential providers make finds its model, and the Kubernetes client it uses
# builds; then the installed distributions, and no pip.
LOADS = """
import boto3, importlib, importlib.metadata as m, importlib.util, json, pkgutil, scaler
import kubernetes.client as k8s
from scaler.adapters.aws.config import SERVICES
modules = [i.name for i in pkgutil.walk_packages(scaler.__path__, "scaler.")
           if not i.name.endswith(".__main__")]
for name in modules:
    importlib.import_module(name)
clients = (*SERVICES, "sts", "sso", "sso-oidc", "signin")
for service in clients:
    boto3.client(service, region_name="eu-west-1")
k8s.CoordinationV1Api(k8s.ApiClient(k8s.Configuration()))
print(json.dumps({"modules": len(modules), "clients": clients,
                  "pip": importlib.util.find_spec("pip") is not None,
                  "installed": sorted(d.metadata["Name"].lower().replace("_", "-")
                                      for d in m.distributions())}))
"""


def test_only_what_scaler_loads_is_installed(container: str) -> None:
    proc = _run(container, "python3", "-c", LOADS)
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout)
    assert loaded["modules"] > 100 and "ec2" in loaded["clients"]
    installed = set(loaded["installed"])
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]

    def name(requirement: str) -> str:
        found = re.match(r"[A-Za-z0-9._-]+", requirement)
        assert found
        return found[0].lower().replace("_", "-")

    assert {name(r) for r in project["dependencies"]} <= installed
    dev = {name(r) for r in project["optional-dependencies"]["dev"]}
    assert not dev & installed
    assert not loaded["pip"] and not {"pip", "setuptools"} & installed


def test_simulate_prints_the_plan_the_cli_prints(container: str) -> None:
    proc = _run(container, "scaler", "simulate", *EXAMPLE)
    assert proc.returncode == 0, proc.stderr
    host = subprocess.run([sys.executable, "-m", "scaler", "simulate", "examples",
                           "--policies", "policies"], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=True)

    def launches(out: str) -> str:
        return out.split("Nodes to launch:", 1)[1].split("\n\n", 1)[0]

    assert "Pods placed:" in proc.stdout
    assert launches(proc.stdout) == launches(host.stdout)
    assert re.search(r"\d+\s+\$\d", launches(proc.stdout))  # at least one node, priced


# The controller with its policies from Git, in a network namespace of its own (chroot
# isolation shares the caller's), probed from inside, then left to stop by itself (buildah
# run answers SIGTERM by killing its command, so the signal would not reach scaler).
CONTROLLER = """
ip link set lo up
"$@" -v {repo}:/srv/policies.git:ro {container} -- \
    scaler run --simulate --snapshot /usr/share/scaler/examples/snapshot.yaml \
    --git-url file:///srv/policies.git --no-leader-elect --http-port 8080 --run-for {seconds} \
    >{log} 2>&1 &
server=$!
"$@" {container} -- python3 -c '{probe}'
probed=$?
wait $server
echo "controller exit: $?"
exit $probed
"""
RUN_FOR = 45  # seconds: start-up (a few seconds) and the probes fit well inside
PROBE = """
import json, time, urllib.request
def get(path):
    with urllib.request.urlopen("http://127.0.0.1:8080" + path, timeout=5) as r:
        return r.status, r.read().decode()
deadline = time.monotonic() + 40
while True:
    try:
        get("/readyz")
        break
    except OSError as err:
        if time.monotonic() > deadline:
            raise SystemExit(f"no /readyz: {err}")
        time.sleep(0.25)
print(json.dumps({p: get(p) for p in ("/healthz", "/readyz", "/metrics")}))
"""


def _policy_repo(tmp_path: Path) -> Path:
    work, bare = tmp_path / "work", tmp_path / "policies.git"
    shutil.copytree(REPO / "policies", work)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "policies"]):
        subprocess.run([*git, *args], cwd=work, check=True, timeout=60)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True, timeout=60)
    # owned by the image's user, as git insists (safe.directory)
    for path in [bare, *bare.rglob("*")]:
        os.chown(path, 65532, 65532, follow_symlinks=False)
    return bare


def _changed_files(container: str, since: float) -> list[str]:
    proc = subprocess.run([*BUILDAH, "mount", container], capture_output=True, text=True,
                          timeout=120, check=True)
    root = Path(proc.stdout.strip())
    changed = []
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        rel = "/" + str(base.relative_to(root)).lstrip(".")
        if rel in ("/proc", "/sys", "/dev"):
            dirnames.clear()
            continue
        for entry in [*dirnames, *filenames]:
            path = base / entry
            if path.lstat().st_mtime > since:
                changed.append(str(Path(rel) / entry))
    return changed


def test_controller_answers_probes_on_a_read_only_root(container: str, tmp_path: Path) -> None:
    repo = _policy_repo(tmp_path)
    log = tmp_path / "controller.log"
    since = time.time()
    time.sleep(1)  # mtimes below have a coarser clock than time.time() on some filesystems
    script = CONTROLLER.format(repo=repo, container=container, log=log, seconds=RUN_FOR,
                               probe=PROBE.replace("'", '"'))
    # /tmp and /var/lib/scaler are the chart's emptyDirs; nothing else may be written.
    runner = [*RUN, "--mount", "type=tmpfs,destination=/tmp",
              "--mount", "type=tmpfs,destination=/var/lib/scaler"]
    proc = subprocess.run(["unshare", "--net", "sh", "-c", script, "controller", *runner],
                          capture_output=True, text=True, timeout=400)
    output = log.read_text() if log.exists() else ""
    assert proc.returncode == 0, proc.stderr[-2000:] + output[-3000:]
    answers = json.loads(proc.stdout.splitlines()[0])
    assert answers["/healthz"][0] == 200 and answers["/readyz"][0] == 200, answers
    assert answers["/metrics"][0] == 200 and "scaler_" in answers["/metrics"][1]
    assert "controller exit: 0" in proc.stdout, output[-3000:]
    assert "Traceback" not in output
    # The only paths touched are the ones buildah itself makes for the run (/run, mount points).
    changed = _changed_files(container, since)
    assert [p for p in changed if not p.startswith(("/run", "/srv", "/tmp", "/var/lib/scaler"))] \
        == [], changed
