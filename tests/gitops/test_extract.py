"""A fetched Git tree is written only inside its destination, also on Python without tarfile
filters (before 3.11.4: Debian bookworm's 3.11.2, which the container image runs)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from scaler.gitops.git import GitError, extract


def _tar(*members: tuple[str, bytes | str | None]) -> tarfile.TarFile:
    """(name, bytes) is a file, (name, None) a directory, (name, str) a symlink to str."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    buf.seek(0)
    return tarfile.open(fileobj=buf)


@pytest.fixture(params=["filters", "no filters"])
def python(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "no filters":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    return str(request.param)


def test_policy_tree_is_written(tmp_path: Path, python: str) -> None:
    tar = _tar(("nodepools", None), ("nodepools/default.yaml", b"kind: NodePool\n"),
               ("current.yaml", "nodepools/default.yaml"))
    extract(tar, tmp_path / "out")
    assert (tmp_path / "out/nodepools/default.yaml").read_text() == "kind: NodePool\n"
    assert (tmp_path / "out/current.yaml").read_text() == "kind: NodePool\n"


@pytest.mark.parametrize("members", [
    (("../escape.yaml", b"x"),),
    (("/tmp/scaler-escape.yaml", b"x"),),
    (("link", "../../etc"),),
    (("link", "/etc/passwd"),),
])
def test_nothing_is_written_outside(tmp_path: Path, python: str,
                                    members: tuple[tuple[str, bytes | str | None], ...]) -> None:
    """With filters tarfile refuses or strips (an absolute name lands inside); without them
    scaler refuses the whole tree."""
    dest = tmp_path / "out"
    refused = True
    try:
        extract(_tar(*members), dest)
        refused = False
    except (GitError, tarfile.FilterError):
        pass
    assert not (tmp_path / "escape.yaml").exists()
    assert not Path("/tmp/scaler-escape.yaml").exists()
    link = dest / "link"
    assert not link.is_symlink() or link.resolve().is_relative_to(dest.resolve())
    if python == "no filters":
        assert refused and not dest.exists()
