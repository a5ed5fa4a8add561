"""The district map: classes, colours and an accessible SVG without external resources."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from portal.cases.places import GridShape
from portal.cases.svgmap import PALETTE, classes, colour, render_map

SQUARE = ((120.0, 30.0), (120.01, 30.0), (120.01, 30.01), (120.0, 30.01), (120.0, 30.0))
SHAPES = {
    1: GridShape(1, "G1", "第一网格", None, (30.005, 120.005), (SQUARE,)),
    2: GridShape(2, "G2", "第二<网格>", None, (30.005, 120.015), (tuple((x + 0.01, y) for x, y in SQUARE),)),
}


def test_classes_are_quantiles_of_non_zero_counts():
    assert classes({}) == []
    assert classes({1: 0, 2: 5}) == [5]
    bounds = classes({i: i for i in range(1, 101)})
    assert bounds == [20, 40, 60, 80, 100]
    assert colour(0, bounds) == PALETTE[0] and colour(100, bounds) == PALETTE[5] and colour(21, bounds) == PALETTE[2]


def test_map_is_valid_svg_with_titles_and_links():
    svg = render_map(SHAPES, {1: 3, 2: 10}, lambda s: f"/cases?grid={s.code}&x=1", selected=2)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg" and root.get("role") == "img"
    titles = [t.text for t in root.iter(f"{ns}title")]
    assert "第一网格：3 件" in titles and "第二<网格>：10 件" in titles
    assert [a.get("href") for a in root.iter(f"{ns}a")] == ["/cases?grid=G1&x=1", "/cases?grid=G2&x=1"]
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")
    assert render_map({}, {}, lambda s: "") == ""
