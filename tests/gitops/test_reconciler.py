"""The reconciler's behaviour with a source held in memory (the real Git source is covered
in tests/integration/gitops): conditions, last-good, polling, suspend, reconcile now,
metrics, logs, restart, drift. Time is passed in; nothing sleeps."""

from __future__ import annotations

import io
import json
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from scaler.core.model import Node, Taint
from scaler.core.resources import Resources
from scaler.gitops.git import GitError, Revision
from scaler.gitops.logs import configure_json_logging, logger
from scaler.gitops.metrics import prometheus_text
from scaler.gitops.reconciler import Reconciler, applied_policies, watch
from scaler.gitops.status import SourceSpec, StateStore

T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
POOL = """\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  name: general
spec:
  template:
    spec:
      requirements:
        - key: karpenter.sh/capacity-type
          operator: In
          values: {capacity}
"""
GOOD = {"policies/general.yaml": POOL.format(capacity='["spot", "on-demand"]')}
ON_DEMAND_ONLY = {"policies/general.yaml": POOL.format(capacity='["on-demand"]')}
BAD = {"policies/general.yaml": POOL.format(capacity='["spot"]').replace("In\n", "Inn\n")}


@dataclass
class FakeSource:
    """A branch whose head is whatever the test pushed last."""

    commits: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    fetches: int = 0
    fail_with: str | None = None

    def push(self, files: dict[str, str]) -> str:
        sha = f"{len(self.commits) + 1:040x}"
        self.commits.append((sha, files))
        return f"main@sha1:{sha}"

    def fetch(self) -> Revision:
        self.fetches += 1
        if self.fail_with:
            raise GitError(self.fail_with)
        return Revision(self.commits[-1][0], "main")

    def export(self, revision: Revision, dest: Path) -> Path:
        files = dict(next(f for sha, f in self.commits if sha == revision.sha))
        for name, text in files.items():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_text(text)
        return dest / "policies"


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = configure_json_logging(stream, level=logging.DEBUG)
    yield stream
    logger().removeHandler(handler)


def make(
    tmp_path: Path, source: FakeSource, *, spec: SourceSpec | None = None, **kw: Any
) -> Reconciler:
    store = StateStore(tmp_path / "state")
    rec = Reconciler(store, source_factory=lambda s, st: source, rng=random.Random(7), **kw)
    rec.configure(spec or SourceSpec(url="https://git.example.com/p.git", path="policies"), T0)
    return rec


def status(rec: Reconciler) -> dict[str, Any]:
    st: dict[str, Any] = rec.store.require().to_json()["status"]
    return st


def condition(rec: Reconciler, type_: str) -> dict[str, Any]:
    return next(c for c in status(rec)["conditions"] if c["type"] == type_)


def test_a_good_revision_is_applied(tmp_path: Path, source: FakeSource) -> None:
    rev = source.push(GOOD)
    rec = make(tmp_path, source)
    result = rec.reconcile_once(T0)
    assert (result.outcome, result.revision) == ("applied", rev)
    st = status(rec)
    assert st["lastAppliedRevision"] == st["lastAttemptedRevision"] == rev
    assert st["lastAppliedDigest"].startswith("sha256:")
    assert st["observedGeneration"] == 1
    assert st["conditions"] == [
        {"type": "Ready", "status": "True", "reason": "Succeeded",
         "message": f"applied revision {rev}", "lastTransitionTime": "2024-05-01T10:00:00Z",
         "observedGeneration": 1},
        {"type": "Reconciling", "status": "False", "reason": "Succeeded",
         "message": "reconciliation succeeded", "lastTransitionTime": "2024-05-01T10:00:00Z",
         "observedGeneration": 1},
        {"type": "Stalled", "status": "False", "reason": "Succeeded",
         "message": "reconciliation succeeded", "lastTransitionTime": "2024-05-01T10:00:00Z",
         "observedGeneration": 1},
    ]
    assert rec.applied is not None and [p.name for p in rec.applied.node_pools] == ["general"]


