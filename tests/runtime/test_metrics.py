"""The controller's metrics as Prometheus reads them: names, labels, values after the calls
the control loop makes, and the policy source's series on the same registry."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from scaler.gitops.status import PolicySource, SourceSpec, StateStore
from scaler.runtime.observability import NoopRecorder, PrometheusRecorder, Recorder

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(rec: PrometheusRecorder) -> Samples:
    text = rec.exposition().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def names(samples: Samples) -> set[str]:
    return {n for n, _ in samples}


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_a_fresh_registry_exports_the_karpenter_style_families() -> None:
    got = scrape(PrometheusRecorder(version="1.2.3"))
    assert got["scaler_build_info", (("version", "1.2.3"),)] == 1
    assert got["scaler_pods_pending", ()] == 0
    assert got["scaler_policy_ready", ()] == 0
    assert got["scaler_leader_election_is_leader", ()] == 0
    assert got["scaler_scheduler_scheduling_duration_seconds_count", ()] == 0
    assert "process_cpu_seconds_total" in names(got) or "python_info" in names(got)
    assert not [n for n in names(got) if n.endswith("_created")]  # no _created doubles


def test_launches_terminations_and_decisions_count_by_label() -> None:
    rec = PrometheusRecorder(process_metrics=False)
    rec.record_launch("general", "provisioning", 3)
    rec.record_launch("general", "consolidation")
    rec.record_termination("general", "underutilized")
    rec.record_termination("batch", "interrupted", 2)
    rec.record_disruption_decision("underutilized", "replace")
    rec.record_disruption_decision("empty", "delete")
    rec.record_disruption_decision("empty", "delete")
    rec.record_cloud_error("CreateFleet", "InsufficientInstanceCapacity")
    got = scrape(rec)
    created = "scaler_nodes_created_total"
    assert got[created, (("nodepool", "general"), ("reason", "provisioning"))] == 3
    assert got[created, (("nodepool", "general"), ("reason", "consolidation"))] == 1
    terminated = "scaler_nodes_terminated_total"
    assert got[terminated, (("nodepool", "batch"), ("reason", "interrupted"))] == 2
    decisions = "scaler_disruption_decisions_total"
    assert got[decisions, (("decision", "delete"), ("reason", "empty"))] == 2
    assert got[decisions, (("decision", "replace"), ("reason", "underutilized"))] == 1
    errors = "scaler_cloudprovider_errors_total"
    ice = (("error", "InsufficientInstanceCapacity"), ("operation", "CreateFleet"))
    assert got[errors, ice] == 1


def test_scheduling_histogram_and_pending_gauge() -> None:
    rec = PrometheusRecorder(process_metrics=False)
    rec.observe_scheduling(0.2, pods=40)
    with rec.time_scheduling(pods=2):
        pass
    rec.set_pending(7)
    got = scrape(rec)
    h = "scaler_scheduler_scheduling_duration_seconds"
    assert got[h + "_count", ()] == 2
    assert got[h + "_bucket", (("le", "0.25"),)] == 2
    assert got[h + "_bucket", (("le", "0.1"),)] == 1  # the timed block, not the 0.2 s batch
    assert got["scaler_scheduler_batch_size_sum", ()] == 42
    assert got["scaler_pods_pending", ()] == 7


def test_nodepool_usage_cost_and_forgetting_a_deleted_pool() -> None:
    rec = PrometheusRecorder(process_metrics=False)
    rec.set_nodepool_usage("general", "cpu", 12)
    rec.set_nodepool_usage("batch", "cpu", 4)
    rec.set_nodepool_limit("general", "cpu", 100)
    rec.set_nodepool_cost("general", "spot", 0.4211)
    rec.set_nodepool_cost("general", "on-demand", 1.5)
    rec.record_cost("general", "spot", 0.25)
    rec.record_cost("general", "spot", 0.25)
    got = scrape(rec)
    assert got["scaler_nodepool_usage", (("nodepool", "general"), ("resource", "cpu"))] == 12
    assert got["scaler_nodepool_limit", (("nodepool", "general"), ("resource", "cpu"))] == 100
    cost = "scaler_nodepool_cost_per_hour"
    assert got[cost, (("capacity_type", "spot"), ("nodepool", "general"))] == 0.4211
    accrued = "scaler_cost_accrued_dollars_total"
    assert got[accrued, (("capacity_type", "spot"), ("nodepool", "general"))] == 0.5
    rec.forget_nodepool("general")
    after = scrape(rec)
    assert not [k for k in after if ("nodepool", "general") in k[1] and "usage" in k[0]]
    assert not [k for k in after if k[0] == cost]
    assert after["scaler_nodepool_usage", (("nodepool", "batch"), ("resource", "cpu"))] == 4


def test_only_the_revision_in_force_is_exported() -> None:
    rec = PrometheusRecorder(process_metrics=False)
    rec.set_policy_revision("main@sha1:aaa")
    rec.set_policy_revision("main@sha1:bbb")
    rec.set_policy_ready(True)
    got = scrape(rec)
    info = "scaler_policy_revision_info"
    revisions = [dict(labels)["revision"] for n, labels in got if n == info]
    assert revisions == ["main@sha1:bbb"]
    assert got["scaler_policy_ready", ()] == 1


def test_price_refresh_age_is_computed_at_scrape_time() -> None:
    clock = Clock(1000.0)
    rec = PrometheusRecorder(process_metrics=False, clock=clock)
    clock.t = 1030.0
    assert scrape(rec)["scaler_price_refresh_age_seconds", ()] == 30  # never refreshed: uptime
    rec.mark_price_refresh()
    clock.t = 1100.0
    assert scrape(rec)["scaler_price_refresh_age_seconds", ()] == 70
    clock.t = 1500.0
    assert scrape(rec)["scaler_price_refresh_age_seconds", ()] == 470


def test_the_policy_source_series_come_from_the_same_registry(tmp_path: Path) -> None:
    rec = PrometheusRecorder(process_metrics=False)
    store = StateStore(tmp_path)
    rec.attach_policy_source(store)
    assert not [n for n in names(scrape(rec)) if n.startswith("scaler_policy_condition")]
    store.save(PolicySource(spec=SourceSpec(url="file:///repo.git")))
    got = scrape(rec)  # read at scrape time: no restart, no re-registration
    assert got["scaler_policy_suspended", (("name", "policies"),)] == 0
    assert ("scaler_policy_reconcile_total", (("name", "policies"), ("result", "applied"))) in got


def test_the_noop_recorder_satisfies_the_protocol() -> None:
    recorders: list[Recorder] = [NoopRecorder(), PrometheusRecorder(process_metrics=False)]
    for rec in recorders:
        rec.record_launch("p", "provisioning")
        rec.set_leader(True)
        rec.mark_price_refresh()
