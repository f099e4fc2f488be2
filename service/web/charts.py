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


def span_chart(spans: Sequence[tuple[int, datetime, datetime, bool]], label: str) -> Markup:
    """Return an SVG of incident spans on one time axis: (incident id, first, last, resolved)."""
    if not spans:
        return Markup("")
    start = min(first for _, first, _, _ in spans)
    end = max(last for _, _, last, _ in spans)
    total = max((end - start).total_seconds(), 1.0)
    row, left = 18, 48
    height = row * len(spans) + 16
    bars = []
    for index, (ident, first, last, resolved) in enumerate(spans):
        x = left + (WIDTH - left) * (first - start).total_seconds() / total
        width = max(3.0, (WIDTH - left) * (last - first).total_seconds() / total)
        y = index * row + 2
        state = "resolved" if resolved else "open"
        title = f"#{ident}: {first:%H:%M:%S} to {last:%H:%M:%S} UTC, {state}"
        bars.append(
            f'<text x="0" y="{y + 12}">#{ident}</text>'
            f'<rect class="span-{state}" x="{x:.1f}" y="{y}" width="{width:.1f}" '
            f'height="{row - 6}"><title>{title}</title></rect>'
        )
    svg = (
        f'<svg class="chart spans" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(label)}">{"".join(bars)}'
        f'<text x="{left}" y="{height - 2}">{start:%H:%M:%S}</text>'
        f'<text x="{WIDTH}" y="{height - 2}" text-anchor="end">{end:%H:%M:%S} UTC</text></svg>'
    )
    return Markup(svg)  # noqa: S704 - every value interpolated here is a number or a time
