"""The policy source's metrics, as prometheus_client metric families.

`policy_source_families(source, counters)` builds them; `PolicySourceCollector(store)` reads
them from a state store at scrape time, for the controller's registry
(scaler/runtime/observability.py, the one place the process's `/metrics` comes from);
`prometheus_text(source, counters)` renders them alone, for
`scaler policies status --output prometheus`. The client library writes the text, so the
two never disagree on format.

    scaler_policy_condition{name,type,status}   1 for the condition's current status
                                                (Flux's gotk_reconcile_condition shape)
    scaler_policy_suspended{name}               1 while suspended
    scaler_policy_info{name,applied_revision,attempted_revision,digest}   always 1
    scaler_policy_last_applied_timestamp_seconds{name}
    scaler_policy_last_attempt_timestamp_seconds{name}
    scaler_policy_reconcile_total{name,result}  applied, unchanged, validation_failed,
                                                fetch_failed
    scaler_policy_reconcile_duration_seconds{name}   the last reconciliation's duration
    scaler_policy_drifted_nodes{name}           nodes that no longer match their NodePool
    scaler_policy_objects{name,kind}            objects of the applied bundle, by kind
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from scaler.gitops.status import (
    CONDITION_TYPES,
    FALSE,
    TRUE,
    UNKNOWN,
    Counters,
    PolicySource,
    StateStore,
    parse_time,
)

RESULTS = ("applied", "unchanged", "validation_failed", "fetch_failed")


def policy_source_families(source: PolicySource, counters: Counters | None = None) -> list[Metric]:
    """The metric families of one policy source."""
    counters = counters or Counters()
    st = source.status
    name = source.name
    out: list[Metric] = []

    cond = GaugeMetricFamily(
        "scaler_policy_condition",
        "The policy source's conditions: 1 for the status each condition has now.",
        labels=["name", "type", "status"],
    )
    for type_ in CONDITION_TYPES:
        c = st.condition(type_)
        current = c.status if c else UNKNOWN
        for status in (TRUE, FALSE, UNKNOWN):
            cond.add_metric([name, type_, status], 1 if status == current else 0)
    out.append(cond)

    suspended = GaugeMetricFamily(
        "scaler_policy_suspended",
        "1 while reconciliation of the policy source is suspended.",
        labels=["name"],
    )
    suspended.add_metric([name], 1 if source.spec.suspend else 0)
    out.append(suspended)

    info = GaugeMetricFamily(
        "scaler_policy_info",
        "The revisions last applied and attempted, and the applied bundle's digest.",
        labels=["name", "applied_revision", "attempted_revision", "digest"],
    )
    info.add_metric(
        [
            name,
            st.last_applied_revision or "",
            st.last_attempted_revision or "",
            st.last_applied_digest or "",
        ],
        1,
    )
    out.append(info)

    for metric, when, what in (
        ("scaler_policy_last_applied_timestamp_seconds", st.last_applied_time, "applied"),
        ("scaler_policy_last_attempt_timestamp_seconds", st.last_attempted_time, "attempted"),
    ):
        t = parse_time(when)
        fam = GaugeMetricFamily(
            metric, f"Unix time a revision was last {what} (0: never).", labels=["name"]
        )
        fam.add_metric([name], t.timestamp() if t else 0)
        out.append(fam)

    total = CounterMetricFamily(
        "scaler_policy_reconcile",
        "Reconciliations of the policy source, by result.",
        labels=["name", "result"],
    )
    for r in RESULTS:
        total.add_metric([name, r], counters.results.get(r, 0))
    out.append(total)

    duration = GaugeMetricFamily(
        "scaler_policy_reconcile_duration_seconds",
        "How long the last reconciliation took.",
        labels=["name"],
    )
    duration.add_metric([name], round(counters.last_duration_seconds, 6))
    out.append(duration)

    drifted = GaugeMetricFamily(
        "scaler_policy_drifted_nodes",
        "Nodes that no longer match their NodePool (drift candidates).",
        labels=["name"],
    )
    drifted.add_metric([name], len(st.drift))
    out.append(drifted)

    objects = GaugeMetricFamily(
        "scaler_policy_objects", "Objects in the applied policy bundle, by kind.",
        labels=["name", "kind"],
    )
    for k, v in sorted(st.objects.items()):
        objects.add_metric([name, k], v)
    out.append(objects)
    return out


class PolicySourceCollector(Collector):
    """The policy source's families, read from its state store at every scrape (nothing
    exported before a source is configured)."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        source = self.store.load()
        if source is None:
            return
        yield from policy_source_families(source, self.store.load_counters())

    def describe(self) -> list[Metric]:
        return []  # the families depend on the store's content; no up-front description


class _Fixed(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


def prometheus_text(source: PolicySource, counters: Counters | None = None) -> str:
    """The metrics of one policy source, as a `/metrics` endpoint would serve them."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(policy_source_families(source, counters)))
    return generate_latest(registry).decode("utf-8")
