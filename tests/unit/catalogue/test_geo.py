import json
from pathlib import Path

import pytest
from shapely.geometry import Point, Polygon

from portal.catalogue.geo import GridLocator

GRIDS = Path(__file__).resolve().parents[3] / "knowledge_base" / "areas" / "grids.geojson"


def square(x, y, size=1.0):
    return Polygon([(x, y), (x + size, y), (x + size, y + size), (x, y + size)])


@pytest.fixture
def two_by_two():
    # codes deliberately not in positional order
    return GridLocator(["d", "a", "c", "b"], [square(0, 0), square(1, 0), square(0, 1), square(1, 1)])


def test_inside(two_by_two):
    assert two_by_two.locate(lat=0.5, lon=0.5) == "d"
    assert two_by_two.locate(lat=0.5, lon=1.5) == "a"
    assert two_by_two.locate(lat=1.5, lon=0.5) == "c"
    assert two_by_two.locate(lat=1.5, lon=1.5) == "b"


def test_outside(two_by_two):
    assert two_by_two.locate(lat=5, lon=5) is None
    assert two_by_two.locate(lat=-0.0001, lon=0.5) is None


def test_shared_edge_resolves_to_smallest_code(two_by_two):
    assert two_by_two.locate(lat=0.5, lon=1.0) == "a"  # between d and a
    assert two_by_two.locate(lat=1.0, lon=0.5) == "c"  # between d and c


def test_shared_corner_resolves_to_smallest_code(two_by_two):
    assert two_by_two.locate(lat=1.0, lon=1.0) == "a"


def test_border_answer_independent_of_load_order():
    polys = [square(0, 0), square(1, 0)]
    one = GridLocator(["x", "y"], polys)
    other = GridLocator(["y", "x"], list(reversed(polys)))
    assert one.locate(0.5, 1.0) == other.locate(0.5, 1.0) == "x"


def test_outer_boundary_belongs_to_its_grid(two_by_two):
    assert two_by_two.locate(lat=0.0, lon=0.5) == "d"


@pytest.mark.parametrize("lat,lon", [(91, 0), (0, 181), (float("nan"), 0), ("x", 1), (None, 1)])
def test_rejects_bad_coordinates(two_by_two, lat, lon):
    with pytest.raises(ValueError):
        two_by_two.locate(lat, lon)


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        GridLocator(["a", "a"], [square(0, 0), square(1, 0)])
    with pytest.raises(ValueError):
        GridLocator(["a"], [square(0, 0), square(1, 0)])


def test_demo_district_every_grid_finds_itself():
    data = json.loads(GRIDS.read_text(encoding="utf-8"))
    locator = GridLocator.from_features(data["features"])
    assert len(locator) == 364
    for feature in data["features"]:
        code = feature["properties"]["code"]
        p = locator.geometry(code).representative_point()
        assert locator.locate(lat=p.y, lon=p.x) == code
    _minx, _miny, maxx, maxy = locator.bounds
    assert locator.locate(lat=maxy + 0.01, lon=maxx + 0.01) is None


def test_demo_district_vertices_resolve_to_smallest_covering_grid():
    data = json.loads(GRIDS.read_text(encoding="utf-8"))
    locator = GridLocator.from_features(data["features"])
    for feature in data["features"][::40]:
        for lon, lat in feature["geometry"]["coordinates"][0][:8]:
            point = Point(lon, lat)
            covering = sorted(c for c in locator.codes if locator.geometry(c).covers(point))
            assert feature["properties"]["code"] in covering
            assert locator.locate(lat=lat, lon=lon) == covering[0]
