"""Usage series from a CSV file (optionally gzipped): the metrics port without a cluster.

One row per container per sample, the one usage shape `scaler rightsize --usage` and
`scaler report --usage` both read:

    timestamp,namespace,pod,container,cpu,memory[,memory_limit][,oom_killed]

`timestamp`: unix seconds or RFC 3339; `cpu`: cores (or a quantity such as 250m);
`memory`: working-set bytes (or a quantity such as 300Mi); `memory_limit`: the container's
memory limit then (optional); `oom_killed`: 1 when the container had just been OOM-killed
(kube-state-metrics' last terminated reason), else 0 (optional; true/false too, anything
else is refused). Every number is refused unless finite and not negative. The report's former
column names `cpu_cores` and `memory_bytes` are still read, with a note.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

from scaler import limits
from scaler.adapters.simulated.metrics import SeriesMetricsSource
from scaler.core.quantity import QuantityError, parse_quantity
from scaler.errors import UserError
from scaler.limits import LimitError
from scaler.numbers import MAX_TIMESTAMP, MIN_TIMESTAMP, check_finite
from scaler.ports.metrics import ContainerRef, Samples
from scaler.times import parse_seconds_or_rfc3339

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


MAX_SAMPLE = 1e18  # an exabyte, or a billion billion cores: beyond any container


def _open(path: Path) -> TextIO:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def _number(text: str, where: str, path: Path, column: str) -> float:
    """A usage sample: a plain number or a quantity, finite and not negative (a negative
    memory sample would turn into a tiny, "low risk" recommendation)."""
    try:
        value = float(text)
    except ValueError:
        try:
            value = float(parse_quantity(text))
        except (QuantityError, OverflowError):
            raise UserError(f"not a number or quantity: {text[:40]!r}", file=str(path),
                            obj=where, field=column) from None
    return check_finite(value, "usage sample", minimum=0, maximum=MAX_SAMPLE,
                        file=str(path), obj=where, field=column)


def _time(text: str, where: str, path: Path) -> float:
    try:
        value = parse_seconds_or_rfc3339(text)
    except (ValueError, OverflowError):
        raise UserError(
            f"timestamp {text[:40]!r} is neither unix seconds nor RFC 3339", file=str(path),
            obj=where, field="timestamp",
        ) from None
    return check_finite(value, "timestamp (Unix seconds)", minimum=MIN_TIMESTAMP,
                        maximum=MAX_TIMESTAMP, file=str(path), obj=where, field="timestamp")


def _oom(text: str | None, where: str, path: Path) -> bool:
    value = (text or "").strip().lower()
    if value in ("", "0", "false"):
        return False
    if value in ("1", "true"):
        return True
    raise UserError(f"expected 1 or 0 (true or false), got {value[:40]!r}", file=str(path),
                    obj=where, field="oom_killed")


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
            cap = limits.current().usage_rows
            for n, row in enumerate(reader, start=1):
                where = f"line {reader.line_num}"
                if n > cap:
                    raise LimitError("the number of rows", "usage-rows", cap, file=str(p),
                                     obj=where)
                if None in row or any(v is None for v in row.values()):
                    raise UserError(f"expected {len(reader.fieldnames or ())} columns",
                                    file=str(p), obj=where)
                ref = ContainerRef(row["namespace"], row["pod"], row["container"])
                if not (ref.namespace and ref.pod and ref.container):
                    raise UserError(
                        "namespace, pod and container are required", file=str(p), obj=where
                    )
                ts = _time(row["timestamp"], where, p)
                cpu.setdefault(ref, []).append((ts, _number(row[cpu_col], where, p, "cpu")))
                mem.setdefault(ref, []).append((ts, _number(row[mem_col], where, p, "memory")))
                if row.get("memory_limit"):
                    lim.setdefault(ref, []).append(
                        (ts, _number(row["memory_limit"], where, p, "memory_limit")))
                if _oom(row.get("oom_killed"), where, p):
                    ooms.append((ref, ts))
    except UnicodeDecodeError as err:
        raise UserError(f"not UTF-8 text (at byte {err.start})", file=str(p)) from None
    except (OSError, EOFError, gzip.BadGzipFile, csv.Error, zlib.error) as err:
        raise UserError(f"cannot read usage file: {_one_line(str(err))}", file=str(p)) from None
    if not cpu:
        raise UserError("no usage rows", file=str(p))
    return SeriesMetricsSource(
        cpu=_samples(cpu), memory=_samples(mem), limits={"memory": _samples(lim)}, oom_kills=ooms
    )


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:197] + "..."


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
