"""Bulk case ingestion: ``portal import-cases FILE`` and the demo data.

Rows are read from CSV or JSON Lines, validated with the API's own schema
(:class:`~portal.cases.schemas.CaseRecord`), planned with the API's own function
(:func:`~portal.cases.planning.plan_case`) and stored a batch at a time with multi-row inserts.

- **Never a half row**: a row is stored whole (case, reporter, every step, feedback) or not at all;
  a row with any problem is reported with its line number and nothing of it is stored.
- **Resumable**: each batch commits on its own, and a row whose external id is already stored is
  skipped (or, if it carries steps the stored case lacks, only those are added). Re-running an
  interrupted import therefore picks up where it stopped and never duplicates.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import Boolean, func, insert, select, text
from sqlalchemy.orm import Session

from portal.cases.models import Case, CaseEvent, CaseReporter, Feedback
from portal.cases.places import Places
from portal.cases.planning import CasePlan, plan_case
from portal.cases.schemas import CaseRecord, fast_load
from portal.cases.services import CaseService
from portal.catalogue.calendar import WorkingCalendar
from portal.errors import PortalError

# CSV columns for the steps of a case, in life-cycle order: (column, kind, agency column).
CSV_STEPS: tuple[tuple[str, str, str | None], ...] = (
    ("bounced_at", "bounce", "bounce_agency"),
    ("dispatched_at", "dispatch", "agency"),
    ("supervised_at", "supervise", None),
    ("handled_at", "handle", "agency"),
    ("verified_at", "verify", None),
    ("closed_at", "close", None),
    ("cancelled_at", "cancel", None),
    ("rejected_at", "reject", None),
)
CSV_COLUMNS = (
    "external_id", "channel", "item_type", "description", "reported_at", "urgency", "lat", "lon", "grid_code",
    "address", "reporter_name", "reporter_phone", "reporter_email", "reporter_id_number", "tracking_code",
    "agency", "dispatched_at", "supervised_at", "handled_at", "verified_at", "closed_at", "cancelled_at",
    "rejected_at", "bounced_at", "bounce_agency", "bounce_reason", "feedback_rating", "feedback_comment", "feedback_at", "events",
)
REPORTER_FIELDS = ("name", "phone", "email", "id_number", "account_id")


@dataclasses.dataclass
class RowError:
    line: int
    external_id: str | None
    message: str

    def __str__(self) -> str:
        return f"第 {self.line} 行" + (f"（{self.external_id}）" if self.external_id else "") + f"：{self.message}"


@dataclasses.dataclass
class ImportStats:
    read: int = 0
    created: int = 0
    skipped: int = 0
    updated: int = 0
    errors: list[RowError] = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        return (f"读取 {self.read} 行：新增 {self.created}，已存在跳过 {self.skipped}，补充环节 {self.updated}，"
                f"错误 {len(self.errors)}")


# ----------------------------------------------------------------------------- reading


def normalise_record(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Flat ``reporter_*`` fields become the nested ``reporter``; blanks are dropped."""
    record = {k: v for k, v in raw.items() if not k.startswith("reporter_")}
    flat = {f: raw.get(f"reporter_{f}") for f in REPORTER_FIELDS if raw.get(f"reporter_{f}")}
    if flat and not record.get("reporter"):
        record["reporter"] = flat
    return record


