"""Boundary schemas of the case domain: ingestion records, events, public queries and pages.

The same :class:`CaseRecord` validates ``POST /api/v1/cases`` bodies and every row of
``portal import-cases`` (CSV rows are first reshaped by :func:`portal.cases.importer.row_to_record`),
so the API and the importer cannot disagree on what a valid case is.
"""

from __future__ import annotations

import datetime as dt

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, pre_load, validate, validates_schema

from portal.cases.lifecycle import BOUNCE_REASONS, EventKind, Status
from portal.cases.models import CHANNELS, RATINGS, URGENCIES
from portal.validation import BodySchema, QuerySchema

INGEST_CHANNELS = [c for c in CHANNELS]


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
            return parsed
        return super()._deserialize(value, attr, data, **kwargs)
MAX_EVENTS = 50


def _blank_to_none(data: dict, names: tuple[str, ...]) -> dict:
    if isinstance(data, dict):
        data = dict(data)
        for name in names:
            if isinstance(data.get(name), str) and not data[name].strip():
                data[name] = None
    return data


class Reporter(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(load_default="", validate=validate.Length(max=100))
    phone = fields.String(load_default="", validate=validate.Length(max=40))
    email = fields.String(load_default="", validate=validate.Length(max=200))
    id_number = fields.String(load_default="", validate=validate.Length(max=32))
    account_id = fields.String(load_default="", validate=validate.Length(max=100))


class EventRecord(Schema):
    class Meta:
        unknown = RAISE

    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in EventKind if k is not EventKind.REPORT]),
                         metadata={"description": "dispatch, handle, verify, supervise, close, bounce, reopen, cancel"})
    at = W3CDateTime(required=True, metadata={"description": "W3C datetime with offset"})
    agency = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32),
                           metadata={"description": "Agency code (dispatch: the agency sent to; default from the catalogue)"})
    reason = fields.String(load_default=None, allow_none=True,
                           metadata={"description": "Bounce reason: " + ", ".join(BOUNCE_REASONS)})
    note = fields.String(load_default="", validate=validate.Length(max=2000))
    external_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64),
                                metadata={"description": "The source system's id of this step (replays are recognised by it)"})

    @pre_load
    def _blanks(self, data: dict, **_: object) -> dict:
        return _blank_to_none(data, ("agency", "reason", "external_id"))


class FeedbackRecord(Schema):
    class Meta:
        unknown = RAISE

    rating = fields.String(required=True, validate=validate.OneOf(list(RATINGS)))
    comment = fields.String(load_default="", validate=validate.Length(max=1000))
    at = W3CDateTime(load_default=None, allow_none=True)


class CaseRecord(BodySchema):
    """A case as the linkage centre sends it."""

    external_id = fields.String(required=True, validate=validate.Length(min=1, max=64),
                                metadata={"description": "The source system's case id: the idempotency key"})
    channel = fields.String(required=True, validate=validate.OneOf(INGEST_CHANNELS))
    item_type = fields.String(required=True, validate=validate.Length(min=1, max=40),
                              metadata={"description": "Item-type code (0101) or key (gb47678:event:01001)"})
    description = fields.String(load_default="", validate=validate.Length(max=4000))
    reported_at = W3CDateTime(required=True)
    urgency = fields.String(load_default="normal", validate=validate.OneOf(list(URGENCIES)))
    lat = fields.Float(load_default=None, allow_none=True, validate=validate.Range(-90, 90))
    lon = fields.Float(load_default=None, allow_none=True, validate=validate.Range(-180, 180))
    grid_code = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))
    address = fields.String(load_default="", validate=validate.Length(max=300))
    reporter = fields.Nested(Reporter, load_default=None, allow_none=True)
    tracking_code = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=8, max=32),
                                  metadata={"description": "A tracking code already given to the reporter (else one is made)"})
    events = fields.List(fields.Nested(EventRecord), load_default=list, validate=validate.Length(max=MAX_EVENTS))
    feedback = fields.Nested(FeedbackRecord, load_default=None, allow_none=True)

    @pre_load
    def _blanks(self, data: dict, **_: object) -> dict:
        return _blank_to_none(data, ("lat", "lon", "grid_code", "tracking_code"))

    @validates_schema
    def _place(self, data: dict, **_: object) -> None:
        if (data.get("lat") is None) != (data.get("lon") is None):
            raise ValidationError("lat 与 lon 必须同时提供。", "lat")
        if data.get("lat") is None and not data.get("grid_code"):
            raise ValidationError("必须提供位置：lat/lon 或 grid_code。", "lat")


