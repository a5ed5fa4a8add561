"""The district drawn as SVG, each grid shaded by its number of cases (no map tiles, no script)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from xml.sax.saxutils import escape, quoteattr

from portal.cases.places import GridShape

# Sequential blues, light to dark, readable with the black outlines.
PALETTE = ("#f1f5f9", "#dbeafe", "#93c5fd", "#3b82f6", "#1d4ed8", "#1e3a8a")


def classes(counts: Mapping[int, int], n: int = 5) -> list[int]:
    """Upper bounds of ``n`` classes (quantiles of the non-zero counts)."""
    values = sorted(v for v in counts.values() if v > 0)
    if not values:
        return []
    bounds: list[int] = []
    for i in range(1, n + 1):
        value = values[min(len(values) - 1, math.ceil(i * len(values) / n) - 1)]
        if not bounds or value > bounds[-1]:
            bounds.append(value)
    return bounds


def colour(count: int, bounds: list[int]) -> str:
    if count <= 0 or not bounds:
        return PALETTE[0]
    for index, bound in enumerate(bounds):
        if count <= bound:
            return PALETTE[1 + min(index, len(PALETTE) - 2)]
    return PALETTE[-1]


def render_map(shapes: Mapping[int, GridShape], counts: Mapping[int, int], link: Callable[[GridShape], str],
               selected: int | None = None, width: int = 640, title: str | None = None) -> str:
    """An accessible inline SVG: a title, one linked and titled path per grid, and a legend.

    With ``title`` the map is a place picker (the dispatch screen): that title, grid names
    without counts, and no legend."""
    if not shapes:
        return ""
    lons = [x for s in shapes.values() for ring in s.rings for x, _ in ring]
    lats = [y for s in shapes.values() for ring in s.rings for _, y in ring]
    min_lon, max_lon, min_lat, max_lat = min(lons), max(lons), min(lats), max(lats)
    squash = math.cos(math.radians((min_lat + max_lat) / 2))
    scale = width / ((max_lon - min_lon) * squash)
    height = int((max_lat - min_lat) * scale) + 1
    bounds = classes(counts)

    def point(x: float, y: float) -> str:
        return f"{(x - min_lon) * squash * scale:.1f},{(max_lat - y) * scale:.1f}"

    total = sum(counts.values())
    caption = title or f"各网格案件数（共 {total} 件），颜色越深案件越多"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height + 40}" role="img" '
        f'aria-labelledby="map-title" class="case-map">',
        f'<title id="map-title">{escape(caption)}</title>',
    ]
    for shape in sorted(shapes.values(), key=lambda s: s.code):
        count = counts.get(shape.area_id, 0)
        d = " ".join("M" + " L".join(point(x, y) for x, y in ring) + " Z" for ring in shape.rings)
        stroke = 'stroke="#dc2626" stroke-width="2.5"' if shape.area_id == selected else 'stroke="#334155" stroke-width="0.6"'
        parts.append(
            f'<a href={quoteattr(link(shape))}><path d="{d}" fill="{colour(count, bounds)}" {stroke}>'
            f'<title>{escape(shape.name)}{"" if title else f"：{count} 件"}</title></path></a>'
        )
    if title:
        parts.append("</svg>")
        return "".join(parts)
    x = 4
    legend_y = height + 10
    parts.append(f'<g class="legend" font-size="17"><text x="{x}" y="{legend_y + 16}">案件数</text>')
    x += 60
    lower = 1
    for index, bound in enumerate(bounds):
        label = f"{lower}–{bound}" if bound > lower else f"{bound}"
        parts.append(f'<rect x="{x}" y="{legend_y}" width="20" height="20" fill="{PALETTE[1 + min(index, len(PALETTE) - 2)]}" '
                     f'stroke="#334155" stroke-width="0.5"/><text x="{x + 25}" y="{legend_y + 16}">{label}</text>')
        x += 36 + 10 * len(label)
        lower = bound + 1
    parts.append("</g></svg>")
    return "".join(parts)