def row_to_record(row: Mapping[str, str]) -> dict[str, Any]:
    """A CSV row as an ingestion record (steps from the ``*_at`` columns or a JSON ``events``)."""
    row = {k.strip(): (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k}
    record: dict[str, Any] = {k: row[k] for k in ("external_id", "channel", "item_type", "description",
                                                  "reported_at", "urgency", "lat", "lon", "grid_code", "address",
                                                  "tracking_code") if row.get(k)}
    for field in REPORTER_FIELDS:
        if row.get(f"reporter_{field}"):
            record.setdefault("reporter", {})[field] = row[f"reporter_{field}"]
    if row.get("events"):
        try:
            record["events"] = json.loads(row["events"])
        except ValueError:
            record["events"] = "无效的 JSON"
    else:
        steps = []
        for column, kind, agency_column in CSV_STEPS:
            if row.get(column):
                step: dict[str, Any] = {"kind": kind, "at": row[column]}
                if agency_column and row.get(agency_column):
                    step["agency"] = row[agency_column]
                if kind == "bounce":
                    step["reason"] = row.get("bounce_reason") or None
                steps.append(step)
        record["events"] = steps
    if row.get("feedback_rating"):
        record["feedback"] = {"rating": row["feedback_rating"], "comment": row.get("feedback_comment", ""),
                              **({"at": row["feedback_at"]} if row.get("feedback_at") else {})}
    return record


def read_rows(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, record) for every data line of a CSV or JSON Lines file; a line that is not
    even readable comes back as its error message."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            for row in reader:
                yield reader.line_num, row_to_record(row)
        return
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                data = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                yield number, f"不是有效的 JSON：{exc}"
                continue
            yield number, normalise_record(data) if isinstance(data, dict) else "每行必须是一个 JSON 对象"


def count_lines(path: str | Path) -> int:
    with open(path, "rb") as handle:
        lines = sum(1 for line in handle if line.strip())
    return lines - 1 if Path(path).suffix.lower() == ".csv" else lines


def _first_message(messages: Any) -> str:
    if isinstance(messages, dict):
        return "；".join(f"{key}: {_first_message(value)}" for key, value in messages.items())
    if isinstance(messages, list):
        return "；".join(_first_message(m) for m in messages[:2])
    return str(messages)


# ----------------------------------------------------------------------------- storing


def allocate_case_ids(session: Session, count: int) -> list[int]:
    """``count`` fresh case ids (the caller holds the write lock on SQLite)."""
    if count <= 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return list(session.scalars(
            text("SELECT nextval(pg_get_serial_sequence('cases', 'id')) FROM generate_series(1, :n)"), {"n": count}))
    start = (session.scalar(select(func.max(Case.id))) or 0) + 1
    return list(range(start, start + count))


def store_plans(session: Session, plans: list[CasePlan]) -> list[int]:
    """Insert whole plans with one multi-row statement per table; returns the case ids."""
    if not plans:
        return []
    ids = allocate_case_ids(session, len(plans))
    from portal.db import utcnow

    now = utcnow()
    cases: list[dict[str, Any]] = []
    reporters: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    feedback: list[dict[str, Any]] = []
    for case_id, plan in zip(ids, plans, strict=True):
        cases.append({**plan.case, "id": case_id, "created_at": now})
        if plan.reporter:
            reporters.append({**plan.reporter, "case_id": case_id})
        events.extend({**event, "case_id": case_id} for event in plan.events)
        if plan.feedback:
            feedback.append({**plan.feedback, "case_id": case_id})
    sqlite = session.get_bind().dialect.name == "sqlite"
    for table, rows in ((Case.__table__, cases), (CaseReporter.__table__, reporters), (CaseEvent.__table__, events),
                        (Feedback.__table__, feedback)):
        if not rows:
            continue
        if sqlite:
            _sqlite_insert(session, table, rows)
        else:
            session.execute(insert(table), rows)
    return ids


def _utc_text(value: Any) -> Any:
    if value is None:
        return None
    u = value - value.utcoffset()
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d} {u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond:06d}"


def _bool_int(value: Any) -> Any:
    return None if value is None else int(bool(value))


_BUILDERS: dict[tuple[str, tuple[str, ...]], tuple[str, Callable[[dict[str, Any]], tuple[Any, ...]]]] = {}


