"""The demo district in knowledge_base/areas tiles exactly at every level."""

import csv
import json
from collections import defaultdict
from pathlib import Path

import pytest
import shapely
from shapely.geometry import shape
from shapely.strtree import STRtree

AREAS = Path(__file__).resolve().parents[3] / "knowledge_base" / "areas"
FILES = {
    "district": "district.geojson",
    "street": "streets.geojson",
    "zone": "zones.geojson",
    "unit": "units.geojson",
    "grid": "grids.geojson",
}
CHILD = {"district": "street", "street": "zone", "zone": "unit", "unit": "grid"}
CODE_LEN = {"district": 6, "street": 9, "zone": 11, "unit": 14, "grid": 16}
EXPECTED = {"district": 1, "street": 9, "zone": 41, "unit": 134, "grid": 364}


@pytest.fixture(scope="module")
def features():
    result = {}
    for level, name in FILES.items():
        data = json.loads((AREAS / name).read_text(encoding="utf-8"))
        result[level] = data["features"]
    return result


@pytest.fixture(scope="module")
def geoms(features):
    return {
        f["properties"]["code"]: shape(f["geometry"])
        for level in FILES
        for f in features[level]
    }


def test_counts(features):
    assert {level: len(fs) for level, fs in features.items()} == EXPECTED


def test_codes_extend_parent_codes(features):
    codes = set()
    for level, fs in features.items():
        for f in fs:
            p = f["properties"]
            assert p["level"] == level
            assert len(p["code"]) == CODE_LEN[level] and p["code"].isdigit()
            if level != "district":
                assert p["code"].startswith(p["parent_code"])
            assert p["code"] not in codes
            codes.add(p["code"])


def test_csv_matches_geojson(features):
    with (AREAS / "areas.csv").open(encoding="utf-8") as fh:
        rows = {r["code"]: r for r in csv.DictReader(fh)}
    assert len(rows) == sum(EXPECTED.values())
    for level, fs in features.items():
        for f in fs:
            row = rows[f["properties"]["code"]]
            assert row["level"] == level and row["name"] == f["properties"]["name"]
            assert (row["parent_code"] or None) == f["properties"]["parent_code"]


def test_names_unique_per_level_and_chinese(features):
    for level, fs in features.items():
        names = [f["properties"]["name"] for f in fs]
        assert len(names) == len(set(names)), level
        suffix = {"district": "区", "street": "街道", "zone": "片区", "unit": "社区", "grid": "网格"}
        assert all(n.endswith(suffix[level]) for n in names)


def test_polygons_valid_simple(geoms):
    for code, g in geoms.items():
        assert g.geom_type == "Polygon", code
        assert g.is_valid, code
        assert not g.interiors, code
        assert g.area > 0


def test_plausible_place_and_size(geoms):
    district = geoms["330199"]
    minx, miny, maxx, maxy = district.bounds
    assert 119.9 < minx < maxx < 120.3 and 30.1 < miny < maxy < 30.3
    # degrees -> km around 30.2N
    width_km = (maxx - minx) * 111.32 * 0.8643
    height_km = (maxy - miny) * 111.32
    assert 9 < width_km < 12 and 7 < height_km < 10


@pytest.mark.parametrize("level", ["district", "street", "zone", "unit"])
def test_children_tile_parent_exactly(features, geoms, level):
    children = defaultdict(list)
    for f in features[CHILD[level]]:
        children[f["properties"]["parent_code"]].append(f["properties"]["code"])
    for f in features[level]:
        code = f["properties"]["code"]
        parent = geoms[code]
        kids = [geoms[c] for c in children[code]]
        assert kids, code
        tol = parent.area * 1e-9
        # areas add up
        assert abs(sum(k.area for k in kids) - parent.area) < tol, code
        # union is the parent
        union = shapely.union_all(kids)
        assert union.symmetric_difference(parent).area < tol, code
        # every child lies inside the parent
        for k in kids:
            assert k.difference(parent).area < tol


@pytest.mark.parametrize("level", ["street", "zone", "unit", "grid"])
def test_no_overlaps_within_level(features, geoms, level):
    items = [geoms[f["properties"]["code"]] for f in features[level]]
    tree = STRtree(items)
    left, right = tree.query(items, predicate="intersects")
    for a, b in zip(left, right, strict=True):
        if a < b:
            assert items[a].intersection(items[b]).area < 1e-14, (a, b)
    # and the level as a whole covers the district without gaps
    district = geoms["330199"]
    union = shapely.union_all(items)
    assert union.symmetric_difference(district).area < district.area * 1e-9


def test_generator_is_deterministic(tmp_path):
    import importlib.util

    tool = Path(__file__).resolve().parents[3] / "tools" / "generate_demo_district.py"
    spec = importlib.util.spec_from_file_location("generate_demo_district", tool)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--out", str(tmp_path)])
    for name in [*FILES.values(), "areas.csv"]:
        assert (tmp_path / name).read_bytes() == (AREAS / name).read_bytes(), name
