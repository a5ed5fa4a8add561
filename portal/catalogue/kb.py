"""Read the catalogue part of ``knowledge_base/`` into plain records.

Pure Python (YAML, CSV, GeoJSON in; dataclasses out): the database loader, the tests and the
benchmarks all start here. Everything is validated while reading, and all problems are reported
together in one :class:`KnowledgeBaseError`, so an editor fixing the YAML sees the whole list.

Catalogue macros (``knowledge_base/catalogue/README.md``) are expanded here:

* area ``@streets`` → one duty per street; ``@estates`` → one per unit with a property company;
* agency ``@street_office`` / ``@squadron`` → the street office / 城管中队 of the duty's street;
  ``@property`` → the property company of the duty's unit.

Every expanded duty gets a stable ``key`` (``<entry key>#<role>@<area code>``) by which the
loader recognises it on the next run.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from portal.catalogue.resolution import LEVEL_DEPTH, LEVELS, ROLES, SOURCE_KINDS
from portal.knowledge import read_yaml
from portal.regulations.citations import render_citations

DEFAULT_KB_DIR = Path(__file__).resolve().parents[2] / "knowledge_base"

SCHEMES: dict[str, str] = {
    "gbt30428": "CJ/T 214-2007 / GB/T 30428.2-2013 四位码",
    "gb47678": "GB/T 47678.5-2026 五位码",
}
KINDS: tuple[str, ...] = ("component", "event")
AGENCY_KINDS: tuple[str, ...] = (
    "government",
    "street_office",
    "utility",
    "property_company",
    "enterprise",
)
AREA_FILES: dict[str, str] = {
    "district": "district.geojson",
    "street": "streets.geojson",
    "zone": "zones.geojson",
    "unit": "units.geojson",
    "grid": "grids.geojson",
}


class KnowledgeBaseError(ValueError):
    """The knowledge base is inconsistent; ``problems`` lists every finding."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        head = "; ".join(problems[:5])
        more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{len(problems)} problem(s) in the knowledge base: {head}{more}")


# --------------------------------------------------------------------------- records


@dataclasses.dataclass(frozen=True, slots=True)
class ItemTypeRecord:
    scheme: str
    kind: str
    code: str
    major_code: str
    major_name: str
    name: str
    aliases: tuple[str, ...] = ()
    urgent_hours: int | None = None
    normal_working_days: int | None = None
    name_variants: str = ""
    dept_hint: str = ""
    related_code: str = ""  # events: the component of the same scheme they concern
    provenance: str = ""

    @property
    def key(self) -> str:
        return item_key(self.scheme, self.kind, self.code)


@dataclasses.dataclass(frozen=True, slots=True)
class CrosswalkRecord:
    from_scheme: str
    from_code: str
    to_scheme: str
    to_code: str
    kind: str


@dataclasses.dataclass(frozen=True, slots=True)
class AreaRecord:
    code: str
    level: str
    name: str
    parent_code: str | None
    geometry: Mapping[str, Any] | None = None
    area_km2: float | None = None

    @property
    def depth(self) -> int:
        return LEVEL_DEPTH[self.level]


@dataclasses.dataclass(frozen=True, slots=True)
class AgencyRecord:
    code: str
    name: str
    kind: str
    short_name: str = ""
    parent_code: str | None = None
    area_code: str | None = None
    supervision_phone: str = ""
    phone_is_demo: bool = True
    tags: tuple[str, ...] = ()
    unit_codes: tuple[str, ...] = ()
    note: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class DutyRecord:
    key: str
    scheme: str
    kind: str
    item_code: str
    area_code: str
    role: str
    agency_code: str
    citations: tuple[str, ...] = ()
    note: str = ""
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    source_kind: str = "regulation"
    source_ref: str = ""
    urgent_hours: int | None = None
    normal_working_days: int | None = None
    origin: str = ""  # file name, for messages

    @property
    def item_key(self) -> str:
        return item_key(self.scheme, self.kind, self.code)

    @property
    def code(self) -> str:
        return self.item_code


@dataclasses.dataclass(frozen=True, slots=True)
class ResponsibilityRecord:
    name: str
    text: str
    citations: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class PowerRecord:
    code: str
    name: str
    category: str
    holder_code: str
    citations: tuple[str, ...]
    item_keys: tuple[str, ...]
    responsibilities: tuple[ResponsibilityRecord, ...]
    accountability: str
    accountability_citations: tuple[str, ...] = ()
    penalty: str = ""


