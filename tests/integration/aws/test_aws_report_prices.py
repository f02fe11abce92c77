"""Cost reports priced from the cloud: the AWS provider's live offerings (Price List API and
Spot price history from moto_server) feed `scaler report`'s pricer in place of the catalog's
estimates, so spot nodes are charged what EC2 says they cost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scaler.adapters.simulated.inventory import (
    SimulatedContainer,
    StaticInventory,
    generated_metrics,
)
from scaler.cli import main
from scaler.ports.inventory import NodeInfo
from scaler.ports.metrics import Window
from scaler.report.build import ReportRequest, build_report, catalog_pricer
from scaler.report.rules import rules_from
from tests.integration.aws.conftest import REGION, ZONES, Rig
from tests.support.builders import karpenter_pool, requirement_in

POOL = karpenter_pool([requirement_in("node.kubernetes.io/instance-type", "m5.large")])


def test_report_uses_live_spot_and_on_demand_prices(rig: Rig) -> None:
    provider = rig.make()
    pricer = catalog_pricer(provider.instance_types(POOL))
    nodes = [
        NodeInfo("spot-node", 2, 8 * 2**30, 0, 0, 7200, "m5.large", "spot", ZONES[2]),
        NodeInfo("od-node", 2, 8 * 2**30, 0, 0, 7200, "m5.large", "on-demand", ZONES[0]),
    ]
    window = Window(0, 3599, 600)
    containers = [SimulatedContainer("shop", "web-1", "app", "spot-node", 1.0, 2**30)]
    generated = generated_metrics(containers, window)
    report = build_report(
        ReportRequest(0, 3600, 3600, 600, ("node",), include_idle=True),
        generated.metrics, StaticInventory(nodes, []), pricer, rules_from(None, None), "test",
    )
    lines = {n.name: n for n in report.nodes}
    # moto's spot price history says $0.00001/h; the Price List recording $0.107/h.
    assert (lines["spot-node"].list_per_hour, lines["spot-node"].estimated) == (1e-05, False)
    assert lines["spot-node"].cost_micros == 10
    assert (lines["od-node"].list_per_hour, lines["od-node"].estimated) == (0.107, False)
    assert lines["od-node"].cost_micros == 107_000
    assert not any("estimates" in w for w in report.warnings)


def test_scaler_report_prices_aws_flag(
    rig: Rig, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # boto3's own endpoint settings point the report at moto_server and the Price List replay.
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", rig.world.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_PRICING", rig.pricing.url)
    snap = tmp_path / "cluster.yaml"
    snap.write_text(
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: spotty\n  labels:\n"
        "    node.kubernetes.io/instance-type: m5.large\n"
        "    karpenter.sh/capacity-type: spot\n"
        f"    topology.kubernetes.io/zone: {ZONES[2]}\n"
        "status:\n  capacity: {cpu: '2', memory: 8Gi, pods: '29'}\n"
    )
    code = main(["report", str(snap), "--region", REGION, "--prices", "aws", "--window", "1h",
                 "--include-idle", "--no-node-savings", "--output", "json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    doc = json.loads(out.out)
    (node,) = doc["scaler"]["nodes"]
    assert (node["listPricePerHour"], node["priceEstimated"]) == (1e-05, False)
    assert any(w.startswith("prices: ") and "spot prices (DescribeSpotPriceHistory): live" in w
               for w in doc["scaler"]["warnings"])