def test_a_bad_revision_is_rejected_and_the_last_good_stays(
    tmp_path: Path, source: FakeSource
) -> None:
    good = source.push(GOOD)
    rec = make(tmp_path, source)
    rec.reconcile_once(T0)
    applied = rec.applied
    bad = source.push(BAD)
    result = rec.reconcile_once(T0 + timedelta(minutes=1))
    assert result.outcome == "validation_failed"
    st = status(rec)
    assert st["lastAppliedRevision"] == good
    assert st["lastAttemptedRevision"] == bad
    ready = condition(rec, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ValidationFailed")
    assert ready["message"] == (
        f"revision {bad} was not applied: policies/general.yaml:10: NodePool general: "
        "spec.template.spec.requirements[0].operator: unknown operator 'Inn' (expected In, "
        f"NotIn, Exists, DoesNotExist, Gt, Lt, Gte, Lte); revision {good} is still in force"
    )
    assert condition(rec, "Stalled")["status"] == "True"
    assert rec.applied is applied  # the bundle in force did not change


def test_the_fix_is_picked_up_within_one_interval(tmp_path: Path, source: FakeSource) -> None:
    source.push(GOOD)
    rec = make(tmp_path, source)
    rec.reconcile_once(T0)
    source.push(BAD)
    t1 = T0 + timedelta(minutes=1)
    rec.reconcile_once(t1)
    fixed = source.push(ON_DEMAND_ONLY)  # pushed right after the failed poll
    # Nothing new before the next poll ...
    assert rec.reconcile_once(t1 + timedelta(seconds=30)).outcome == "not_due"
    # ... and by one interval later it is applied, without anyone asking.
    result = rec.reconcile_once(t1 + timedelta(seconds=60))
    assert (result.outcome, result.revision) == ("applied", fixed)
    ready = condition(rec, "Ready")
    assert (ready["status"], ready["lastTransitionTime"]) == ("True", "2024-05-01T10:02:00Z")
    assert condition(rec, "Stalled")["status"] == "False"


def test_polls_come_at_most_one_interval_apart_with_jitter(
    tmp_path: Path, source: FakeSource
) -> None:
    source.push(GOOD)
    spec = SourceSpec(url="https://x/p.git", path="policies", interval_seconds=300, jitter=0.2)
    rec = make(tmp_path, source, spec=spec)
    gaps = set()
    now = T0
    for _ in range(20):
        rec.reconcile_once(now, force=True)
        nxt = rec.next_due()
        assert nxt is not None
        gap = (nxt - now).total_seconds()
        assert 240 <= gap <= 300
        gaps.add(int(gap))
        now = nxt
    assert len(gaps) > 5  # spread, not in step


def test_unchanged_revision_keeps_transition_times(tmp_path: Path, source: FakeSource) -> None:
    source.push(GOOD)
    rec = make(tmp_path, source)
    rec.reconcile_once(T0)
    result = rec.reconcile_once(T0 + timedelta(hours=1))
    assert result.outcome == "unchanged"
    assert condition(rec, "Ready")["lastTransitionTime"] == "2024-05-01T10:00:00Z"
    assert status(rec)["lastAttemptedTime"] == "2024-05-01T11:00:00Z"


def test_reconcile_now_and_suspend(tmp_path: Path, source: FakeSource) -> None:
    source.push(GOOD)
    rec = make(tmp_path, source)
    rec.reconcile_once(T0)
    assert source.fetches == 1
    # "reconcile now" runs at once, whatever the interval says
    rec.request(T0 + timedelta(seconds=5))
    assert rec.reconcile_once(T0 + timedelta(seconds=5)).outcome == "unchanged"
    assert status(rec)["lastHandledReconcileAt"] == "2024-05-01T10:00:05Z"
    # suspended: nothing is fetched, however long it stays so, and requests wait
    obj = rec.set_suspended(True, T0)
    assert (obj.generation, obj.spec.suspend) == (2, True)
    source.push(ON_DEMAND_ONLY)
    rec.request(T0 + timedelta(hours=1))
    assert rec.reconcile_once(T0 + timedelta(hours=2)).outcome == "suspended"
    assert source.fetches == 2
    assert status(rec)["observedGeneration"] == 1
    # resumed: a new generation, reconciled at once
    rec.set_suspended(False, T0)
    assert rec.reconcile_once(T0 + timedelta(hours=2, seconds=1)).outcome == "applied"
    assert status(rec)["observedGeneration"] == 3
    assert condition(rec, "Ready")["observedGeneration"] == 3


def test_fetch_failure_keeps_the_bundle_and_never_shows_the_secret(
    tmp_path: Path, source: FakeSource, logs: io.StringIO
) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "username").write_text("deploy")
    (creds / "password").write_text("hunter2-s3cret-token")
    spec = SourceSpec(url="https://git.example.com/p.git", path="policies",
                      credentials_dir=str(creds))
    good = source.push(GOOD)
    rec = make(tmp_path, source, spec=spec)
    rec.reconcile_once(T0)
    source.fail_with = (
        "git fetch failed: unable to access 'https://deploy:hunter2-s3cret-token@git.example"
        ".com/p.git/': Could not resolve host (token hunter2-s3cret-token)"
    )
    result = rec.reconcile_once(T0 + timedelta(minutes=1))
    assert result.outcome == "fetch_failed"
    ready = condition(rec, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "FetchFailed")
    assert ready["message"].endswith(f"revision {good} is still in force")
    assert "https://***@git.example.com" in ready["message"]
    reconciling = condition(rec, "Reconciling")
    assert (reconciling["status"], reconciling["reason"]) == ("True", "ProgressingWithRetry")
    assert condition(rec, "Stalled")["status"] == "False"
    state = "".join(p.read_text() for p in rec.store.root.glob("*.json"))
    assert "hunter2" not in state and "hunter2" not in logs.getvalue()
    assert '"event": "fetch_failed"' in logs.getvalue()
    assert rec.applied is not None


