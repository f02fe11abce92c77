"""Plain-text tables, aligned for a terminal."""

from __future__ import annotations

from collections.abc import Sequence

Cell = str | int | float | None


def _cell(value: Cell) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        # Four decimals carry cent fractions of hourly prices; trailing zeros carry nothing.
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return str(value)


def render_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    """Columns padded to their widest cell; numbers right-aligned."""
    text = [[_cell(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], len(c))
    numeric = [
        all(isinstance(r[i], int | float) or r[i] is None for r in rows) and bool(rows)
        for i in range(len(headers))
    ]

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, c in enumerate(cells):
            out.append(c.rjust(widths[i]) if numeric[i] else c.ljust(widths[i]))
        return "  ".join(out).rstrip()

    lines = [line(list(headers)), line(["-" * w for w in widths])]
    lines.extend(line(r) for r in text)
    return "\n".join(lines)
