"""Small inline SVG pictures built from numbers only (so nothing from a log reaches the markup)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from markupsafe import Markup, escape

WIDTH, HEIGHT, MAX_BARS = 600, 80, 120


def hits_per_minute(counts: Sequence[tuple[datetime, int]]) -> list[tuple[datetime, int]]:
    """Return (minute, hits) for every minute from the first hit to the last, gaps as zero."""
    if not counts:
        return []
    minutes = dict(counts)
    start, end = min(minutes), max(minutes)
    span = int((end - start).total_seconds() // 60) + 1
    step = max(1, -(-span // MAX_BARS))
    rows = []
    for index in range(0, span, step):
        bucket = start + timedelta(minutes=index)
        hits = sum(minutes.get(bucket + timedelta(minutes=k), 0) for k in range(step))
        rows.append((bucket, hits))
    return rows


def bar_chart(rows: Sequence[tuple[datetime, int]], label: str) -> Markup:
    """Return an SVG bar chart of (minute, count) rows."""
    if not rows:
        return Markup("")
    peak = max(count for _, count in rows) or 1
    width = WIDTH / len(rows)
    bars = []
    for index, (minute, count) in enumerate(rows):
        height = max(1.0, (HEIGHT - 14) * count / peak) if count else 0.0
        x, y = index * width, HEIGHT - 12 - height
        title = f"{minute:%H:%M} UTC: {count}"
        bars.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(width - 1, 1):.1f}" '
            f'height="{height:.1f}"><title>{title}</title></rect>'
        )
    first, last = rows[0][0], rows[-1][0]
    svg = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}">{"".join(bars)}'
        f'<text x="0" y="{HEIGHT - 1}">{first:%H:%M}</text>'
        f'<text x="{WIDTH}" y="{HEIGHT - 1}" text-anchor="end">'
        f"{last:%H:%M} UTC, peak {peak}/min</text></svg>"
    )
    return Markup(svg)  # noqa: S704 - every value interpolated here is a number or a time
