"""Continuous reconciliation of a Git policy source: fetch, validate the whole bundle, apply.

`Reconciler.reconcile_once(now)` is one pass; nothing in it sleeps or reads the clock, so
tests drive it with any `now` they like. A pass:

1. does nothing while the source is suspended, or before the next poll is due (unless the
   spec changed or "reconcile now" was requested);
2. fetches the followed ref (`main@sha1:<hex>`); a fetch failure keeps the applied bundle
   and reports `Ready=False` (FetchFailed) and `Reconciling=True` (retrying next interval);
3. exports the sub-path at that revision and loads it as one bundle: if any file or any
   reference between objects is invalid, nothing is applied, the last applied revision
   stays in force, and the status says `Ready=False` (ValidationFailed) and `Stalled=True`
   with `file:line: Kind name: field: message` (it stays stalled until a new commit lands;
   the next poll that sees a fixed commit applies it by itself);
4. otherwise applies it: the bundle becomes `applied` (kept in the state directory across
   restarts), `lastAppliedRevision` and the digest are recorded, `Ready=True`;
5. with a node source, reports nodes that no longer match their NodePool (drift).

The next poll is due one interval later, minus up to `jitter` of it at random, so many
replicas do not poll in step and a commit is always picked up within one interval.
"""

from __future__ import annotations

import logging
import random
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

from scaler.core.disruption.drift import NodeDrift, find_drift
from scaler.core.model import Node
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.errors import UserError
from scaler.gitops import logs
from scaler.gitops.credentials import Credentials, Redactor
from scaler.gitops.git import GitError, GitSource, Revision
from scaler.gitops.status import (
    FALSE,
    HISTORY_LENGTH,
    READY,
    RECONCILING,
    STALLED,
    TRUE,
    PolicySource,
    SourceSpec,
    StateStore,
    parse_time,
)
from scaler.policy import PolicySet, load_policies
from scaler.policy.loader import PolicyBundleError
from scaler.times import rfc3339

Outcome = Literal[
    "applied", "unchanged", "validation_failed", "fetch_failed", "suspended", "not_due"
]

# Condition reasons, in Flux's vocabulary where there is one.
SUCCEEDED = "Succeeded"
PROGRESSING_WITH_RETRY = "ProgressingWithRetry"
FETCH_FAILED = "FetchFailed"
VALIDATION_FAILED = "ValidationFailed"
# Why a node is listed as drifted: the new revision pushed it out of policy, or the node
# itself does not fit the policy in force (edited by hand, or it never fitted).
POLICY_CHANGED = "PolicyChanged"
NODE_OUT_OF_POLICY = "NodeOutOfPolicy"


class Source(Protocol):
    """What the reconciler needs from a source (GitSource, or a fake in tests)."""

    def fetch(self) -> Revision: ...

    def export(self, revision: Revision, dest: Path) -> Path: ...


SourceFactory = Callable[[SourceSpec, StateStore], Source]
NodeSource = Callable[[], Sequence[Node]]


def git_source(spec: SourceSpec, store: StateStore) -> GitSource:
    """The Git source a spec describes, with its credentials (read now, never stored)."""
    return GitSource(
        spec.url,
        spec.ref,
        spec.path,
        cache_dir=store.cache_dir,
        credentials=Credentials.load(spec.credentials_dir),
        timeout=spec.timeout_seconds,
    )


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    revision: str | None = None
    message: str = ""