@dataclasses.dataclass(slots=True)
class KnowledgeBase:
    item_types: list[ItemTypeRecord]
    crosswalk: list[CrosswalkRecord]
    areas: list[AreaRecord]
    agencies: list[AgencyRecord]
    duties: list[DutyRecord]
    powers: list[PowerRecord]
    root: Path

    def item_type(self, key: str) -> ItemTypeRecord:
        return self._item_index()[key]

    def _item_index(self) -> dict[str, ItemTypeRecord]:
        return {it.key: it for it in self.item_types}


POWER_CATEGORIES: tuple[str, ...] = ("行政处罚", "行政强制", "行政检查", "行政许可", "其他")


def item_key(scheme: str, kind: str, code: str) -> str:
    """Canonical item-type reference: ``gbt30428:component:0101``."""
    return f"{scheme}:{kind}:{code}"


def parse_item_ref(ref: str, *, scheme: str | None = None, kind: str = "component") -> str:
    """Accept ``0101``, ``gbt30428:0101``, ``gb47678:event:06001``; return the canonical key."""
    parts = str(ref).split(":")
    if len(parts) == 1:
        if scheme is None:
            raise ValueError(f"item {ref!r} needs a scheme")
        return item_key(scheme, kind, parts[0])
    if len(parts) == 2:
        return item_key(parts[0], kind, parts[1])
    if len(parts) == 3:
        return item_key(*parts)
    raise ValueError(f"bad item reference {ref!r}")


# --------------------------------------------------------------------------- readers


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def _yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return read_yaml(fh)


