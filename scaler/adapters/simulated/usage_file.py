"""Usage series from a CSV file (optionally gzipped): the metrics port without a cluster.

One row per container per sample, the one usage shape `scaler rightsize --usage` and
`scaler report --usage` both read:

    timestamp,namespace,pod,container,cpu,memory[,memory_limit][,oom_killed]

`timestamp`: unix seconds or RFC 3339; `cpu`: cores (or a quantity such as 250m);
`memory`: working-set bytes (or a quantity such as 300Mi); `memory_limit`: the container's
memory limit then (optional); `oom_killed`: 1 when the container had just been OOM-killed
(kube-state-metrics' last terminated reason), else 0 (optional). The report's former
column names `cpu_cores` and `memory_bytes` are still read, with a note.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

from scaler.adapters.simulated.metrics import SeriesMetricsSource
from scaler.core.quantity import QuantityError, parse_quantity
from scaler.errors import UserError
from scaler.ports.metrics import ContainerRef, Samples

COLUMNS = ("timestamp", "namespace", "pod", "container", "cpu", "memory")
OPTIONAL = ("memory_limit", "oom_killed")
# Former names (scaler report's usage file): column -> its name now.
OLD_NAMES = {"cpu_cores": "cpu", "memory_bytes": "memory"}


def usage_columns(fieldnames: Sequence[str] | None, file: str) -> tuple[dict[str, str], str | None]:
    """Each column of COLUMNS -> its name in the file (old names accepted), and a note when
    old names were read. A missing column is a one-line error naming the file."""
    have = set(fieldnames or ())
    found = {c: c for c in COLUMNS if c in have}
    old = []
    for name, now in OLD_NAMES.items():
        if now not in found and name in have:
            found[now] = name
            old.append(f"{name} (now {now})")
    missing = [c for c in COLUMNS if c not in found]
    if missing:
        raise UserError(
            f"missing column(s) {', '.join(missing)} (expected {','.join(COLUMNS)})",
            file=file,
            obj="line 1",
        )
    note = None
    if old:
        note = (
            f"{file}: read the old column name(s) {', '.join(old)}; the usage file's columns "
            f"are {','.join(COLUMNS)}[,{','.join(OPTIONAL)}]"
        )
    return found, note


def _open(path: Path) -> TextIO:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def _number(text: str, where: str, path: Path) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return float(parse_quantity(text))
    except QuantityError:
        raise UserError(f"not a number or quantity: {text!r}", file=str(path), obj=where) from None


def _time(text: str, where: str, path: Path) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise UserError(
            f"timestamp {text!r} is neither unix seconds nor RFC 3339", file=str(path), obj=where
        ) from None


def load_usage_file(path: str | Path, notes: list[str] | None = None) -> SeriesMetricsSource:
    """The usage in a file; a note about old column names goes to `notes`."""
    p = Path(path)
    if not p.is_file():
        raise UserError("no such file", file=str(p))
    cpu: dict[ContainerRef, list[tuple[float, float]]] = {}
    mem: dict[ContainerRef, list[tuple[float, float]]] = {}
    lim: dict[ContainerRef, list[tuple[float, float]]] = {}
    ooms: list[tuple[ContainerRef, float]] = []
    try:
        with _open(p) as f:
            reader = csv.DictReader(f)
            col, note = usage_columns(reader.fieldnames, str(p))
            if note and notes is not None:
                notes.append(note)
            cpu_col, mem_col = col["cpu"], col["memory"]
            for row in reader:
                where = f"line {reader.line_num}"
                ref = ContainerRef(row["namespace"], row["pod"], row["container"])
                if not (ref.namespace and ref.pod and ref.container):
                    raise UserError(
                        "namespace, pod and container are required", file=str(p), obj=where
                    )
                ts = _time(row["timestamp"], where, p)
                cpu.setdefault(ref, []).append((ts, _number(row[cpu_col], where, p)))
                mem.setdefault(ref, []).append((ts, _number(row[mem_col], where, p)))
                if row.get("memory_limit"):
                    lim.setdefault(ref, []).append((ts, _number(row["memory_limit"], where, p)))
                if (row.get("oom_killed") or "0").strip() not in ("", "0"):
                    ooms.append((ref, ts))
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError, csv.Error) as err:
        raise UserError(f"cannot read usage file: {err}", file=str(p)) from None
    if not cpu:
        raise UserError("no usage rows", file=str(p))
    return SeriesMetricsSource(
        cpu=_samples(cpu), memory=_samples(mem), limits={"memory": _samples(lim)}, oom_kills=ooms
    )


def _samples(data: dict[ContainerRef, list[tuple[float, float]]]) -> Iterator[Samples]:
    for ref, points in data.items():
        points.sort()
        yield Samples(ref, tuple(t for t, _ in points), tuple(v for _, v in points))


def write_usage_file(path: str | Path, rows: Iterable[tuple[object, ...]]) -> None:
    """Rows of (timestamp, namespace, pod, container, cpu, memory, memory_limit, oom_killed)."""
    p = Path(path)
    # mtime 0: the same rows give the same bytes (files committed to Git stay unchanged).
    opener = (
        io.TextIOWrapper(gzip.GzipFile(p, "wb", mtime=0), encoding="utf-8", newline="")
        if p.suffix == ".gz"
        else p.open("w", encoding="utf-8", newline="")
    )
    with opener as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow((*COLUMNS, *OPTIONAL))
        w.writerows(rows)
