"""Places named in a complaint: streets, zones and communities of the area tree, and the roads,
squares, parks, waters, bridges and estates of ``knowledge_base/dispatch/gazetteer.yaml``."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

from portal.knowledge import read_yaml
from portal.search import analysis

FEATURE_LABELS = {"road": "道路", "square": "广场", "park": "公园", "water": "水域", "bridge": "桥梁",
                  "estate": "小区"}
# When a text names several places, the most specific wins (then the first mentioned): a
# community says more than the road through it, a road more than the street office's area.
_SPECIFICITY = {"grid": 0, "unit": 1, "feature": 2, "zone": 3, "street": 4, "district": 5}


@dataclasses.dataclass(frozen=True)
class NamedPlace:
    name: str  # as it appears in texts
    area_code: str
    kind: str  # an area level (street, zone, unit, grid) or "feature"
    feature_kind: str = ""  # road, square, … for gazetteer features


@dataclasses.dataclass(frozen=True)
class PlaceMention:
    place: NamedPlace
    start: int
    end: int


class PlaceFinder:
    def __init__(self, areas: Iterable[tuple[str, str, str]], gazetteer: dict[str, tuple[str, str]] | None = None) -> None:
        """``areas``: (code, name, level); ``gazetteer``: name -> (feature kind, area code)."""
        self.places: dict[str, NamedPlace] = {}
        known = set()
        for code, name, level in areas:
            known.add(code)
            if level != "district":
                self.places[analysis.normalize(name)] = NamedPlace(name, code, level)
        for name, (kind, code) in (gazetteer or {}).items():
            key = analysis.normalize(name)
            if code in known and key not in self.places:
                self.places[key] = NamedPlace(name, code, "feature", kind)
        self._max_len = max((len(k) for k in self.places), default=0)

    @staticmethod
    def read_gazetteer(path: str | Path | None) -> dict[str, tuple[str, str]]:
        if path is None or not Path(path).exists():
            return {}
        data = read_yaml(path) or {}
        return {str(name): (str(spec[0]), str(spec[1])) for name, spec in (data.get("features") or {}).items()}

    def mentions(self, text: str) -> list[PlaceMention]:
        """Every place named in the (normalised) text, longest match first, left to right."""
        found = []
        position = 0
        n = len(text)
        while position < n:
            for length in range(min(self._max_len, n - position), 1, -1):
                place = self.places.get(text[position:position + length])
                if place is not None:
                    found.append(PlaceMention(place, position, position + length))
                    position += length
                    break
            else:
                position += 1
        return found

    def best(self, mentions: list[PlaceMention]) -> PlaceMention | None:
        if not mentions:
            return None
        return min(mentions, key=lambda m: (_SPECIFICITY.get(m.place.kind, 9), m.start))

    @staticmethod
    def masked(text: str, mentions: Iterable[PlaceMention]) -> str:
        """The text with place names blanked out, so that 石桥路 is not read as a bridge."""
        chars = list(text)
        for mention in mentions:
            for i in range(mention.start, mention.end):
                chars[i] = "，"
        return "".join(chars)