def test_a_restart_keeps_enforcing_the_last_good_revision(
    tmp_path: Path, source: FakeSource
) -> None:
    good = source.push(GOOD)
    rec = make(tmp_path, source)
    rec.reconcile_once(T0)
    digest = rec.applied.digest if rec.applied else ""
    source.push(BAD)
    # A new process, a broken head: the applied bundle comes from the state directory.
    again = Reconciler(rec.store, source_factory=lambda s, st: source)
    assert again.applied is not None and again.applied.digest == digest
    assert again.reconcile_once(T0 + timedelta(minutes=5)).outcome == "validation_failed"
    assert again.applied.digest == digest
    assert status(again)["lastAppliedRevision"] == good
    # what other commands read: the bundle in force and its status
    found = applied_policies(rec.store)
    assert found is not None and found[0].digest == digest
    assert found[1]["lastAppliedRevision"] == good


def test_metrics_in_prometheus_text_format(tmp_path: Path, source: FakeSource) -> None:
    good = source.push(GOOD)
    rec = make(tmp_path, source)
    rec.reconcile_once(T0)
    bad = source.push(BAD)
    rec.reconcile_once(T0 + timedelta(minutes=1))
    text = prometheus_text(rec.store.require(), rec.store.load_counters())
    got = samples(text)  # parsed as Prometheus parses it: label order and 1 vs 1.0 are free
    name = (("name", "policies"),)
    cond = "scaler_policy_condition"
    assert got[cond, name + (("status", "False"), ("type", "Ready"))] == 1
    assert got[cond, name + (("status", "True"), ("type", "Ready"))] == 0
    assert got[cond, name + (("status", "True"), ("type", "Stalled"))] == 1
    assert got["scaler_policy_reconcile_total", name + (("result", "applied"),)] == 1
    assert got["scaler_policy_reconcile_total", name + (("result", "validation_failed"),)] == 1
    assert got["scaler_policy_suspended", name] == 0
    assert got["scaler_policy_last_applied_timestamp_seconds", name] == 1714557600
    (info,) = [dict(labels) for (n, labels) in got if n == "scaler_policy_info"]
    assert info["applied_revision"] == good and info["attempted_revision"] == bad
    assert "# TYPE scaler_policy_reconcile_total counter" in text.splitlines()
    assert all(n.startswith("scaler_policy_") for n, _ in got)
    assert text.endswith("\n")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition, keyed by name and sorted labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_logs_are_one_json_object_per_line(
    tmp_path: Path, source: FakeSource, logs: io.StringIO
) -> None:
    good = source.push(GOOD)
    rec = make(tmp_path, source)
    rec.reconcile_once(T0)
    bad = source.push(BAD)
    rec.reconcile_once(T0 + timedelta(minutes=1))
    records = [json.loads(line) for line in logs.getvalue().splitlines()]
    applied = next(r for r in records if r["event"] == "applied")
    assert applied["level"] == "info" and applied["revision"] == good
    assert applied["objects"] == {"NodePool": 1}
    failed = next(r for r in records if r["event"] == "validation_failed")
    assert failed["level"] == "error" and failed["revision"] == bad
    assert failed["lastAppliedRevision"] == good
    assert failed["errors"][0].startswith("policies/general.yaml:10: NodePool general: ")