def _row_builder(table: Any, sample: dict[str, Any]) -> tuple[str, Callable[[dict[str, Any]], tuple[Any, ...]]]:
    """The INSERT statement and a generated row → tuple function binding values as SQLAlchemy
    would on SQLite (UTC text for aware datetimes, 0/1 for booleans, scalar defaults)."""
    from portal.db import AwareDateTime

    cache_key = (table.name, tuple(sample))
    built = _BUILDERS.get(cache_key)
    if built is not None:
        return built
    columns = [c for c in table.columns if c.key in sample or (c.default is not None and c.default.is_scalar)]
    defaults = [c.default.arg if c.default is not None and c.default.is_scalar else None for c in columns]
    parts = []
    for index, column in enumerate(columns):
        expr = f"row.get({column.key!r}, defaults[{index}])"
        if isinstance(column.type, AwareDateTime):
            expr = f"utc({expr})"
        elif isinstance(column.type, Boolean):
            expr = f"as_int({expr})"
        parts.append(expr)
    # Generated once per table: a Python loop over every value of a million rows costs seconds.
    function = eval("lambda row: (" + ", ".join(parts) + ",)",  # eval: built from column names only
                    {"defaults": defaults, "utc": _utc_text, "as_int": _bool_int})
    sql = (f"INSERT INTO {table.name} ({', '.join(c.name for c in columns)}) "
           f"VALUES ({', '.join('?' for _ in columns)})")
    _BUILDERS[cache_key] = (sql, function)
    return sql, function


