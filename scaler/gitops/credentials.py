"""Git credentials from a directory or the environment, handed to git without being logged.

Sources, as Flux's GitRepository secrets lay them out (a Kubernetes Secret mounted as files):

    <dir>/username, <dir>/password   HTTP basic auth (a token as the password works for
                                     GitHub, GitLab, Bitbucket)
    <dir>/bearerToken                HTTP bearer token
    <dir>/identity, <dir>/known_hosts   SSH private key and the host keys to trust

or the environment: `SCALER_GIT_USERNAME`, `SCALER_GIT_PASSWORD`, `SCALER_GIT_BEARER_TOKEN`,
`SCALER_GIT_SSH_KEY_FILE`, `SCALER_GIT_KNOWN_HOSTS_FILE` (the directory wins, field by field).

How they reach git: an HTTP `Authorization` header through git's `GIT_CONFIG_COUNT` /
`GIT_CONFIG_KEY_n` / `GIT_CONFIG_VALUE_n` environment variables (the same as
`git -c http.extraHeader=...`, but not on the command line, where any local user can read it
in `ps`); SSH through `GIT_SSH_COMMAND` naming the key *file*. Secrets are never put in a
URL, an argument or a message, and `Redactor` scrubs them (and any `user:pass@` in a URL)
from everything git prints before it is logged or stored in the status.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from scaler.errors import UserError

ENV_USERNAME = "SCALER_GIT_USERNAME"
ENV_PASSWORD = "SCALER_GIT_PASSWORD"
ENV_BEARER_TOKEN = "SCALER_GIT_BEARER_TOKEN"
ENV_SSH_KEY_FILE = "SCALER_GIT_SSH_KEY_FILE"
ENV_KNOWN_HOSTS_FILE = "SCALER_GIT_KNOWN_HOSTS_FILE"

REDACTED = "***"
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


@dataclass(frozen=True)
class Credentials:
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    bearer_token: str | None = field(default=None, repr=False)
    identity_file: Path | None = None
    known_hosts_file: Path | None = None

    @property
    def empty(self) -> bool:
        return not (self.password or self.bearer_token or self.identity_file)

    @classmethod
    def load(
        cls, directory: str | Path | None = None, environ: Mapping[str, str] | None = None
    ) -> Credentials:
        """From a Flux-style secret directory, then the environment."""
        env = os.environ if environ is None else environ
        files: dict[str, str] = {}
        root = Path(directory) if directory else None
        if root is not None:
            if not root.is_dir():
                raise UserError(
                    "no such directory (expected a directory with username/password, "
                    "bearerToken or identity files)",
                    file=str(root),
                    field="--credentials",
                )
            for name in ("username", "password", "bearerToken"):
                f = root / name
                if f.is_file():
                    files[name] = f.read_text(encoding="utf-8").strip("\r\n")
        identity = root / "identity" if root is not None else None
        known_hosts = root / "known_hosts" if root is not None else None
        return cls(
            username=files.get("username") or env.get(ENV_USERNAME) or None,
            password=files.get("password") or env.get(ENV_PASSWORD) or None,
            bearer_token=files.get("bearerToken") or env.get(ENV_BEARER_TOKEN) or None,
            identity_file=(
                identity
                if identity is not None and identity.is_file()
                else _path(env.get(ENV_SSH_KEY_FILE))
            ),
            known_hosts_file=(
                known_hosts
                if known_hosts is not None and known_hosts.is_file()
                else _path(env.get(ENV_KNOWN_HOSTS_FILE))
            ),
        )

    def secrets(self) -> list[str]:
        """Every string that must never be shown (and its encodings on the wire)."""
        out: list[str] = []
        if self.password:
            out.append(self.password)
            user_pass = f"{self.username or 'git'}:{self.password}".encode()
            out.append(base64.b64encode(user_pass).decode())
        if self.bearer_token:
            out.append(self.bearer_token)
        return [s for s in out if s]

    def git_env(self) -> dict[str, str]:
        """Environment variables that give git these credentials."""
        env: dict[str, str] = {}
        header = None
        if self.bearer_token:
            header = f"Authorization: Bearer {self.bearer_token}"
        elif self.password:
            user_pass = f"{self.username or 'git'}:{self.password}".encode()
            header = f"Authorization: Basic {base64.b64encode(user_pass).decode()}"
        if header:
            env["GIT_CONFIG_COUNT"] = "1"
            env["GIT_CONFIG_KEY_0"] = "http.extraHeader"
            env["GIT_CONFIG_VALUE_0"] = header
        if self.identity_file:
            ssh = ["ssh", "-i", str(self.identity_file), "-o", "IdentitiesOnly=yes"]
            if self.known_hosts_file:
                ssh += [
                    "-o",
                    f"UserKnownHostsFile={self.known_hosts_file}",
                    "-o",
                    "StrictHostKeyChecking=yes",
                ]
            env["GIT_SSH_COMMAND"] = shlex.join(ssh)
        return env


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


class Redactor:
    """Replaces secrets, and the `user:password@` part of URLs, with ***."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        # Longest first, so a secret containing another is replaced whole.
        self.secrets = sorted({s for s in secrets or () if len(s) >= 3}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, REDACTED)
        return _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)


def redact_url(url: str) -> str:
    """The URL (or text) without any `user:password@` or `token@` in http(s) URLs (an ssh
    URL's user, `ssh://git@host/...`, is a name, not a secret, and stays)."""

    def scrub(m: re.Match[str]) -> str:
        scheme = m.group("scheme")
        return m.group(0) if scheme.lower().startswith("ssh") else f"{scheme}{REDACTED}@"

    return _URL_USERINFO.sub(scrub, url)
