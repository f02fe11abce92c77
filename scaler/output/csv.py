"""CSV output."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from scaler.output.table import Cell


def render_csv(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(["" if c is None else c for c in row] for row in rows)
    return buf.getvalue()
