"""OpenCost's allocation API, asked as kubectl-cost and the OpenCost UI ask it, of a live
`scaler report --serve` and of `scaler run --simulate`'s HTTP port.

Answers are decoded with a JSON schema written from OpenCost's AllocationJSON
(core/pkg/opencost/allocation_json.go: every field, numbers or null) and the envelope of
pkg/costmodel/router.go (`code`, `status`, `data`); figures are compared with the file report.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from scaler.core.allocation.model import Properties
from scaler.output.report_json import properties_json

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "tests" / "fixtures" / "snapshots" / "small"
NOW = "2026-11-08T00:00:00Z"
WINDOW = "2026-11-07T00:00:00Z,2026-11-08T00:00:00Z"

NUMBER = {"type": ["number", "null"]}
ALLOCATION_NUMBERS = (
    "minutes cpuCores cpuCoreRequestAverage cpuCoreUsageAverage cpuCoreHours cpuCost "
    "cpuCostAdjustment cpuCostIdle cpuEfficiency gpuCount gpuRequestAverage gpuUsageAverage "
    "gpuHours gpuCost gpuCostAdjustment gpuCostIdle gpuEfficiency networkTransferBytes "
    "networkReceiveBytes networkCost networkCrossZoneCost networkCrossRegionCost "
    "networkInternetCost networkCostAdjustment loadBalancerCost loadBalancerCostAdjustment "
    "pvBytes pvByteHours pvCost pvCostAdjustment ramBytes ramByteRequestAverage "
    "ramByteUsageAverage ramByteHours ramCost ramCostAdjustment ramCostIdle ramEfficiency "
    "externalCost sharedCost totalCost totalEfficiency"
).split()
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
PROPERTIES = {
    "type": "object",
    "properties": {
        **{k: {"type": "string"} for k in (
            "cluster", "node", "container", "controller", "controllerKind", "namespace", "pod",
            "providerID")},
        "services": {"type": "array", "items": {"type": "string"}},
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
        "namespaceLabels": STRING_MAP,
        "namespaceAnnotations": STRING_MAP,
    },
    "additionalProperties": False,
}
PARC = {  # ProportionalAssetResourceCost's JSON fields
    "type": "object",
    "required": ["cluster", "cpuPercentage", "gpuPercentage", "ramPercentage",
                 "loadBalancerPercentage", "pvPercentage", "nodeResourceCostPercentage"],
    "properties": {"cluster": {"type": "string"}, "name": {"type": "string"},
                   "type": {"type": "string"}, "providerID": {"type": "string"},
                   **{k: {"type": "number"} for k in (
                       "cpuPercentage", "gpuPercentage", "ramPercentage",
                       "loadBalancerPercentage", "pvPercentage",
                       "nodeResourceCostPercentage")}},
    "additionalProperties": False,
}
SHARED_BREAKDOWN = {  # SharedCostBreakdown's JSON fields
    "type": "object",
    "required": ["name", "totalCost"],
    "properties": {k: {"type": "number"} for k in (
        "totalCost", "cpuCost", "gpuCost", "ramCost", "pvCost", "networkCost",
        "loadBalancerCost", "externalCost")} | {"name": {"type": "string"}},
    "additionalProperties": False,
}
TIME = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"}
ALLOCATION = {
    "type": "object",
    "required": ["name", "properties", "window", "start", "end", *ALLOCATION_NUMBERS, "pvs",
                 "lbAllocations"],
    "properties": {
        "name": {"type": "string"},
        "properties": PROPERTIES,
        "window": {"type": "object", "required": ["start", "end"],
                   "properties": {"start": TIME, "end": TIME}},
        "start": TIME,
        "end": TIME,
        **{k: NUMBER for k in ALLOCATION_NUMBERS},
        "pvs": {"type": ["object", "null"]},
        "lbAllocations": {"type": ["object", "null"]},
        "rawAllocationOnly": {"type": ["object", "null"]},
        "proportionalAssetResourceCosts": {
            "type": ["object", "null"], "additionalProperties": PARC},
        "sharedCostBreakdown": {"type": ["object", "null"],
                                "additionalProperties": SHARED_BREAKDOWN},
    },
    "additionalProperties": False,
}
ENVELOPE = {
    "type": "object",
    "required": ["code", "status", "data"],
    "properties": {
        "code": {"const": 200},
        "status": {"const": "success"},
        "data": {"type": "array", "items": {"type": "object", "additionalProperties": ALLOCATION}},
    },
}
ERROR = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {"code": {"const": 400}, "message": {"type": "string", "pattern": "^Error: "}},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(base: str, path: str, **params: str) -> tuple[int, dict[str, Any]]:
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def wait_up(base: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail("server did not come up")


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "scaler", "report", str(SMALL), "--serve", f"127.0.0.1:{port}",
         "--now", NOW], cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(base, proc)
        yield base
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def file_report(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "scaler", "report", str(SMALL), "--now", NOW, "-o", "json",
         "--no-node-savings", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    doc: dict[str, Any] = json.loads(out.stdout)
    return doc


def test_answers_decode_with_opencosts_schema_on_both_paths(served: str) -> None:
    for path in ("/allocation/compute", "/model/allocation/compute"):
        code, doc = get(served, path, window=WINDOW, aggregate="namespace", idle="true",
                        includeProportionalAssetResourceCosts="true")
        assert code == 200
        jsonschema.validate(doc, ENVELOPE)
        assert "__idle__" in doc["data"][0]


def test_figures_match_the_file_report(served: str) -> None:
    code, doc = get(served, "/allocation/compute", window=WINDOW, aggregate="namespace",
                    idle="true")
    report = file_report("--window", WINDOW, "--aggregate", "namespace", "--include-idle")
    api, ours = doc["data"][0], report["data"][0]
    assert set(api) == set(ours)
    for name, a in api.items():
        # OpenCost rounds to five decimals; the file report keeps micro-dollars.
        assert a["totalCost"] == pytest.approx(ours[name]["totalCost"], abs=1e-5)
        assert a["cpuCost"] == pytest.approx(ours[name]["cpuCost"], abs=1e-5)
        assert a["ramByteHours"] == pytest.approx(
            ours[name]["ramByteHours"], rel=1e-6)
    node_cost = sum(s["nodeCost"] for s in report["scaler"]["steps"])
    assert sum(a["totalCost"] for a in api.values()) == pytest.approx(node_cost, abs=1e-4)


def test_steps_and_accumulate(served: str) -> None:
    _, stepped = get(served, "/allocation/compute", window=WINDOW, step="6h",
                     aggregate="namespace")
    assert len(stepped["data"]) == 4
    _, whole = get(served, "/allocation/compute", window=WINDOW, step="6h",
                   aggregate="namespace", accumulate="true")
    assert len(whole["data"]) == 1
    for name, a in whole["data"][0].items():
        parts = sum(s[name]["totalCost"] for s in stepped["data"] if name in s)
        assert a["totalCost"] == pytest.approx(parts, abs=5e-5)
        assert a["window"] == {"start": "2026-11-07T00:00:00Z", "end": "2026-11-08T00:00:00Z"}


def test_v2_filters_select_and_negate(served: str) -> None:
    _, everything = get(served, "/allocation/compute", window=WINDOW, aggregate="namespace")
    names = set(everything["data"][0])
    assert len(names) >= 2
    one = sorted(names)[0]
    _, only = get(served, "/allocation/compute", window=WINDOW, aggregate="namespace",
                  filter=f'namespace:"{one}"')
    assert set(only["data"][0]) == {one}
    _, others = get(served, "/allocation/compute", window=WINDOW, aggregate="namespace",
                    filter=f'namespace!:"{one}"')
    assert set(others["data"][0]) == names - {one}
    two = sorted(names)[:2]
    _, either = get(served, "/allocation/compute", window=WINDOW, aggregate="namespace",
                    filter=f'namespace:"{two[0]}" | namespace:"{two[1]}"')
    assert set(either["data"][0]) == set(two)
    _, both = get(served, "/allocation/compute", window=WINDOW, aggregate="namespace",
                  filter=f'namespace:"{two[0]}" + namespace:"{two[1]}"')
    assert both["data"][0] == {}


def test_label_aggregation_and_label_filter(served: str) -> None:
    _, by_app = get(served, "/allocation/compute", window=WINDOW, aggregate="label:app")
    apps = [n for n in by_app["data"][0] if n != "__unallocated__"]
    assert apps
    _, one = get(served, "/allocation/compute", window=WINDOW, aggregate="label:app",
                 filter=f'label[app]:"{apps[0]}"')
    assert set(one["data"][0]) == {apps[0]}


def test_every_opencost_aggregation_is_accepted(served: str) -> None:
    for key in ("cluster", "node", "namespace", "controllerKind", "controller", "deployment",
                "statefulset", "daemonset", "job", "service", "pod", "container",
                "label:app", "annotation:owner", "department", "environment", "owner",
                "product", "team", "namespace,label:app"):
        code, doc = get(served, "/allocation/compute", window=WINDOW, aggregate=key)
        assert code == 200, (key, doc)
        jsonschema.validate(doc, ENVELOPE)
    _, deployments = get(served, "/allocation/compute", window=WINDOW, aggregate="deployment")
    _, controllers = get(served, "/allocation/compute", window=WINDOW, aggregate="controller")
    assert {f"deployment:{n}" for n in deployments["data"][0] if n != "__unallocated__"} <= set(
        controllers["data"][0])


def test_share_namespaces_moves_their_cost_into_shared_cost(served: str) -> None:
    _, plain = get(served, "/allocation/compute", window=WINDOW, aggregate="namespace")
    names = sorted(plain["data"][0], key=lambda n: plain["data"][0][n]["totalCost"])
    shared = names[0]
    _, doc = get(served, "/allocation/compute", window=WINDOW, aggregate="namespace",
                 shareNamespaces=shared)
    rest = doc["data"][0]
    assert shared not in rest
    assert sum(a["sharedCost"] for a in rest.values()) == pytest.approx(
        plain["data"][0][shared]["totalCost"], abs=5e-5)
    assert all(set(a["sharedCostBreakdown"] or {}) <= {shared} for a in rest.values())
    assert any(a["sharedCostBreakdown"] for a in rest.values())


def test_share_idle_and_idle_by_node(served: str) -> None:
    _, shared = get(served, "/allocation/compute", window=WINDOW, aggregate="namespace",
                    shareIdle="true", idle="true")
    data = shared["data"][0]
    assert "__idle__" not in data
    assert sum(a["cpuCostIdle"] for a in data.values()) > 0
    _, by_node = get(served, "/allocation/compute", window=WINDOW, aggregate="namespace",
                     idle="true", idleByNode="true")
    assert any(n.endswith("/__idle__") for n in by_node["data"][0])


def test_share_cost_is_a_monthly_amount(served: str) -> None:
    _, doc = get(served, "/allocation/compute", window=WINDOW, aggregate="namespace",
                 shareCost="730")
    # $730 a month is $1 an hour: $24 over the day, all shared out.
    assert sum(a["sharedCost"] for a in doc["data"][0].values()) == pytest.approx(24, abs=1e-4)


def test_proportional_asset_costs_add_up_per_node(served: str) -> None:
    _, doc = get(served, "/allocation/compute", window=WINDOW, aggregate="namespace",
                 includeProportionalAssetResourceCosts="true")
    per_node: dict[str, float] = {}
    for a in doc["data"][0].values():
        for key, parc in a["proportionalAssetResourceCosts"].items():
            per_node[key] = per_node.get(key, 0.0) + parc["cpuPercentage"]
    assert per_node and all(0 < v <= 1 + 1e-9 for v in per_node.values())


@pytest.mark.parametrize(("params", "needle"), [
    ({"window": "soon"}, "Invalid 'window' parameter"),
    ({}, "Invalid 'window' parameter"),
    ({"window": "1d", "aggregate": "colour"}, "Invalid 'aggregate' parameter"),
    ({"window": "1d", "step": "7m", "resolution": "5m"}, "Invalid 'step' parameter"),
    ({"window": "1d", "filter": 'namespace:"a" + pod:"b" | pod:"c"'}, "cannot mix"),
    ({"window": "1d", "filter": 'colour:"red"'}, "unknown filter field"),
    ({"window": "1d", "accumulate": "maybe"}, "Invalid 'accumulate' parameter"),
    ({"window": "1d", "shareCost": "-3"}, "Invalid 'shareCost' parameter"),
])
def test_bad_parameters_are_400_with_opencosts_error_shape(
    served: str, params: dict[str, str], needle: str
) -> None:
    code, doc = get(served, "/allocation/compute", **params)
    assert code == 400
    jsonschema.validate(doc, ERROR)
    assert needle in doc["message"]


def test_run_simulate_serves_the_allocation_api() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "scaler", "run", "--simulate", "--snapshot", str(SMALL),
         "--run-for", "20", "--http-port", str(port)],
        cwd=ROOT, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(base, proc)
        code, doc = get(base, "/model/allocation/compute", window="1h", aggregate="namespace")
        assert code == 200, doc
        jsonschema.validate(doc, ENVELOPE)
        assert sum(a["totalCost"] for a in doc["data"][0].values()) > 0
        code, err = get(base, "/allocation/compute", window="never")
        assert code == 400 and err["message"].startswith("Error: Invalid 'window'")
    finally:
        proc.terminate()
        proc.communicate(timeout=60)


def test_the_api_names_services_provider_and_namespace_labels_the_file_report_leaves_out(
) -> None:
    """Both answers write a container's properties with one function: the API adds the
    Services, the node's providerID and the namespace's labels, in OpenCost's field order;
    the file report keeps its fields as they are."""
    p = Properties(cluster="c", node="n1", namespace="shop", pod="web-1", container="app",
                   controller_kind="Deployment", controller="web", labels={"app": "web"},
                   services=("web",), provider_id="aws:///z-a/i-1",
                   namespace_labels={"team": "shop"})
    api = properties_json(p, api_fields=True)
    assert list(api) == ["cluster", "node", "container", "controller", "controllerKind",
                         "namespace", "pod", "services", "providerID", "labels",
                         "namespaceLabels"]
    assert (api["services"], api["providerID"], api["namespaceLabels"]) == (
        ["web"], "aws:///z-a/i-1", {"team": "shop"})
    report = properties_json(p, api_fields=False)
    assert report == {k: v for k, v in api.items()
                      if k not in ("services", "providerID", "namespaceLabels")}
