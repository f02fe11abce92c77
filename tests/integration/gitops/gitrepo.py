"""Real Git repositories in temporary folders: a bare origin and a working clone."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE_POLICIES = ROOT / "policies"


def git(
    cwd: Path, *args: str, author: str = "Ann Example <ann@example.com>", date: str | None = None
) -> str:
    name, _, email = author.partition(" <")
    dates = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date} if date else {}
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email.rstrip(">"),
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email.rstrip(">"),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        **dates,
    }
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


class GitRepo:
    """`origin` is the bare repository scaler follows; `work` is where commits are made."""

    def __init__(self, root: Path, branch: str = "main") -> None:
        self.origin = root / "origin.git"
        self.work = root / "work"
        self.branch = branch
        root.mkdir(parents=True, exist_ok=True)
        git(root, "init", "--quiet", "--bare", f"--initial-branch={branch}", str(self.origin))
        git(root, "init", "--quiet", f"--initial-branch={branch}", str(self.work))
        git(self.work, "remote", "add", "origin", str(self.origin))

    @property
    def url(self) -> str:
        return self.origin.as_uri()  # file:///...

    def write(self, files: dict[str, str | None]) -> None:
        for name, text in files.items():
            path = self.work / name
            if text is None:
                path.unlink()
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")

    def commit(
        self,
        files: dict[str, str | None],
        message: str,
        author: str = "Ann Example <ann@example.com>",
        date: str | None = None,
        push: bool = True,
    ) -> str:
        self.write(files)
        git(self.work, "add", "--all")
        git(self.work, "commit", "--quiet", "--allow-empty", "-m", message, author=author,
            date=date)
        if push:
            self.push()
        return self.head()

    def copy_example(self, message: str = "Example policies", **kw: str) -> str:
        shutil.copytree(EXAMPLE_POLICIES, self.work / "policies", dirs_exist_ok=True)
        return self.commit({}, message, **kw)

    def read(self, name: str) -> str:
        return (self.work / name).read_text(encoding="utf-8")

    def edit(self, name: str, old: str, new: str) -> dict[str, str | None]:
        text = self.read(name)
        assert old in text, (name, old)
        return {name: text.replace(old, new, 1)}

    def tag(self, name: str) -> None:
        git(self.work, "tag", name)
        git(self.work, "push", "--quiet", "origin", name)

    def push(self) -> None:
        git(self.work, "push", "--quiet", "origin", self.branch)
        git(self.origin, "update-server-info")  # for the dumb-HTTP server in the tests

    def head(self) -> str:
        return git(self.work, "rev-parse", "HEAD")