def _date(value: Any, problems: list[str], where: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        problems.append(f"{where}: bad date {value!r}")
        return None


def read_item_types(root: Path, problems: list[str]) -> list[ItemTypeRecord]:
    folder = root / "classification"
    handling = _yaml(folder / "handling.yaml") or {}
    defaults = handling.get("defaults") or {}
    overrides = handling.get("items") or {}
    manhole = tuple(handling.get("manhole_aliases") or ())

    def curated(scheme: str, kind: str, code: str, major: str, name: str) -> dict[str, Any]:
        base = (defaults.get(scheme) or {}).get(kind) or {}
        limits = {**(base.get("*") or {}), **(base.get(major) or {})}
        scheme_items = overrides.get(scheme) or {}
        if scheme == "gbt30428":
            item = scheme_items.get(code) or {}
        else:
            item = (scheme_items.get(kind) or {}).get(code) or {}
        aliases = list(item.get("aliases") or ())
        if kind == "component" and name.endswith("井盖"):
            aliases += [a for a in manhole if a not in aliases]
        aliases = [a for a in dict.fromkeys(aliases) if a != name]
        return {
            "aliases": tuple(aliases),
            "urgent_hours": item.get("urgent_hours", limits.get("urgent_hours")),
            "normal_working_days": item.get("normal_working_days", limits.get("normal_working_days")),
        }

    records: list[ItemTypeRecord] = []
    for row in _csv(folder / "gbt30428_components.csv"):
        records.append(ItemTypeRecord(
            scheme="gbt30428", kind="component", code=row["code"], major_code=row["major_code"],
            major_name=row["major_name"], name=row["name"], name_variants=row["name_variants"],
            provenance=row["code_basis"],
            **curated("gbt30428", "component", row["code"], row["major_code"], row["name"]),
        ))
    for row in _csv(folder / "gb47678_components.csv"):
        records.append(ItemTypeRecord(
            scheme="gb47678", kind="component", code=row["code"], major_code=row["major_code"],
            major_name=row["major_name"], name=row["name"], dept_hint=row["dept_hint"],
            provenance="GB/T 47678.5-2026 表A.1（第三方转录）",
            **curated("gb47678", "component", row["code"], row["major_code"], row["name"]),
        ))
    for row in _csv(folder / "gb47678_events.csv"):
        records.append(ItemTypeRecord(
            scheme="gb47678", kind="event", code=row["code"], major_code=row["major_code"],
            major_name=row["major_name"], name=row["name"], dept_hint=row["dept_hint"],
            related_code=row["related_component_code"],
            provenance="GB/T 47678.5-2026 表C.1（第三方转录）",
            **curated("gb47678", "event", row["code"], row["major_code"], row["name"]),
        ))
    keys = [r.key for r in records]
    if len(keys) != len(set(keys)):
        problems.append("classification: duplicate item-type codes")
    known = set(keys)
    for scheme, items in overrides.items():
        if scheme == "gbt30428":
            refs = [item_key(scheme, "component", c) for c in items]
        else:
            refs = [item_key(scheme, kind, c) for kind, codes in items.items() for c in codes]
        for ref in refs:
            if ref not in known:
                problems.append(f"handling.yaml: unknown item type {ref}")
    for r in records:
        if r.urgent_hours is None or r.normal_working_days is None:
            problems.append(f"handling.yaml: no time limits for {r.key}")
    return records


def read_crosswalk(root: Path) -> list[CrosswalkRecord]:
    return [
        CrosswalkRecord(r["from_scheme"], r["from_code"], r["to_scheme"], r["to_code"], r["kind"])
        for r in _csv(root / "classification" / "crosswalk.csv")
    ]


def read_areas(root: Path, problems: list[str], *, geometry: bool = True) -> list[AreaRecord]:
    folder = root / "areas"
    geometries: dict[str, Mapping[str, Any]] = {}
    if geometry:
        for name in AREA_FILES.values():
            data = json.loads((folder / name).read_text(encoding="utf-8"))
            for feature in data["features"]:
                geometries[feature["properties"]["code"]] = feature["geometry"]
    records = []
    for row in _csv(folder / "areas.csv"):
        if row["level"] not in LEVELS:
            problems.append(f"areas.csv: bad level {row['level']!r} for {row['code']}")
            continue
        records.append(AreaRecord(
            code=row["code"], level=row["level"], name=row["name"],
            parent_code=row["parent_code"] or None,
            geometry=geometries.get(row["code"]) if geometry else None,
            area_km2=float(row["area_km2"]) if row.get("area_km2") else None,
        ))
    codes = {a.code for a in records}
    by_code = {a.code: a for a in records}
    for a in records:
        if a.parent_code and a.parent_code not in codes:
            problems.append(f"areas.csv: parent {a.parent_code} of {a.code} missing")
        elif a.parent_code and by_code[a.parent_code].depth != a.depth - 1:
            problems.append(f"areas.csv: {a.code} skips a level")
        if geometry and a.geometry is None:
            problems.append(f"areas: no polygon for {a.code}")
    return records


def read_agencies(root: Path, problems: list[str], area_codes: set[str]) -> list[AgencyRecord]:
    data = _yaml(root / "agencies.yaml") or {}
    demo = bool(data.get("phone_is_demo", True))
    records = []
    for raw in data.get("agencies") or ():
        where = f"agencies.yaml {raw.get('code')}"
        kind = raw.get("kind")
        if kind not in AGENCY_KINDS:
            problems.append(f"{where}: bad kind {kind!r}")
        records.append(AgencyRecord(
            code=str(raw["code"]), name=str(raw["name"]), kind=str(kind),
            short_name=str(raw.get("short_name") or ""),
            parent_code=raw.get("parent") or None,
            area_code=str(raw["area"]) if raw.get("area") else None,
            supervision_phone=str(raw.get("supervision_phone") or ""),
            phone_is_demo=demo,
            tags=tuple(raw.get("tags") or ()),
            unit_codes=tuple(str(u) for u in raw.get("units") or ()),
            note=str(raw.get("note") or ""),
        ))
    codes = [a.code for a in records]
    if len(codes) != len(set(codes)):
        problems.append("agencies.yaml: duplicate agency codes")
    known = set(codes)
    for a in records:
        if a.parent_code and a.parent_code not in known:
            problems.append(f"agencies.yaml {a.code}: unknown parent {a.parent_code}")
        if a.area_code and area_codes and a.area_code not in area_codes:
            problems.append(f"agencies.yaml {a.code}: unknown area {a.area_code}")
        for unit in a.unit_codes:
            if area_codes and unit not in area_codes:
                problems.append(f"agencies.yaml {a.code}: unknown unit {unit}")
    return records


def _citations(raw: Any, problems: list[str], where: str) -> tuple[str, ...]:
    rendered, unreadable = render_citations(raw)
    problems.extend(f"{where}: cannot read citation {text!r}" for text in unreadable)
    return tuple(rendered)


class _Macros:
    """Expansion of the catalogue's @-selectors."""

    def __init__(self, areas: list[AreaRecord], agencies: list[AgencyRecord]) -> None:
        self.areas = {a.code: a for a in areas}
        self.streets = sorted(a.code for a in areas if a.level == "street")
        self.street_office = {
            a.area_code: a.code for a in agencies if a.kind == "street_office" and a.area_code
        }
        self.squadron = {
            a.area_code: a.code for a in agencies if "squadron" in a.tags and a.area_code
        }
        self.property = {u: a.code for a in agencies if a.kind == "property_company" for u in a.unit_codes}
        self.estates = sorted(self.property)

    def areas_for(self, spec: Any) -> list[str]:
        if isinstance(spec, (list, tuple)):
            return [code for item in spec for code in self.areas_for(item)]
        spec = str(spec)
        if spec == "@streets":
            return list(self.streets)
        if spec == "@estates":
            return list(self.estates)
        if spec.startswith("@"):
            raise ValueError(f"unknown area selector {spec}")
        return [spec]

    def street_of(self, area_code: str) -> str | None:
        area = self.areas.get(area_code)
        while area is not None and area.level not in ("street", "district"):
            area = self.areas.get(area.parent_code or "")
        return area.code if area is not None and area.level == "street" else None

    def agency_for(self, spec: str, area_code: str) -> str:
        if spec == "@street_office":
            found = self.street_office.get(self.street_of(area_code) or "")
        elif spec == "@squadron":
            found = self.squadron.get(self.street_of(area_code) or "")
        elif spec == "@property":
            found = self.property.get(area_code)
        elif spec.startswith("@"):
            raise ValueError(f"unknown agency selector {spec}")
        else:
            return spec
        if found is None:
            raise ValueError(f"{spec} has no agency for area {area_code}")
        return found


def read_duties(
    root: Path,
    problems: list[str],
    *,
    areas: list[AreaRecord],
    agencies: list[AgencyRecord],
    item_keys: set[str],
) -> list[DutyRecord]:
    macros = _Macros(areas, agencies)
    agency_codes = {a.code for a in agencies}
    records: list[DutyRecord] = []
    for path in sorted((root / "catalogue" / "duties").glob("*.yaml")):
        data = _yaml(path) or {}
        scheme = data.get("scheme")
        kind = data.get("kind", "component")
        defaults = data.get("defaults") or {}
        expanded = []
        for entry in data.get("entries") or ():
            # `items: [a, b, …]` is shorthand for one entry per item with the same roles
            if "items" in entry and "item" not in entry:
                for item in entry["items"]:
                    expanded.append({**{k: v for k, v in entry.items() if k != "items"}, "item": item})
            else:
                expanded.append(entry)
        for index, entry in enumerate(expanded, start=1):
            where = f"{path.name} entry {index} ({entry.get('item')})"
            try:
                key_of_item = parse_item_ref(entry["item"], scheme=entry.get("scheme", scheme),
                                             kind=entry.get("kind", kind))
            except (KeyError, ValueError) as exc:
                problems.append(f"{where}: {exc}")
                continue
            if key_of_item not in item_keys:
                problems.append(f"{where}: unknown item type {key_of_item}")
                continue
            item_scheme, item_kind, item_code = key_of_item.split(":")
            area_spec = entry.get("area", defaults.get("area"))
            try:
                area_codes = macros.areas_for(area_spec)
            except ValueError as exc:
                problems.append(f"{where}: {exc}")
                continue
            source = entry.get("source", defaults.get("source")) or {"kind": "regulation"}
            source_kind = source.get("kind", "regulation")
            if source_kind not in SOURCE_KINDS:
                problems.append(f"{where}: bad source kind {source_kind!r}")
            valid_from = _date(entry.get("valid_from", defaults.get("valid_from")), problems, where)
            valid_to = _date(entry.get("valid_to", defaults.get("valid_to")), problems, where)
            if valid_from and valid_to and valid_to < valid_from:
                problems.append(f"{where}: valid_to before valid_from")
            limits = entry.get("time_limit") or {}
            area_label = "+".join(area_spec) if isinstance(area_spec, list) else str(area_spec)
            entry_key = entry.get("key") or f"{key_of_item}@{area_label}"
            roles = [r for r in ROLES if r in entry]
            unknown = set(entry) - set(ROLES) - {
                "item", "area", "key", "source", "valid_from", "valid_to", "time_limit",
                "scheme", "kind", "note",
            }
            if unknown:
                problems.append(f"{where}: unknown fields {sorted(unknown)}")
            if not roles:
                problems.append(f"{where}: no role given")
            for role in roles:
                spec = entry[role]
                if isinstance(spec, str):
                    spec = {"agency": spec}
                citations = _citations(spec.get("basis"), problems, f"{where} {role}")
                for area_code in area_codes:
                    if area_code not in macros.areas:
                        problems.append(f"{where}: unknown area {area_code}")
                        continue
                    try:
                        agency = macros.agency_for(str(spec.get("agency")), area_code)
                    except ValueError as exc:
                        problems.append(f"{where} {role}: {exc}")
                        continue
                    if agency not in agency_codes:
                        problems.append(f"{where} {role}: unknown agency {agency}")
                        continue
                    records.append(DutyRecord(
                        key=f"{entry_key}#{role}@{area_code}",
                        scheme=item_scheme, kind=item_kind, item_code=item_code,
                        area_code=area_code, role=role, agency_code=agency,
                        citations=citations, note=str(spec.get("note") or entry.get("note") or ""),
                        valid_from=valid_from, valid_to=valid_to,
                        source_kind=source_kind, source_ref=str(source.get("ref") or ""),
                        urgent_hours=limits.get("urgent_hours"),
                        normal_working_days=limits.get("normal_working_days"),
                        origin=path.name,
                    ))
    keys = [d.key for d in records]
    duplicates = sorted({k for k in keys if keys.count(k) > 1}) if len(keys) != len(set(keys)) else []
    for k in duplicates:
        problems.append(f"catalogue: duplicate duty key {k} (give the entries distinct `key`s)")
    return records


def read_powers(
    root: Path, problems: list[str], *, agency_codes: set[str], item_keys: set[str]
) -> list[PowerRecord]:
    path = root / "catalogue" / "powers.yaml"
    if not path.exists():
        return []
    data = _yaml(path) or {}
    records = []
    for raw in data.get("powers") or ():
        where = f"powers.yaml {raw.get('code')}"
        if raw.get("category") not in POWER_CATEGORIES:
            problems.append(f"{where}: bad category {raw.get('category')!r}")
        if raw.get("holder") not in agency_codes:
            problems.append(f"{where}: unknown holder {raw.get('holder')!r}")
        keys = []
        for ref in raw.get("item_types") or ():
            try:
                key = parse_item_ref(ref)
            except ValueError as exc:
                problems.append(f"{where}: {exc}")
                continue
            if key not in item_keys:
                problems.append(f"{where}: unknown item type {key}")
            keys.append(key)
        accountability = raw.get("accountability") or {}
        records.append(PowerRecord(
            code=str(raw["code"]), name=str(raw["name"]), category=str(raw.get("category")),
            holder_code=str(raw.get("holder")),
            citations=_citations(raw.get("basis"), problems, where),
            item_keys=tuple(keys),
            responsibilities=tuple(
                ResponsibilityRecord(
                    name=str(r["name"]), text=str(r.get("text") or ""),
                    citations=_citations(r.get("basis"), problems, f"{where} {r.get('name')}"),
                )
                for r in raw.get("responsibilities") or ()
            ),
            accountability=str(accountability.get("text") or "").strip(),
            accountability_citations=_citations(accountability.get("basis"), problems, where),
            penalty=str(raw.get("penalty") or "").strip(),
        ))
        if raw.get("category") == "行政处罚" and not raw.get("penalty"):
            problems.append(f"{where}: an administrative penalty needs its `penalty` range")
    codes = [p.code for p in records]
    if len(codes) != len(set(codes)):
        problems.append("powers.yaml: duplicate power codes")
    return records


def read_knowledge_base(root: str | Path | None = None, *, geometry: bool = True) -> KnowledgeBase:
    """Read and validate the whole catalogue part of the knowledge base."""
    root = Path(root) if root is not None else DEFAULT_KB_DIR
    problems: list[str] = []
    item_types = read_item_types(root, problems)
    crosswalk = read_crosswalk(root)
    keys = {it.key for it in item_types}
    for cw in crosswalk:
        if item_key(cw.from_scheme, "component", cw.from_code) not in keys:
            problems.append(f"crosswalk: unknown source {cw.from_code}")
        if cw.to_code and item_key(cw.to_scheme, "component", cw.to_code) not in keys:
            problems.append(f"crosswalk: unknown target {cw.to_code}")
    areas = read_areas(root, problems, geometry=geometry)
    agencies = read_agencies(root, problems, {a.code for a in areas})
    duties = read_duties(root, problems, areas=areas, agencies=agencies, item_keys=keys)
    powers = read_powers(root, problems, agency_codes={a.code for a in agencies}, item_keys=keys)
    if problems:
        raise KnowledgeBaseError(problems)
    return KnowledgeBase(item_types, crosswalk, areas, agencies, duties, powers, root)


def iter_citations(kb: KnowledgeBase) -> Iterable[tuple[str, str]]:
    """Every (where, citation) pair of the catalogue, for legal-basis checks."""
    for d in kb.duties:
        for c in d.citations:
            yield d.key, c
    for p in kb.powers:
        for c in p.citations + p.accountability_citations:
            yield p.code, c
        for r in p.responsibilities:
            for c in r.citations:
                yield f"{p.code} {r.name}", c
