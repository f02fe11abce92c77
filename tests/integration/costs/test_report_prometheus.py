"""`scaler report` against a real Prometheus: figures worked out by hand (see conftest).

Resource prices $0.03/core-h and $0.005/GiB-h split node-a's $0.192/h into $0.1152 CPU
($0.0288 per core-hour) and $0.0768 RAM ($0.0048 per GiB-hour); node-b's reserved $0.10/h
into $0.075 CPU ($0.01875 per core-hour) and $0.025 RAM ($0.003125 per GiB-hour).

Hour 1 (node-a only):
  web-1/app      max(1, 0.5) core, max(4, 2) GiB:  0.0288 + 0.0192 = 0.048
  web-1/sidecar  max(0.5, 1.5) core, max(1, .5):   0.0432 + 0.0048 = 0.048
  coredns        0.5 core, 2 GiB:                  0.0144 + 0.0096 = 0.024 (shared)
  idle           CPU 0.1152 - 0.0864 = 0.0288, RAM 0.0768 - 0.0336 = 0.0432: 0.072
  shared: coredns 0.024 + nat 0.02, all to shop (the only team with cost), by cost:
  app and sidecar 0.022 each. Total 0.048 + 0.022 = 0.07 each.
Hour 2 (node-b joins with payments/api-1/app: 2 cores, 4 GiB = 0.0375 + 0.0125 = 0.05):
  shared: coredns 0.024 -> 0.012 per team; nat 0.02 -> 0.01 per team. app and sidecar
  0.006 + 0.005 = 0.011 each -> 0.059; api 0.05 + 0.022 = 0.072.
  idle: node-a 0.072 + node-b 0.05 = 0.122.
Each hour: allocations + idle = node cost + nat (0.212, then 0.192 + 0.10 + 0.02 = 0.312).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scaler.cli import main
from scaler.times import rfc3339
from tests.integration.costs.conftest import CostHistory

POLICY = Path(__file__).parent / "policy.yaml"
CENT = 0.005  # "to the cent"
# OpenCost's AllocationJSON field names (opencost core/pkg/opencost/allocation_json.go).
OPENCOST_FIELDS = {
    "name", "properties", "window", "start", "end", "minutes", "cpuCores",
    "cpuCoreRequestAverage", "cpuCoreUsageAverage", "cpuCoreHours", "cpuCost",
    "cpuCostAdjustment", "cpuEfficiency", "gpuCount", "gpuHours", "gpuCost",
    "gpuCostAdjustment", "networkTransferBytes", "networkReceiveBytes", "networkCost",
    "networkCrossZoneCost", "networkCrossRegionCost", "networkInternetCost",
    "networkCostAdjustment", "loadBalancerCost", "loadBalancerCostAdjustment", "pvBytes",
    "pvByteHours", "pvCost", "pvs", "pvCostAdjustment", "ramBytes", "ramByteRequestAverage",
    "ramByteUsageAverage", "ramByteHours", "ramCost", "ramCostAdjustment", "ramEfficiency",
    "externalCost", "sharedCost", "totalCost", "totalEfficiency", "lbAllocations",
}


def report(h: CostHistory, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    window = f"{rfc3339(h.start)},{rfc3339(h.end)}"
    code = main(["report", "--prometheus", h.url, "--policies", str(POLICY), "--window", window,
                 "--resolution", "10m", "--output", "json", "--no-node-savings", *extra])
    out = capsys.readouterr()
    assert code == 0, out.err
    doc: dict[str, Any] = json.loads(out.out)
    return doc


def test_hand_figures_per_container_idle_and_shared_split(
    cost_history: CostHistory, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = report(cost_history, capsys, "--step", "1h",
                 "--aggregate", "namespace,pod,container")
    assert doc["code"] == 200
    hour1, hour2 = doc["data"]
    assert set(hour1) == {"shop/web-1/app", "shop/web-1/sidecar", "__idle__"}
    app = hour1["shop/web-1/app"]
    assert app["cpuCost"] == pytest.approx(0.0288, abs=1e-5)
    assert app["ramCost"] == pytest.approx(0.0192, abs=1e-5)
    assert app["sharedCost"] == pytest.approx(0.022, abs=1e-5)
    assert app["totalCost"] == pytest.approx(0.07, abs=CENT)
    sidecar = hour1["shop/web-1/sidecar"]  # charged for usage above its request
    assert sidecar["cpuCost"] == pytest.approx(0.0432, abs=1e-5)
    assert sidecar["cpuCoreHours"] == pytest.approx(1.5, abs=1e-3)
    idle = hour1["__idle__"]
    assert idle["cpuCost"] == pytest.approx(0.0288, abs=1e-5)
    assert idle["ramCost"] == pytest.approx(0.0432, abs=1e-5)
    assert hour2["payments/api-1/app"]["totalCost"] == pytest.approx(0.072, abs=1e-5)
    assert hour2["shop/web-1/app"]["sharedCost"] == pytest.approx(0.011, abs=1e-5)
    assert hour2["__idle__"]["totalCost"] == pytest.approx(0.122, abs=1e-5)
    # Conservation, per step: to the micro-dollar in the numbers scaler reports.
    for step, expected in zip(doc["data"], (0.212, 0.312), strict=True):
        assert round(sum(a["totalCost"] for a in step.values()), 6) == pytest.approx(expected)
    nodes = {n["name"]: n for n in doc["scaler"]["nodes"]}
    assert nodes["node-b"]["hours"] == pytest.approx(1.0)
    assert nodes["node-b"]["priceBasis"] == "reserved"
    assert nodes["node-a"]["listPricePerHour"] == 0.192


def test_efficiency_is_usage_over_request(
    cost_history: CostHistory, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = report(cost_history, capsys, "--aggregate", "container,pod")
    (whole,) = doc["data"]
    app = whole["app/web-1"]
    assert app["cpuEfficiency"] == pytest.approx(0.5, abs=1e-3)
    assert app["ramEfficiency"] == pytest.approx(0.5, abs=1e-3)
    assert app["totalEfficiency"] == pytest.approx(0.5, abs=1e-3)
    sidecar = whole["sidecar/web-1"]
    assert sidecar["cpuEfficiency"] == pytest.approx(3.0, abs=1e-3)
    # CPU 0.0864 at 300% and RAM 0.0096 at 50%, weighted by cost.
    assert sidecar["totalEfficiency"] == pytest.approx((0.0864 * 3 + 0.0096 * 0.5) / 0.096,
                                                       abs=1e-3)
    assert app["cpuCoreRequestAverage"] == pytest.approx(1.0)
    assert app["cpuCoreUsageAverage"] == pytest.approx(0.5, abs=1e-3)


def test_json_has_opencost_fields_and_envelope(
    cost_history: CostHistory, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = report(cost_history, capsys, "--aggregate", "controller,team")
    assert doc["code"] == 200 and isinstance(doc["data"], list)
    (whole,) = doc["data"]
    assert set(whole) == {"deployment:web/shop", "statefulset:api/payments", "__idle__"}
    for name, alloc in whole.items():
        assert set(alloc) == OPENCOST_FIELDS, name
        assert alloc["name"] == name
        assert set(alloc["window"]) == {"start", "end"}
    assert whole["deployment:web/shop"]["properties"]["controllerKind"] == "deployment"
    # One step over both hours: both teams had cost in it, so each takes half of coredns's
    # 0.048 and of nat's 0.04: shop 0.192 + 0.024 + 0.02 (sharing is per step, as OpenCost's).
    assert whole["deployment:web/shop"]["totalCost"] == pytest.approx(0.236, abs=1e-5)


def test_labels_annotations_and_idle_shared_back(
    cost_history: CostHistory, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = report(cost_history, capsys, "--aggregate", "label:app,annotation:owner",
                 "--share-idle")
    (whole,) = doc["data"]
    assert "__idle__" not in whole
    assert set(whole) == {"web/shop-oncall", "api/payments-oncall"}
    # Everything is charged: nodes 0.484 and nat 0.04.
    assert sum(a["totalCost"] for a in whole.values()) == pytest.approx(0.524, abs=1e-6)


def test_unreachable_prometheus_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["report", "--prometheus", "http://127.0.0.1:9", "--window", "1h"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("scaler: error: --prometheus: http://127.0.0.1:9: query ")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