class Reconciler:
    def __init__(
        self,
        store: StateStore,
        *,
        source_factory: SourceFactory = git_source,
        rng: random.Random | None = None,
        log: logging.Logger | None = None,
        nodes: NodeSource | None = None,
        instance_types: InstanceTypeTable | None = None,
        on_apply: Callable[[PolicySet, str], None] | None = None,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.store = store
        self.source_factory = source_factory
        self.rng = rng or random.Random()
        self.log = log or logs.logger()
        self.nodes = nodes
        # For the labels a node's instance type implies; without it only the node's own
        # labels are judged.
        self.instance_types = instance_types or InstanceTypeTable(())
        self.on_apply = on_apply
        self.timer = timer
        self.applied: PolicySet | None = None  # the bundle in force
        self.previous: PolicySet | None = None  # the one before it (for drift causes)
        self._applied_revision: str | None = None
        obj = store.load()
        if obj is not None:
            self._load_applied(obj)

    # --- spec changes (what kubectl edit / flux suspend would do) ---------------------------

    def configure(self, spec: SourceSpec, now: datetime) -> PolicySource:
        """Follow `spec`; a change of any field is a new generation (reconciled at once)."""
        with self.store.lock():
            obj = self.store.load()
            if obj is None:
                obj = PolicySource(spec=spec)
            elif obj.spec != spec:
                obj.spec = spec
                obj.generation += 1
            self.store.save(obj)
            return obj

    def set_suspended(self, suspended: bool, now: datetime) -> PolicySource:
        with self.store.lock():
            obj = self.store.require()
            if obj.spec.suspend != suspended:
                obj.spec = replace(obj.spec, suspend=suspended)
                obj.generation += 1
                self.store.save(obj)
                self._event(
                    logging.INFO,
                    "policy source suspended" if suspended else "policy source resumed",
                    "suspended" if suspended else "resumed",
                )
            return obj

    def request(self, now: datetime) -> PolicySource:
        """"Reconcile now": the next pass runs whatever the interval says."""
        with self.store.lock():
            obj = self.store.require()
            obj.requested_at = rfc3339(now)
            self.store.save(obj)
            return obj

    # --- the pass -------------------------------------------------------------------------

    def due(self, obj: PolicySource, now: datetime) -> bool:
        st = obj.status
        if obj.requested_at and obj.requested_at != st.last_handled_reconcile_at:
            return True
        if st.observed_generation != obj.generation:
            return True
        nxt = parse_time(st.next_reconcile_time)
        return nxt is None or now >= nxt

    def next_due(self) -> datetime | None:
        obj = self.store.load()
        return parse_time(obj.status.next_reconcile_time) if obj else None

    def reconcile_once(self, now: datetime, *, force: bool = False) -> Result:
        with self.store.lock():
            obj = self.store.require()
            if obj.spec.suspend:
                return Result("suspended", obj.status.last_applied_revision, "suspended")
            if not (force or self.due(obj, now)):
                return Result("not_due", obj.status.last_applied_revision)
            start = self.timer()
            counters = self.store.load_counters()
            result = self._reconcile(obj, now)
            counters.count(result.outcome)
            counters.last_duration_seconds = self.timer() - start
            self.store.save_counters(counters)
            return result

    def _reconcile(self, obj: PolicySource, now: datetime) -> Result:
        spec, st, gen = obj.spec, obj.status, obj.generation
        st.last_handled_reconcile_at = obj.requested_at or st.last_handled_reconcile_at
        st.observed_generation = gen
        st.next_reconcile_time = rfc3339(now + self._interval(spec))
        try:
            redact = Redactor(Credentials.load(spec.credentials_dir).secrets())
        except UserError:  # reported by the fetch, which loads them again
            redact = Redactor()

        result = self._fetch_and_apply(obj, now, redact)
        self._drift(obj, now, result.outcome == "applied")
        self.store.save(obj)
        return result

    def _fetch_and_apply(
        self, obj: PolicySource, now: datetime, redact: Callable[[str], str]
    ) -> Result:
        spec, st = obj.spec, obj.status
        try:
            source = self.source_factory(spec, self.store)
            revision = source.fetch()
        except UserError as err:
            return self._fetch_failed(obj, now, redact(err.render()))
        rev = str(revision)
        st.last_attempted_revision = rev
        st.last_attempted_time = rfc3339(now)

        workdir = self.store.new_workdir()
        try:
            try:
                root = source.export(revision, workdir)
                policies = load_policies(root, display_root=workdir)
            except PolicyBundleError as err:
                return self._invalid(obj, now, rev, redact(err.summary()), err.errors, redact)
            except GitError as err:
                return self._fetch_failed(obj, now, redact(err.render()))
            except UserError as err:
                return self._invalid(obj, now, rev, redact(err.render()), [err], redact)
            unchanged = (
                self.applied is not None
                and rev == st.last_applied_revision
                and policies.digest == st.last_applied_digest
            )
            if not unchanged:
                self.store.replace_applied(workdir)
            return self._applied(obj, now, rev, policies, unchanged)
        finally:
            if workdir.exists():
                shutil.rmtree(workdir, ignore_errors=True)

    def _interval(self, spec: SourceSpec) -> timedelta:
        # Only ever earlier: the next poll is at most one interval away.
        fraction = 1.0 - max(0.0, min(spec.jitter, 1.0)) * self.rng.random()
        return timedelta(seconds=spec.interval_seconds * fraction)

    def _still_in_force(self, obj: PolicySource) -> str:
        applied = obj.status.last_applied_revision
        return (
            f"; revision {applied} is still in force" if applied else "; nothing applied yet"
        )

    def _fetch_failed(self, obj: PolicySource, now: datetime, message: str) -> Result:
        st, gen = obj.status, obj.generation
        text = f"fetch failed: {message}{self._still_in_force(obj)}"
        st.set_condition(READY, FALSE, FETCH_FAILED, text, now=now, generation=gen)
        st.set_condition(
            RECONCILING,
            TRUE,
            PROGRESSING_WITH_RETRY,
            f"retrying at {st.next_reconcile_time}",
            now=now,
            generation=gen,
        )
        st.set_condition(STALLED, FALSE, FETCH_FAILED, "a fetch failure is retried", now=now,
                         generation=gen)
        self._event(logging.ERROR, text, "fetch_failed", error=message,
                    lastAppliedRevision=st.last_applied_revision)
        return Result("fetch_failed", None, text)

    def _invalid(
        self,
        obj: PolicySource,
        now: datetime,
        rev: str,
        summary: str,
        errors: Sequence[UserError],
        redact: Callable[[str], str],
    ) -> Result:
        st, gen = obj.status, obj.generation
        text = f"revision {rev} was not applied: {summary}{self._still_in_force(obj)}"
        st.set_condition(READY, FALSE, VALIDATION_FAILED, text, now=now, generation=gen)
        st.set_condition(RECONCILING, FALSE, VALIDATION_FAILED, "waiting for a new commit",
                         now=now, generation=gen)
        st.set_condition(
            STALLED,
            TRUE,
            VALIDATION_FAILED,
            f"revision {rev} is invalid; fix the policies and push a new commit",
            now=now,
            generation=gen,
        )
        self._event(
            logging.ERROR,
            text,
            "validation_failed",
            revision=rev,
            errors=[redact(e.render()) for e in errors],
            lastAppliedRevision=st.last_applied_revision,
        )
        return Result("validation_failed", rev, text)

    def _applied(
        self, obj: PolicySource, now: datetime, rev: str, policies: PolicySet, unchanged: bool
    ) -> Result:
        st, gen = obj.status, obj.generation
        message = f"applied revision {rev}"
        if policies.warnings:
            n = len(policies.warnings)
            message += f" ({n} warning{'s' if n > 1 else ''})"
        st.set_condition(READY, TRUE, SUCCEEDED, message, now=now, generation=gen)
        st.set_condition(RECONCILING, FALSE, SUCCEEDED, "reconciliation succeeded", now=now,
                         generation=gen)
        st.set_condition(STALLED, FALSE, SUCCEEDED, "reconciliation succeeded", now=now,
                         generation=gen)
        if unchanged:
            self._event(logging.DEBUG, f"revision {rev} is already applied", "unchanged",
                        revision=rev)
            return Result("unchanged", rev, message)
        previous_rev = st.last_applied_revision
        st.last_applied_revision = rev
        st.last_applied_digest = policies.digest
        st.last_applied_time = rfc3339(now)
        st.objects = policies.counts()
        st.warnings = list(policies.warnings)
        st.history = [
            {
                "revision": rev,
                "digest": policies.digest,
                "path": obj.spec.path,
                "appliedAt": rfc3339(now),
            },
            *st.history,
        ][:HISTORY_LENGTH]
        self.previous, self.applied = self.applied, policies
        self._applied_revision = rev
        self._event(
            logging.INFO,
            message,
            "applied",
            revision=rev,
            digest=policies.digest,
            previousRevision=previous_rev,
            objects=policies.counts(),
            warnings=list(policies.warnings),
        )
        if self.on_apply is not None:
            self.on_apply(policies, rev)
        return Result("applied", rev, message)

    def _drift(self, obj: PolicySource, now: datetime, applied_now: bool) -> None:
        if self.nodes is None or self.applied is None:
            return
        nodes = self.nodes()
        before = {d["node"]: d for d in obj.status.drift}
        # A node the policy change pushed out of policy fitted the previous bundle; any
        # other newly drifted node was changed itself (by hand, or by another controller).
        earlier = (
            {d.node for d in find_drift(nodes, self.previous.node_pools, self.instance_types)}
            if self.previous is not None and applied_now
            else None
        )
        report: list[dict[str, str]] = []
        for d in find_drift(nodes, self.applied.node_pools, self.instance_types):
            if d.node in before and before[d.node].get("reason") == d.reason:
                cause = before[d.node]["cause"]
            elif earlier is not None and d.node not in earlier:
                cause = POLICY_CHANGED
            else:
                cause = NODE_OUT_OF_POLICY
            report.append({**drift_json(d), "cause": cause, "since": before.get(d.node, {}).get(
                "since", rfc3339(now))})
        obj.status.drift = report
        for entry in report:
            if entry["node"] not in before:
                self._event(
                    logging.WARNING,
                    f"node {entry['node']} drifted: {entry['reason']}",
                    "drift",
                    **{k: v for k, v in entry.items() if k != "since"},
                )

    def _load_applied(self, obj: PolicySource) -> None:
        rev = obj.status.last_applied_revision
        root = self.store.applied_dir
        if not rev or not root.is_dir():
            return
        path = obj.status.history[0].get("path", obj.spec.path) if obj.status.history else "."
        target = root / path if path != "." else root
        try:
            self.applied = load_policies(target, display_root=root)
            self._applied_revision = rev
        except UserError as err:  # e.g. a newer scaler checks more than the one that applied
            self._event(logging.ERROR, f"the applied revision {rev} no longer loads: {err}",
                        "applied_unreadable", revision=rev)

    def _event(self, level: int, msg: str, name: str, **fields: Any) -> None:
        logs.event(self.log, level, msg, name, **fields)


def drift_json(d: NodeDrift) -> dict[str, str]:
    """A drifted node as the status lists it (docs/gitops.md)."""
    return {"node": d.node, "nodePool": d.node_pool, "field": d.field, "reason": d.reason}


def watch(
    reconciler: Reconciler,
    *,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
    should_stop: Callable[[], bool],
    tick_seconds: float = 1.0,
) -> None:
    """Reconcile whenever a pass is due, until `should_stop()`; `sleep` waits at most a tick,
    so suspend, resume and "reconcile now" from another process are seen within a tick."""
    while not should_stop():
        now = clock()
        reconciler.reconcile_once(now)
        nxt = reconciler.next_due()
        wait = tick_seconds if nxt is None else (nxt - clock()).total_seconds()
        sleep(max(0.0, min(tick_seconds, wait)))


def applied_policies(store: StateStore) -> tuple[PolicySet, Mapping[str, Any]] | None:
    """The bundle in force and its status, for other commands (None: nothing applied)."""
    rec = Reconciler(store)
    obj = store.load()
    if rec.applied is None or obj is None:
        return None
    return rec.applied, obj.status.to_json()
