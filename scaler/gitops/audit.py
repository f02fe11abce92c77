"""The audit trail of a policy repository: which policy changed in which commit, by whom,
when, and what the change means (a semantic diff of the objects, not of the text).

Commits are read on the first-parent line of the revision (what the followed branch went
through, a merged pull request as one commit), newest first, limited to those touching the
policy path. Each is compared with its first parent: objects added, removed or modified,
with the field paths that changed. A commit whose bundle does not validate is listed too,
with the problem, because scaler kept the previous revision in force while it was the head.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaler.errors import UserError
from scaler.gitops.git import Commit, GitError, Repository, Revision
from scaler.policy.diff import ObjectChange, diff_bundles
from scaler.policy.loader import PolicyObject, load_policies, read_objects


@dataclass(frozen=True)
class AuditEntry:
    commit: Commit
    changes: tuple[ObjectChange, ...]
    error: str | None = None  # the bundle at this commit does not validate
    digest: str | None = None  # of the bundle at this commit, when it validates

    @property
    def revision(self) -> str:
        return f"sha1:{self.commit.sha}"

    def to_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "author": self.commit.author,
            "email": self.commit.email,
            "date": self.commit.date,
            "subject": self.commit.subject,
            "valid": self.error is None,
            "error": self.error,
            "digest": self.digest,
            "changes": [c.to_json() for c in self.changes],
        }


@dataclass
class _Snapshot:
    objects: tuple[PolicyObject, ...] = ()
    error: str | None = None
    digest: str | None = None


@dataclass
class _Reader:
    repo: Repository
    workdir: Path
    cache: dict[str, _Snapshot] = field(default_factory=dict)

    def at(self, sha: str | None) -> _Snapshot:
        if sha is None:
            return _Snapshot()
        if sha in self.cache:
            return self.cache[sha]
        dest = self.workdir / sha
        snap = _Snapshot()
        try:
            root = self.repo.export(Revision(sha), dest)
        except GitError:
            root = None  # the path does not exist at this commit
        if root is not None:
            try:
                snap.objects = read_objects(root, display_root=dest)
            except UserError as e:
                snap.error = e.render()
            if snap.error is None:
                try:
                    snap.digest = load_policies(root, display_root=dest).digest
                except UserError as e:
                    snap.error = e.render()
        shutil.rmtree(dest, ignore_errors=True)
        self.cache[sha] = snap
        return snap


def policy_log(
    repo: Repository, revision: Revision, since: str | None = None
) -> list[AuditEntry]:
    """The commits up to `revision` that touched the policy path, newest first."""
    entries: list[AuditEntry] = []
    with tempfile.TemporaryDirectory(prefix="scaler-log-") as tmp:
        reader = _Reader(repo, Path(tmp))
        for commit in repo.commits(revision, since):
            after, before = reader.at(commit.sha), reader.at(commit.parent)
            changes = tuple(diff_bundles(before.objects, after.objects))
            entries.append(AuditEntry(commit, changes, after.error, after.digest))
    return entries