def _sqlite_insert(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """One executemany straight on the driver: SQLAlchemy's per-row bind processing costs more
    than SQLite's own work on a million rows."""
    sql, build = _row_builder(table, rows[0])
    values = [build(row) for row in rows]
    session.connection().exec_driver_sql(sql, values)


class BulkImporter:
    """Validates, plans and stores records a batch at a time."""

    def __init__(self, places: Places, *, source: str = "import", calendar: WorkingCalendar | None = None,
                 tracking: Callable[[Mapping[str, Any]], str | None] | None = None, actor: str = "import") -> None:
        self.places = places
        self.source = source
        self.calendar = calendar or WorkingCalendar.default()
        self.schema = CaseRecord()
        self.tracking = tracking
        self.actor = actor

    def import_batch(self, session: Session, rows: Iterable[tuple[int, Mapping[str, Any] | str]],
                     stats: ImportStats) -> None:
        """Store one batch in ``session`` (the caller commits)."""
        valid: list[tuple[int, dict[str, Any]]] = []
        for line, raw in rows:
            stats.read += 1
            if isinstance(raw, str):
                stats.errors.append(RowError(line, None, raw))
                continue
            try:
                valid.append((line, fast_load(raw) or self.schema.load(raw)))
            except ValidationError as exc:
                stats.errors.append(RowError(line, raw.get("external_id") if isinstance(raw, Mapping) else None,
                                             _first_message(exc.messages)))
        if not valid:
            return
        wanted = [record["external_id"] for _, record in valid]
        present = {external_id: count for external_id, count in session.execute(  # noqa: C416 - dict(Result) reads it as a mapping (it has keys())
            select(Case.external_id, Case.event_count).where(Case.external_id.in_(wanted)))}
        plans: list[CasePlan] = []
        later: list[tuple[int, dict[str, Any]]] = []
        seen: set[str] = set()
        for line, record in valid:
            external_id = record["external_id"]
            if external_id in present and present[external_id] >= len(record.get("events") or ()) + 1:
                # Stored with at least as many steps: a plain replay, nothing to do.
                stats.skipped += 1
                continue
            if external_id in present or external_id in seen:
                later.append((line, record))
                continue
            try:
                code = self.tracking(record) if self.tracking else None
                plans.append(plan_case(record, self.places, self.calendar, session, source=self.source,
                                       actor=self.actor, tracking_code=code))
                seen.add(external_id)
            except PortalError as exc:
                stats.errors.append(RowError(line, external_id, exc.message))
        store_plans(session, plans)
        stats.created += len(plans)
        if later:
            service = CaseService(session, self.places, calendar=self.calendar, actor=self.actor)
            for line, record in later:
                try:
                    with session.begin_nested():
                        result = service.ingest(record, source=self.source)
                except PortalError as exc:
                    stats.errors.append(RowError(line, record["external_id"], exc.message))
                    continue
                if result.events_added:
                    stats.updated += 1
                else:
                    stats.skipped += 1


def batched(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def write_csv(records: Iterable[Mapping[str, Any]]) -> str:
    """Records as CSV in the import format (steps as a JSON ``events`` column)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for record in records:
        row = {k: v for k, v in record.items() if k not in {"events", "reporter", "feedback"}}
        for field in REPORTER_FIELDS:
            if (record.get("reporter") or {}).get(field):
                row[f"reporter_{field}"] = record["reporter"][field]
        row["events"] = json.dumps(record.get("events") or [], ensure_ascii=False)
        if record.get("feedback"):
            row.update(feedback_rating=record["feedback"]["rating"], feedback_comment=record["feedback"].get("comment", ""),
                       feedback_at=record["feedback"].get("at", ""))
        writer.writerow(row)
    return out.getvalue()



# ----------------------------------------------------------------------------- parallel (SQLite)
#
# On SQLite one writer inserts while worker processes read, validate and plan the next batches:
# planning is pure CPU, inserting is SQLite's own work, and the two overlap. Workers see committed
# data only, so the writer re-checks external ids right before inserting; anything a worker could
# not settle (a replay with new steps, a duplicate in flight) is redone by the writer on the slow,
# ORM path from the original line.

_WORKER: dict[str, Any] = {}


@dataclasses.dataclass
class PreparedBatch:
    read: int
    errors: list[RowError]
    skipped: int
    # (line, external id, case row, reporter row, event rows, feedback row); id / case_id first
    items: list[tuple[int, str, tuple[Any, ...], tuple[Any, ...] | None, list[tuple[Any, ...]], tuple[Any, ...] | None]]
    redo: list[int]  # lines the writer must settle itself
    sql: dict[str, str]


def _decode(raw: Any) -> dict[str, Any] | str:
    if isinstance(raw, bytes):
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            return f"不是有效的 JSON：{exc}"
        return normalise_record(data) if isinstance(data, dict) else "每行必须是一个 JSON 对象"
    return raw


def _validate(schema: CaseRecord, line: int, raw: Any, errors: list[RowError]) -> dict[str, Any] | None:
    if isinstance(raw, str):
        errors.append(RowError(line, None, raw))
        return None
    try:
        return fast_load(raw) or schema.load(raw)
    except ValidationError as exc:
        errors.append(RowError(line, raw.get("external_id") if isinstance(raw, Mapping) else None,
                               _first_message(exc.messages)))
        return None


def _worker_init(url: str, source: str, now: Any) -> None:
    from portal.db import get_engine

    engine = get_engine({"sqlalchemy.url": url})
    session = Session(bind=engine)
    _WORKER.update(session=session, places=Places.of(session), source=source, schema=CaseRecord(),
                   calendar=WorkingCalendar.default(), now=now)


def _build(table: Any, row: dict[str, Any], sql: dict[str, str]) -> tuple[Any, ...]:
    statement, build = _row_builder(table, row)
    sql[table.name] = statement
    return build(row)


def _worker_prepare(batch: list[tuple[int, Any]]) -> PreparedBatch:
    session, places, schema = _WORKER["session"], _WORKER["places"], _WORKER["schema"]
    errors: list[RowError] = []
    valid = []
    for line, raw in batch:
        record = _validate(schema, line, _decode(raw), errors)
        if record is not None:
            valid.append((line, record))
    present = {external_id: count for external_id, count in session.execute(  # noqa: C416 - as above
        select(Case.external_id, Case.event_count).where(Case.external_id.in_([r["external_id"] for _, r in valid])))}
    session.rollback()  # end the read transaction: the next batch must see newer commits
    prepared = PreparedBatch(len(batch), errors, 0, [], [], {})
    seen: set[str] = set()
    for line, record in valid:
        external_id = record["external_id"]
        if external_id in present and present[external_id] >= len(record["events"]) + 1:
            prepared.skipped += 1
            continue
        if external_id in present or external_id in seen:
            prepared.redo.append(line)
            continue
        try:
            plan = plan_case(record, places, _WORKER["calendar"], session, source=_WORKER["source"], actor="import")
        except PortalError as exc:
            errors.append(RowError(line, external_id, exc.message))
            continue
        seen.add(external_id)
        sql = prepared.sql
        prepared.items.append((
            line, external_id,
            _build(Case.__table__, {**plan.case, "id": 0, "created_at": _WORKER["now"]}, sql),
            _build(CaseReporter.__table__, {**plan.reporter, "case_id": 0}, sql) if plan.reporter else None,
            [_build(CaseEvent.__table__, {**event, "case_id": 0}, sql) for event in plan.events],
            _build(Feedback.__table__, {**plan.feedback, "case_id": 0}, sql) if plan.feedback else None,
        ))
    return prepared


def _insert_prepared(session: Session, prepared: PreparedBatch, items: list[Any]) -> None:
    if not items:
        return
    ids = allocate_case_ids(session, len(items))
    cases: list[tuple[Any, ...]] = []
    reporters: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    feedback: list[tuple[Any, ...]] = []
    for case_id, (_line, _external_id, case_row, reporter, case_events, fb) in zip(ids, items, strict=True):
        cases.append((case_id, *case_row[1:]))
        if reporter is not None:
            reporters.append((case_id, *reporter[1:]))
        events.extend((case_id, *event[1:]) for event in case_events)
        if fb is not None:
            feedback.append((case_id, *fb[1:]))
    connection = session.connection()
    for table, values in ((Case.__table__, cases), (CaseReporter.__table__, reporters),
                          (CaseEvent.__table__, events), (Feedback.__table__, feedback)):
        if values:
            connection.exec_driver_sql(prepared.sql[table.name], values)


def parallel_import(url: str, rows: Iterable[tuple[int, Any]], session_scope: Callable[[], Any], places: Places,
                    stats: ImportStats, *, workers: int = 2, batch_size: int = 2000, source: str = "import",
                    progress: Callable[[int], None] | None = None) -> None:
    """Import ``rows`` (line, raw JSON bytes or CSV record) into the SQLite database at ``url``."""
    import collections
    import multiprocessing

    from portal.db import utcnow

    schema = CaseRecord()
    pending: collections.deque[list[tuple[int, Any]]] = collections.deque()

    def batches() -> Iterator[list[tuple[int, Any]]]:
        for batch in batched(rows, batch_size):
            pending.append(batch)  # consumed in the same order: imap answers in order
            yield batch

    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_worker_init, initargs=(url, source, utcnow())) as pool:
        for prepared in pool.imap(_worker_prepare, batches(), chunksize=1):
            raw_batch = dict(pending.popleft())
            stats.read += prepared.read
            stats.skipped += prepared.skipped
            stats.errors.extend(prepared.errors)
            with session_scope() as session:
                items = prepared.items
                if items:
                    stored = set(session.scalars(select(Case.external_id).where(
                        Case.external_id.in_([i[1] for i in items]))))
                    prepared.redo.extend(i[0] for i in items if i[1] in stored)
                    items = [i for i in items if i[1] not in stored]
                _insert_prepared(session, prepared, items)
                stats.created += len(items)
                if prepared.redo:
                    service = CaseService(session, places, actor="import")
                    for line in sorted(prepared.redo):
                        record = _validate(schema, line, _decode(raw_batch[line]), stats.errors)
                        if record is None:
                            continue
                        try:
                            with session.begin_nested():
                                result = service.ingest(record, source=source)
                        except PortalError as exc:
                            stats.errors.append(RowError(line, record["external_id"], exc.message))
                            continue
                        if result.created:
                            stats.created += 1
                        elif result.events_added:
                            stats.updated += 1
                        else:
                            stats.skipped += 1
            if progress:
                progress(prepared.read)
    stats.errors.sort(key=lambda error: error.line)


def read_raw_rows(path: str | Path) -> Iterator[tuple[int, Any]]:
    """Like :func:`read_rows`, but JSON lines stay undecoded bytes (the workers decode them)."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        yield from read_rows(path)
        return
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                yield number, raw
