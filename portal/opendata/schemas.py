"""Boundary schemas of the open-data surfaces and the shared ``updated_since`` parameter."""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import fields

from portal import clock
from portal.validation import QuerySchema


class UpdatedSince(fields.Field):
    """A date (the start of that day in the portal's zone) or an ISO 8601 date-time (without an
    offset: the portal's zone). Returns an aware datetime."""

    default_error_messages = {"invalid": "请使用 ISO 8601 日期或时间，如 2026-11-01 或 2026-11-01T08:00:00+08:00。"}  # noqa: RUF012

    def __init__(self, **kwargs: Any) -> None:
        # The OpenAPI document states both forms wherever the field is used (apispec copies anyOf).
        forms = [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]
        super().__init__(**{**kwargs, "metadata": {"anyOf": forms, **kwargs.get("metadata", {})}})

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dt.datetime:
        text = str(value or "").strip()
        if "T" in text:
            text = text.replace(" ", "+")  # an unencoded "+08:00" in a query string arrives as " 08:00"
        try:
            if len(text) == 10:
                return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), clock.zone())
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise self.make_error("invalid") from exc
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=clock.zone())


class ExportQuery(QuerySchema):
    bom = fields.Boolean(load_default=False, metadata={"description": "CSV 开头加 UTF-8 BOM（Excel 直接打开不乱码）"})
    updated_since = UpdatedSince(load_default=None, metadata={
        "description": "只导出此后有变化的行（ISO 8601 日期或时间）；权责条目同时给出撤回、被取代的墓碑记录"})