def test_watch_loop_with_a_fake_clock(tmp_path: Path, source: FakeSource) -> None:
    source.push(GOOD)
    rec = make(tmp_path, source)
    clock = {"now": T0}
    slept: list[float] = []
    pushed: dict[str, str] = {}

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock["now"] += timedelta(seconds=seconds)
        if clock["now"] >= T0 + timedelta(seconds=90) and not pushed:
            pushed["rev"] = source.push(ON_DEMAND_ONLY)

    def should_stop() -> bool:
        return clock["now"] >= T0 + timedelta(minutes=4)

    watch(rec, clock=lambda: clock["now"], sleep=sleep, should_stop=should_stop,
          tick_seconds=10)
    assert all(0 <= s <= 10 for s in slept)
    st = status(rec)
    assert st["lastAppliedRevision"] == pushed["rev"]
    applied_at = datetime.fromisoformat(st["lastAppliedTime"].replace("Z", "+00:00"))
    assert applied_at - (T0 + timedelta(seconds=90)) <= timedelta(seconds=60)


def node(name: str, capacity: str, taints: tuple[Taint, ...] = ()) -> Node:
    return Node(
        name,
        {"karpenter.sh/nodepool": "general", "karpenter.sh/capacity-type": capacity,
         "node.kubernetes.io/instance-type": "m5.large"},
        Resources.parse({"cpu": "2"}),
        taints,
    )


def test_drift_after_a_policy_change_and_after_a_hand_edit(
    tmp_path: Path, source: FakeSource, logs: io.StringIO
) -> None:
    nodes = [node("n-spot", "spot"), node("n-od", "on-demand")]
    source.push(GOOD)
    rec = make(tmp_path, source, nodes=lambda: list(nodes))
    rec.reconcile_once(T0)
    assert status(rec)["drift"] == []
    source.push(ON_DEMAND_ONLY)  # spot is no longer allowed
    rec.reconcile_once(T0 + timedelta(minutes=1))
    (drift,) = status(rec)["drift"]
    assert drift == {
        "node": "n-spot",
        "nodePool": "general",
        "field": "karpenter.sh/capacity-type",
        "reason": "label karpenter.sh/capacity-type=spot does not satisfy NodePool general's "
        "requirement karpenter.sh/capacity-type In [on-demand]",
        "cause": "PolicyChanged",
        "since": "2024-05-01T10:01:00Z",
    }
    # Someone relabels the on-demand node by hand; the policy is unchanged.
    nodes[1] = replace(nodes[1], labels={**nodes[1].labels, "karpenter.sh/capacity-type": "spot"})
    rec.reconcile_once(T0 + timedelta(minutes=2))
    by_node = {d["node"]: d for d in status(rec)["drift"]}
    assert by_node["n-od"]["cause"] == "NodeOutOfPolicy"
    assert by_node["n-spot"]["since"] == "2024-05-01T10:01:00Z"  # still the first sighting
    events = [json.loads(x) for x in logs.getvalue().splitlines()]
    assert [e["node"] for e in events if e["event"] == "drift"] == ["n-spot", "n-od"]
    metrics = samples(prometheus_text(rec.store.require()))
    assert metrics["scaler_policy_drifted_nodes", (("name", "policies"),)] == 2
