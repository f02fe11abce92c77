"""Issue 13, "bad input never wins": each defect found by trying ~300 hostile but ordinary
inputs, as a user would hit it. Every case ends in a plan that is right, or one line and
exit 2 (130 for Ctrl-C), never a traceback, a wrong plan, or a file lost."""

from __future__ import annotations

import importlib
import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from scaler import limits
from scaler.cli import main
from scaler.errors import UserError
from scaler.policy import load_policies
from scaler.runtime.logs import configure_logging

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "tests" / "fixtures" / "snapshots" / "small"
WORKLOADS = ROOT / "examples" / "workloads"
NOW = "2026-11-26T10:30:00Z"
PROVISION = importlib.import_module("scaler.simulation.provision")

DAEMONSET = """\
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: kube-system}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
      - name: a
        resources: {requests: {cpu: 10m, memory: 64Mi}}
"""


def pod(name: str, requests: str, extra: str = "") -> str:
    return (
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: default}}\n"
        f"spec:\n{extra}  containers:\n  - name: c\n    resources:\n"
        f"      requests: {requests}\n"
    )


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_exit_2(code: int, err: str) -> str:
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("scaler"), err
    assert "Traceback" not in err
    return err


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


# -- wrong plans from huge quantities ---------------------------------------------------------


@pytest.mark.parametrize("memory", ["8Ei", "99999999999Ti"])
def test_huge_memory_is_unschedulable_not_placed_on_a_nano(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, memory: str
) -> None:
    snap = write(tmp_path, "snap.yaml", pod("huge", f"{{cpu: 100m, memory: {memory}}}")
                 + "---\n" + DAEMONSET)
    code, out, err = run(capsys, "simulate", str(snap), "--output", "json")
    assert code == 0, err
    plan = json.loads(out)
    assert plan["placements"] == [] and plan["nodes"] == []
    (unschedulable,) = plan["unschedulable"]
    assert unschedulable["pod"] == "default/huge"
    assert "no instance type in NodePool default has" in unschedulable["reason"]


def test_decimal_forms_beyond_int64_are_unschedulable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    snap = write(tmp_path, "snap.yaml", pod("dec", "{cpu: 1e17, memory: 1e19}"))
    code, out, err = run(capsys, "simulate", str(snap), "--output", "json")
    assert code == 0, err
    reason = json.loads(out)["unschedulable"][0]["reason"]
    assert "vCPU" in reason and "memory" in reason


# -- alias bombs ------------------------------------------------------------------------------


def alias_bomb(levels: int = 9) -> str:
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: bomb}", "data:",
             '  a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"  a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


NODEPOOL_BOMB = """\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: default}
spec:
  unknownField:
    a0: &a0 [x, x, x, x, x, x, x, x, x, x]
    a1: &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]
    a2: &a2 [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1]
    a3: &a3 [*a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2]
    a4: &a4 [*a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3]
    a5: &a5 [*a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4]
    a6: &a6 [*a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5]
    a7: &a7 [*a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6]
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements: []
"""


@pytest.mark.parametrize("text", [alias_bomb(), NODEPOOL_BOMB], ids=["configmap", "nodepool"])
def test_alias_bomb_in_a_policy_is_refused_at_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str
) -> None:
    write(tmp_path, "policies/bomb.yaml", text)
    code, _, err = run(capsys, "policies", "validate", str(tmp_path / "policies"))
    assert "yaml-alias-nodes" in one_line_exit_2(code, err)
    assert "bomb.yaml" in err
    code, _, err = run(capsys, "simulate", str(SMALL), "--policies", str(tmp_path / "policies"))
    assert "yaml-alias-nodes" in one_line_exit_2(code, err)


def test_bundle_digest_never_sees_an_alias_bomb(tmp_path: Path) -> None:
    write(tmp_path, "bomb.yaml", alias_bomb())
    with pytest.raises(UserError, match="yaml-alias-nodes"):
        load_policies(tmp_path)


def test_small_aliases_stay_readable(tmp_path: Path) -> None:
    write(tmp_path, "p.yaml", alias_bomb(levels=2))  # 110 nodes: fine
    policies = load_policies(tmp_path)
    assert policies.ignored == {"ConfigMap": 1}


