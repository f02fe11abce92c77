"""The simulated report sources: snapshot details, generated usage, the static inventory."""

from __future__ import annotations

from pathlib import Path

from scaler.adapters.simulated.inventory import (
    SimulatedContainer,
    StaticInventory,
    generated_metrics,
)
from scaler.core.resources import Resources
from scaler.ports.inventory import NodeInfo
from scaler.ports.metrics import Window
from scaler.snapshot.containers import read_details

ROOT = Path(__file__).resolve().parents[2]


def test_snapshot_details_name_controllers_and_containers() -> None:
    details = read_details([ROOT / "examples"])
    assert details.controller_of("shop", "ReplicaSet", "web-7c5d8f9b6") == ("Deployment", "web")
    assert details.controller_of("ml", "StatefulSet", "trainer") == ("StatefulSet", "trainer")
    assert details.controller_of("x", None, None) == ("", "")
    (trainer,) = details.pods[("ml", "trainer-0")].containers
    assert dict(trainer.requests.items())["nvidia.com/gpu"] == 1
    # A pod expanded from a Deployment has no Pod object: its template's containers stand in.
    api = details.containers_of("shop", "api-x", "Deployment", "api", Resources({}))
    assert [c.name for c in api] == [c.name for c in details.templates[("shop", "Deployment",
                                                                        "api")]]
    fallback = details.containers_of("shop", "gone", "", "", Resources({"cpu": 5}))
    assert [c.name for c in fallback] == ["main"]


def test_generated_usage_is_deterministic_on_the_grid_and_keeps_the_node() -> None:
    window = Window(0.0, 86_400.0 - 1, 3600.0)
    c = SimulatedContainer("shop", "web-1", "app", "node-a", 1.0, 2**30)
    a = generated_metrics([c], window).metrics
    b = generated_metrics([c], window).metrics
    assert a.cpu_usage(window) == b.cpu_usage(window)
    (cpu,) = a.cpu_usage(window)
    # (SeriesMetricsSource answers one more point at 86400 for an end of 86399, past what
    # Prometheus would return; the report drops points outside its window.)
    assert cpu.timestamps[:24] == tuple(float(h * 3600) for h in range(24))
    assert cpu.labels == {"node": "node-a"}
    assert 0 < min(cpu.values) and max(cpu.values) < 2.0  # around a share of 1 core
    assert set(a.requests("memory", window)[0].values) == {float(2**30)}
    other = generated_metrics([c], window, seed=7).metrics.cpu_usage(window)[0]
    assert other.values != cpu.values


def test_static_inventory_answers_what_overlaps_the_window() -> None:
    inv = StaticInventory([
        NodeInfo("early", 2, 2**30, 0, start=0, end=100),
        NodeInfo("late", 2, 2**30, 0, start=500, end=900),
    ], [])
    assert [n.name for n in inv.nodes(Window(150, 600, 60))] == ["late"]
    assert [n.name for n in inv.nodes(Window(50, 600, 60))] == ["early", "late"]
