"""Charts as server-side SVG: horizontal bars (grouped or stacked), a line, a funnel.

No script and no inline style (the CSP allows neither): only SVG presentation attributes.
Every series has its own lightness and its own pattern, so the chart reads in grey scale and
for people who cannot tell the colours apart; the figures are written next to the bars. The
drawing scales with its container (viewBox), so it fits a 390 px phone without scrolling.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import count

from markupsafe import Markup, escape

WIDTH = 360
FONT = 14
LABEL_W = 84  # room for category labels on the left
ROW_GAP = 10
BAR_H = 18
# (fill, pattern): dark solid, middle with stripes, light with dots, then more.
STYLES = [
    ("#1e3a8a", None),
    ("#5b7fd1", "stripes"),
    ("#b9c8ef", "dots"),
    ("#0f766e", "cross"),
    ("#93d5cc", None),
]
_ids = count(1)


@dataclass
class Series:
    label: str
    values: Sequence[float]


def _defs(uid: int) -> str:
    return (
        "<defs>"
        f'<pattern id="stripes-{uid}" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#5b7fd1"/>'
        '<rect width="2" height="6" fill="#ffffff" fill-opacity="0.55"/></pattern>'
        f'<pattern id="dots-{uid}" width="6" height="6" patternUnits="userSpaceOnUse">'
        '<rect width="6" height="6" fill="#b9c8ef"/><circle cx="3" cy="3" r="1.4" '
        'fill="#1e3a8a"/></pattern>'
        f'<pattern id="cross-{uid}" width="6" height="6" patternUnits="userSpaceOnUse">'
        '<rect width="6" height="6" fill="#0f766e"/><path d="M0 0L6 6M6 0L0 6" '
        'stroke="#ffffff" stroke-opacity="0.5"/></pattern>'
        "</defs>"
    )


def _fill(i: int, uid: int) -> str:
    colour, pattern = STYLES[i % len(STYLES)]
    return f"url(#{pattern}-{uid})" if pattern else colour


def _legend(series: Sequence[Series], uid: int, y: float) -> tuple[str, float]:
    parts, x = [], 0.0
    for i, s in enumerate(series):
        width = 22 + len(s.label) * FONT * 0.55 + 14
        if x + width > WIDTH:
            x, y = 0.0, y + FONT + 8
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="16" height="{FONT}" fill="{_fill(i, uid)}" '
            f'stroke="#1f2937" stroke-width="0.5"/><text x="{x + 21:.1f}" y="{y + FONT - 2:.1f}" '
            f'font-size="{FONT}">{escape(s.label)}</text>'
        )
        x += width
    return "".join(parts), y + FONT + 10


def _svg(title: str, body: str, height: float, uid: int) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height:.0f}" width="100%" role="img" '
        f'aria-labelledby="chart-title-{uid}" xmlns="http://www.w3.org/2000/svg" '
        f'font-family="system-ui, sans-serif" fill="#111827">'
        f'<title id="chart-title-{uid}">{escape(title)}</title>{_defs(uid)}{body}</svg>'
    )


def _label(text: str, limit: int = 11) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bars(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    fmt: Callable[[float], str] = lambda v: f"{v:g}",
    stacked: bool = False,
) -> Markup:
    """Horizontal bars, one group (or one stack) per category, values written at the end."""
    uid = next(_ids)
    legend, y = _legend(series, uid, 0) if len(series) > 1 else ("", 0.0)
    if stacked:
        peak = max((sum(s.values[i] for s in series) for i in range(len(categories))), default=0)
    else:
        peak = max((v for s in series for v in s.values), default=0)
    scale = (WIDTH - LABEL_W - 64) / peak if peak else 0
    parts = [legend]
    for i, category in enumerate(categories):
        rows = 1 if stacked else len(series)
        group_h = rows * BAR_H
        parts.append(
            f'<text x="{LABEL_W - 6}" y="{y + group_h / 2 + FONT / 2 - 2:.1f}" '
            f'font-size="{FONT}" text-anchor="end">{escape(_label(category))}</text>'
        )
        x = float(LABEL_W)
        for j, s in enumerate(series):
            value = s.values[i]
            width = value * scale
            top = y if stacked else y + j * BAR_H
            if width > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{top:.1f}" width="{max(width, 1):.1f}" '
                    f'height="{BAR_H - 2}" fill="{_fill(j, uid)}" stroke="#1f2937" '
                    f'stroke-width="0.5"><title>{escape(s.label)}: {escape(fmt(value))}'
                    "</title></rect>"
                )
            if stacked:
                x += width
            else:
                parts.append(
                    f'<text x="{x + width + 4:.1f}" y="{top + BAR_H - 4:.1f}" '
                    f'font-size="{FONT - 2}">{escape(fmt(value))}</text>'
                )
        if stacked:
            total = sum(s.values[i] for s in series)
            parts.append(
                f'<text x="{x + 4:.1f}" y="{y + BAR_H - 4:.1f}" font-size="{FONT - 2}">'
                f"{escape(fmt(total))}</text>"
            )
        y += group_h + ROW_GAP
    if not categories:
        parts.append(f'<text x="0" y="{y + FONT}" font-size="{FONT}">Nothing to show</text>')
        y += FONT + 6
    return _svg(title, "".join(parts), y + 2, uid)


def line(
    title: str,
    categories: Sequence[str],
    values: Sequence[float | None],
    *,
    fmt: Callable[[float], str] = lambda v: f"{v:.0%}",
    top: float = 1.0,
) -> Markup:
    """One line over the categories (gaps where a value is None), with the values as labels."""
    uid = next(_ids)
    height, pad = 180.0, 28.0
    n = max(len(categories), 1)
    step = (WIDTH - 2 * pad) / max(n - 1, 1)
    points, parts = [], []

    def flush():
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="#1e3a8a" stroke-width="2.5"/>'
            )

    for i, (label, value) in enumerate(zip(categories, values, strict=True)):
        x = pad + i * step if n > 1 else WIDTH / 2
        if i % max(1, n // 6) == 0 or i == n - 1:
            parts.append(
                f'<text x="{x:.1f}" y="{height - 4}" font-size="{FONT - 2}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
        if value is None:
            flush()
            points = []
            continue
        y = pad + (height - 2.5 * pad) * (1 - (value / top if top else 0))
        points.append((x, y))
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#ffffff" stroke="#1e3a8a" '
            f'stroke-width="2"><title>{escape(label)}: {escape(fmt(value))}</title></circle>'
            f'<text x="{x:.1f}" y="{y - 8:.1f}" font-size="{FONT - 3}" '
            f'text-anchor="middle">{escape(fmt(value))}</text>'
        )
    flush()
    axis = (
        f'<line x1="{pad / 2}" y1="{height - 2.5 * pad + pad}" x2="{WIDTH - pad / 2}" '
        f'y2="{height - 2.5 * pad + pad}" stroke="#9ca3af"/>'
    )
    return _svg(title, axis + "".join(parts), height, uid)


def funnel(title: str, steps: Sequence[tuple[str, int]]) -> Markup:
    """Centred bars narrowing step by step, each labelled with its count and share of the top."""
    uid = next(_ids)
    top = max((n for _, n in steps), default=0)
    parts, y, h = [], 0.0, 34
    for i, (label, n) in enumerate(steps):
        width = (WIDTH - 20) * (n / top) if top else 0
        x = (WIDTH - width) / 2
        share = f" ({n / top:.0%})" if top else ""
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(width, 2):.1f}" height="{h - 4}" '
            f'fill="{_fill(i % 3, uid)}" stroke="#1f2937" stroke-width="0.5"/>'
            f'<rect x="{WIDTH / 2 - 110:.1f}" y="{y + 6:.1f}" width="220" height="{h - 16}" '
            f'rx="3" fill="#ffffff" fill-opacity="0.85"/>'
            f'<text x="{WIDTH / 2:.1f}" y="{y + h / 2 + 3:.1f}" font-size="{FONT - 1}" '
            f'text-anchor="middle">{escape(_label(label, 16))}: {n}{share}</text>'
        )
        y += h
    if not steps:
        parts.append(f'<text x="0" y="{FONT}" font-size="{FONT}">Nothing to show</text>')
        y = FONT + 6
    return _svg(title, "".join(parts), y, uid)
