#!/usr/bin/env python3
"""Refresh the portal's copy of the classification code tables from the shared corpus.

Reads ``../shared/corpus/classification/{components.csv, components_gb47678_5_2026.csv,
events.csv}`` and writes, under ``knowledge_base/classification/``:

* ``gbt30428_components.csv``   four-digit components (CJ/T 214-2007 / GB/T 30428.2-2013 lineage)
* ``gb47678_components.csv``    five-digit components of GB/T 47678.5-2026
* ``gb47678_events.csv``        five-digit management matters (events) of GB/T 47678.5-2026
* ``crosswalk.csv``             four-digit component -> five-digit component(s), one row per target

Only facts of the standards (codes, names, classes) and their provenance are copied. The portal's
own curation (aliases, handling time limits) lives in ``handling.yaml`` and is never touched here.
The output is deterministic (sorted, LF line endings), so a re-run on unchanged input produces no
diff.

Usage: python tools/import_classification.py [--corpus DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "classification"
DEFAULT_OUT = ROOT / "knowledge_base" / "classification"

FOUR = "gbt30428"
FIVE = "gb47678"


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, header, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in header})


def _targets(raw: str) -> tuple[list[str], bool]:
    """Split ``01030/01031`` or ``03006 (approx.)`` into codes and an approximate flag."""
    approximate = "approx" in raw
    return re.findall(r"\d{5}", raw), approximate


def build(corpus: Path, out: Path) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    four = _read(corpus / "components.csv")
    five = _read(corpus / "components_gb47678_5_2026.csv")
    events = _read(corpus / "events.csv")

    _write(
        out / "gbt30428_components.csv",
        ["code", "major_code", "major_name", "name", "name_variants", "major_name_in_s2", "code_basis"],
        [
            {**r, "major_name_in_s2": r["major_name_in_S2"]}
            for r in sorted(four, key=lambda r: r["code"])
        ],
    )
    _write(
        out / "gb47678_components.csv",
        ["code", "major_code", "major_name", "name", "dept_hint"],
        sorted(five, key=lambda r: r["code"]),
    )
    _write(
        out / "gb47678_events.csv",
        ["code", "major_code", "major_name", "name", "dept_hint", "related_component_code"],
        sorted(events, key=lambda r: r["code"]),
    )

    five_names = {r["code"]: r["name"] for r in five}
    crosswalk = []
    for r in sorted(four, key=lambda r: r["code"]):
        codes, approximate = _targets(r["gb47678_5_2026_code"])
        kind = r["crosswalk"]
        if kind.startswith("no counterpart"):
            kind = "none"
        elif kind == "split/approximate":
            kind = "split" if len(codes) > 1 else "approximate"
        if approximate and kind == "exact":  # defensive: the flag wins over the column
            kind = "approximate"
        if not codes:
            crosswalk.append(
                {"from_scheme": FOUR, "from_code": r["code"], "from_name": r["name"],
                 "to_scheme": FIVE, "to_code": "", "to_name": "", "kind": kind}
            )
        for code in codes:
            if code not in five_names:
                raise SystemExit(f"crosswalk target {code} of {r['code']} not in the five-digit table")
            crosswalk.append(
                {"from_scheme": FOUR, "from_code": r["code"], "from_name": r["name"],
                 "to_scheme": FIVE, "to_code": code, "to_name": five_names[code], "kind": kind}
            )
    _write(
        out / "crosswalk.csv",
        ["from_scheme", "from_code", "from_name", "to_scheme", "to_code", "to_name", "kind"],
        crosswalk,
    )
    return {
        "gbt30428_components": len(four),
        "gb47678_components": len(five),
        "gb47678_events": len(events),
        "crosswalk": len(crosswalk),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"corpus not found: {args.corpus}", file=sys.stderr)
        return 2
    for name, count in build(args.corpus, args.out).items():
        print(f"{name}: {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
