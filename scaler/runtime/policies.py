"""Where the loop's policies come from: a local path, re-read when it changes, or a Git
source reconciled by `scaler.gitops` (the last good revision stays in force)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from scaler.errors import UserError
from scaler.gitops.reconciler import Reconciler
from scaler.gitops.status import SourceSpec, StateStore
from scaler.policy import PolicySet, load_policies

log = logging.getLogger(__name__)

Listener = Callable[[PolicySet, str], None]


class PolicyHolder:
    """The policies in force, swapped whole when a new valid bundle arrives."""

    def __init__(self, initial: PolicySet, revision: str = "") -> None:
        self._current = initial
        self.revision = revision or initial.digest[:12]
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        # False until a bundle was applied from the configured source: a Git source that
        # never synced must not fall back to the built-in default NodePool and launch.
        self.ready = True
        for line in initial.warnings:
            log.warning("policy warning: %s", line)

    @property
    def current(self) -> PolicySet:
        with self._lock:
            return self._current

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def apply(self, policies: PolicySet, revision: str) -> None:
        with self._lock:
            changed = policies.digest != self._current.digest
            self._current = policies
            self.revision = revision
        if changed:
            log.info("policies in force: revision %s (%d NodePools)", revision,
                     len(policies.node_pools))
            for line in policies.warnings:
                log.warning("policy warning: %s", line)
        for listener in self._listeners:
            listener(policies, revision)

    def sync(self) -> None:
        """Fetch the latest policies; an invalid bundle is logged and the current one kept."""


class LocalPolicies(PolicyHolder):
    def __init__(self, path: str | None) -> None:
        self.path = path
        super().__init__(load_policies(Path(path) if path else None))

    def sync(self) -> None:
        try:
            fresh = load_policies(Path(self.path) if self.path else None)
        except UserError as e:
            log.error("policies not reloaded, keeping revision %s: %s", self.revision,
                      e.render())
            return
        if fresh.digest != self.current.digest:
            self.apply(fresh, fresh.digest[:12])


class GitPolicies(PolicyHolder):
    def __init__(self, spec: SourceSpec, state_dir: str) -> None:
        store = StateStore(state_dir)
        self.reconciler = Reconciler(store)
        self.reconciler.configure(spec, datetime.now(UTC))
        super().__init__(self.reconciler.applied or load_policies(None), "")
        self.ready = self.reconciler.applied is not None
        self.sync()

    def sync(self) -> None:
        result = self.reconciler.reconcile_once(datetime.now(UTC))
        if result.outcome in ("fetch_failed", "validation_failed"):
            log.error("policy sync: %s (keeping revision %s)", result.message,
                      result.revision or "none")
        elif self.reconciler.applied is not None and result.outcome == "applied":
            self.ready = True
            self.apply(self.reconciler.applied, result.revision or "")
