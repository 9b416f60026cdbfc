"""How the CLI shows answers to a human: aligned text tables and a backfill progress bar.

Pure functions of plain values, so their output is tested exactly; ``--json`` bypasses them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final

__all__ = ["format_duration", "format_rate", "format_table", "format_time_us", "progress_bar"]

_GAP: Final = "  "
_BAR_WIDTH: Final = 30


def _is_number(text: str) -> bool:
    return text.replace(",", "").replace(".", "", 1).removeprefix("-").isdigit()


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns padded to their widest cell; numbers right-aligned, text left-aligned.

    An empty ``rows`` gives the header line and ``(none)``, so a script-less reader still sees
    that the answer was empty rather than missing.
    """
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        if len(row) != len(headers):
            raise ValueError(f"row has {len(row)} cells for {len(headers)} columns")
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    numeric = [
        bool(cells) and all(_is_number(r[i]) or r[i] == "-" for r in cells) for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        padded = [
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return _GAP.join(padded).rstrip()

    out = [line([h.upper() for h in headers])]
    out.extend(line(row) for row in cells)
    if not cells:
        out.append("(none)")
    return "\n".join(out)


def _cell(value: object) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)


def format_rate(per_second: float) -> str:
    return f"{per_second:,.1f}/s"


def format_duration(seconds: int) -> str:
    """``-1`` → ``?``; otherwise the two largest units: ``45s``, ``3m05s``, ``2h10m``, ``3d04h``."""
    if seconds < 0:
        return "?"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def format_time_us(epoch_us: int) -> str:
    """A UTC timestamp to the second, or ``-`` for 0 (never)."""
    if epoch_us <= 0:
        return "-"
    moment = dt.datetime.fromtimestamp(epoch_us / 1e6, tz=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


def progress_bar(
    *, done: int, total: int, rate: float, eta_seconds: int, state: str, width: int = _BAR_WIDTH
) -> str:
    """``[#########.....................]  30.0%  3,000/10,000 repos  120.5/s  ETA 58s  running``.

    With ``total`` unknown (0) the bar stays empty and the percentage reads ``?``.
    """
    fraction = min(done / total, 1.0) if total > 0 else 0.0
    filled = int(fraction * width)
    percent = f"{fraction * 100:5.1f}%" if total > 0 else "    ?%"
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] {percent}  {done:,}/{total:,} repos  "
        f"{format_rate(rate)}  ETA {format_duration(eta_seconds)}  {state}"
    )
