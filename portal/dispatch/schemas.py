"""Boundary schemas of the dispatch assistant."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from portal.cases.models import CHANNELS, URGENCIES
from portal.dispatch.services import MAX_TEXT
from portal.validation import BodySchema, QuerySchema, blank_to_none

_AREA = validate.Regexp(r"^\d{6,20}$", error="区域编码应为 6–20 位数字。")
_CODE = validate.Regexp(r"^(gb47678:(event|component):)?\d{5}$", error="须为五位编码（如 06034）。")


class _Place(Schema):
    lat = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-90, max=90), allow_nan=False,
                       metadata={"description": "纬度 (WGS 84)"})
    lon = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-180, max=180), allow_nan=False,
                       metadata={"description": "经度 (WGS 84)"})
    area = fields.String(load_default=None, allow_none=True, validate=_AREA,
                         metadata={"description": "区域编码（街道、片区、社区或网格）；优先于坐标"})

    @pre_load
    def _blanks(self, data: dict, **_: object) -> object:
        return blank_to_none(data, ("lat", "lon", "area", "at"))

    @validates_schema
    def _point(self, data: dict, **_: object) -> None:
        if (data.get("lat") is None) != (data.get("lon") is None):
            raise ValidationError("lat 与 lon 须同时提供。", "lat")


class SuggestFields(_Place):
    text = fields.String(required=True, validate=[
        validate.Length(min=1, max=MAX_TEXT, error=f"内容须为 1–{MAX_TEXT} 字。"),
        # Regexp matches at the start: "\s*\S" is "not blank", also for text pasted after a newline.
        validate.Regexp(r"\s*\S", error="内容不能为空白。")],
        metadata={"description": "群众反映的原话（最多 2000 字）"})
    at = fields.Date(load_default=None, allow_none=True, metadata={"description": "按某日的权责与法规作答（YYYY-MM-DD）"})


class SuggestQuery(SuggestFields, QuerySchema):
    pass


class SuggestBody(SuggestFields, BodySchema):
    pass


class ExampleBody(BodySchema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TEXT))
    code = fields.String(required=True, validate=_CODE, metadata={"description": "调度员选定的五位编码"})
    suggested_code = fields.String(load_default="", validate=validate.Regexp(r"^(\d{5})?$"),
                                   metadata={"description": "助手当时的首选编码（不同即为纠正）"})
    area = fields.String(load_default=None, allow_none=True, validate=_AREA)


class DiscardBody(BodySchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class ExampleQuery(QuerySchema):
    include_discarded = fields.Boolean(load_default=False)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10000))


class ExampleOut(Schema):
    id = fields.Integer()
    text = fields.String()
    code = fields.String()
    suggested_code = fields.String()
    corrected = fields.Boolean()
    source = fields.String()
    case_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    created_by = fields.String()
    discarded_at = fields.DateTime(allow_none=True)
    discarded_by = fields.String()
    discard_reason = fields.String()


class ExamplePage(Schema):
    items = fields.List(fields.Nested(ExampleOut))
    total = fields.Integer()
    page = fields.Integer()


class SuggestedItem(Schema):
    code = fields.String()
    scheme = fields.String()
    kind = fields.String()
    key = fields.String()
    name = fields.String()
    major_name = fields.String()
    score = fields.Float()
    why = fields.List(fields.String(), metadata={"description": "文本中引出该类型的词（及同义词、相似的已确认案例）"})
    component = fields.Dict(allow_none=True, metadata={"description": "相关部件（若文本提到）"})


class SuggestionOut(Schema):
    text = fields.String()
    item_types = fields.List(fields.Nested(SuggestedItem))
    place = fields.Dict(metadata={"description": "area, ancestors, source (point|area|text), matched；未识别时 area 为 null 并附 message"})
    responsibility = fields.Dict(allow_none=True, metadata={"description": "首选类型在该位置的权属查询结果"})
    regulations = fields.List(fields.Dict(), metadata={"description": "最相关的 3 条法规条文"})
    message = fields.String(metadata={"description": "未能从文字判断类型时的说明"})


class CaseForm(Schema):
    """The screen's "建案" form: the chosen code, the place and the reporter's words."""

    text = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TEXT))
    code = fields.String(required=True, validate=_CODE)
    suggested_code = fields.String(load_default="", validate=validate.Regexp(r"^(\d{5})?$"))
    lookup_key = fields.String(load_default="", validate=validate.Regexp(r"^(gb47678:(event|component):\d{5})?$"))
    grid = fields.String(load_default=None, allow_none=True, validate=_AREA)
    lat = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-90, max=90), allow_nan=False)
    lon = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-180, max=180), allow_nan=False)
    channel = fields.String(load_default="hotline_12345", validate=validate.OneOf(list(CHANNELS)))
    urgency = fields.String(load_default="normal", validate=validate.OneOf(list(URGENCIES)))
    address = fields.String(load_default="", validate=validate.Length(max=300))
    action = fields.String(load_default="case", validate=validate.OneOf(["case", "confirm"]))

    @pre_load
    def _blanks(self, data: dict, **_: object) -> object:
        return blank_to_none(data, ("lat", "lon", "grid"))

    @validates_schema
    def _place(self, data: dict, **_: object) -> None:
        if (data.get("lat") is None) != (data.get("lon") is None):
            raise ValidationError("lat 与 lon 须同时提供。", "lat")
        if data.get("action") == "case" and data.get("lat") is None and not data.get("grid"):
            raise ValidationError("建案须指定网格（在地图上点选或在列表中选择）。", "grid")
