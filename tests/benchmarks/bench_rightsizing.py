"""Replay right-sizing strategies on usage series, walk-forward (see docs/benchmarks.md).

For every series, from day 14 on, once a week: the strategy recommends from the usage before
that moment only (and the OOM kills its own earlier recommendations caused), the
recommendation is applied (changes under 10% are skipped, as `scaler rightsize` does), and
the next week is scored interval by interval:

- saving: the requested resources' cost (catalog-derived $/vCPU-h and $/GiB-h) against the
  requests the series started with, and CPU and memory savings on their own;
- CPU over request: share of intervals where usage exceeds the CPU request;
- OOM risk: share of intervals where the working set exceeds the memory limit;
- memory over request: share where it exceeds the memory request (eviction risk under node
  memory pressure);
- OOM kills fed back: at most one a day per series.

Series (scaler.simulation.usage, seeded): daily cycles, weekly cycles, bursts, growth,
a memory leak with restarts, nightly batch, and two driven by the Azure LLM inference trace
(CC-BY 4.0, Patel et al., "Splitwise: Efficient generative LLM inference using phase
splitting", ISCA 2024; Microsoft Azure Public Dataset, AzureLLMInferenceDataset2023): its
real within-hour burstiness of generated tokens (compute) and in-flight context (memory).

    python3 tests/benchmarks/bench_rightsizing.py
    python3 tests/benchmarks/bench_rightsizing.py --containers 420 --days 56 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pricing import load_catalog  # noqa: E402
from scaler.core.rightsizing import CommonSettings, make_strategy  # noqa: E402
from scaler.core.rightsizing.cost import unit_prices  # noqa: E402
from scaler.core.rightsizing.evaluate import ReplayScore, UsageSeries, replay  # noqa: E402
from scaler.simulation.usage import TraceProfile, population, read_trace  # noqa: E402

TRACE_FILES = ("AzureLLMInferenceTrace_code.csv", "AzureLLMInferenceTrace_conv.csv")
# The shared data sits beside the repository; SCALER_SHARED_DATA points elsewhere.
TRACE_DIRS = tuple(
    Path(base) / "traces" / "azure_llm_inference_2023"
    for base in (os.environ.get("SCALER_SHARED_DATA"), ROOT.parent / "shared" / "data")
    if base
)
CONFIGS: dict[str, tuple[str, dict[str, object]]] = {
    "scaler (default)": ("scaler", {}),
    "KRR-default (percentile)": ("percentile", {}),
    "KRR + OOM data": ("percentile", {"use_oomkill_data": True}),
    "VPA-default (vpa)": ("vpa", {}),
}


@dataclass
class Line:
    config: str
    series: int
    intervals: int
    saving: float
    cpu_saving: float
    memory_saving: float
    cpu_over_request: float
    oom_risk: float
    memory_over_request: float
    oom_kills: int
    reviews_without_data: int
    seconds: float


def line(config: str, n: int, s: ReplayScore, seconds: float) -> Line:
    return Line(
        config, n, s.intervals, s.saving, s.cpu_saving, s.memory_saving,
        s.share(s.cpu_over_request), s.share(s.memory_over_limit),
        s.share(s.memory_over_request), s.oom_kills, s.reviews_without_data, seconds,
    )


def traces(given: str | None) -> list[TraceProfile]:
    dirs = [Path(given)] if given else list(TRACE_DIRS)
    for d in dirs:
        if all((d / f).is_file() for f in TRACE_FILES):
            return [read_trace(d / f) for f in TRACE_FILES]
    print("(trace not found: trace-driven series left out)", file=sys.stderr)
    return []


def table(lines: list[Line]) -> str:
    head = ("| configuration | saving | CPU saving | memory saving | CPU > request | "
            "OOM risk (mem > limit) | mem > request | OOM kills |")
    out = [head, "|" + "---|" * 8]
    for x in lines:
        out.append(
            f"| {x.config} | {x.saving:.1%} | {x.cpu_saving:.1%} | {x.memory_saving:.1%} | "
            f"{x.cpu_over_request:.2%} | {x.oom_risk:.3%} | {x.memory_over_request:.3%} | "
            f"{x.oom_kills} |"
        )
    return "\n".join(out)


def run(series: list[UsageSeries], prices: object) -> list[Line]:
    out = []
    for config, (name, settings) in CONFIGS.items():
        strategy = make_strategy(name, settings)
        t0 = time.perf_counter()
        total = ReplayScore()
        for s in series:
            total = total + replay(strategy, s, prices, CommonSettings())  # type: ignore[arg-type]
        out.append(line(config, len(series), total, time.perf_counter() - t0))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--containers", type=int, default=240, help="series in the mix")
    ap.add_argument("--days", type=float, default=42, help="length of each series")
    ap.add_argument("--step", type=float, default=300, help="seconds between samples")
    ap.add_argument("--traces", help="directory with the Azure LLM inference trace CSVs")
    ap.add_argument("--json", help="write the figures here too")
    args = ap.parse_args()

    prices = unit_prices(load_catalog("us-east-1").instance_types)
    trs = traces(args.traces)
    mix = population(args.seed, args.containers, days=args.days, step=args.step, traces=trs)
    groups = {
        "all series": mix,
        "synthetic only": [s for s in mix if not s.name.startswith("trace")],
        "trace-driven only": [s for s in mix if s.name.startswith("trace")],
    }
    print(f"prices: ${prices.cpu_core_hour:.4f}/vCPU-h, ${prices.memory_gib_hour:.4f}/GiB-h "
          f"({prices.basis}); {len(mix)} series of {args.days:g} days at {args.step:g}s, "
          f"seed {args.seed}; warm-up 14 days, weekly reviews\n")
    results: dict[str, list[Line]] = {}
    for title, series in groups.items():
        if not series:
            continue
        results[title] = run(series, prices)
        print(f"### {title} ({len(series)} series)\n")
        print(table(results[title]))
        print()
    print("### by pattern: saving / OOM risk / CPU > request\n")
    kinds = sorted({s.name.rsplit("-", 1)[0] for s in mix})
    print("| pattern | " + " | ".join(CONFIGS) + " |")
    print("|---|" + "---|" * len(CONFIGS))
    for kind in kinds:
        part = [s for s in mix if s.name.rsplit("-", 1)[0] == kind]
        cells = [f"{x.saving:.1%} / {x.oom_risk:.3%} / {x.cpu_over_request:.1%}"
                 for x in run(part, prices)]
        print(f"| {kind} ({len(part)}) | " + " | ".join(cells) + " |")
    print()
    allr = {x.config: x for x in results["all series"]}
    ours, krr = allr["scaler (default)"], allr["KRR-default (percentile)"]
    ok = ours.saving >= krr.saving and ours.oom_risk < krr.oom_risk
    print(f"acceptance: scaler saves {ours.saving:.1%} vs KRR-default {krr.saving:.1%}, "
          f"OOM risk {ours.oom_risk:.3%} vs {krr.oom_risk:.3%}: {'met' if ok else 'NOT met'}")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {k: [asdict(x) for x in v] for k, v in results.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
