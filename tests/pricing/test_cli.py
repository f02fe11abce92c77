"""`scaler catalog` as a user runs it: output formats, filters, sort order, errors."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Callable, Sequence

import pytest

from scaler.errors import UserError


def _fallback_main(argv: Sequence[str]) -> int:
    # Mirrors scaler.cli.main for the catalog command only; used while sibling commands that
    # the real main imports are still being written.
    from scaler.cli import catalog

    parser = argparse.ArgumentParser(prog="scaler")
    catalog.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    try:
        code: int = args.func(args)
    except UserError as err:
        print(f"scaler: error: {err.render()}", file=sys.stderr)
        return 2
    return code


def _main() -> Callable[[Sequence[str]], int]:
    try:
        from scaler.cli import build_parser, main

        build_parser()  # imports every sub-command module
    except ImportError:
        return _fallback_main
    return main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = _main()(["catalog", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def table_rows(out: str) -> list[list[str]]:
    lines = out.splitlines()
    assert lines[0].startswith("instance type")
    assert set(lines[1].replace(" ", "")) == {"-"}
    return [line.split() for line in lines[2:]]


def test_table_is_sorted_by_price_and_shows_both_capacity_types(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys)
    assert code == 0 and err == ""
    rows = table_rows(out)
    prices = [float(r[8]) for r in rows]
    assert prices == sorted(prices)
    m5 = [r for r in rows if r[0] == "m5.large"]
    assert [r[7] for r in m5] == ["spot", "on-demand"]  # spot is cheaper, listed first
    spot, od = m5
    # instance type, arch, vCPU, memory GiB, alloc CPU, alloc memory GiB, max pods, ...
    assert od[:8] == ["m5.large", "amd64", "2", "8", "1.93", "6.741", "29", "on-demand"]
    assert od[8:] == ["0.096", "0.048", "no", "-"]
    assert spot[8:] == ["0.0326", "0.0163", "yes", "15-20%"]


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--output", "json", "--capacity-type", "spot")
    assert code == 0
    doc = json.loads(out)
    assert isinstance(doc, list) and doc
    assert all(d["capacityType"] == "spot" for d in doc)
    m5 = next(d for d in doc if d["instanceType"] == "m5.large")
    assert m5 == {
        "instanceType": "m5.large",
        "arch": "amd64",
        "vcpu": 2,
        "memoryMiB": 8192,
        "allocatable": {"cpu": "1930m", "memory": "6903Mi", "pods": 29},
        "capacityType": "spot",
        "pricePerHour": pytest.approx(0.03264),
        "pricePerVcpuHour": pytest.approx(0.01632),
        "priceEstimated": True,
        "interruptionBand": "15-20%",
    }


def test_json_on_demand_row_has_null_band(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "-o", "json", "--capacity-type", "on-demand")
    m7g = next(d for d in json.loads(out) if d["instanceType"] == "m7g.large")
    assert m7g["pricePerHour"] == pytest.approx(0.0816)
    assert m7g["priceEstimated"] is False
    assert m7g["interruptionBand"] is None


def test_csv_output_parses_and_filters(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "-o", "csv", "--arch", "arm64", "--min-vcpu", "8")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows
    assert {r["arch"] for r in rows} == {"arm64"}
    assert min(int(r["vcpu"]) for r in rows) >= 8
    assert {r["capacity_type"] for r in rows} == {"spot", "on-demand"}
    row = next(
        r for r in rows if r["instance_type"] == "m7g.2xlarge" and r["capacity_type"] == "on-demand"
    )
    assert float(row["price_per_hour"]) == pytest.approx(0.3264)
    assert float(row["price_per_vcpu_hour"]) == pytest.approx(0.0408)
    assert row["price_estimated"] == "no" and row["interruption_band"] == ""


def test_sort_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "--sort", "name", "-o", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    keys = [(r["instance_type"], r["capacity_type"] == "spot") for r in rows]
    assert keys == sorted(keys)


def test_sort_by_price_per_vcpu(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "--sort", "price-per-vcpu", "-o", "json", "--min-vcpu", "4")
    doc = json.loads(out)
    per_vcpu = [d["pricePerVcpuHour"] for d in doc]
    assert per_vcpu == sorted(per_vcpu)
    assert all(d["vcpu"] >= 4 for d in doc)


def test_region_without_prices_is_marked_estimated(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "--region", "eu-west-1", "--capacity-type", "on-demand", "-o", "json")
    doc = json.loads(out)
    assert doc and all(d["priceEstimated"] is True for d in doc)


def test_zones_flag_accepts_suffixes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--zones", "a,b", "-o", "json")
    assert code == 0 and json.loads(out)


def test_unknown_region_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--region", "xx-foo-1")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("scaler: error: --region: unknown region 'xx-foo-1'; known regions: ")
    assert "us-east-1" in err


def test_zone_of_another_region_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--zones", "eu-west-1a")
    assert code == 2
    assert err.startswith("scaler: error: --zones: zone 'eu-west-1a'")


def test_no_match_prints_headers_and_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--region", "us-gov-west-1", "--capacity-type", "spot")
    assert code == 0
    assert table_rows(out) == []
    assert "no instance types match in us-gov-west-1" in err
