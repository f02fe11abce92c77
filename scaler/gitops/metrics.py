"""The policy source's metrics in Prometheus text exposition format (version 0.0.4).

`prometheus_text(source, counters)` returns the text a `/metrics` endpoint serves; the
runtime endpoint itself comes with the controller (a later issue), and
`scaler policies status --output prometheus` prints the same text today. No client
library: the format is a few lines of text.

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

from collections.abc import Iterable, Mapping

from scaler.gitops.status import (
    CONDITION_TYPES,
    FALSE,
    TRUE,
    UNKNOWN,
    Counters,
    PolicySource,
    parse_time,
)

RESULTS = ("applied", "unchanged", "validation_failed", "fetch_failed")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def _number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


class _Text:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def metric(
        self,
        name: str,
        kind: str,
        help_: str,
        samples: Iterable[tuple[Mapping[str, str], float]],
    ) -> None:
        self.lines.append(f"# HELP {name} {help_}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            self.lines.append(f"{name}{_labels(labels)} {_number(value)}")


def prometheus_text(source: PolicySource, counters: Counters | None = None) -> str:
    """The metrics of one policy source, as a `/metrics` endpoint would serve them."""
    counters = counters or Counters()
    st = source.status
    name = {"name": source.name}
    out = _Text()
    samples: list[tuple[Mapping[str, str], float]] = []
    for type_ in CONDITION_TYPES:
        cond = st.condition(type_)
        current = cond.status if cond else UNKNOWN
        for status in (TRUE, FALSE, UNKNOWN):
            samples.append(({**name, "type": type_, "status": status}, status == current))
    out.metric(
        "scaler_policy_condition",
        "gauge",
        "The policy source's conditions: 1 for the status each condition has now.",
        samples,
    )
    out.metric(
        "scaler_policy_suspended",
        "gauge",
        "1 while reconciliation of the policy source is suspended.",
        [(name, source.spec.suspend)],
    )
    info = {
        **name,
        "applied_revision": st.last_applied_revision or "",
        "attempted_revision": st.last_attempted_revision or "",
        "digest": st.last_applied_digest or "",
    }
    out.metric(
        "scaler_policy_info",
        "gauge",
        "The revisions last applied and attempted, and the applied bundle's digest.",
        [(info, 1)],
    )
    for metric, when, what in (
        ("scaler_policy_last_applied_timestamp_seconds", st.last_applied_time, "applied"),
        ("scaler_policy_last_attempt_timestamp_seconds", st.last_attempted_time, "attempted"),
    ):
        t = parse_time(when)
        out.metric(
            metric,
            "gauge",
            f"Unix time a revision was last {what} (0: never).",
            [(name, t.timestamp() if t else 0)],
        )
    out.metric(
        "scaler_policy_reconcile_total",
        "counter",
        "Reconciliations of the policy source, by result.",
        [({**name, "result": r}, counters.results.get(r, 0)) for r in RESULTS],
    )
    out.metric(
        "scaler_policy_reconcile_duration_seconds",
        "gauge",
        "How long the last reconciliation took.",
        [(name, round(counters.last_duration_seconds, 6))],
    )
    out.metric(
        "scaler_policy_drifted_nodes",
        "gauge",
        "Nodes that no longer match their NodePool (drift candidates).",
        [(name, len(st.drift))],
    )
    out.metric(
        "scaler_policy_objects",
        "gauge",
        "Objects in the applied policy bundle, by kind.",
        [({**name, "kind": k}, v) for k, v in sorted(st.objects.items())],
    )
    return "\n".join(out.lines) + "\n"
