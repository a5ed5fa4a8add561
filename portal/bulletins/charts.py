"""Charts drawn on the server as SVG: no JavaScript, the same markup in the page and the PDF."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

FONT = "Noto Sans CJK SC, Noto Serif CJK SC, WenQuanYi Micro Hei, sans-serif"
COLOURS = ("#0b5cad", "#c2410c", "#15803d")


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def bar_chart(bars: Sequence[tuple[str, float | None]], *, title: str, unit: str = "",
              maximum: float | None = None, width: int = 660, label_width: int = 190,
              reference: float | None = None, reference_label: str = "") -> str:
    """Horizontal bars, one per (label, value), in the given order; a None value is drawn as "—"."""
    row = 17
    top = 28
    height = top + row * len(bars) + 22
    present = [v for _, v in bars if v is not None]
    top_value = maximum if maximum is not None else (max(present) if present else 1.0) or 1.0
    plot = width - label_width - 60
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}" font-family="{FONT}">',
             f'<text x="0" y="16" font-size="13" font-weight="700" fill="#1d232a">{escape(title)}</text>']
    for tick in range(5):
        x = label_width + plot * tick / 4
        parts.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{top + row * len(bars)}" stroke="#e3e8ee"/>')
        parts.append(f'<text x="{x:.1f}" y="{height - 6}" font-size="9" text-anchor="middle" fill="#5b6570">'
                     f'{_num(top_value * tick / 4)}{escape(unit)}</text>')
    for index, (label, value) in enumerate(bars):
        y = top + row * index
        parts.append(f'<text x="{label_width - 6}" y="{y + 12}" font-size="10" text-anchor="end" fill="#1d232a">'
                     f'{escape(label)}</text>')
        if value is None:
            parts.append(f'<text x="{label_width + 4}" y="{y + 12}" font-size="10" fill="#5b6570">—</text>')
            continue
        length = max(0.0, plot * min(value, top_value) / top_value)
        parts.append(f'<rect x="{label_width}" y="{y + 3}" width="{length:.1f}" height="{row - 6}" fill="{COLOURS[0]}"/>')
        parts.append(f'<text x="{label_width + length + 4:.1f}" y="{y + 12}" font-size="9.5" fill="#1d232a">'
                     f'{_num(value)}{escape(unit)}</text>')
    if reference is not None and top_value:
        x = label_width + plot * min(reference, top_value) / top_value
        parts.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{top + row * len(bars)}" stroke="#c2410c" '
                     f'stroke-dasharray="4 3"/>')
        parts.append(f'<text x="{x + 3:.1f}" y="{top - 8}" font-size="9" fill="#c2410c">{escape(reference_label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def trend_chart(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *, title: str,
                unit: str = "%", width: int = 660, height: int = 230) -> str:
    """Lines over periods (oldest first); gaps where a value is None."""
    left, right, top, bottom = 44, 34, 40, 30
    present = [v for _, values in series for v in values if v is not None]
    low = min(present) if present else 0.0
    high = max(present) if present else 100.0
    # Start the axis a little below the lowest value, on a multiple of 5, so changes are visible.
    low = max(0.0, (int(low) // 5) * 5 - 5) if unit == "%" else 0.0
    high = min(100.0, (int(high) // 5) * 5 + 5) if unit == "%" else high * 1.1 + 1
    if high <= low:
        high = low + 10
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(1, len(labels) - 1)

    def xy(index: int, value: float) -> tuple[float, float]:
        return left + step * index, top + plot_h * (1 - (value - low) / (high - low))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}" font-family="{FONT}">',
             f'<text x="0" y="16" font-size="13" font-weight="700" fill="#1d232a">{escape(title)}</text>']
    spacing: float = 5 if high - low <= 30 else 10 if high - low <= 60 else 20
    if unit != "%":
        spacing = (high - low) / 4
    ticks = []
    value = low
    while value <= high + 1e-9:
        ticks.append(value)
        value += spacing
    for value in ticks:
        _, y = xy(0, value)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#e3e8ee"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 3:.1f}" font-size="9" text-anchor="end" fill="#5b6570">'
                     f'{_num(value)}{escape(unit)}</text>')
    for index, label in enumerate(labels):
        x, _ = xy(index, low)
        parts.append(f'<text x="{x:.1f}" y="{height - 10}" font-size="9.5" text-anchor="middle" fill="#1d232a">'
                     f'{escape(label)}</text>')
    for number, (name, values) in enumerate(series):
        colour = COLOURS[number % len(COLOURS)]
        points = [(i, v) for i, v in enumerate(values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{'M' if j == 0 else 'L'}{xy(i, v)[0]:.1f},{xy(i, v)[1]:.1f}"
                            for j, (i, v) in enumerate(points))
            parts.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for position, (i, v) in enumerate(points):
            x, y = xy(i, v)
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')
            # Every value of the headline series; the others only at the end, so labels do not collide.
            if number == 0 or position == len(points) - 1:
                below = number == 0
                parts.append(f'<text x="{x + (0 if number == 0 else 6):.1f}" y="{y + (13 if below else 3):.1f}" '
                             f'font-size="8.5" text-anchor="{"middle" if number == 0 else "start"}" '
                             f'fill="{colour}">{_num(v)}</text>')
        legend_x = left + 10 + number * 150
        parts.append(f'<rect x="{legend_x}" y="24" width="14" height="3" fill="{colour}"/>')
        parts.append(f'<text x="{legend_x + 18}" y="29" font-size="10" fill="#1d232a">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
