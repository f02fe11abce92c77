"""Replica counts from a request-arrival trace, for `scaler simulate --timeline`.

Reads the Azure LLM inference trace (CSV: TIMESTAMP, ContextTokens, GeneratedTokens; CC-BY
4.0, Patel et al., "Splitwise: Efficient generative LLM inference using phase splitting",
ISCA 2024; Microsoft Azure Public Dataset, AzureLLMInferenceDataset2023), counts requests per
bucket (default one minute) and turns them into replicas: ceil(requests per minute /
requests one replica serves per minute), at least `min_replicas`. Rows with an implausible
token count (the last row of the code trace has 17,319,366 generated tokens) are skipped.

    python -m scaler.simulation.trace TRACE.csv --workload shop/api \\
        --requests-per-replica 15 -o examples/timeline-azure-code.csv
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from scaler.errors import UserError
from scaler.times import parse_rfc3339

MAX_TOKENS = 1_000_000
ATTRIBUTION = (
    "# Derived from the Azure LLM inference trace 2023 (CC-BY 4.0): Patel et al., \"Splitwise:\n"
    "# Efficient generative LLM inference using phase splitting\", ISCA 2024. Source: Microsoft\n"
    "# Azure Public Dataset, AzureLLMInferenceDataset2023.md. Changes: requests counted per\n"
    "# bucket and turned into replica counts.\n"
)


def requests_per_bucket(path: str, bucket: float = 60.0) -> list[int]:
    """Requests in each bucket from the first request on."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or "TIMESTAMP" not in reader.fieldnames:
                raise UserError("expected a TIMESTAMP column", file=path)
            times: list[float] = []
            for n, row in enumerate(reader, start=2):
                try:
                    when = parse_rfc3339(row["TIMESTAMP"][:26])
                    tokens = int(row.get("ContextTokens") or 0) + int(
                        row.get("GeneratedTokens") or 0)
                except (ValueError, TypeError):
                    raise UserError("malformed row", file=path, obj=f"line {n}") from None
                if tokens <= MAX_TOKENS:
                    times.append(when.timestamp())
    except OSError as err:
        raise UserError(f"cannot read: {err.strerror}", file=path) from None
    if not times:
        raise UserError("no requests", file=path)
    start = min(times)
    counts = Counter(int((t - start) // bucket) for t in times)
    return [counts.get(i, 0) for i in range(max(counts) + 1)]


def replicas_timeline(counts: Sequence[int], workload: str, per_replica: float,
                      bucket: float = 60.0, min_replicas: int = 1) -> str:
    """The timeline CSV: one line per bucket where the replica count changes."""
    lines = [ATTRIBUTION, "time,workload,replicas\n"]
    last = None
    per_minute = 60.0 / bucket
    for i, n in enumerate(counts):
        replicas = max(min_replicas, math.ceil(n * per_minute / per_replica))
        if replicas != last:
            lines.append(f"{int(i * bucket)},{workload},{replicas}\n")
            last = replicas
    return "".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m scaler.simulation.trace",
                                description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("trace")
    p.add_argument("--workload", required=True, help="namespace/name in the snapshot")
    p.add_argument("--requests-per-replica", type=float, default=15.0,
                   help="requests per minute one replica serves (default 15)")
    p.add_argument("--bucket", type=float, default=60.0, help="seconds per step (default 60)")
    p.add_argument("--min-replicas", type=int, default=1)
    p.add_argument("-o", "--output", help="file to write (default: stdout)")
    args = p.parse_args(argv)
    try:
        if args.requests_per_replica <= 0 or args.bucket <= 0:
            raise UserError("must be positive", field="--requests-per-replica/--bucket")
        text = replicas_timeline(requests_per_bucket(args.trace, args.bucket), args.workload,
                                 args.requests_per_replica, args.bucket, args.min_replicas)
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
    except UserError as err:
        print(f"scaler: error: {err.render()}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
