"""`scaler plan` between two commits of the example repository, on the bundled snapshot:
the cost difference is the one `scaler simulate` gives for each revision's policies, and the
pods and nodes the change affects are named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scaler.cli import main

from .gitrepo import ROOT, GitRepo

SNAPSHOT = str(ROOT / "examples" / "snapshot.yaml")


def amd64_only(repo: GitRepo) -> str:
    """A pull request: the general pool goes x86-only (and drops its arm64 preference)."""
    files = repo.edit("policies/nodepools/default.yaml", 'values: ["amd64", "arm64"]',
                      'values: ["amd64"]')
    ext = repo.read("policies/extensions/default.yaml")
    files["policies/extensions/default.yaml"] = ext[: ext.index("  # Prefer Graviton")]
    return repo.commit(files, "general pool: amd64 only", author="Bob Ops <bob@example.com>")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def simulate_cost(capsys: pytest.CaptureFixture[str], policies: Path) -> dict[str, Any]:
    code, out, _ = run(capsys, "simulate", SNAPSHOT, "--policies", str(policies), "-o", "json")
    assert code == 0
    doc: dict[str, Any] = json.loads(out)
    return doc


@pytest.fixture
def two_commits(repo: GitRepo, tmp_path: Path) -> tuple[GitRepo, str, str, Path, Path]:
    before = repo.copy_example()
    snap_before = tmp_path / "before"
    import shutil

    shutil.copytree(repo.work / "policies", snap_before)
    after = amd64_only(repo)
    return repo, before, after, snap_before, repo.work / "policies"


def test_plan_json_matches_simulate_at_each_revision(
    two_commits: tuple[GitRepo, str, str, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, before, after, dir_before, dir_after = two_commits
    code, out, err = run(capsys, "plan", "--source", str(repo.work), "--path", "policies",
                         "--from", before, "--to", "main", "--snapshot", SNAPSHOT, "-o", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) == {"from", "to", "deltaPerHour", "newlyUnschedulable", "drifted"}
    assert set(doc["from"]) == set(doc["to"]) == {"revision", "costPerHour", "nodes"}
    assert doc["from"]["revision"] == f"sha1:{before}"
    assert doc["to"]["revision"] == f"main@sha1:{after}"
    sim_before = simulate_cost(capsys, dir_before)
    sim_after = simulate_cost(capsys, dir_after)
    assert doc["from"]["costPerHour"] == sim_before["cost"]["plannedPerHour"]
    assert doc["to"]["costPerHour"] == sim_after["cost"]["plannedPerHour"]
    assert doc["from"]["nodes"] == len(sim_before["nodes"])
    assert doc["to"]["nodes"] == len(sim_after["nodes"])
    expected = sim_after["cost"]["plannedPerHour"] - sim_before["cost"]["plannedPerHour"]
    assert doc["deltaPerHour"] == pytest.approx(expected, abs=1e-6)
    assert doc["deltaPerHour"] > 0  # x86 costs more than Graviton here
    # the arm64-pinned pod loses its only pool; the arm64 node no longer fits
    assert doc["newlyUnschedulable"] == ["analytics/spark-driver-0"]
    assert doc["drifted"] == ["ip-10-0-2-33.ec2.internal"]


def test_plan_table_and_markdown(
    two_commits: tuple[GitRepo, str, str, Path, Path], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, before, after, _, _ = two_commits
    monkeypatch.chdir(repo.work)  # the source defaults to the checkout here
    code, out, _ = run(capsys, "plan", "--path", "policies", "--from", "HEAD~1", "--to", "HEAD",
                       "--snapshot", SNAPSHOT)
    assert code == 0
    assert f"sha1:{before[:12]}" in out and f"sha1:{after[:12]}" in out
    assert "PER MONTH (730 h)" in out
    assert "Pods that become unschedulable: 1" in out and "analytics/spark-driver-0" in out
    assert "Nodes that become drifted (replaced by disruption): 1" in out
    assert "label kubernetes.io/arch=arm64 does not satisfy NodePool default's requirement" in out
    code, md, _ = run(capsys, "plan", "--path", "policies", "--from", "HEAD~1", "--to", "HEAD",
                      "--snapshot", SNAPSHOT, "-o", "markdown")
    assert code == 0
    assert md.startswith("### scaler plan: cost of this policy change\n")
    assert "This change **increases** the cluster's cost by **+$0." in md
    assert "| before | `sha1:" in md and "| after | `sha1:" in md
    assert ":warning: **1 pod becomes unschedulable:** `analytics/spark-driver-0`" in md
    assert "**1 node drifts**" in md and "`ip-10-0-2-33.ec2.internal (default)`" in md
    assert len(md.splitlines()) < 25  # short enough for a PR comment


def test_ci_gate_on_cost_increase(
    two_commits: tuple[GitRepo, str, str, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, before, after, _, _ = two_commits
    base = ["plan", "--source", repo.url, "--path", "policies", "--from", before, "--to", "main",
            "--snapshot", SNAPSHOT, "-o", "json"]
    code, out, err = run(capsys, *base, "--fail-if-increase-above", "0.01")
    assert code == 1
    assert json.loads(out)["deltaPerHour"] > 0.01  # the plan is still printed
    assert err.startswith("scaler: cost increase of $0.") and "above the limit of $0.01/h" in err
    code, _, err = run(capsys, *base, "--fail-if-increase-above", "50%")
    assert (code, err) == (0, "")
    code, _, _ = run(capsys, *base, "--fail-if-increase-above", "5%")
    assert code == 1
    # a decrease never fails the gate: the same change, reverted
    code, out, _ = run(capsys, "plan", "--source", repo.url, "--path", "policies", "--from",
                       "main", "--to", before, "--snapshot", SNAPSHOT, "-o", "json",
                       "--fail-if-increase-above", "0")
    assert code == 0 and json.loads(out)["deltaPerHour"] < 0


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--to", "nope"], "unknown revision 'nope'"),
        (["--fail-if-increase-above", "a lot"], "--fail-if-increase-above: invalid threshold"),
        (["--path", "missing"], "--path: path 'missing' does not exist at commit"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    repo.copy_example()
    given = dict(zip(args[::2], args[1::2], strict=True))
    argv = {"--from": "main", "--to": "main", "--path": "policies", **given}
    code, out, err = run(capsys, "plan", "--source", str(repo.work), "--snapshot", SNAPSHOT,
                         *[x for kv in argv.items() for x in kv])
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and err.startswith("scaler: error: ")
    assert expected in err


def test_an_invalid_revision_names_the_revision_and_the_file(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.copy_example()
    bad = repo.commit(repo.edit("policies/nodepools/gpu.yaml", "weight: 10", "weight: 0"), "w0")
    code, out, err = run(capsys, "plan", "--source", str(repo.work), "--path", "policies",
                         "--from", "HEAD~1", "--to", "HEAD", "--snapshot", SNAPSHOT)
    assert (code, out) == (2, "")
    assert err == (
        f"scaler: error: --to sha1:{bad}: policies/nodepools/gpu.yaml:9: NodePool gpu: "
        "spec.weight: weight 0 out of range (expected 1..100; leave it out for 0)\n"
    )


def two_nodes(tmp_path: Path) -> str:
    """A snapshot of two default-pool m5.xlarge nodes, one without a zone label."""
    items = []
    for name, zone in (("n-zoned", "us-east-1a"), ("n-zoneless", None)):
        labels = {"kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux",
                  "node.kubernetes.io/instance-type": "m5.xlarge",
                  "karpenter.sh/capacity-type": "on-demand", "karpenter.sh/nodepool": "default"}
        if zone:
            labels["topology.kubernetes.io/zone"] = zone
        items.append({"apiVersion": "v1", "kind": "Node",
                      "metadata": {"name": name, "labels": labels},
                      "status": {"allocatable": {"cpu": "3930m", "memory": "14Gi",
                                                 "pods": "58"}}})
    path = tmp_path / "two-nodes.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return str(path)


def drifted_by(repo: GitRepo, capsys: pytest.CaptureFixture[str], snapshot: str,
               requirement: str) -> list[str]:
    """The nodes `scaler plan` calls newly drifted when the default pool gains `requirement`."""
    before = repo.copy_example()
    repo.commit(repo.edit("policies/nodepools/default.yaml", "      requirements:\n",
                          f"      requirements:\n        - {requirement}\n"), "narrower pool")
    code, out, err = run(capsys, "plan", "--source", str(repo.work), "--path", "policies",
                         "--from", before, "--to", "main", "--snapshot", snapshot, "-o", "json")
    assert code == 0, err
    drifted: list[str] = json.loads(out)["drifted"]
    return drifted


def test_a_zone_the_node_does_not_carry_is_not_judged(
    repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # As the disruption pass judges: a zone the snapshot does not show is not a reason to
    # replace the node (every node Karpenter launches carries its zone).
    zone = "{key: topology.kubernetes.io/zone, operator: In, values: [us-east-1b]}"
    assert drifted_by(repo, capsys, two_nodes(tmp_path), zone) == ["n-zoned"]


def test_a_custom_requirement_the_nodes_lack_is_not_drift(
    repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nodes scaler launches carry the template's labels, not one per requirement, so the
    # disruption pass does not replace a node for lacking one; the preview says the same.
    team = "{key: example.com/team, operator: In, values: [web]}"
    assert drifted_by(repo, capsys, two_nodes(tmp_path), team) == []