def test_alias_limit_can_be_raised(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write(tmp_path, "policies/bomb.yaml", alias_bomb(levels=5))  # 111,110 nodes
    code, _, err = run(capsys, "policies", "validate", str(tmp_path / "policies"))
    one_line_exit_2(code, err)
    code, _, err = run(capsys, "--limit", "yaml-alias-nodes=200000", "policies", "validate",
                       str(tmp_path / "policies"))
    assert code == 0, err


# -- impossible usage -------------------------------------------------------------------------

USAGE_HEAD = "timestamp,namespace,pod,container,cpu,memory,memory_limit,oom_killed\n"


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("1763337600,shop,web-7c5d8f9b6-h2k9x,app,0.1,-2147483648,,0", "memory"),
        ("1763337600,shop,web-7c5d8f9b6-h2k9x,app,-0.5,574395128,,0", "cpu"),
        ("1763337600,shop,web-7c5d8f9b6-h2k9x,app,nan,574395128,,0", "cpu"),
        ("1763337600,shop,web-7c5d8f9b6-h2k9x,app,0.1,inf,,0", "memory"),
        ("1763337600,shop,web-7c5d8f9b6-h2k9x,app,0.1,574395128,,maybe", "oom_killed"),
        ("1e300,shop,web-7c5d8f9b6-h2k9x,app,0.1,574395128,,0", "timestamp"),
        ("99999-01-01T00:00:00,shop,web-7c5d8f9b6-h2k9x,app,0.1,5,,0", "timestamp"),
    ],
    ids=["negative-memory", "negative-cpu", "nan", "inf", "oom-maybe", "time-1e300",
         "time-year-99999"],
)
def test_impossible_usage_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, row: str, field: str
) -> None:
    usage = write(tmp_path, "usage.csv", USAGE_HEAD + row + "\n")
    code, out, err = run(capsys, "rightsize", str(WORKLOADS), "--usage", str(usage))
    assert f"line 2: {field}:" in one_line_exit_2(code, err) or field in err
    assert out == ""


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_report_usage_must_be_finite_and_not_negative(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, value: str
) -> None:
    usage = write(tmp_path, "usage.csv",
                  "timestamp,namespace,pod,container,cpu_cores,memory_bytes\n"
                  f"2026-11-25T00:00:00Z,shop,cart-6f9c7b8d4-b7xkq,app,{value},1\n")
    code, _, err = run(capsys, "report", str(ROOT / "examples"), "--policies",
                       str(ROOT / "policies"), "--now", NOW, "--usage", str(usage))
    assert "cpu_cores" in one_line_exit_2(code, err)


def test_binary_usage_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    usage = write(tmp_path, "usage.csv", bytes(range(256)) * 8)
    code, _, err = run(capsys, "rightsize", str(WORKLOADS), "--usage", str(usage))
    one_line_exit_2(code, err)


# -- silent data loss -------------------------------------------------------------------------


