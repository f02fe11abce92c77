"""Credentials reach git over HTTP (a local server that demands them) and never appear in
logs, status, state files, error messages or any command line."""

from __future__ import annotations

import base64
import functools
import http.server
import io
import json
import logging
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scaler.cli import main
from scaler.errors import UserError
from scaler.gitops.git import GitRef, normalize_url
from scaler.gitops.logs import configure_json_logging, logger
from scaler.gitops.reconciler import Reconciler
from scaler.gitops.status import SourceSpec, StateStore

from .gitrepo import GitRepo

USER, SECRET = "deploy", "glpat-Sup3rS3cretT0ken"
BASIC = "Basic " + base64.b64encode(f"{USER}:{SECRET}".encode()).decode()
T0 = datetime(2024, 5, 1, tzinfo=UTC)


class AuthServer:
    """Git's "dumb" HTTP protocol (plain files) behind an Authorization check."""

    def __init__(self, root: Path, expected: str) -> None:
        self.expected = expected
        self.seen: list[str | None] = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                auth = self.headers.get("Authorization")
                outer.seen.append(auth)
                if auth != outer.expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.end_headers()
                    return
                super().do_GET()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(root))
        )
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(repo: GitRepo) -> Iterator[AuthServer]:
    repo.copy_example()
    srv = AuthServer(repo.origin.parent, BASIC)
    yield srv
    srv.close()


@pytest.fixture
def argv_seen(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every command line scaler starts, to check no secret is on one."""
    seen: list[str] = []
    real = subprocess.run

    def spy(cmd: Any, *args: Any, **kw: Any) -> Any:
        seen.append(" ".join(map(str, cmd)))
        return real(cmd, *args, **kw)

    monkeypatch.setattr(subprocess, "run", spy)
    return seen


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = configure_json_logging(stream, level=logging.DEBUG)
    yield stream
    logger().removeHandler(handler)


def everything_written(state: Path, logs: io.StringIO) -> str:
    files = "".join(p.read_text(errors="replace") for p in state.rglob("*.json"))
    return files + logs.getvalue()


def test_credentials_from_a_directory_are_sent_and_never_shown(
    tmp_path: Path, repo: GitRepo, server: AuthServer, argv_seen: list[str],
    log_stream: io.StringIO,
) -> None:
    creds = tmp_path / "secret"
    creds.mkdir()
    (creds / "username").write_text(USER + "\n")
    (creds / "password").write_text(SECRET + "\n")
    state = tmp_path / "state"
    rec = Reconciler(StateStore(state))
    rec.configure(SourceSpec(url=server.url("origin.git"), ref=GitRef(branch="main"),
                             path="policies", credentials_dir=str(creds)), T0)
    assert rec.reconcile_once(T0).outcome == "applied"
    assert BASIC in server.seen  # git sent them
    # The password changes upstream (rotated); ours is now wrong.
    server.expected = "Basic " + base64.b64encode(b"deploy:rotated").decode()
    result = rec.reconcile_once(T0 + timedelta(minutes=1))
    assert result.outcome == "fetch_failed"
    assert "git fetch failed" in result.message
    written = everything_written(state, log_stream)
    encoded = base64.b64encode(f"{USER}:{SECRET}".encode()).decode()
    for secret in (SECRET, encoded):
        assert secret not in written
        assert secret not in result.message
        assert not any(secret in cmd for cmd in argv_seen)


def test_bearer_token_from_the_environment_through_the_cli(
    tmp_path: Path, repo: GitRepo, server: AuthServer, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], argv_seen: list[str],
) -> None:
    server.expected = f"Bearer {SECRET}"
    monkeypatch.setenv("SCALER_GIT_BEARER_TOKEN", SECRET)
    state = tmp_path / "state"
    code = main(["policies", "reconcile", "--state-dir", str(state), "--source",
                 server.url("origin.git"), "--branch", "main", "--path", "policies",
                 "-o", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["status"]["lastAppliedRevision"].startswith("main@sha1:")
    monkeypatch.setenv("SCALER_GIT_BEARER_TOKEN", SECRET + "-expired")
    code = main(["policies", "reconcile", "--state-dir", str(state)])
    out, err = capsys.readouterr()
    assert code == 1  # not Ready: the fetch failed, the applied revision stays
    assert "FetchFailed" in out and "is still in force" in out
    for text in (out, err, *(p.read_text() for p in state.glob("*.json"))):
        assert SECRET not in text
    assert not any(SECRET in cmd for cmd in argv_seen)


def test_credentials_in_the_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(UserError) as info:
        normalize_url(f"https://{USER}:{SECRET}@git.example.com/policies.git")
    assert SECRET not in str(info.value)
    assert "https://***@git.example.com/policies.git" in str(info.value)
