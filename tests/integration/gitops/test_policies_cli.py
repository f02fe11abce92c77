"""`scaler policies` as a user runs it against a real repository: reconcile, status (table,
JSON, Prometheus), suspend and resume, watch, log with its semantic diff, validate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scaler.cli import main
from scaler.gitops.logs import logger

from .gitrepo import ROOT, GitRepo


@pytest.fixture(autouse=True)
def _detach_log_handlers() -> object:
    yield None
    for h in list(logger().handlers):  # the CLI adds a JSON handler on stderr each run
        logger().removeHandler(h)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_reconcile_status_suspend_resume(
    tmp_path: Path, repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    good = repo.copy_example()
    state = str(tmp_path / "state")
    code, out, err = run(capsys, "policies", "reconcile", "--state-dir", state, "--source",
                         repo.url, "--branch", "main", "--path", "policies", "--interval", "2m",
                         "--snapshot", str(ROOT / "examples" / "snapshot.yaml"))
    assert code == 0, err
    assert f"Applied:     main@sha1:{good}" in out
    assert "Interval:    2m0s" in out
    assert "Drifted nodes: none" in out
    logs = [json.loads(line) for line in err.splitlines()]
    assert [entry["event"] for entry in logs] == ["applied"]

    bad = repo.commit(repo.edit("policies/rightsizing/batch.yaml", "window: 720h",
                                "window: 30d"), "batch: a month")
    code, out, err = run(capsys, "policies", "reconcile", "--state-dir", state)  # saved source
    assert code == 1  # not Ready
    assert "ValidationFailed" in out
    assert (f"revision main@sha1:{bad} was not applied: policies/rightsizing/batch.yaml:13: "
            "RightSizingPolicy batch: spec.window: invalid duration '30d'") in out
    assert f"revision main@sha1:{good} is still in force" in out

    code, out, _ = run(capsys, "policies", "status", "--state-dir", state, "-o", "json")
    doc = json.loads(out)
    assert doc["kind"] == "PolicySource" and doc["metadata"]["generation"] == 1
    st = doc["status"]
    assert st["lastAppliedRevision"] == f"main@sha1:{good}"
    assert st["lastAttemptedRevision"] == f"main@sha1:{bad}"
    assert [(c["type"], c["status"]) for c in st["conditions"]] == [
        ("Ready", "False"), ("Reconciling", "False"), ("Stalled", "True")]
    assert all(set(c) == {"type", "status", "reason", "message", "lastTransitionTime",
                          "observedGeneration"} for c in st["conditions"])

    code, out, _ = run(capsys, "policies", "status", "--state-dir", state, "-o", "prometheus")
    assert 'scaler_policy_condition{name="policies",status="False",type="Ready"} 1.0' in out
    assert 'scaler_policy_reconcile_total{name="policies",result="validation_failed"} 1.0' in out

    code, out, _ = run(capsys, "policies", "suspend", "--state-dir", state)
    assert out == f"policy source suspended; in force: main@sha1:{good}\n"
    code, out, err = run(capsys, "policies", "reconcile", "--state-dir", state)
    assert code == 2 and "suspended; run `scaler policies resume` first" in err
    code, out, _ = run(capsys, "policies", "status", "--state-dir", state)
    assert "SUSPENDED" in out and "Generation:  2 (observed 1)" in out
    run(capsys, "policies", "resume", "--state-dir", state)
    fixed = repo.commit(repo.edit("policies/rightsizing/batch.yaml", "window: 30d",
                                  "window: 720h"), "batch: 720h")
    code, out, _ = run(capsys, "policies", "reconcile", "--state-dir", state)
    assert code == 0
    assert f"Applied:     main@sha1:{fixed}" in out and "Generation:  3 (observed 3)" in out


def test_watch_applies_then_stops(
    tmp_path: Path, repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    sha = repo.copy_example()
    state = str(tmp_path / "state")
    code, _, err = run(capsys, "policies", "watch", "--state-dir", state, "--source", repo.url,
                       "--path", "policies", "--max-passes", "1")
    assert code == 0
    assert '"event": "applied"' in err and f"main@sha1:{sha}" in err  # the default branch


def test_flags_not_given_keep_their_saved_values(
    tmp_path: Path, repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.copy_example()
    state = str(tmp_path / "state")
    base = ["policies", "reconcile", "--state-dir", state, "--source", repo.url]
    run(capsys, *base, "--path", "policies", "--interval", "5m")
    run(capsys, *base)  # same URL: path and interval stay
    code, out, _ = run(capsys, "policies", "status", "--state-dir", state, "-o", "json")
    doc = json.loads(out)
    assert doc["metadata"]["generation"] == 1
    assert (doc["spec"]["path"], doc["spec"]["interval"]) == ("policies", "5m0s")
    run(capsys, "policies", "reconcile", "--state-dir", state, "--interval", "30s")
    code, out, _ = run(capsys, "policies", "status", "--state-dir", state, "-o", "json")
    doc = json.loads(out)
    assert doc["metadata"]["generation"] == 2 and doc["status"]["observedGeneration"] == 2
    assert doc["spec"]["interval"] == "30s"


def test_status_before_any_source_is_configured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "policies", "status", "--state-dir", str(tmp_path / "none"))
    assert (code, out) == (2, "")
    assert "no policy source configured here yet" in err


def test_log_shows_who_changed_which_policy_and_how(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.copy_example(date="2024-04-01T09:00:00+00:00")
    repo.commit({"README.md": "# our cluster\n"}, "docs only", date="2024-04-02T09:00:00+00:00")
    gpu = repo.commit(
        repo.edit("policies/nodepools/gpu.yaml", 'values: ["on-demand"]',
                  'values: ["spot", "on-demand"]'),
        "gpu: allow spot",
        author="Bob Ops <bob@example.com>",
        date="2024-05-02T10:00:00+00:00",
    )
    files = repo.edit("policies/cost/allocation.yaml", "# Who pays for what.", "# Costs.")
    files["policies/more/teams.yaml"] = repo.read("policies/cost/allocation.yaml")
    files["policies/cost/allocation.yaml"] = None  # moved, comment edited: no real change
    moved = repo.commit(files, "move cost policy", date="2024-05-03T10:00:00+00:00")
    bad = repo.commit(repo.edit("policies/nodepools/gpu.yaml", "weight: 10", "weight: 0"),
                      "gpu: weight 0", date="2024-05-04T10:00:00+00:00")
    monkeypatch.chdir(repo.work)

    code, out, _ = run(capsys, "policies", "log", "--path", "policies", "--since", "2024-05-01")
    assert code == 0
    assert [ln.split()[1] for ln in out.splitlines() if ln.startswith("commit ")] == [
        bad, moved, gpu]  # newest first; older and docs-only commits left out
    assert "Author: Bob Ops <bob@example.com>" in out
    assert "Date:   2024-05-02T10:00:00+00:00" in out
    assert ("  modified NodePool gpu (policies/nodepools/gpu.yaml)\n"
            '      ~ spec.template.spec.requirements[key=karpenter.sh/capacity-type].values: '
            '["on-demand"] -> ["spot", "on-demand"]') in out
    assert "no effective change (comments, formatting or file moves only)" in out
    assert ("REJECTED (scaler kept the previous revision): policies/nodepools/gpu.yaml:9: "
            "NodePool gpu: spec.weight: weight 0 out of range") in out

    code, out, _ = run(capsys, "policies", "log", "--source", repo.url, "--path", "policies",
                       "--ref", "main", "-o", "json")
    doc = json.loads(out)
    assert doc["revision"] == f"main@sha1:{bad}"
    first = doc["commits"][-1]
    assert first["subject"] == "Example policies" and first["valid"] is True
    assert {c["object"] for c in first["changes"]} >= {"NodePool gpu", "RightSizingPolicy batch"}
    assert all(c["op"] == "added" for c in first["changes"])
    gpu_entry = next(c for c in doc["commits"] if c["revision"] == f"sha1:{gpu}")
    assert gpu_entry["author"] == "Bob Ops" and gpu_entry["email"] == "bob@example.com"
    assert gpu_entry["changes"][0]["fields"] == [{
        "path": "spec.template.spec.requirements[key=karpenter.sh/capacity-type].values",
        "op": "changed", "old": ["on-demand"], "new": ["spot", "on-demand"]}]


def test_validate_the_example_repository(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "policies", "validate", str(ROOT / "policies"))
    assert (code, err) == (0, "")
    assert "valid (8 files: 1 CostAllocationPolicy, 1 EC2NodeClass, 3 NodePool, " in out
    assert "NodePools, in the order tried: gpu, default, stateful" in out
    # The EC2NodeClass is acted on (disks, kubelet, launch): nothing is reported unused.
    assert "not acted on" not in out and "warning" not in out
    code, out, _ = run(capsys, "policies", "validate", str(ROOT / "policies"), "-o", "json")
    doc = json.loads(out)
    assert doc["valid"] is True and doc["digest"].startswith("sha256:")


def test_validate_lists_every_broken_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    root = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", root)
    gpu = root / "nodepools" / "gpu.yaml"
    gpu.write_text(gpu.read_text().replace("weight: 10", "weight: 0"))
    batch = root / "rightsizing" / "batch.yaml"
    batch.write_text(batch.read_text().replace("mode: Recommend", "mode: Auto"))
    code, out, err = run(capsys, "policies", "validate", str(root))
    assert (code, out) == (2, "")
    lines = err.splitlines()
    assert len(lines) == 2 and all(ln.startswith("scaler: error: ") for ln in lines)
    assert "gpu.yaml:9: NodePool gpu: spec.weight:" in lines[0]
    assert "batch.yaml:12: RightSizingPolicy batch: spec.mode: unknown value 'Auto'" in lines[1]


def test_an_unknown_region_for_the_drift_check_is_a_clear_error(
    repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.copy_example()
    code, _, err = run(capsys, "policies", "reconcile", "--state-dir", str(tmp_path / "state"),
                       "--source", repo.url, "--path", "policies",
                       "--snapshot", str(ROOT / "examples" / "snapshot.yaml"),
                       "--region", "xx-nowhere-1")
    assert code == 2
    assert err.startswith("scaler: error: --region: unknown region 'xx-nowhere-1'")
    assert "internal error" not in err
