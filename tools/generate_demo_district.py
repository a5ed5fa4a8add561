#!/usr/bin/env python3
"""Generate the fictional demo district 示例区 (areas and GeoJSON polygons).

Writes ``knowledge_base/areas/areas.csv`` and one GeoJSON file per level
(``district``, ``streets``, ``zones``, ``units``, ``grids``). The output is deterministic: the
same seed gives byte-identical files.

How the tiling is kept exact
----------------------------
The district is a set of cells of a 100 m lattice (100 x 80 cells, about 10 km x 8 km, centred
near 120.10E 30.20N). Every lattice vertex gets one jittered position, computed once, so cells are
irregular quadrilaterals that still share their corners exactly. Every area at every level is a set
of cells, and its polygon is the traced boundary of that set, passing through *every* lattice
vertex on it. Two neighbours therefore share identical vertices along their common border, and a
parent (the union of its children's cells) has exactly the union of their polygons. Nothing is
computed by floating-point overlay.

The hierarchy is cut top-down by recursive bisection with wavy cut lines (so borders look like
streets and canals rather than a chessboard), weighted by a density field (smaller grids
downtown). A cut is accepted only when both halves are 4-connected, hole-free, without pinch
points and with at least a minimum number of cells.

Usage: python tools/generate_demo_district.py [--seed N] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import random
import sys
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "knowledge_base" / "areas"

DISTRICT_CODE = "330199"  # 浙江省杭州市 prefix with an unassigned county number: fictional
DISTRICT_NAME = "示例区"

NX, NY = 106, 86  # lattice cells (the outline bites into the frame)
CELL_M = 100.0  # metres per cell
CENTER_LON, CENTER_LAT = 120.10, 30.20
JITTER = 0.3  # fraction of a cell
MIN_GRID_CELLS = 6

LEVELS = ("district", "street", "zone", "unit", "grid")
LEVEL_NAMES = {"district": "区", "street": "街道", "zone": "片区", "unit": "社区", "grid": "网格"}
CODE_DIGITS = {"street": 3, "zone": 2, "unit": 3, "grid": 2}

STREET_NAMES = [
    "滨湖", "明德", "锦绣", "鹿鸣", "临川", "桂芳", "安澜", "永宁", "春晖",
]
ZONES_PER_STREET = [5, 4, 5, 4, 5, 4, 5, 5, 4]  # 41

# 134 community names (社区), fictional but in the usual style.
UNIT_NAMES = """
桂花 枫林 荷塘 杨柳 梅园 竹苑 兰亭 松岭 樱花 桃源 杏林 海棠 丁香 紫薇 芙蓉 玉兰 银杏 香樟 翠竹 青枫
金沙 锦江 碧水 清波 秀水 云溪 月湖 星河 晨光 朝阳 东篱 南屏 西园 北苑 中和 平安 福寿 康乐 长青 永丰
德馨 文昌 书香 学府 墨香 琴台 棋盘 凤鸣 龙井 虎跑 鹤林 燕归 鹭洲 雁塔 鸣凤 栖霞 映雪 听涛 望湖 观澜
石桥 木渎 柳浦 梧桐 桑园 苎萝 茶花 菱湖 莲池 芦荻 蒹葭 稻香 麦浪 果园 花港 柳营 草堂 竹林 松涛 枫桥
新塘 老街 仓前 坝头 河埠 渡口 井亭 塔下 庙前 寺后 城隍 府前 县前 市心 商城 工联 机场 港湾 码头 驿站
和睦 和谐 友谊 团结 光明 红星 新华 建设 解放 胜利 前进 跃进 复兴 振兴 兴旺 富强 民主 幸福 吉祥 如意
嘉禾 瑞丰 恒泰 安居 宜居 乐居 怡景 华庭 君悦 锦园 景苑 丽都 雅苑 悦府
""".split()
assert len(UNIT_NAMES) >= 134 and len(set(UNIT_NAMES)) == len(UNIT_NAMES)

CN_NUM = "零一二三四五六七八九十"


def cn_number(n: int) -> str:
    if n <= 10:
        return CN_NUM[n]
    if n < 20:
        return "十" + CN_NUM[n - 10]
    return CN_NUM[n // 10] + "十" + (CN_NUM[n % 10] if n % 10 else "")


# --------------------------------------------------------------------------- geometry


def lattice_positions(rng: random.Random) -> dict[tuple[int, int], tuple[float, float]]:
    """Jittered lon/lat of every lattice vertex, rounded so shared corners stay identical."""
    m_per_deg_lat = 111_320.0
    m_per_deg_lon = m_per_deg_lat * math.cos(math.radians(CENTER_LAT))
    x0 = -NX * CELL_M / 2
    y0 = -NY * CELL_M / 2
    positions = {}
    for i in range(NX + 1):
        for j in range(NY + 1):
            jx = rng.uniform(-JITTER, JITTER)
            jy = rng.uniform(-JITTER, JITTER)
            x = x0 + (i + jx) * CELL_M
            y = y0 + (j + jy) * CELL_M
            positions[(i, j)] = (
                round(CENTER_LON + x / m_per_deg_lon, 7),
                round(CENTER_LAT + y / m_per_deg_lat, 7),
            )
    return positions


def district_cells(rng: random.Random) -> set[tuple[int, int]]:
    """Cells inside a wobbly outline, as one simply connected region."""
    def wobble(n: int, amplitude: float) -> list[float]:
        phases = [rng.uniform(0, 2 * math.pi) for _ in range(3)]
        return [
            amplitude * (0.5 * (1 + math.sin(2 * math.pi * t / n * 1.3 + phases[0]))
                         * 0.6 + 0.4 * (0.5 * (1 + math.sin(2 * math.pi * t / n * 3.1 + phases[1]))))
            for t in range(n)
        ]

    south, north = wobble(NX, 11), wobble(NX, 6)
    west, east = wobble(NY, 6), wobble(NY, 10)
    cells = {
        (i, j)
        for i in range(NX)
        for j in range(NY)
        if south[i] <= j < NY - north[i] and west[j] <= i < NX - east[j]
    }
    cells = largest_component(cells)
    cells = fill_holes(cells)
    cells = remove_pinches(cells)
    return cells


def neighbours(c: tuple[int, int]):
    i, j = c
    return ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1))


def components(cells: set[tuple[int, int]]) -> list[set[tuple[int, int]]]:
    seen: set[tuple[int, int]] = set()
    result = []
    for start in sorted(cells):
        if start in seen:
            continue
        comp = {start}
        queue = deque([start])
        seen.add(start)
        while queue:
            c = queue.popleft()
            for n in neighbours(c):
                if n in cells and n not in seen:
                    seen.add(n)
                    comp.add(n)
                    queue.append(n)
        result.append(comp)
    return result


def largest_component(cells):
    return max(components(cells), key=len)


def fill_holes(cells):
    outside = {(i, j) for i in range(-1, NX + 1) for j in range(-1, NY + 1)} - cells
    # flood from the frame
    reach = set()
    queue = deque([(-1, -1)])
    reach.add((-1, -1))
    while queue:
        c = queue.popleft()
        for n in neighbours(c):
            if n in outside and n not in reach:
                reach.add(n)
                queue.append(n)
    return cells | (outside - reach)


def pinch_vertices(cells) -> list[tuple[int, int]]:
    """Lattice vertices where the set touches itself only diagonally."""
    result = []
    candidates = {(i + di, j + dj) for (i, j) in cells for di in (0, 1) for dj in (0, 1)}
    for (x, y) in candidates:
        sw, se, nw, ne = (x - 1, y - 1) in cells, (x, y - 1) in cells, (x - 1, y) in cells, (x, y) in cells
        if (sw and ne and not se and not nw) or (se and nw and not sw and not ne):
            result.append((x, y))
    return result


def remove_pinches(cells):
    cells = set(cells)
    while True:
        pinches = pinch_vertices(cells)
        if not pinches:
            return cells
        for (x, y) in pinches:  # fill one of the two empty cells
            cells.add((x, y - 1))


def boundary_rings(cells) -> list[list[tuple[int, int]]]:
    """Closed rings of lattice vertices, interior on the left (counter-clockwise outer ring)."""
    edges: dict[tuple[int, int], tuple[int, int]] = {}

    def add(a, b):
        if a in edges:
            raise ValueError("pinch point")
        edges[a] = b

    for (i, j) in cells:
        if (i, j - 1) not in cells:
            add((i, j), (i + 1, j))
        if (i + 1, j) not in cells:
            add((i + 1, j), (i + 1, j + 1))
        if (i, j + 1) not in cells:
            add((i + 1, j + 1), (i, j + 1))
        if (i - 1, j) not in cells:
            add((i, j + 1), (i, j))
    rings = []
    while edges:
        start = min(edges)
        ring = [start]
        cur = edges.pop(start)
        while cur != start:
            ring.append(cur)
            cur = edges.pop(cur)
        ring.append(start)
        rings.append(ring)
    return rings


def is_valid_region(cells, min_cells: int) -> bool:
    if len(cells) < min_cells:
        return False
    if len(components(cells)) != 1:
        return False
    if pinch_vertices(cells):
        return False
    return len(boundary_rings(cells)) == 1


# --------------------------------------------------------------------------- partition


def density(cell) -> float:
    """Relative number of grids per cell: dense downtown in the north-west, sparser outside."""
    i, j = cell
    d_down = math.hypot(i - 36, j - 50)
    d_sub = math.hypot(i - 72, j - 24)
    return 1.0 + 2.2 * math.exp(-((d_down / 24) ** 2)) + 0.8 * math.exp(-((d_sub / 14) ** 2))


def split_region(cells, weights, min_cells, rng):
    """Split ``cells`` into ``len(weights)`` contiguous parts proportional to ``weights``."""
    k = len(weights)
    if k == 1:
        return [set(cells)]
    kl = k // 2
    target = sum(weights[:kl]) / sum(weights)
    ordered_cells = sorted(cells)
    cx = sum(c[0] for c in ordered_cells) / len(ordered_cells)
    cy = sum(c[1] for c in ordered_cells) / len(ordered_cells)
    sxx = sum((c[0] - cx) ** 2 for c in ordered_cells)
    syy = sum((c[1] - cy) ** 2 for c in ordered_cells)
    sxy = sum((c[0] - cx) * (c[1] - cy) for c in ordered_cells)
    main_axis = 0.5 * math.atan2(2 * sxy, sxx - syy)
    total_w = sum(density(c) for c in ordered_cells)
    min_left = min_cells * kl
    min_right = min_cells * (k - kl)
    for attempt in range(200):
        spread = 0.35 if attempt < 100 else 1.2
        theta = main_axis + rng.uniform(-spread, spread)
        amp = rng.uniform(0.5, 2.5) if attempt < 150 else 0.0
        freq = rng.uniform(0.08, 0.25)
        phase = rng.uniform(0, 2 * math.pi)
        ct, st = math.cos(theta), math.sin(theta)

        def key(c):
            u = (c[0] - cx) * ct + (c[1] - cy) * st
            v = -(c[0] - cx) * st + (c[1] - cy) * ct
            return (u + amp * math.sin(freq * v + phase), c)

        seq = sorted(ordered_cells, key=key)
        acc = 0.0
        cut = len(seq)
        for idx, c in enumerate(seq):
            acc += density(c)
            if acc >= target * total_w:
                cut = idx + 1
                break
        left, right = set(seq[:cut]), set(seq[cut:])
        if (
            is_valid_region(left, min_left)
            and is_valid_region(right, min_right)
        ):
            return split_region(left, weights[:kl], min_cells, rng) + split_region(
                right, weights[kl:], min_cells, rng
            )
    raise RuntimeError(f"could not split a region of {len(cells)} cells into {k}")


def centroid(cells):
    n = len(cells)
    return (sum(c[0] for c in cells) / n, sum(c[1] for c in cells) / n)


def order_by_position(parts):
    """North-west to south-east, in bands, so codes read like a map."""
    band = lambda p: -round(centroid(p)[1] / 12)  # noqa: E731
    return sorted(parts, key=lambda p: (band(p), centroid(p)[0]))


def direction_labels(parts, parent_cells) -> list[str]:
    """东/西/南/北/中 labels for up to five zones, by their position in the parent."""
    px, py = centroid(parent_cells)
    labels = ["东", "西", "南", "北", "中"]
    vectors = {"东": (1, 0), "西": (-1, 0), "南": (0, -1), "北": (0, 1), "中": (0, 0)}
    best, best_score = None, None
    offsets = []
    for p in parts:
        x, y = centroid(p)
        offsets.append((x - px, y - py))
    for perm in itertools.permutations(labels, len(parts)):
        if len(parts) < 5 and "中" in perm:
            continue
        score = 0.0
        for (dx, dy), lab in zip(offsets, perm):
            vx, vy = vectors[lab]
            norm = math.hypot(dx, dy) or 1.0
            score += (dx * vx + dy * vy) / norm if lab != "中" else 1.0 - norm / 20
        if best_score is None or score > best_score:
            best, best_score = perm, score
    return list(best)


# --------------------------------------------------------------------------- build


def build(seed: int):
    rng = random.Random(seed)
    positions = lattice_positions(rng)
    cells = district_cells(rng)

    # count tree: zones per street fixed, units per zone and grids per unit drawn
    zone_count = sum(ZONES_PER_STREET)
    units_per_zone = [4] * 11 + [3] * (zone_count - 11)  # 134
    rng.shuffle(units_per_zone)
    unit_count = sum(units_per_zone)
    grids_per_unit = [4] * 20 + [3] * 56 + [2] * (unit_count - 76)  # 364
    rng.shuffle(grids_per_unit)
    assert (zone_count, unit_count, sum(grids_per_unit)) == (41, 134, 364)

    zone_iter = iter(units_per_zone)
    unit_iter = iter(grids_per_unit)
    tree = []  # street -> zones -> units -> grid counts
    for n_zones in ZONES_PER_STREET:
        zones = []
        for _ in range(n_zones):
            zones.append([next(unit_iter) for _ in range(next(zone_iter))])
        tree.append(zones)

    areas = []  # dicts: code, level, name, parent, cells, extra

    def add(code, level, name, parent, region, **extra):
        areas.append({"code": code, "level": level, "name": name, "parent": parent,
                      "cells": region, **extra})

    add(DISTRICT_CODE, "district", DISTRICT_NAME, "", cells)
    street_weights = [sum(sum(u) for u in zones) for zones in tree]
    street_parts = order_by_position(
        split_region(cells, street_weights, MIN_GRID_CELLS * 20, rng)
    )
    # re-associate count subtrees with parts by size rank so big parts get big trees
    street_parts_sorted = sorted(range(9), key=lambda k: sum(density(c) for c in street_parts[k]))
    tree_sorted = sorted(range(9), key=lambda k: street_weights[k])
    tree_for_part = {p: tree[t] for p, t in zip(street_parts_sorted, tree_sorted)}

    shuffled_names = list(UNIT_NAMES[:134])
    rng.shuffle(shuffled_names)
    unit_names = iter(shuffled_names)
    for s_idx, s_cells in enumerate(street_parts, start=1):
        s_code = f"{DISTRICT_CODE}{s_idx:03d}"
        s_name = STREET_NAMES[s_idx - 1] + "街道"
        add(s_code, "street", s_name, DISTRICT_CODE, s_cells)
        zones = tree_for_part[s_idx - 1]
        zone_parts = order_by_position(
            split_region(s_cells, [sum(u) for u in zones], MIN_GRID_CELLS * 5, rng)
        )
        # match zone subtrees to parts by size again
        zp_sorted = sorted(range(len(zones)), key=lambda k: sum(density(c) for c in zone_parts[k]))
        zt_sorted = sorted(range(len(zones)), key=lambda k: sum(zones[k]))
        zones_for_part = {p: zones[t] for p, t in zip(zp_sorted, zt_sorted)}
        labels = direction_labels(zone_parts, s_cells)
        for z_idx, z_cells in enumerate(zone_parts, start=1):
            z_code = f"{s_code}{z_idx:02d}"
            z_name = f"{STREET_NAMES[s_idx - 1]}{labels[z_idx - 1]}片区"
            add(z_code, "zone", z_name, s_code, z_cells)
            units = zones_for_part[z_idx - 1]
            unit_parts = order_by_position(split_region(z_cells, units, MIN_GRID_CELLS, rng))
            up_sorted = sorted(range(len(units)), key=lambda k: sum(density(c) for c in unit_parts[k]))
            ut_sorted = sorted(range(len(units)), key=lambda k: units[k])
            units_for_part = {p: units[t] for p, t in zip(up_sorted, ut_sorted)}
            for u_idx, u_cells in enumerate(unit_parts, start=1):
                u_code = f"{z_code}{u_idx:03d}"
                u_name = next(unit_names) + "社区"
                add(u_code, "unit", u_name, z_code, u_cells)
                n_grids = units_for_part[u_idx - 1]
                grid_parts = order_by_position(
                    split_region(u_cells, [1.0] * n_grids, MIN_GRID_CELLS, rng)
                )
                for g_idx, g_cells in enumerate(grid_parts, start=1):
                    add(f"{u_code}{g_idx:02d}", "grid", f"{u_name}第{cn_number(g_idx)}网格",
                        u_code, g_cells)
    return areas, positions


def polygon_coordinates(cells, positions):
    rings = boundary_rings(cells)
    assert len(rings) == 1
    return [[list(positions[v]) for v in rings[0]]]


def ring_area_m2(coords) -> float:
    m_lat = 111_320.0
    m_lon = m_lat * math.cos(math.radians(CENTER_LAT))
    pts = [(x * m_lon, y * m_lat) for x, y in coords]
    return abs(sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(pts, pts[1:]))) / 2


def write(areas, positions, out: Path) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    counts = {level: 0 for level in LEVELS}
    features = {level: [] for level in LEVELS}
    rows = []
    for a in areas:
        counts[a["level"]] += 1
        coords = polygon_coordinates(a["cells"], positions)
        area_km2 = round(ring_area_m2(coords[0]) / 1e6, 4)
        props = {
            "code": a["code"],
            "level": a["level"],
            "name": a["name"],
            "parent_code": a["parent"] or None,
            "area_km2": area_km2,
        }
        features[a["level"]].append(
            {"type": "Feature", "id": a["code"], "properties": props,
             "geometry": {"type": "Polygon", "coordinates": coords}}
        )
        rows.append({"code": a["code"], "level": a["level"], "name": a["name"],
                     "parent_code": a["parent"], "area_km2": f"{area_km2:.4f}"})
    files = {"district": "district.geojson", "street": "streets.geojson", "zone": "zones.geojson",
             "unit": "units.geojson", "grid": "grids.geojson"}
    for level, name in files.items():
        collection = {
            "type": "FeatureCollection",
            "name": f"{DISTRICT_NAME} {LEVEL_NAMES[level]}",
            "features": features[level],
        }
        text = json.dumps(collection, ensure_ascii=False, separators=(",", ":"))
        # one feature per line keeps diffs readable
        text = text.replace(',{"type":"Feature"', ',\n{"type":"Feature"')
        (out / name).write_text(text + "\n", encoding="utf-8")
    with (out / "areas.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, ["code", "level", "name", "parent_code", "area_km2"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20260701)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    areas, positions = build(args.seed)
    counts = write(areas, positions, args.out)
    for level in LEVELS:
        print(f"{level}: {counts[level]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
