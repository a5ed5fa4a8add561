"""Boundary schemas of the case domain: ingestion records, events, public queries and pages.

The same :class:`CaseRecord` validates ``POST /api/v1/cases`` bodies and every row of
``portal import-cases`` (CSV rows are first reshaped by :func:`portal.cases.importer.row_to_record`),
so the API and the importer cannot disagree on what a valid case is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate, validates_schema

from portal.cases.lifecycle import BOUNCE_REASONS, EventKind, Status
from portal.cases.measures import MEASURES
from portal.cases.models import CHANNELS, RATINGS, URGENCIES
from portal.opendata.schemas import UpdatedSince
from portal.validation import BodySchema, QuerySchema, blank_to_none

INGEST_CHANNELS = list(CHANNELS)


#: No case of a city's records happened before 1900 or will after 2100.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2100


class W3CDateTime(fields.AwareDateTime):
    """An ISO 8601 / W3C datetime that must carry its offset (parsed by the C library: imports
    read hundreds of thousands of them)."""

    def _deserialize(self, value, attr, data, **kwargs):  # type: ignore[no-untyped-def]
        if isinstance(value, str):
            try:
                parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
            except ValueError:
                raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from None
            if parsed.tzinfo is None:
                raise self.make_error("invalid_awareness", awareness=self.AWARENESS, obj_type=self.OBJ_TYPE)
        else:
            parsed = super()._deserialize(value, attr, data, **kwargs)
        if not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
            # 0001-01-01T00:00:00+14:00 overflows as soon as it is converted to UTC.
            raise ValidationError(f"日期须在 {EARLIEST_YEAR} 年至 {LATEST_YEAR} 年之间。")
        return parsed


MAX_EVENTS = 50


class Reporter(BodySchema):
    name = fields.String(load_default="", validate=validate.Length(max=100))
    phone = fields.String(load_default="", validate=validate.Length(max=40))
    email = fields.String(load_default="", validate=validate.Length(max=200))
    id_number = fields.String(load_default="", validate=validate.Length(max=32))
    account_id = fields.String(load_default="", validate=validate.Length(max=100))


class EventRecord(BodySchema):
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in EventKind if k is not EventKind.REPORT]),
                         metadata={"description": "环节：dispatch 派遣、handle 处置、verify 核查、supervise 督办、close 结案、bounce 退单、reopen 重新办理、cancel 撤销、reject 不予立案、postpone 缓办/延期（须带批准的新时限 deadline）"})
    at = W3CDateTime(required=True, metadata={"description": "带时区的 W3C 日期时间，如 2026-12-01T08:30:00+08:00"})
    agency = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32),
                           metadata={"description": "单位编码（派遣时为接收单位；缺省按权责清单确定）"})
    reason = fields.String(load_default=None, allow_none=True,
                           metadata={"description": "退单原因：" + "、".join(BOUNCE_REASONS)})
    note = fields.String(load_default="", validate=validate.Length(max=2000))
    external_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64),
                                metadata={"description": "来源系统中该环节的编号（据此识别重复提交）"})
    deadline = W3CDateTime(load_default=None, allow_none=True,
                           metadata={"description": "postpone（缓办/延期）：批准的新处置时限"})

    @pre_load
    def _blanks(self, data: dict, **_: object) -> dict:
        return blank_to_none(data, ("agency", "reason", "external_id", "deadline"))


class FeedbackRecord(BodySchema):
    rating = fields.String(required=True, validate=validate.OneOf(list(RATINGS)))
    comment = fields.String(load_default="", validate=validate.Length(max=1000))
    at = W3CDateTime(load_default=None, allow_none=True)


class CaseRecord(BodySchema):
    """A case as the linkage centre sends it."""

    external_id = fields.String(required=True, validate=validate.Length(min=1, max=64),
                                metadata={"description": "来源系统的案件编号：幂等键，重复提交返回已存案件"})
    channel = fields.String(required=True, validate=validate.OneOf(INGEST_CHANNELS))
    item_type = fields.String(required=True, validate=validate.Length(min=1, max=40),
                              metadata={"description": "部件/事件编码（0101）或键（gb47678:event:01001）"})
    description = fields.String(load_default="", validate=validate.Length(max=4000))
    reported_at = W3CDateTime(required=True)
    urgency = fields.String(load_default="normal", validate=validate.OneOf(list(URGENCIES)))
    lat = fields.Float(load_default=None, allow_none=True, validate=validate.Range(-90, 90))
    lon = fields.Float(load_default=None, allow_none=True, validate=validate.Range(-180, 180))
    grid_code = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))
    address = fields.String(load_default="", validate=validate.Length(max=300))
    reporter = fields.Nested(Reporter, load_default=None, allow_none=True)
    tracking_code = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=8, max=32),
                                  metadata={"description": "已告知上报人的查询码（缺省时由门户生成）"})
    events = fields.List(fields.Nested(EventRecord), load_default=list, validate=validate.Length(max=MAX_EVENTS))
    feedback = fields.Nested(FeedbackRecord, load_default=None, allow_none=True)

    @pre_load
    def _blanks(self, data: dict, **_: object) -> dict:
        return blank_to_none(data, ("lat", "lon", "grid_code", "tracking_code"))

    @validates_schema
    def _place(self, data: dict, **_: object) -> None:
        if (data.get("lat") is None) != (data.get("lon") is None):
            raise ValidationError("lat 与 lon 必须同时提供。", "lat")
        if data.get("lat") is None and not data.get("grid_code"):
            raise ValidationError("必须提供位置：lat/lon 或 grid_code。", "lat")


class EventIn(EventRecord):
    """One step posted to ``/api/v1/cases/{id}/events``."""


class FeedbackRecordIn(FeedbackRecord):
    """A rating the linkage centre collected by calling the reporter back (回访)."""


class FeedbackStored(Schema):
    case_id = fields.Integer()
    created = fields.Boolean()
    rating = fields.String()


class CaseIngested(Schema):
    id = fields.Integer()
    case_number = fields.String()
    external_id = fields.String()
    created = fields.Boolean()
    status = fields.String()
    agency = fields.String(allow_none=True)
    deadline = fields.DateTime(allow_none=True)
    events_added = fields.Integer()
    tracking_code = fields.String(allow_none=True, metadata={"description": "查询码，仅在新建时返回一次"})


class EventIngested(Schema):
    case_id = fields.Integer()
    created = fields.Boolean()
    seq = fields.Integer()
    kind = fields.String()
    at = fields.DateTime()
    status = fields.String()
    deadline = fields.DateTime(allow_none=True)


STATUS_FILTERS = [s.value for s in Status] + ["open", "closed"]
MAX_OFFSET_PAGE = 100
MAX_CURSOR_PAGE = 10_000_000


class CaseQuery(QuerySchema):
    item_type = fields.String(load_default=None, validate=validate.Length(max=40))
    agency = fields.String(load_default=None, validate=validate.Length(max=32))
    street = fields.String(load_default=None, validate=validate.Length(max=20))
    grid = fields.String(load_default=None, validate=validate.Length(max=20))
    status = fields.String(load_default=None, validate=validate.OneOf(STATUS_FILTERS))
    date_from = fields.Date(load_default=None, data_key="from", metadata={"description": "上报日期不早于（YYYY-MM-DD）"})
    date_to = fields.Date(load_default=None, data_key="to", metadata={"description": "上报日期不晚于（YYYY-MM-DD）"})
    # What statistics count (bulletins link every number to the list that counts the same).
    measure = fields.String(load_default=None, validate=validate.OneOf(list(MEASURES)),
                            metadata={"description": "考评通报指标所计的案件集合："
                                                     + ", ".join(MEASURES)})
    due_from = fields.Date(load_default=None, metadata={"description": "处置时限不早于（YYYY-MM-DD）"})
    due_to = fields.Date(load_default=None, metadata={"description": "处置时限不晚于（YYYY-MM-DD）"})
    dispatched_to = fields.String(load_default=None, validate=validate.Length(max=32),
                                  metadata={"description": "单位编码：曾派遣给该单位的案件"})
    bounced_by = fields.String(load_default=None, validate=validate.Length(max=32),
                               metadata={"description": "单位编码：该单位曾退单的案件"})
    page = fields.Integer(load_default=1, validate=validate.Range(1, MAX_CURSOR_PAGE),
                         metadata={"description": f"页码；不带游标时至多 {MAX_OFFSET_PAGE}，带游标时仅作页码显示"})
    page_size = fields.Integer(load_default=50, validate=validate.Range(1, 100))
    cursor = fields.String(load_default=None, validate=validate.Length(max=64),
                           metadata={"description": "下一页的游标（上一次响应的 next_cursor），可翻到任意一页"})
    before = fields.String(load_default=None, validate=validate.Length(max=64),
                           metadata={"description": "上一页的游标（上一次响应的 prev_cursor）；与 cursor 同时给出时以 before 为准；"
                                                    "不能与 updated_since 同时给出（增量同步只向后翻页）"})
    updated_since = UpdatedSince(load_default=None, metadata={
        "description": "增量同步：只返回此后有变化（新环节、补录环节、回访评价）的公开案件，按 id 升序，"
                       "游标为上一页最后一个 id；此后有变化但不公开的案件只以 id 和时间列在 tombstones 中，"
                       "同步方应删除"})

    @validates_schema
    def _paging(self, data: dict, **_: object) -> None:
        # Offsets are only cheap near the top; deeper pages are reached by cursor links.
        if data.get("updated_since") is not None and data.get("before"):
            raise ValidationError("增量同步（updated_since）只能向后翻页，不能与 before 同时给出。", "before")
        if data["page"] > MAX_OFFSET_PAGE and not (data.get("cursor") or data.get("before")):
            raise ValidationError(f"不带游标的页码至多为 {MAX_OFFSET_PAGE}；更后面的案件请沿“下一页”链接翻阅。", "page")


class PublicEventOut(Schema):
    kind = fields.String()
    label = fields.String()
    at = fields.DateTime()
    agency = fields.String(allow_none=True)
    note = fields.String()


class PublicCaseOut(Schema):
    id = fields.Integer()
    case_number = fields.String()
    service_code = fields.String(allow_none=True)
    item_type = fields.Dict()
    channel = fields.String()
    channel_label = fields.String()
    urgency = fields.String()
    urgency_label = fields.String()
    open311_status = fields.String(metadata={"description": "Open311 状态：open 或 closed"})
    description = fields.String(metadata={"description": "问题描述，已去除电话、证件号、车牌等个人信息"})
    status = fields.String()
    status_label = fields.String()
    status_notes = fields.String()
    agency = fields.Dict(allow_none=True)
    street = fields.Dict(allow_none=True)
    grid = fields.Dict(allow_none=True)
    place = fields.String(metadata={"description": "位置：街道与网格，不会更精确"})
    lat = fields.Float(allow_none=True, metadata={"description": "网格中心点，而非上报的原始位置"})
    lon = fields.Float(allow_none=True)
    reported_at = fields.DateTime()
    dispatched_at = fields.DateTime(allow_none=True)
    deadline = fields.DateTime(allow_none=True)
    time_limit = fields.String()
    handled_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    updated_at = fields.DateTime()
    late = fields.Boolean()
    supervised = fields.Boolean()
    bounce_count = fields.Integer()
    rating = fields.String(allow_none=True)
    rating_label = fields.String(allow_none=True)
    feedback_comment = fields.String(allow_none=True, metadata={"description": "评价意见，已去除个人信息"})
    events = fields.List(fields.Nested(PublicEventOut))


class CaseTombstoneSchema(Schema):
    id = fields.Integer(metadata={"description": "案件序号"})
    reason = fields.String(metadata={"description": "not_disclosed：属于不公开的部件/事件类型"})
    updated_at = fields.DateTime(metadata={"description": "案件记录的修改时间"})


class CasePage(Schema):
    items = fields.List(fields.Nested(PublicCaseOut))
    page = fields.Integer()
    page_size = fields.Integer()
    total = fields.Integer(metadata={"description": "符合条件的案件数（计数有上限，见 total_is_lower_bound）"})
    total_is_lower_bound = fields.Boolean()
    next_cursor = fields.String(allow_none=True)
    next = fields.String(allow_none=True, metadata={"description": "下一页的完整链接（无下一页时为 null）"})
    prev_cursor = fields.String(allow_none=True)
    tombstones = fields.List(fields.Nested(CaseTombstoneSchema), metadata={
        "description": "仅 updated_since 时：此后有变化但不公开的案件（同步方应删除）"})


class FeedbackIn(BodySchema):
    class Meta:
        unknown = EXCLUDE

    tracking_code = fields.String(required=True, validate=validate.Length(min=8, max=32))
    rating = fields.String(required=True, validate=validate.OneOf(list(RATINGS)))
    comment = fields.String(load_default="", validate=validate.Length(max=500))


# ----------------------------------------------------------------------------- bulk fast path

_CASE_KEYS = frozenset(CaseRecord().fields) | frozenset(f.data_key for f in CaseRecord().fields.values() if f.data_key)
_EVENT_KINDS = frozenset(k.value for k in EventKind if k is not EventKind.REPORT)
_EVENT_KEYS = frozenset(EventRecord().fields)
_REPORTER_KEYS = frozenset(Reporter().fields)
_URGENCIES = frozenset(URGENCIES)
_CHANNELS = frozenset(INGEST_CHANNELS)


def _aware(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _short_str(value: object, limit: int) -> bool:
    return isinstance(value, str) and len(value) <= limit


def fast_load(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    """The result of ``CaseRecord().load(raw)`` for a plainly valid record, or None.

    Imports read hundreds of thousands of records; marshmallow costs more than everything else a
    row needs. This path accepts only records it can check completely and answers exactly as the
    schema would (a unit test compares the two); anything unusual returns None and goes through
    the schema, which then accepts it or explains what is wrong.
    """
    if not isinstance(raw, dict) or not raw.keys() <= _CASE_KEYS:
        return None
    external_id, channel, item_type = raw.get("external_id"), raw.get("channel"), raw.get("item_type")
    if not (isinstance(external_id, str) and 1 <= len(external_id) <= 64 and channel in _CHANNELS
            and isinstance(item_type, str) and 1 <= len(item_type) <= 40):
        return None
    reported_at = _aware(raw.get("reported_at"))
    if reported_at is None:
        return None
    description = raw.get("description", "")
    address = raw.get("address", "")
    urgency = raw.get("urgency", "normal")
    if not (_short_str(description, 4000) and _short_str(address, 300) and urgency in _URGENCIES):
        return None
    lat, lon, grid_code = raw.get("lat"), raw.get("lon"), raw.get("grid_code")
    for value in (lat, lon):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return None
    if (lat is None) != (lon is None) or (lat is not None and lon is not None
                                          and not (-90 <= lat <= 90 and -180 <= lon <= 180)):
        return None
    if grid_code is not None and not (isinstance(grid_code, str) and 0 < len(grid_code.strip()) <= 20):
        return None
    if lat is None and not grid_code:
        return None
    tracking_code = raw.get("tracking_code")
    if tracking_code is not None and not (isinstance(tracking_code, str) and 8 <= len(tracking_code) <= 32):
        return None
    reporter = raw.get("reporter")
    if reporter is not None:
        if not isinstance(reporter, dict) or not reporter.keys() <= _REPORTER_KEYS:
            return None
        limits = {"name": 100, "phone": 40, "email": 200, "id_number": 32, "account_id": 100}
        if not all(_short_str(reporter.get(k, ""), limits[k]) for k in limits):
            return None
        reporter = {k: reporter.get(k, "") for k in limits}
    events = raw.get("events", [])
    if not isinstance(events, list) or len(events) > MAX_EVENTS:
        return None
    loaded_events = []
    for step in events:
        if not isinstance(step, dict) or not step.keys() <= _EVENT_KEYS or step.get("kind") not in _EVENT_KINDS:
            return None
        at = _aware(step.get("at"))
        agency, reason, note, step_id = step.get("agency"), step.get("reason"), step.get("note", ""), step.get("external_id")
        if at is None or not _short_str(note, 2000):
            return None
        deadline = None
        if step.get("deadline") is not None:
            deadline = _aware(step["deadline"])
            if deadline is None:
                return None
        if any(v is not None and not (isinstance(v, str) and v.strip()) for v in (agency, reason, step_id)):
            return None  # blanks and odd types: let the schema decide
        if (agency is not None and len(agency) > 32) or (step_id is not None and len(step_id) > 64):
            return None
        loaded_events.append({"kind": step["kind"], "at": at, "agency": agency, "reason": reason, "note": note,
                              "external_id": step_id, "deadline": deadline})
    feedback = raw.get("feedback")
    if feedback is not None:
        if (not isinstance(feedback, dict) or not feedback.keys() <= {"rating", "comment", "at"}
                or feedback.get("rating") not in RATINGS or not _short_str(feedback.get("comment", ""), 1000)):
            return None
        feedback_at = None
        if feedback.get("at") is not None:
            feedback_at = _aware(feedback["at"])
            if feedback_at is None:
                return None
        feedback = {"rating": feedback["rating"], "comment": feedback.get("comment", ""), "at": feedback_at}
    return {
        "external_id": external_id, "channel": channel, "item_type": item_type, "description": description,
        "reported_at": reported_at, "urgency": urgency, "lat": float(lat) if lat is not None else None,
        "lon": float(lon) if lon is not None else None, "grid_code": grid_code, "address": address,
        "reporter": reporter, "tracking_code": tracking_code, "events": loaded_events, "feedback": feedback,
    }