class EventIn(EventRecord, BodySchema):
    """One step posted to ``/api/v1/cases/{id}/events``."""

    class Meta:
        unknown = RAISE


class CaseIngested(Schema):
    id = fields.Integer()
    case_number = fields.String()
    external_id = fields.String()
    created = fields.Boolean()
    status = fields.String()
    agency = fields.String(allow_none=True)
    deadline = fields.DateTime(allow_none=True)
    events_added = fields.Integer()
    tracking_code = fields.String(allow_none=True, metadata={"description": "Shown once, on creation"})


class EventIngested(Schema):
    case_id = fields.Integer()
    created = fields.Boolean()
    seq = fields.Integer()
    kind = fields.String()
    at = fields.DateTime()
    status = fields.String()
    deadline = fields.DateTime(allow_none=True)


STATUS_FILTERS = [s.value for s in Status] + ["open", "closed"]


class CaseQuery(QuerySchema):
    item_type = fields.String(load_default=None, validate=validate.Length(max=40))
    agency = fields.String(load_default=None, validate=validate.Length(max=32))
    street = fields.String(load_default=None, validate=validate.Length(max=20))
    grid = fields.String(load_default=None, validate=validate.Length(max=20))
    status = fields.String(load_default=None, validate=validate.OneOf(STATUS_FILTERS))
    date_from = fields.Date(load_default=None, data_key="from", metadata={"description": "Reported on or after (YYYY-MM-DD)"})
    date_to = fields.Date(load_default=None, data_key="to", metadata={"description": "Reported on or before (YYYY-MM-DD)"})
    page = fields.Integer(load_default=1, validate=validate.Range(1, 100))
    page_size = fields.Integer(load_default=50, validate=validate.Range(1, 100))
    cursor = fields.String(load_default=None, validate=validate.Length(max=64),
                           metadata={"description": "Keyset cursor from next_cursor (beyond page 100)"})

    @pre_load
    def _blanks(self, data: dict, **_: object) -> dict:
        data = dict(data)
        for key in list(data):
            if data[key] == "":
                del data[key]
        return data


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
    description = fields.String(metadata={"description": "Scrubbed of phone, ID and plate numbers"})
    status = fields.String()
    status_label = fields.String()
    status_notes = fields.String()
    agency = fields.Dict(allow_none=True)
    street = fields.Dict(allow_none=True)
    grid = fields.Dict(allow_none=True)
    place = fields.String(metadata={"description": "Street and grid: never closer"})
    lat = fields.Float(allow_none=True, metadata={"description": "The grid's centre, not the report's point"})
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
    events = fields.List(fields.Nested(PublicEventOut))


class CasePage(Schema):
    items = fields.List(fields.Nested(PublicCaseOut))
    page = fields.Integer()
    page_size = fields.Integer()
    total = fields.Integer(metadata={"description": "Matching cases, counted up to total_limit"})
    total_is_lower_bound = fields.Boolean()
    next_cursor = fields.String(allow_none=True)


class FeedbackIn(BodySchema):
    class Meta:
        unknown = EXCLUDE

    tracking_code = fields.String(required=True, validate=validate.Length(min=8, max=32))
    rating = fields.String(required=True, validate=validate.OneOf(list(RATINGS)))
    comment = fields.String(load_default="", validate=validate.Length(max=500))
