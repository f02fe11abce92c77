"""A Git policy source through the `git` command line: fetch a ref, export a path, read history.

The remote (`https://`, `http://`, `ssh://`, `file://`, `git@host:path`, or a local path) is
fetched into a bare cache repository, only the ref followed:

* a branch follows its newest commit: revision `main@sha1:<40 hex>` (Flux's format);
* a tag stays on the commit it names, whatever is pushed later: `v1.2.0@sha1:<40 hex>`;
* a commit is pinned for good (no fetch once it is in the cache): `sha1:<40 hex>`;
* no ref: the remote's default branch (its HEAD).

`export` writes the files under the sub-path at a revision to a directory (`git archive`, so
no working tree and no checkout hooks). Every git call runs with prompts disabled, a timeout,
only safe transports (`GIT_ALLOW_PROTOCOL`), credentials passed through the environment, and
its output scrubbed of secrets before it is shown anywhere.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from scaler.errors import UserError
from scaler.gitops.credentials import Credentials, Redactor, redact_url

DEFAULT_TIMEOUT = 120.0
ALLOWED_PROTOCOLS = "file:https:http:ssh:git"
_SHA = re.compile(r"[0-9a-f]{40}")
# What `git check-ref-format` allows, minus the rare corners: no leading `-` or `.`, no
# `..`, no spaces or `~^:?*[\`, no `@{`.
_REF_NAME = re.compile(r"(?![-.])(?!.*\.\.)(?!.*@\{)[^\s~^:?*\[\\]+(?<!\.lock)(?<![./])")
_SCHEMES = ("https://", "http://", "ssh://", "file://", "git://")
_SCP_LIKE = re.compile(r"[\w.-]+@[\w.-]+:.+")
_FIELD_SEP, _RECORD_SEP = "\x1f", "\x1e"


class GitError(UserError):
    """git failed (network, authentication, unknown ref, missing path); already redacted."""


@dataclass(frozen=True)
class GitRef:
    """What to follow: a branch, a tag or a commit (the most specific one set wins)."""

    branch: str | None = None
    tag: str | None = None
    commit: str | None = None

    def __post_init__(self) -> None:
        if self.commit is not None and not _SHA.fullmatch(self.commit):
            raise UserError(
                f"commit {self.commit!r} is not a full 40-character SHA-1 "
                "(pin a commit by its full hash, as Flux does)",
                field="--commit",
            )
        for what, value in (("branch", self.branch), ("tag", self.tag)):
            if value is not None and not _REF_NAME.fullmatch(value):
                raise UserError(f"invalid {what} name {value!r}", field=f"--{what}")

    def describe(self) -> str:
        if self.commit:
            return f"commit {self.commit}"
        if self.tag:
            return f"tag {self.tag}"
        if self.branch:
            return f"branch {self.branch}"
        return "default branch"

    def to_json(self) -> dict[str, str]:
        return {
            k: v
            for k, v in (("branch", self.branch), ("tag", self.tag), ("commit", self.commit))
            if v
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> GitRef:
        return cls(branch=doc.get("branch"), tag=doc.get("tag"), commit=doc.get("commit"))


@dataclass(frozen=True)
class Revision:
    """One commit as a source revision: `main@sha1:<hex>`, or `sha1:<hex>` for a commit."""

    sha: str
    name: str | None = None  # the branch or tag it was found through

    def __str__(self) -> str:
        return f"{self.name}@sha1:{self.sha}" if self.name else f"sha1:{self.sha}"

    @property
    def short(self) -> str:
        return self.sha[:12]


@dataclass(frozen=True)
class Commit:
    sha: str
    parent: str | None
    author: str
    email: str
    date: str  # ISO 8601, as git prints %aI
    subject: str


def normalize_url(url: str) -> str:
    """A URL git can fetch; a local path becomes absolute. Other schemes are refused."""
    if url.startswith(("https://", "http://")) and "@" in url.split("/", 3)[2]:
        raise UserError(
            f"credentials in the URL {redact_url(url)!r} would be stored and shown; give "
            "them with --credentials DIR or SCALER_GIT_USERNAME/SCALER_GIT_PASSWORD instead",
            field="--source",
        )
    if url.startswith(_SCHEMES) or _SCP_LIKE.fullmatch(url):
        return url
    if "://" in url or url.startswith("ext::") or "::" in url:
        raise UserError(
            f"unsupported repository URL {redact_url(url)!r} "
            "(expected https://, ssh://, file://, git@host:path or a local path)",
            field="--source",
        )
    path = Path(url).expanduser()
    if not path.exists():
        raise UserError("no such repository (a local path must exist)", file=url)
    return str(path.resolve())


def normalize_subpath(path: str | None) -> str:
    """`./policies/` -> `policies`; the root is `.`. Paths may not leave the repository."""
    p = PurePosixPath((path or ".").strip() or ".")
    if p.is_absolute() or ".." in p.parts:
        raise UserError(
            f"path {path!r} must be relative and inside the repository", field="--path"
        )
    text = str(p)
    return "." if text in ("", ".") else text


class Git:
    """Runs git commands for one repository directory, safely."""

    def __init__(
        self,
        git_dir: Path,
        *,
        credentials: Credentials | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.git_dir = git_dir
        self.credentials = credentials or Credentials()
        self.timeout = timeout
        self.redact = Redactor(self.credentials.secrets())

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("GIT_ASKPASS", "SSH_ASKPASS", "GIT_DIR", "GIT_WORK_TREE")
            and not k.startswith("GIT_CONFIG_")
        }
        env.update(
            {
                "GIT_TERMINAL_PROMPT": "0",
                "GIT_ALLOW_PROTOCOL": ALLOWED_PROTOCOLS,
                "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
                "LC_ALL": "C",
            }
        )
        env.update(self.credentials.git_env())
        return env

    def run(self, *args: str, binary: bool = False, check: bool = True) -> Any:
        cmd = ["git", "-C", str(self.git_dir), *args]
        try:
            proc = subprocess.run(
                cmd,
                capture_output=True,
                env=self.env(),
                timeout=self.timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise GitError(f"git {args[0]} timed out after {self.timeout:g}s") from None
        except FileNotFoundError:
            raise GitError("git is not installed (scaler runs the git command line)") from None
        if check and proc.returncode != 0:
            raise GitError(self.describe_failure(args[0], proc.stderr))
        if binary:
            return proc
        return subprocess.CompletedProcess(
            proc.args,
            proc.returncode,
            proc.stdout.decode("utf-8", "replace"),
            proc.stderr.decode("utf-8", "replace"),
        )

    def out(self, *args: str) -> str:
        text: str = self.run(*args).stdout
        return text.strip()

    def describe_failure(self, command: str, stderr: bytes) -> str:
        text = stderr.decode("utf-8", "replace")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        # git's last `fatal:` / `error:` line says what went wrong; hints and progress don't.
        important = [ln for ln in lines if ln.startswith(("fatal:", "error:"))] or lines[-1:]
        message = "; ".join(ln.removeprefix("fatal: ").removeprefix("error: ") for ln in important)
        return self.redact(f"git {command} failed: {message or 'no output'}")

    # --- reading a repository ----------------------------------------------------------------

    def has_commit(self, sha: str) -> bool:
        proc = self.run("cat-file", "-e", f"{sha}^{{commit}}", check=False)
        return bool(proc.returncode == 0)

    def rev_parse(self, rev: str) -> str | None:
        proc = self.run("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}",
                        check=False)
        sha = str(proc.stdout).strip()
        return sha if proc.returncode == 0 and _SHA.fullmatch(sha) else None

    def object_type(self, sha: str, path: str) -> str | None:
        spec = f"{sha}:{'' if path == '.' else path}"
        proc = self.run("cat-file", "-t", spec, check=False)
        return str(proc.stdout).strip() if proc.returncode == 0 else None

    def export(self, sha: str, path: str, dest: Path) -> Path:
        """The files under `path` at commit `sha`, written below `dest` (keeping `path`);
        returns `dest / path`."""
        kind = self.object_type(sha, path)
        if kind is None:
            raise GitError(f"path {path!r} does not exist at commit {sha[:12]}", field="--path")
        args = ["archive", "--format=tar", sha]
        if path != ".":
            args += ["--", path]
        proc = self.run(*args, binary=True)
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
            extract(tar, dest)
        return dest / path if path != "." else dest

    def commits(
        self, sha: str, path: str, since: str | None = None, limit: int | None = None
    ) -> list[Commit]:
        """Commits on the first-parent line up to `sha` that touch `path`, newest first."""
        fmt = _FIELD_SEP.join(("%H", "%P", "%an", "%ae", "%aI", "%s")) + _RECORD_SEP
        args = ["log", "--first-parent", f"--format={fmt}"]
        if since:
            args.append(f"--since={since}")
        if limit:
            args.append(f"--max-count={limit}")
        args += [sha, "--"]
        if path != ".":
            args.append(path)
        out: list[Commit] = []
        for record in str(self.run(*args).stdout).split(_RECORD_SEP):
            record = record.strip("\n")
            if not record:
                continue
            h, parents, author, email, date, subject = record.split(_FIELD_SEP, 5)
            parent = parents.split()[0] if parents.split() else None
            out.append(Commit(h, parent, author, email, date, subject))
        return out

    def commit(self, sha: str) -> Commit:
        fmt = _FIELD_SEP.join(("%H", "%P", "%an", "%ae", "%aI", "%s"))
        record = self.out("show", "-s", f"--format={fmt}", sha)
        h, parents, author, email, date, subject = record.split(_FIELD_SEP, 5)
        return Commit(h, parents.split()[0] if parents.split() else None, author, email, date,
                      subject)


class Repository:
    """A Git repository read in place (the checkout `scaler plan` runs in), no fetching."""

    def __init__(self, path: str | Path, subpath: str | None = None) -> None:
        root = Path(path)
        probe = Git(root)
        if not root.exists():
            raise UserError("no such directory", file=str(root), field="--source")
        proc = probe.run("rev-parse", "--show-toplevel", check=False)
        bare = probe.run("rev-parse", "--is-bare-repository", check=False)
        if proc.returncode != 0 and str(bare.stdout).strip() != "true":
            raise UserError(
                "not a Git repository (pass --source with a repository URL or path)",
                file=str(root),
            )
        top = str(proc.stdout).strip()
        self.git = Git(Path(top) if proc.returncode == 0 and top else root)
        self.path = normalize_subpath(subpath)
        self.url = str(root)

    def resolve(self, rev: str) -> Revision:
        """A commit for any revision git understands (`main`, `v1`, `HEAD~1`, a SHA),
        named after the branch or tag when `rev` is one."""
        sha = self.git.rev_parse(rev)
        if sha is None:
            raise GitError(f"unknown revision {rev!r} in {self.url}", field="--from/--to")
        name = None
        for prefix in ("refs/heads/", "refs/tags/", "refs/remotes/origin/"):
            if self.git.rev_parse(prefix + rev) is not None:
                name = rev
                break
        return Revision(sha, name)

    def export(self, revision: Revision, dest: Path) -> Path:
        return self.git.export(revision.sha, self.path, dest)

    def commits(self, revision: Revision, since: str | None = None) -> list[Commit]:
        return self.git.commits(revision.sha, self.path, since)


class GitSource(Repository):
    """A remote repository followed through a bare cache: fetch, then read like Repository."""

    def __init__(
        self,
        url: str,
        ref: GitRef | None = None,
        path: str | None = None,
        *,
        cache_dir: Path,
        credentials: Credentials | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.url = normalize_url(url)
        self.ref = ref or GitRef()
        self.path = normalize_subpath(path)
        cache_dir.mkdir(parents=True, exist_ok=True)
        self.git = Git(cache_dir, credentials=credentials, timeout=timeout)
        if not (cache_dir / "HEAD").exists():
            self.git.run("init", "--quiet", "--bare")

    @property
    def display_url(self) -> str:
        return redact_url(self.url)

    def _fetch(self, *refspecs: str) -> None:
        self.git.run("fetch", "--quiet", "--force", "--no-write-fetch-head", "--end-of-options",
                     self.url, *refspecs)

    def default_branch(self) -> str:
        out = self.git.out("ls-remote", "--symref", "--end-of-options", self.url, "HEAD")
        for line in out.splitlines():
            if line.startswith("ref: refs/heads/") and line.endswith("\tHEAD"):
                return line.removeprefix("ref: refs/heads/").removesuffix("\tHEAD")
        raise GitError(
            f"cannot tell the default branch of {self.display_url}; pass --branch",
            field="--branch",
        )

    def fetch(self) -> Revision:
        """Bring the followed ref up to date in the cache; its revision now."""
        ref = self.ref
        if ref.commit:
            if not self.git.has_commit(ref.commit):
                self.fetch_all()
                if not self.git.has_commit(ref.commit):
                    raise GitError(
                        f"commit {ref.commit} is not in {self.display_url}", field="--commit"
                    )
            return Revision(ref.commit, ref.branch)
        if ref.tag:
            self._fetch(f"+refs/tags/{ref.tag}:refs/tags/{ref.tag}")
            sha = self.git.rev_parse(f"refs/tags/{ref.tag}")
            name = ref.tag
        else:
            branch = ref.branch or self.default_branch()
            self._fetch(f"+refs/heads/{branch}:refs/remotes/origin/{branch}")
            sha = self.git.rev_parse(f"refs/remotes/origin/{branch}")
            name = branch
        if sha is None:  # pragma: no cover - fetch succeeded, so the ref exists
            raise GitError(f"{ref.describe()} not found in {self.display_url}")
        return Revision(sha, name)

    def fetch_all(self) -> None:
        """Every branch and tag (for `scaler plan` and `policies log` on a remote)."""
        self._fetch("+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*")

    def resolve(self, rev: str) -> Revision:
        for name in (f"refs/remotes/origin/{rev}", f"refs/tags/{rev}"):
            sha = self.git.rev_parse(name)
            if sha is not None:
                return Revision(sha, rev)
        sha = self.git.rev_parse(rev)
        if sha is None:
            raise GitError(
                f"unknown revision {rev!r} in {self.display_url}", field="--from/--to"
            )
        return Revision(sha)


def extract(tar: tarfile.TarFile, dest: Path) -> None:
    """A fetched tree written below `dest` with tarfile's "data" filter (nothing outside `dest`,
    no devices). Python before 3.11.4 (Debian bookworm's 3.11.2, the container image's) has no
    filters: there, each member must be a directory, a regular file, or a symlink staying
    inside `dest`, else the whole tree is refused."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
        return
    root = dest.resolve()
    for member in tar.getmembers():
        target = (root / member.name).resolve()
        inside = target == root or target.is_relative_to(root)
        if member.issym():
            inside = inside and (target.parent / member.linkname).resolve().is_relative_to(root)
        elif not (member.isdir() or member.isfile()):
            inside = False
        if not inside:
            raise GitError(f"refusing {member.name!r} in the fetched tree: it is not a file or "
                           f"directory inside the policy path", field="--path")
    tar.extractall(dest)


def describe_source(url: str, ref: GitRef, path: str) -> str:
    where = "" if path == "." else f", path {path}"
    return f"{redact_url(url)} ({ref.describe()}{where})"


__all__: Sequence[str] = (
    "Commit",
    "Git",
    "GitError",
    "GitRef",
    "GitSource",
    "Repository",
    "Revision",
    "describe_source",
    "is_remote",
    "normalize_subpath",
    "open_repository",
    "normalize_url",
)


def is_remote(source: str) -> bool:
    return source.startswith(_SCHEMES) or bool(_SCP_LIKE.fullmatch(source))


def open_repository(
    source: str | None,
    path: str | None,
    *,
    cache_dir: Path,
    credentials: Credentials | None = None,
) -> Repository:
    """A repository to read revisions from: the checkout in the current directory by
    default, a local path in place, or a remote URL fetched (all branches and tags) into
    `cache_dir`."""
    if source is None or not is_remote(source):
        return Repository(source or ".", path)
    remote = GitSource(source, None, path, cache_dir=cache_dir, credentials=credentials)
    remote.fetch_all()
    return remote
