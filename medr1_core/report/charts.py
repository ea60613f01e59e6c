"""Charts drawn as inline SVG for the HTML reports (no library, no network).

:func:`line_chart` draws one or more ``(x, y)`` series with axes, ticks, a
legend whose entries hide and show their line (the page's script), a tooltip
on each point, and, for long noisy series, a moving average over the raw
line. :func:`heat_style` colours a table cell by a fraction (the accuracy
heatmaps).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from .page import esc

#: Line colours, in order (Tableau 10).
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#bab0ac")


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering ``[low, high]``.

    >>> nice_ticks(0, 1)
    [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    """
    if high <= low:  # a flat series: a little room either side
        pad = abs(low) * 0.1 or 0.5
        low, high = low - pad, high + pad
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks = [round(start + i * step, 10) for i in range(int(math.ceil((high - start) / step - 1e-9)) + 1)]
    if ticks[-1] < high:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def tick_format(ticks: Sequence[float]):
    """A formatter that shows ticks ``ticks[1] - ticks[0]`` apart distinctly."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    decimals = max(0, -math.floor(math.log10(step)) + (0 if round(step / 10 ** math.floor(math.log10(step)), 6) in (1, 2, 5) else 1))
    if max(abs(t) for t in ticks) >= 1e5:
        return lambda v: f"{v:.2e}"
    return lambda v: f"{v:.{decimals}f}"


def moving_average(values: Sequence[float], window: int) -> list[float]:
    """The mean of each value and up to ``window - 1`` before it."""
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def _label(value: float) -> str:
    """A point's value in its tooltip."""
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.2e}"


def line_chart(
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    title: str,
    xlabel: str = "step",
    ylabel: str = "",
    smooth: int = 10,
    width: int = 640,
    height: int = 280,
    note: str = "",
) -> str:
    """A ``<figure class="chart">`` with an SVG line per series (see the module doc).

    Series with ``smooth`` points or more are drawn faint, with their
    ``smooth``-point moving average on top. A series with one point is a dot.
    """
    drawn = {name: sorted(points) for name, points in series.items() if points}
    if not drawn:
        return f'<figure class="chart"><figcaption>{esc(title)}</figcaption><p class="muted">no data yet</p></figure>'
    xs = [x for pts in drawn.values() for x, _ in pts]
    ys = [y for pts in drawn.values() for _, y in pts]
    y_ticks = nice_ticks(min(ys), max(ys))
    x_ticks = nice_ticks(min(xs), max(xs), 6)
    integral = all(float(x).is_integer() for x in xs)
    if integral:  # steps: whole ticks only
        x_ticks = [t for t in x_ticks if float(t).is_integer()] or [float(min(xs))]
    x0, x1 = min(x_ticks[0], min(xs)), max(x_ticks[-1], max(xs))
    y0, y1 = y_ticks[0], y_ticks[-1]
    left, right, top, bottom = 52, 12, 10, 34
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + (x - x0) / ((x1 - x0) or 1) * plot_w

    def py(y: float) -> float:
        return top + plot_h - (y - y0) / ((y1 - y0) or 1) * plot_h

    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">']
    y_text = tick_format(y_ticks)
    x_text = (lambda v: f"{v:.0f}") if integral else tick_format(x_ticks)
    for t in y_ticks:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#e5e8ee"/>'
                     f'<text x="{left - 6}" y="{py(t) + 4:.1f}" font-size="11" text-anchor="end" fill="#677285">'
                     f"{y_text(t)}</text>")
    for t in x_ticks:
        if x0 <= t <= x1:
            parts.append(f'<text x="{px(t):.1f}" y="{height - bottom + 15}" font-size="11" text-anchor="middle" '
                         f'fill="#677285">{x_text(t)}</text>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#9aa3b2"/>')
    parts.append(f'<text x="{left + plot_w / 2:.0f}" y="{height - 4}" font-size="11" text-anchor="middle" '
                 f'fill="#677285">{esc(xlabel)}</text>')
    if ylabel:
        parts.append(f'<text x="12" y="{top + plot_h / 2:.0f}" font-size="11" text-anchor="middle" fill="#677285" '
                     f'transform="rotate(-90 12 {top + plot_h / 2:.0f})">{esc(ylabel)}</text>')
    legend = []
    for i, (name, pts) in enumerate(drawn.items()):
        color = PALETTE[i % len(PALETTE)]
        parts.append(_series_svg(i, name, pts, color, px, py, smooth))
        legend.append(f'<span data-series="s{i}" title="click to hide or show"><i style="background:{color}"></i>'
                      f"{esc(name)}</span>")
    parts.append("</svg>")
    caption = f"<figcaption>{esc(title)}</figcaption>"
    extra = f'<p class="note">{note}</p>' if note else ""
    return f'<figure class="chart">{caption}{"".join(parts)}<div class="legend">{"".join(legend)}</div>{extra}</figure>'


def _series_svg(i: int, name: str, pts: Sequence[tuple[float, float]], color: str, px, py, smooth: int) -> str:
    coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
    faint = bool(smooth) and len(pts) >= smooth
    out = [f'<g data-series="s{i}">']
    if len(pts) > 1:
        out.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="{1 if faint else 2}" '
                   f'opacity="{0.35 if faint else 1}"/>')
    if faint:
        avg = moving_average([y for _, y in pts], smooth)
        smooth_coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for (x, _), y in zip(pts, avg))
        out.append(f'<polyline class="smooth" points="{smooth_coords}" fill="none" stroke="{color}" stroke-width="2.2"/>')
    if len(pts) <= 400:
        for x, y in pts:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="{2 if len(pts) > 1 else 3.5}" fill="{color}">'
                       f"<title>{esc(name)}: {_label(y)} at {_label(x)}</title></circle>")
    out.append("</g>")
    return "".join(out)


def heat_style(value: float | None) -> str:
    """An inline style colouring a cell by ``value`` in [0, 1] (red, amber, green; grey for none)."""
    if value is None:
        return "background:#eceff3;color:#95a0b0"
    v = min(max(float(value), 0.0), 1.0)
    # red (0) -> amber (0.5) -> green (1)
    if v < 0.5:
        r, g, b = 214, int(69 + (176 - 69) * v * 2), 65
    else:
        r, g, b = int(214 - (214 - 46) * (v - 0.5) * 2), int(176 - (176 - 139) * (v - 0.5) * 2), int(65 + (87 - 65) * (v - 0.5) * 2)
    return f"background:rgb({r},{g},{b});color:#fff"
