"""OpenCost's cost metrics on `scaler run --simulate`'s /metrics, scraped by a real
Prometheus and queried with PromQL from OpenCost's published Grafana dashboard
"OpenCost / Overview" (grafana.com dashboard 22208, generated from adinhodovic/opencost-mixin,
dashboards/opencost-overview.libsonnet; `$job` set to this scrape job).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.prometheus import scraping_prometheus

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "tests" / "fixtures" / "snapshots" / "small"
JOB = "scaler"

# Panel "Cost by Instance Type" (pie chart), verbatim but for $job.
COST_BY_INSTANCE_TYPE = """
topk(10,
  sum(
    node_total_hourly_cost{
      job=~"scaler"
    }
  ) by (instance_type) * 730
)
"""
# Panel "Cost by Namespace" (pie chart), without its `+ on(node, instance_type) ...
# kube_node_labels * 0` terms, which only join kube-state-metrics' labels and add zero.
COST_BY_NAMESPACE = """
topk(10,
  sum(
    sum(
      container_memory_allocation_bytes{job=~"scaler"}
    )
    by (namespace, instance)
    * on(instance) group_left() (
      node_ram_hourly_cost{job=~"scaler"}
      / 1024 / 1024 / 1024 * 730
    )
    +
    sum(
      container_cpu_allocation{job=~"scaler"}
    )
    by (namespace,instance)
    * on(instance) group_left() (
      node_cpu_hourly_cost{job=~"scaler"}
      * 730
    )
  ) by (namespace)
)
"""


def query(url: str, promql: str) -> list[dict[str, Any]]:
    q = urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(f"{url}/api/v1/query?{q}", timeout=10) as r:
        doc = json.loads(r.read())
    assert doc["status"] == "success", doc
    result: list[dict[str, Any]] = doc["data"]["result"]
    return result


def test_grafana_queries_from_opencosts_dashboard_return_data(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "scaler", "run", "--simulate", "--snapshot", str(SMALL),
         "--run-for", "40", "--http-port", str(port)],
        cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        with scraping_prometheus(f"127.0.0.1:{port}", tmp_path, job=JOB) as url:
            by_type: list[dict[str, Any]] = []
            deadline = time.monotonic() + 30
            while not by_type and time.monotonic() < deadline:
                time.sleep(1)
                by_type = query(url, COST_BY_INSTANCE_TYPE)
            assert by_type, "no node_total_hourly_cost scraped"
            # The panel's monthly figure is the exported hourly prices times 730 (compared
            # until the loop stops launching: a scrape may fall between two launches).
            seen = []
            for _ in range(20):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                    text = r.read().decode()
                exported = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                               if line.startswith("node_total_hourly_cost{"))
                panel = sum(float(x["value"][1]) for x in query(url, COST_BY_INSTANCE_TYPE))
                seen.append((panel, exported * 730))
                if panel == pytest_approx(exported * 730):
                    break
                time.sleep(1)
            assert panel == pytest_approx(exported * 730), seen
            assert {x["metric"]["instance_type"] for x in by_type} >= {"m5.xlarge"}
            by_ns = {x["metric"]["namespace"]: float(x["value"][1])
                     for x in query(url, COST_BY_NAMESPACE)}
            assert by_ns.get("shop", 0) > 0
            mgmt = query(url, 'kubecost_cluster_management_cost{job=~"scaler"}')
            assert [float(x["value"][1]) for x in mgmt] == [0.1]
            spot = query(url, 'kubecost_node_is_spot{job=~"scaler"}')
            assert spot and {x["metric"]["node"] for x in spot} == {
                x["metric"]["node"] for x in query(url, 'node_total_hourly_cost{job=~"scaler"}')}
    finally:
        proc.terminate()
        proc.communicate(timeout=60)


def pytest_approx(x: float) -> Any:
    import pytest

    return pytest.approx(x, rel=1e-6)
