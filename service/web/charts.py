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
    """Return an SVG bar chart of (minute, count) rows, its axis labels as text below it.

    The bars stretch to the width of the page; the labels are HTML so they keep their size
    (an SVG's text shrinks with it: 10 units were 6 px on a phone).
    """
    if not rows:
        return Markup("")
    peak = max(count for _, count in rows) or 1
    width = WIDTH / len(rows)
    bars = []
    for index, (minute, count) in enumerate(rows):
        height = max(1.0, (HEIGHT - 2) * count / peak) if count else 0.0
        x, y = index * width, HEIGHT - height
        title = f"{minute:%H:%M} UTC: {count}"
        bars.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(width - 1, 1):.1f}" '
            f'height="{height:.1f}"><title>{title}</title></rect>'
        )
    first, last = rows[0][0], rows[-1][0]
    html = (
        f'<div class="chart-box">'
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" preserveAspectRatio="none" '
        f'role="img" aria-label="{escape(label)}">{"".join(bars)}</svg>'
        f'<div class="chart-axis"><span>{first:%H:%M}</span>'
        f"<span>{last:%H:%M} UTC, peak {peak}/min</span></div></div>"
    )
    return Markup(html)  # noqa: S704 - every value interpolated here is a number or a time


def span_chart(spans: Sequence[tuple[int, datetime, datetime, bool]], label: str) -> Markup:
    """Return the incident spans on one time axis, one row each: (incident id, first, last,
    resolved); row labels and axis labels are HTML, the bars SVG stretched to the row."""
    if not spans:
        return Markup("")
    start = min(first for _, first, _, _ in spans)
    end = max(last for _, _, last, _ in spans)
    total = max((end - start).total_seconds(), 1.0)
    rows = []
    for ident, first, last, resolved in spans:
        x = WIDTH * (first - start).total_seconds() / total
        width = max(3.0, WIDTH * (last - first).total_seconds() / total)
        state = "resolved" if resolved else "open"
        title = f"#{ident}: {first:%H:%M:%S} to {last:%H:%M:%S} UTC, {state}"
        rows.append(
            f'<div class="span-row"><a class="span-label" href="/incidents/{ident}">#{ident}</a>'
            f'<svg class="chart spans" viewBox="0 0 {WIDTH} 10" preserveAspectRatio="none" '
            f'aria-hidden="true"><rect class="span-{state}" x="{x:.1f}" y="0" '
            f'width="{width:.1f}" height="10"><title>{title}</title></rect></svg></div>'
        )
    html = (
        f'<div class="chart-box spans-box" role="img" aria-label="{escape(label)}">'
        f'{"".join(rows)}<div class="chart-axis span-axis"><span>{start:%H:%M:%S}</span>'
        f"<span>{end:%H:%M:%S} UTC</span></div></div>"
    )
    return Markup(html)  # noqa: S704 - every value interpolated here is a number or a time
