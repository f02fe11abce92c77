"""The two ways `scaler report` reads Prometheus, against the real one of conftest: samples at
the resolution, asked a day (here: an hour) at a time; or per-step averages computed by the
store (`--prometheus-aggregate`, avg_over_time subqueries). Same hand figures either way (the
history is constant within each hour), far fewer points from the store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pricing import load_catalog
from scaler.adapters.prometheus import PrometheusSource
from scaler.adapters.prometheus.inventory import PrometheusInventory
from scaler.cli import main
from scaler.policy import load_policies
from scaler.ports.metrics import Window
from scaler.report.build import ReportRequest, build_report, catalog_pricer
from scaler.report.rules import rules_from
from scaler.times import rfc3339
from tests.integration.costs.conftest import CostHistory

POLICY = Path(__file__).parent / "policy.yaml"


def cli(h: CostHistory, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    window = f"{rfc3339(h.start)},{rfc3339(h.end)}"
    code = main(["report", "--prometheus", h.url, "--policies", str(POLICY), "--window", window,
                 "--resolution", "10m", "--step", "1h", "--output", "json",
                 "--no-node-savings", "--aggregate", "namespace,pod,container", *extra])
    out = capsys.readouterr()
    assert code == 0, out.err
    doc: dict[str, Any] = json.loads(out.out)
    return doc


def test_store_side_averages_give_the_hand_figures(
    cost_history: CostHistory, capsys: pytest.CaptureFixture[str]
) -> None:
    pushed = cli(cost_history, capsys, "--prometheus-aggregate")
    local = cli(cost_history, capsys)
    hour1, hour2 = pushed["data"]
    assert hour1["shop/web-1/app"]["totalCost"] == pytest.approx(0.07, abs=0.005)
    assert hour1["shop/web-1/sidecar"]["cpuCost"] == pytest.approx(0.0432, abs=1e-5)
    assert hour2["payments/api-1/app"]["totalCost"] == pytest.approx(0.072, abs=1e-5)
    assert hour2["__idle__"]["totalCost"] == pytest.approx(0.122, abs=1e-5)
    for mine, theirs in zip(pushed["data"], local["data"], strict=True):
        assert set(mine) == set(theirs)
        for name in mine:
            assert mine[name]["totalCost"] == pytest.approx(theirs[name]["totalCost"], abs=1e-5)
    assert pushed["scaler"]["resolution"] == 3600


def _report(h: CostHistory, source: PrometheusSource) -> Any:
    policies = load_policies(POLICY)
    request = ReportRequest(h.start, h.end, 3600, 600, ("namespace",), True)
    return build_report(request, source, PrometheusInventory(h.url),
                        catalog_pricer(load_catalog("us-east-1").instance_types),
                        rules_from(policies.cost_allocation, None), "prometheus")


def test_queries_are_chunked_by_time_and_agree(cost_history: CostHistory) -> None:
    whole = PrometheusSource(cost_history.url)
    hourly = PrometheusSource(cost_history.url, max_span=3600)
    a, b = _report(cost_history, whole), _report(cost_history, hourly)
    assert a.steps == b.steps
    usage = [q for q in hourly.queries if "container_cpu_usage_seconds_total" in q]
    assert len(usage) == 2 * len({q for q in usage})  # each namespace's query, in 2 pieces
    assert len(whole.queries) < len(hourly.queries)


def test_aggregated_queries_ask_the_store_for_one_point_per_step(
    cost_history: CostHistory,
) -> None:
    source = PrometheusSource(cost_history.url, aggregate_resolution=600)
    sent = source.cpu_usage(
        Window(float(cost_history.start), float(cost_history.end - 1), 3600.0))
    # two hours: one point per hour a container ran (payments' api-1 joins in the second)
    points = {s.ref.pod: len(s.timestamps) for s in sent}
    assert points == {"web-1": 2, "coredns-1": 2, "api-1": 1}
    assert next(s for s in sent if s.ref.container == "sidecar").values == (1.5, 1.5)
    assert all(q.startswith("avg_over_time((sum by") and q.endswith("[3600s:600s])")
               for q in source.queries if "container_cpu" in q)


def test_allocation_api_served_from_prometheus(cost_history: CostHistory) -> None:
    """`report --prometheus URL --serve`: OpenCost's API over the real Prometheus, the hand
    figures of test_report_prometheus.py in OpenCost's schema."""
    import subprocess
    import sys

    import jsonschema

    from tests.cli.test_allocation_api import ENVELOPE, ROOT, free_port, get, wait_up

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "scaler", "report", "--prometheus", cost_history.url,
         "--policies", str(POLICY), "--serve", f"127.0.0.1:{port}"],
        cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(base, proc)
        window = f"{rfc3339(cost_history.start)},{rfc3339(cost_history.end)}"
        code, doc = get(base, "/model/allocation/compute", window=window, step="1h",
                        resolution="10m", aggregate="namespace,pod,container", idle="true")
        assert code == 200, doc
        jsonschema.validate(doc, ENVELOPE)
        hour1, hour2 = doc["data"]
        assert hour1["shop/web-1/app"]["cpuCost"] == pytest.approx(0.0288, abs=1e-5)
        assert hour1["shop/web-1/app"]["sharedCost"] == pytest.approx(0.022, abs=1e-5)
        assert hour2["payments/api-1/app"]["totalCost"] == pytest.approx(0.072, abs=1e-5)
        assert hour2["__idle__"]["totalCost"] == pytest.approx(0.122, abs=1e-5)
        code, only = get(base, "/allocation/compute", window=window, aggregate="namespace",
                         resolution="10m", filter='namespace:"payments"')
        assert code == 200 and set(only["data"][0]) == {"payments"}
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