def test_write_patches_merges_an_existing_kustomization(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_dir = tmp_path / "overlay"
    write(out_dir, "kustomization.yaml", "resources:\n- ../base\n- extra.yaml\n"
          "namePrefix: team-\n")
    code, _, err = run(capsys, "rightsize", str(WORKLOADS), "--usage",
                       str(ROOT / "examples" / "usage.csv.gz"), "--write-patches", str(out_dir))
    assert code == 0, err
    import yaml

    doc = yaml.safe_load((out_dir / "kustomization.yaml").read_text())
    assert doc["resources"][:2] == ["../base", "extra.yaml"]
    assert len(doc["resources"]) == 3 and doc["namePrefix"] == "team-"
    assert doc["patches"]


def test_write_patches_never_replaces_a_file_it_did_not_write(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_dir = tmp_path / "overlay"
    mine = write(out_dir, "shop-deployment-web.yaml", "# my own notes\n")
    code, _, err = run(capsys, "rightsize", str(WORKLOADS), "--usage",
                       str(ROOT / "examples" / "usage.csv.gz"), "--write-patches", str(out_dir))
    assert "not written by scaler" in one_line_exit_2(code, err)
    assert mine.read_text() == "# my own notes\n"
    assert sorted(p.name for p in out_dir.iterdir()) == ["shop-deployment-web.yaml"]


NODE = """\
apiVersion: v1
kind: Node
metadata: {{name: n1, labels: {{node.kubernetes.io/instance-type: {t}}}}}
status: {{allocatable: {{cpu: "{cpu}", memory: 8Gi, pods: "110"}}}}
"""


def test_differing_duplicate_nodes_are_an_error_naming_both(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    a = write(tmp_path, "a.yaml", NODE.format(t="m5.large", cpu=2))
    b = write(tmp_path, "b.yaml", NODE.format(t="m5.xlarge", cpu=4))
    code, _, err = run(capsys, "simulate", str(a), str(b))
    one_line_exit_2(code, err)
    assert f"{b}: Node n1: defined twice" in err and f"{a} (document 1)" in err


def test_duplicate_pods_in_one_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    snap = write(tmp_path, "s.yaml", pod("p", "{cpu: 1}") + "---\n" + pod("p", "{cpu: 2}"))
    code, _, err = run(capsys, "simulate", str(snap))
    assert "Pod default/p: defined twice" in one_line_exit_2(code, err)


def test_identical_copies_are_read_once(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", pod("p", "{cpu: 1}"))
    b = write(tmp_path, "b.yaml", pod("p", "{cpu: 1}"))
    code, out, err = run(capsys, "simulate", str(a), str(b), "--output", "json")
    assert code == 0, err
    assert json.loads(out)["summary"]["pending"] == 1


@pytest.mark.parametrize(
    "text",
    ["apiVersion: v1\nkind: Pod\nmetadata: {name: cut, namespace: default}\n",
     "apiVersion: v1\nkind: Pod\nmetadata: {name: cut, namespace: default}\nspec:\n"
     "  nodeName: n1\n"],
    ids=["no-spec", "no-containers"],
)
def test_truncated_pod_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str
) -> None:
    snap = write(tmp_path, "s.yaml", text)
    code, _, err = run(capsys, "simulate", str(snap))
    assert "Pod default/cut: spec" in one_line_exit_2(code, err)


def test_pod_bound_to_unknown_node_is_warned_about(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    snap = write(tmp_path, "s.yaml", pod("lost", "{cpu: 1}", extra="  nodeName: ghost\n"))
    with caplog.at_level(logging.WARNING, logger="scaler.snapshot"):
        code, _, err = run(capsys, "simulate", str(snap))
    assert code == 0, err
    assert any("bound to node ghost, which is not in the snapshot" in r.getMessage()
               for r in caplog.records)


# -- silent nonsense --------------------------------------------------------------------------

CATALOG = """\
apiVersion: scaler.dev/v1alpha1
kind: InstanceTypeCatalog
metadata: {{name: c}}
spec:
  region: r
  zones: [z1]
  instanceTypes:
  - name: t1
    capacity: {{cpu: "2", memory: 4Gi, pods: "10"}}
    offerings:
    - {{zone: z1, capacityType: on-demand, price: {price}}}
"""


@pytest.mark.parametrize("price", [".nan", ".inf", "-1", "1e400"])
def test_catalog_prices_must_be_finite(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, price: str
) -> None:
    catalog = write(tmp_path, "c.yaml", CATALOG.format(price=price))
    code, _, err = run(capsys, "simulate", str(SMALL), "--catalog", str(catalog))
    assert "price" in one_line_exit_2(code, err)


@pytest.mark.parametrize(
    "argv",
    [
        ["simulate", str(SMALL), "--consolidate", "--eviction-price", "nan"],
        ["simulate", str(SMALL), "--consolidate", "--eviction-price", "inf"],
        ["simulate", str(SMALL), "--consolidate", "--min-saving", "nan"],
        ["rightsize", str(WORKLOADS), "--usage", str(ROOT / "examples" / "usage.csv.gz"),
         "--cpu-min", "4", "--cpu-max", "1"],
        ["rightsize", str(WORKLOADS), "--usage", str(ROOT / "examples" / "usage.csv.gz"),
         "--memory-min", "2Gi", "--memory-max", "1Gi"],
        ["run", "--simulate", "--snapshot", str(SMALL), "--http-port", "99999"],
    ],
    ids=["eviction-nan", "eviction-inf", "min-saving-nan", "cpu-min-above-max",
         "memory-min-above-max", "http-port"],
)
def test_nonsense_flags_are_refused(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    one_line_exit_2(code, err)
    assert out == ""


def test_policies_log_since_not_a_date(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write(repo, "policies/p.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(repo)]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "first"], check=True)
    code, out, err = run(capsys, "policies", "log", "--source", str(repo), "--path", "policies",
                         "--since", "not a date")
    assert "--since: not a date" in one_line_exit_2(code, err)
    code, out, err = run(capsys, "policies", "log", "--source", str(repo), "--path", "policies",
                         "--since", "2 weeks ago")
    assert code == 0 and "first" in out, err


# -- unbounded work ---------------------------------------------------------------------------

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, resources: {requests: {cpu: 100m}}}]
"""


def test_a_billion_replicas_hit_a_limit(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    snap = write(tmp_path, "d.yaml", DEPLOYMENT.replace("REPLICAS", "1000000000"))
    code, _, err = run(capsys, "simulate", str(snap))
    assert "workload-replicas=100000" in one_line_exit_2(code, err)
    assert "Deployment shop/web" in err
    # Raising one limit still leaves the total in force, before any pod is made.
    code, _, err = run(capsys, "--limit", "workload-replicas=2000000000", "simulate", str(snap))
    assert "total-replicas" in one_line_exit_2(code, err)


@pytest.mark.parametrize(
    ("rows", "needle"),
    [
        ("0,shop/api,1000000000\n", "timeline-replicas"),
        ("0,shop/api,4\n99999999h,shop/api,5\n", "time"),
        ("0,shop/api,4\n2000h,shop/api,5\n", "timeline-steps"),
    ],
    ids=["billion-replicas", "far-future", "too-many-steps"],
)
def test_timeline_work_is_bounded(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rows: str, needle: str
) -> None:
    timeline = write(tmp_path, "t.csv", "time,workload,replicas\n" + rows)
    code, _, err = run(capsys, "simulate", str(ROOT / "examples"), "--policies",
                       str(ROOT / "policies"), "--timeline", str(timeline))
    assert needle in one_line_exit_2(code, err)


# -- tracebacks -------------------------------------------------------------------------------


def test_binary_timeline(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    timeline = write(tmp_path, "t.csv", b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe" * 50)
    code, _, err = run(capsys, "simulate", str(ROOT / "examples"), "--timeline", str(timeline))
    one_line_exit_2(code, err)


def test_state_dir_that_is_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    state = write(tmp_path, "state", "not a directory")
    code, _, err = run(capsys, "policies", "status", "--state-dir", str(state))
    one_line_exit_2(code, err)


def test_output_to_a_full_disk() -> None:
    full = Path("/dev/full")
    if not full.exists():
        pytest.skip("no /dev/full here")
    with full.open("w") as sink:
        done = subprocess.run([sys.executable, "-m", "scaler", "catalog"], stdout=sink,
                              stderr=subprocess.PIPE, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "No space left on device" in done.stderr


def test_ctrl_c_is_exit_130_without_a_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(PROVISION, "load_snapshot", interrupted)
    code, _, err = run(capsys, "simulate", str(SMALL))
    assert code == 130 and err == "scaler: interrupted\n"


def test_real_ctrl_c_during_a_long_simulation(tmp_path: Path) -> None:
    """SIGINT to a running `scaler simulate`: exit 130 and one line, no traceback."""
    import os
    import signal
    import time

    snap = write(tmp_path, "d.yaml", DEPLOYMENT.replace("REPLICAS", "100000"))
    child = subprocess.Popen([sys.executable, "-m", "scaler", "simulate", str(snap)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ticks = os.sysconf("SC_CLK_TCK")
    deadline = time.monotonic() + 60
    # Past start-up (imports take about a second of CPU): wait for 3 s of CPU time.
    while time.monotonic() < deadline and child.poll() is None:
        with open(f"/proc/{child.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        if (int(fields[11]) + int(fields[12])) / ticks >= 3:
            break
        time.sleep(0.1)
    if child.poll() is not None:
        child.communicate()
        pytest.skip("the simulation finished before it could be interrupted")
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert err == "scaler: interrupted\n"


def test_unexpected_error_is_one_line_with_a_hint(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(PROVISION, "load_snapshot", broken)
    code, _, err = run(capsys, "simulate", str(SMALL))
    assert code == 1
    assert err == ("scaler: error: internal error: ZeroDivisionError: division by zero "
                   "(rerun with --debug for the stack)\n")
    code, _, err = run(capsys, "simulate", str(SMALL), "--debug")
    assert code == 1 and "Traceback" in err and "ZeroDivisionError" in err


def test_third_party_log_lines_stay_json() -> None:
    stream = io.StringIO()
    scaler_log, aps = logging.getLogger("scaler"), logging.getLogger("apscheduler")
    saved = (scaler_log.level, scaler_log.propagate, aps.level, aps.propagate)
    handler = configure_logging(stream)
    try:
        logging.getLogger("apscheduler.scheduler").warning(
            'Execution of job "provision" skipped: maximum number of running instances '
            "reached (1)")
    finally:  # leave logging as other tests (caplog) expect it
        scaler_log.removeHandler(handler)
        aps.removeHandler(handler)
        scaler_log.level, scaler_log.propagate, aps.level, aps.propagate = saved
    (line,) = stream.getvalue().splitlines()
    doc = json.loads(line)
    assert doc["logger"] == "apscheduler.scheduler" and "skipped" in doc["msg"]


def test_limits_flag_is_checked(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--limit", "nonsense=3", "catalog")
    assert "--limit" in one_line_exit_2(code, err)
    assert limits.parse_overrides(["workload-replicas=7"], {}).workload_replicas == 7
    assert limits.parse_overrides(None, {"SCALER_LIMITS": "timeline-steps=9"}).timeline_steps == 9
