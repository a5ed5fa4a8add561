"""Demo cases from the catalogue: the world the generator needs, and the ``make run`` loader."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from portal import clock
from portal.cases import demo
from portal.cases.importer import BulkImporter, ImportStats, batched, normalise_record
from portal.cases.models import Case
from portal.cases.places import Places
from portal.cases.services import nondisclosable_ids
from portal.cases.tracking import demo_tracking_code

DEFAULT_DEMO_CASES = 20_000
DEFAULT_DEMO_SEED = 20260701
BATCH = 2_000


def demo_world(places: Places, session: Session, settings: dict[str, Any] | None = None,
               seed: int = DEFAULT_DEMO_SEED, on: dt.date | None = None) -> demo.DemoWorld:
    """Item types that have duties (and may be disclosed), grids weighted by density, handling."""
    snapshot = places.snapshot
    hidden = nondisclosable_ids(places, settings)
    offered = [snapshot.items[i] for i in sorted(snapshot.items_with_duties) if i not in hidden]
    items = [demo.DemoItem(places.service_code(i), i.name, i.kind, i.major_code) for i in offered]
    shapes = places.load_shapes(session)
    grids = []
    for shape in sorted(shapes.values(), key=lambda s: s.code):
        # Small grids are the dense downtown ones: more people, more reports per grid.
        lon_span = max(x for x, _ in shape.rings[0]) - min(x for x, _ in shape.rings[0])
        lat_span = max(y for _, y in shape.rings[0]) - min(y for _, y in shape.rings[0])
        size = max(lon_span * lat_span, 1e-8)
        grids.append(demo.DemoGrid(shape.code, shape.centroid[0], shape.centroid[1], 1.0 / math.sqrt(size * 1e4)))
    by_code = {places.service_code(i): i for i in offered}
    grid_ids = {s.code: s.area_id for s in shapes.values()}
    at = dt.datetime.combine(on or clock.today(), dt.time(12), clock.zone())
    agency_codes = {a.id: a.code for a in snapshot.agencies.values()}

    def responsible(item_code: str, grid_code: str) -> demo.Responsibility | None:
        item = by_code[item_code]
        normal = places.handling(item.id, grid_ids[grid_code], at, "normal")
        if normal.agency_id is None:
            return None
        urgent = places.handling(item.id, grid_ids[grid_code], at, "urgent", normal.agency_id)
        return demo.Responsibility(agency_codes[normal.agency_id], normal.limit, urgent.limit)

    # Ownership is muddled where the catalogue needed a ruling or an agreement, and for "other" types.
    ambiguous = set()
    for (item_id, _area), duties in snapshot.duties.items():
        if any(d.source_kind in ("ruling", "agreement") for d in duties) and item_id not in hidden:
            ambiguous.add(places.service_code(snapshot.items[item_id]))
    ambiguous.update(sorted(c for c, i in by_code.items() if "其他" in i.name)[:3])
    handling_agencies = sorted({agency_codes[d.agency_id] for ds in snapshot.duties.values() for d in ds
                                if d.role in ("maintainer", "owner")})
    return demo.DemoWorld(items=items, grids=grids, responsible=responsible, agencies=handling_agencies,
                          ambiguous_items=frozenset(ambiguous & set(by_code)),
                          hotspot_grids=demo.pick_hotspots(grids, seed))


def load_demo_cases(session_scope: Callable[[], Any], places_of: Callable[[Session], Places], count: int, seed: int,
                    *, end: dt.date | None = None, settings: dict[str, Any] | None = None,
                    progress: Callable[[int], None] | None = None) -> ImportStats:
    """Generate and store ``count`` demo cases, one transaction per batch."""
    stats = ImportStats()
    with session_scope() as session:
        places = places_of(session)
        world = demo_world(places, session, settings, seed, end)
    secret = f"demo-{seed}"
    importer = BulkImporter(places, source="demo", actor="demo-data",
                            tracking=lambda record: demo_tracking_code(secret, record["external_id"]))
    records = ((n, normalise_record(r)) for n, r in enumerate(demo.generate(world, count, seed, end=end), start=1))
    for batch in batched(records, BATCH):
        with session_scope() as session:
            importer.import_batch(session, batch, stats)
        if progress:
            progress(len(batch))
    return stats


def demo_cases_loader(context: Any) -> str:
    """``make run``: a modest set of demo cases, only when there are no cases at all."""
    session = context.session
    if session.scalar(select(exists().where(Case.id.is_not(None)))):
        return "已有案件，跳过演示数据"
    count = int(context.settings.get("cases.demo_count", DEFAULT_DEMO_CASES))
    if count <= 0:
        return "cases.demo_count = 0，跳过"
    seed = int(context.settings.get("cases.demo_seed", DEFAULT_DEMO_SEED))
    places = Places.of(session, context.registry)
    world = demo_world(places, session, context.settings, seed)
    secret = f"demo-{seed}"
    importer = BulkImporter(places, source="demo", actor="demo-data",
                            tracking=lambda record: demo_tracking_code(secret, record["external_id"]))
    stats = ImportStats()
    records = ((n, normalise_record(r)) for n, r in enumerate(demo.generate(world, count, seed), start=1))
    for batch in batched(records, BATCH):
        importer.import_batch(session, batch, stats)
    samples = "、".join(sample_tracking_codes(session, seed, 2)) or "无"
    return f"演示案件 {stats.created} 件（种子 {seed}；可评价的示例查询码 {samples}）" + (
        f"，{len(stats.errors)} 行出错：{stats.errors[0]}" if stats.errors else "")


def sample_tracking_codes(session: Session, seed: int, count: int = 3) -> list[str]:
    """Tracking codes of recent closed, unrated demo cases: what a demo of /track needs."""
    from portal.cases.models import Feedback

    rated = select(Feedback.case_id)
    external_ids = session.scalars(
        select(Case.external_id).where(Case.source == "demo", Case.external_id.like(f"DEMO-{seed}-%"),
                                       Case.status == "closed", Case.id.not_in(rated))
        .order_by(Case.id.desc()).limit(count))
    return [demo_tracking_code(f"demo-{seed}", external_id) for external_id in external_ids if external_id is not None]
