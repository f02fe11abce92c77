"""Issue 5 acceptance, against real Git repositories (a bare origin and a clone in temporary
folders, `file://` URLs): a good commit is applied with its revision; a bad commit is
rejected with file:line and the previous revision stays in force; the fix is picked up
within one interval; a pinned tag (or commit) is not moved by new commits."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scaler.errors import UserError
from scaler.gitops.git import GitError, GitRef, GitSource, Revision
from scaler.gitops.reconciler import Reconciler
from scaler.gitops.status import SourceSpec, StateStore

from .gitrepo import GitRepo

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
INTERVAL = 60.0


def reconciler(tmp_path: Path, repo: GitRepo, ref: GitRef | None = None) -> Reconciler:
    rec = Reconciler(StateStore(tmp_path / "state"), rng=random.Random(1))
    spec = SourceSpec(url=repo.url, ref=ref or GitRef(branch="main"), path="policies",
                      interval_seconds=INTERVAL)
    rec.configure(spec, T0)
    return rec


def ready(rec: Reconciler) -> tuple[str, str, str]:
    cond = rec.store.require().status.condition("Ready")
    assert cond is not None
    return cond.status, cond.reason, cond.message


def break_gpu_pool(repo: GitRepo) -> dict[str, str | None]:
    return repo.edit("policies/nodepools/gpu.yaml", "operator: In\n          values: [\"g\"]",
                     "operator: Inn\n          values: [\"g\"]")


def test_a_good_commit_is_applied_with_its_revision(tmp_path: Path, repo: GitRepo) -> None:
    sha = repo.copy_example()
    rec = reconciler(tmp_path, repo)
    result = rec.reconcile_once(T0)
    assert result.outcome == "applied"
    st = rec.store.require().status
    assert st.last_applied_revision == f"main@sha1:{sha}"
    assert st.last_applied_digest == rec.applied.digest if rec.applied else False
    assert ready(rec) == ("True", "Succeeded", f"applied revision main@sha1:{sha}")
    assert rec.applied is not None
    assert [p.name for p in rec.applied.node_pools] == ["gpu", "default", "stateful"]
    # file names are the repository's, not the temporary export's
    assert rec.applied.files[0] == "policies/cost/allocation.yaml"


def test_a_bad_commit_is_rejected_and_the_previous_revision_stays(
    tmp_path: Path, repo: GitRepo
) -> None:
    good = repo.copy_example()
    rec = reconciler(tmp_path, repo)
    rec.reconcile_once(T0)
    bad = repo.commit(break_gpu_pool(repo), "gpu: typo")
    result = rec.reconcile_once(T0 + timedelta(seconds=INTERVAL))
    assert result.outcome == "validation_failed"
    status, reason, message = ready(rec)
    assert (status, reason) == ("False", "ValidationFailed")
    assert message == (
        f"revision main@sha1:{bad} was not applied: policies/nodepools/gpu.yaml:21: NodePool "
        "gpu: spec.template.spec.requirements[0].operator: unknown operator 'Inn' (expected In, "
        f"NotIn, Exists, DoesNotExist, Gt, Lt, Gte, Lte); revision main@sha1:{good} is still "
        "in force"
    )
    st = rec.store.require().status
    assert st.last_applied_revision == f"main@sha1:{good}"
    assert st.last_attempted_revision == f"main@sha1:{bad}"
    assert rec.applied is not None and rec.applied.node_pool("gpu") is not None
    # what is on disk for a restart is still the good revision
    assert "operator: Inn" not in (
        rec.store.applied_dir / "policies" / "nodepools" / "gpu.yaml"
    ).read_text()


def test_the_fix_is_picked_up_within_one_interval(tmp_path: Path, repo: GitRepo) -> None:
    repo.copy_example()
    rec = reconciler(tmp_path, repo)
    rec.reconcile_once(T0)
    repo.commit(break_gpu_pool(repo), "gpu: typo")
    t_bad = T0 + timedelta(seconds=INTERVAL)
    rec.reconcile_once(t_bad)
    fix = repo.commit(
        repo.edit("policies/nodepools/gpu.yaml", "operator: Inn", "operator: In"), "gpu: fix"
    )
    pushed_at = t_bad + timedelta(seconds=1)
    # poll every second after the push, as a watch loop with a 1 s tick does
    applied_at = None
    for s in range(int(INTERVAL) + 1):
        now = pushed_at + timedelta(seconds=s)
        if rec.reconcile_once(now).outcome == "applied":
            applied_at = now
            break
    assert applied_at is not None and applied_at - pushed_at <= timedelta(seconds=INTERVAL)
    assert ready(rec)[:2] == ("True", "Succeeded")
    st = rec.store.require().status
    assert st.last_applied_revision == st.last_attempted_revision == f"main@sha1:{fix}"
    assert st.condition("Stalled") is not None
    assert st.condition("Stalled").status == "False"  # type: ignore[union-attr]


def test_a_pinned_tag_is_not_moved_by_new_commits(tmp_path: Path, repo: GitRepo) -> None:
    tagged = repo.copy_example()
    repo.tag("v1.0.0")
    rec = reconciler(tmp_path, repo, GitRef(tag="v1.0.0"))
    assert rec.reconcile_once(T0).revision == f"v1.0.0@sha1:{tagged}"
    repo.commit(repo.edit("policies/nodepools/gpu.yaml", "weight: 10", "weight: 20"), "gpu: 20")
    repo.commit(break_gpu_pool(repo), "gpu: typo")
    result = rec.reconcile_once(T0 + timedelta(minutes=5))
    assert result.outcome == "unchanged"
    st = rec.store.require().status
    assert st.last_applied_revision == st.last_attempted_revision == f"v1.0.0@sha1:{tagged}"
    gpu = rec.applied.node_pool("gpu") if rec.applied else None
    assert gpu is not None and gpu.weight == 10


def test_a_pinned_commit_is_not_moved(tmp_path: Path, repo: GitRepo) -> None:
    first = repo.copy_example()
    repo.commit(repo.edit("policies/nodepools/gpu.yaml", "weight: 10", "weight: 20"), "gpu: 20")
    rec = reconciler(tmp_path, repo, GitRef(commit=first))
    assert rec.reconcile_once(T0).revision == f"sha1:{first}"
    repo.commit({}, "later")
    assert rec.reconcile_once(T0 + timedelta(minutes=5)).revision == f"sha1:{first}"


def test_the_default_branch_is_followed_when_no_ref_is_given(
    tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "git", branch="trunk")
    sha = repo.copy_example()
    source = GitSource(repo.url, None, "policies", cache_dir=tmp_path / "cache")
    assert str(source.fetch()) == f"trunk@sha1:{sha}"


def test_a_missing_path_or_branch_is_a_clear_fetch_failure(
    tmp_path: Path, repo: GitRepo
) -> None:
    sha = repo.copy_example()
    source = GitSource(repo.url, GitRef(branch="main"), "nope", cache_dir=tmp_path / "c")
    rev = source.fetch()
    with pytest.raises(GitError) as info:
        source.export(rev, tmp_path / "out")
    assert str(info.value) == f"--path: path 'nope' does not exist at commit {sha[:12]}"
    missing = GitSource(repo.url, GitRef(branch="release"), "policies", cache_dir=tmp_path / "c")
    with pytest.raises(GitError) as info:
        missing.fetch()
    assert str(info.value) == "git fetch failed: couldn't find remote ref refs/heads/release"


def test_only_safe_transports_and_full_commit_hashes() -> None:
    with pytest.raises(UserError, match="unsupported repository URL"):
        GitSource("ext::sh -c touch% /tmp/pwned", None, None, cache_dir=Path("/nonexistent"))
    with pytest.raises(UserError, match="full 40-character SHA-1"):
        GitRef(commit="abc123")


def test_export_writes_only_the_sub_path(tmp_path: Path, repo: GitRepo) -> None:
    repo.copy_example()
    repo.commit({"README.md": "# infra\n", "apps/app.yaml": "kind: ConfigMap\n"}, "other files")
    source = GitSource(repo.url, GitRef(branch="main"), "./policies/", cache_dir=tmp_path / "c")
    root = source.export(source.fetch(), tmp_path / "out")
    assert root == tmp_path / "out" / "policies"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["policies"]
    assert Revision("a" * 40, "main").short == "a" * 12
