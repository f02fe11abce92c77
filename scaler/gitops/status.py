"""The policy source as a Kubernetes-shaped object (spec, status, conditions) and its store.

The object is what `scaler policies status` shows and what a later `PolicySource` custom
resource will hold: `spec` is what to follow (URL, ref, path, interval, suspend), `status`
what happened (last applied and last attempted revision, the applied bundle's digest,
conditions `Ready`, `Reconciling`, `Stalled` in the shape of `metav1.Condition`,
`observedGeneration`). `metadata.generation` counts spec changes, as the API server does.

The state directory holds it (`source.json`), the files of the last applied revision
(`applied/`, so a restart keeps enforcing the last good bundle even when the branch head is
broken), reconcile counters for the metrics (`counters.json`) and the Git cache (`cache/`).
Writes are atomic (write, then rename) and a lock file serialises processes sharing it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from scaler.errors import UserError
from scaler.gitops.git import GitRef
from scaler.times import parse_rfc3339, rfc3339

API_VERSION = "scaler.dev/v1alpha1"
KIND = "PolicySource"
DEFAULT_NAME = "policies"
REQUESTED_AT = "scaler.dev/reconcile-requested-at"  # as Flux's reconcile.fluxcd.io/requestedAt

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
CONDITION_TYPES = (READY, RECONCILING, STALLED)
TRUE, FALSE, UNKNOWN = "True", "False", "Unknown"
HISTORY_LENGTH = 10


def parse_time(text: str | None) -> datetime | None:
    return parse_rfc3339(text) if text else None


@dataclass
class Condition:
    type: str
    status: str
    reason: str
    message: str
    last_transition_time: str
    observed_generation: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "lastTransitionTime": self.last_transition_time,
            "observedGeneration": self.observed_generation,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Condition:
        return cls(
            type=doc["type"],
            status=doc["status"],
            reason=doc.get("reason", ""),
            message=doc.get("message", ""),
            last_transition_time=doc.get("lastTransitionTime", ""),
            observed_generation=int(doc.get("observedGeneration", 0)),
        )


@dataclass
class SourceSpec:
    url: str
    ref: GitRef = field(default_factory=GitRef)
    path: str = "."
    interval_seconds: float = 60.0
    jitter: float = 0.1  # the next poll comes up to this fraction of the interval earlier
    timeout_seconds: float = 120.0
    suspend: bool = False
    credentials_dir: str | None = None  # a directory path only; never a secret

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "url": self.url,
            "ref": self.ref.to_json(),
            "path": self.path,
            "interval": _duration(self.interval_seconds),
            "intervalSeconds": self.interval_seconds,
            "jitter": self.jitter,
            "timeoutSeconds": self.timeout_seconds,
            "suspend": self.suspend,
        }
        if self.credentials_dir:
            doc["credentialsDir"] = self.credentials_dir
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> SourceSpec:
        return cls(
            url=doc["url"],
            ref=GitRef.from_json(doc.get("ref") or {}),
            path=doc.get("path", "."),
            interval_seconds=float(doc.get("intervalSeconds", 60.0)),
            jitter=float(doc.get("jitter", 0.1)),
            timeout_seconds=float(doc.get("timeoutSeconds", 120.0)),
            suspend=bool(doc.get("suspend", False)),
            credentials_dir=doc.get("credentialsDir"),
        )


def _duration(seconds: float) -> str:
    """60 -> `1m0s`, as Go (and Flux) print intervals."""
    s = int(seconds)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return (f"{h}h" if h else "") + (f"{m}m" if h or m else "") + f"{sec}s"


@dataclass
class SourceStatus:
    observed_generation: int = 0
    conditions: list[Condition] = field(default_factory=list)
    last_applied_revision: str | None = None
    last_applied_digest: str | None = None
    last_applied_time: str | None = None
    last_attempted_revision: str | None = None
    last_attempted_time: str | None = None
    next_reconcile_time: str | None = None
    last_handled_reconcile_at: str | None = None
    # What the applied bundle holds, by kind, and its warnings.
    objects: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # Nodes whose labels or taints no longer match their NodePool (drift candidates).
    drift: list[dict[str, str]] = field(default_factory=list)
    # The last applied revisions, newest first.
    history: list[dict[str, str]] = field(default_factory=list)

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)

    def set_condition(
        self,
        type_: str,
        status: str,
        reason: str,
        message: str,
        *,
        now: datetime,
        generation: int,
    ) -> None:
        """As meta.SetStatusCondition: the transition time moves only when status changes."""
        old = self.condition(type_)
        when = old.last_transition_time if old and old.status == status else rfc3339(now)
        new = Condition(type_, status, reason, message, when, generation)
        if old is None:
            self.conditions.append(new)
        else:
            self.conditions[self.conditions.index(old)] = new
        order = {t: i for i, t in enumerate(CONDITION_TYPES)}
        self.conditions.sort(key=lambda c: order.get(c.type, len(order)))

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "observedGeneration": self.observed_generation,
            "conditions": [c.to_json() for c in self.conditions],
            "lastAppliedRevision": self.last_applied_revision,
            "lastAppliedDigest": self.last_applied_digest,
            "lastAppliedTime": self.last_applied_time,
            "lastAttemptedRevision": self.last_attempted_revision,
            "lastAttemptedTime": self.last_attempted_time,
            "nextReconcileTime": self.next_reconcile_time,
            "lastHandledReconcileAt": self.last_handled_reconcile_at,
            "objects": dict(self.objects),
            "warnings": list(self.warnings),
            "drift": list(self.drift),
            "history": list(self.history),
        }
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> SourceStatus:
        return cls(
            observed_generation=int(doc.get("observedGeneration", 0)),
            conditions=[Condition.from_json(c) for c in doc.get("conditions") or ()],
            last_applied_revision=doc.get("lastAppliedRevision"),
            last_applied_digest=doc.get("lastAppliedDigest"),
            last_applied_time=doc.get("lastAppliedTime"),
            last_attempted_revision=doc.get("lastAttemptedRevision"),
            last_attempted_time=doc.get("lastAttemptedTime"),
            next_reconcile_time=doc.get("nextReconcileTime"),
            last_handled_reconcile_at=doc.get("lastHandledReconcileAt"),
            objects=dict(doc.get("objects") or {}),
            warnings=list(doc.get("warnings") or ()),
            drift=list(doc.get("drift") or ()),
            history=list(doc.get("history") or ()),
        )


@dataclass
class PolicySource:
    spec: SourceSpec
    status: SourceStatus = field(default_factory=SourceStatus)
    name: str = DEFAULT_NAME
    generation: int = 1
    requested_at: str | None = None  # the "reconcile now" request, an RFC 3339 time

    def to_json(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": self.name, "generation": self.generation}
        if self.requested_at:
            meta["annotations"] = {REQUESTED_AT: self.requested_at}
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": meta,
            "spec": self.spec.to_json(),
            "status": self.status.to_json(),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> PolicySource:
        meta = doc.get("metadata") or {}
        return cls(
            spec=SourceSpec.from_json(doc["spec"]),
            status=SourceStatus.from_json(doc.get("status") or {}),
            name=meta.get("name", DEFAULT_NAME),
            generation=int(meta.get("generation", 1)),
            requested_at=(meta.get("annotations") or {}).get(REQUESTED_AT),
        )

    @property
    def ready(self) -> Condition | None:
        return self.status.condition(READY)


@dataclass
class Counters:
    """Reconciliations by result, for the Prometheus counters."""

    results: dict[str, int] = field(default_factory=dict)
    last_duration_seconds: float = 0.0

    def count(self, result: str) -> None:
        self.results[result] = self.results.get(result, 0) + 1

    def to_json(self) -> dict[str, Any]:
        return {"results": dict(self.results), "lastDurationSeconds": self.last_duration_seconds}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Counters:
        return cls(
            results={k: int(v) for k, v in (doc.get("results") or {}).items()},
            last_duration_seconds=float(doc.get("lastDurationSeconds", 0.0)),
        )


def default_state_dir() -> Path:
    """`$SCALER_STATE_DIR`, else `$XDG_STATE_HOME/scaler`, else `~/.local/state/scaler`."""
    env = os.environ.get("SCALER_STATE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_STATE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "state") / "scaler"


class StateStore:
    """The state directory of one policy source."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def source_file(self) -> Path:
        return self.root / "source.json"

    @property
    def counters_file(self) -> Path:
        return self.root / "counters.json"

    @property
    def applied_dir(self) -> Path:
        return self.root / "applied"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @contextmanager
    def lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def load(self) -> PolicySource | None:
        try:
            text = self.source_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return PolicySource.from_json(json.loads(text))
        except (ValueError, KeyError, TypeError) as e:
            raise UserError(
                f"unreadable policy source state: {e}", file=str(self.source_file)
            ) from None

    def require(self) -> PolicySource:
        obj = self.load()
        if obj is None:
            raise UserError(
                "no policy source configured here yet (run `scaler policies reconcile "
                "--source URL` or `scaler policies watch --source URL` first)",
                file=str(self.root),
                field="--state-dir",
            )
        return obj

    def save(self, obj: PolicySource) -> None:
        self._write(self.source_file, json.dumps(obj.to_json(), indent=2) + "\n")

    def load_counters(self) -> Counters:
        try:
            return Counters.from_json(json.loads(self.counters_file.read_text(encoding="utf-8")))
        except (FileNotFoundError, ValueError):
            return Counters()

    def save_counters(self, counters: Counters) -> None:
        self._write(self.counters_file, json.dumps(counters.to_json(), indent=2) + "\n")

    def new_workdir(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="export-", dir=self.root))

    def replace_applied(self, export_root: Path) -> None:
        """Make `export_root` (an exported revision) the applied bundle, atomically enough:
        the old one is moved away before the new one is moved in."""
        old = self.root / "applied.old"
        if old.exists():
            shutil.rmtree(old)
        if self.applied_dir.exists():
            self.applied_dir.rename(old)
        export_root.rename(self.applied_dir)
        if old.exists():
            shutil.rmtree(old)

    def _write(self, path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
