"""`scaler report --output csv`: one row per allocation per step, OpenCost's field names."""

from __future__ import annotations

from typing import Any

from scaler.output.csv import render_csv
from scaler.output.report_json import allocation_json
from scaler.output.table import Cell
from scaler.report.build import Report

COLUMNS = (
    "minutes",
    "cpuCores",
    "cpuCoreRequestAverage",
    "cpuCoreUsageAverage",
    "cpuCoreHours",
    "cpuCost",
    "cpuEfficiency",
    "gpuCount",
    "gpuHours",
    "gpuCost",
    "ramBytes",
    "ramByteRequestAverage",
    "ramByteUsageAverage",
    "ramByteHours",
    "ramCost",
    "ramEfficiency",
    "pvCost",
    "networkCost",
    "sharedCost",
    "externalCost",
    "totalCost",
    "totalEfficiency",
)


def report_csv(report: Report) -> str:
    headers = ["window.start", "window.end", "name", *COLUMNS]
    rows: list[list[Cell]] = []
    for step in report.steps:
        for name, a in step.items():
            doc: dict[str, Any] = allocation_json(a)
            rows.append(
                [doc["window"]["start"], doc["window"]["end"], name, *(doc[c] for c in COLUMNS)]
            )
    return render_csv(headers, rows)
