"""``portal eval-dispatch``: top-1, top-3, MRR@5 and place accuracy over a judged complaint file.

The file format and the scoring are those of ``../shared/eval/README.md`` (dispatch part):
UTF-8 TSV ``id, text, place, gold, note``; gold is 1–3 codes, the best first.

- top-1: the first suggestion is one of the gold codes;
- top-3: the first gold code is among the first three suggestions;
- MRR@5: reciprocal rank of the first gold code within five suggestions (0 beyond);
- place accuracy, over rows whose ``place`` is a street (街道) or community (社区) of the demo
  district: the area suggested from the text is that area or lies inside it. Rows naming a road,
  square or estate count too when the gazetteer knows the name (reported separately).
"""

from __future__ import annotations

import csv
import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any


@dataclasses.dataclass(frozen=True)
class JudgedComplaint:
    id: str
    text: str
    place: str
    gold: tuple[str, ...]
    note: str = ""


@dataclasses.dataclass(frozen=True)
class Prediction:
    codes: Sequence[str]
    # names of the suggested area and all its ancestors (empty when no place was found)
    place_names: Sequence[str] = ()
    # the words of the text the place was found from ("" when none)
    place_matched: str = ""


def read_judged(path: str | Path) -> list[JudgedComplaint]:
    rows = []
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = {"id", "text", "gold"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing columns {sorted(missing)}")
        for line, row in enumerate(reader, start=2):
            gold = tuple(c.strip() for c in (row.get("gold") or "").split(";") if c.strip())
            if not gold or not (row.get("text") or "").strip():
                raise ValueError(f"{path}:{line}: empty text or gold")
            rows.append(JudgedComplaint(row["id"], row["text"].strip(), (row.get("place") or "").strip(), gold,
                                        (row.get("note") or "").strip()))
    return rows


def _place_kind(place: str, known_areas: set[str]) -> str:
    if place and place in known_areas and (place.endswith(("街道", "社区"))):
        return "area"
    return "other" if place else "none"


def evaluate(rows: Iterable[JudgedComplaint], predict: Callable[[str], Prediction],
             known_areas: set[str]) -> dict[str, Any]:
    """Run ``predict`` on every row; overall figures, per gold class (first two digits of the
    first gold code) and the misses."""
    totals: dict[str, list[float]] = defaultdict(list)
    per_class: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    place_hits: dict[str, list[float]] = defaultdict(list)
    misses = []
    for row in rows:
        prediction = predict(row.text)
        codes = list(prediction.codes)[:5]
        first = row.gold[0]
        top1 = float(bool(codes) and codes[0] in row.gold)
        top3 = float(first in codes[:3])
        mrr = 1.0 / (codes.index(first) + 1) if first in codes else 0.0
        for name, value in (("top1", top1), ("top3", top3), ("mrr5", mrr)):
            totals[name].append(value)
            per_class[first[:2]][name].append(value)
        kind = _place_kind(row.place, known_areas)
        if kind == "area":
            place_hits["area"].append(float(row.place in prediction.place_names))
        elif kind == "other":
            place_hits["named"].append(float(bool(prediction.place_matched) and prediction.place_matched in row.place))
        if not top1:
            misses.append({"id": row.id, "gold": ";".join(row.gold), "got": codes, "text": row.text})

    def mean(values: list[float]) -> float:
        return round(sum(values) / len(values), 3) if values else 0.0

    return {
        "n": len(totals["top1"]),
        "top1": mean(totals["top1"]), "top3": mean(totals["top3"]), "mrr5": mean(totals["mrr5"]),
        "place_accuracy": mean(place_hits["area"]), "place_rows": len(place_hits["area"]),
        "named_place_accuracy": mean(place_hits["named"]), "named_place_rows": len(place_hits["named"]),
        "per_class": {cls: {"n": len(v["top1"]), "top1": mean(v["top1"]), "top3": mean(v["top3"]),
                            "mrr5": mean(v["mrr5"])} for cls, v in sorted(per_class.items())},
        "misses": misses,
    }
