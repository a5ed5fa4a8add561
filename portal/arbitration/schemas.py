"""Marshmallow schemas of the arbitration boundary (forms, JSON bodies, JSON answers)."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, pre_load, validate

from portal.arbitration.models import SCOPES, VOTE_CHOICES
from portal.catalogue.models import ROLE_VALUES
from portal.catalogue.schemas import ReplacementRefSchema
from portal.validation import BodySchema, QuerySchema

_CODE = validate.Length(min=1, max=40)
_AREA = validate.Regexp(r"^\d{6,20}$", error="区域编码为 6 到 20 位数字。")
_AGENCY = validate.Length(min=1, max=32)


class FormSchema(BodySchema):
    """HTML forms: the CSRF token and the submit button are not fields."""

    class Meta:
        unknown = EXCLUDE


# ----------------------------------------------------------------------------- input


class PartyInput(Schema):
    agency = fields.String(required=True, validate=_AGENCY)
    position = fields.String(load_default="", validate=validate.Length(max=5000))


class DisputeCreateSchema(BodySchema):
    item_type = fields.String(required=True, validate=_CODE, metadata={"description": "部件/事件编码或键"})
    area = fields.String(required=True, validate=_AREA, metadata={"description": "网格、社区或街道编码"})
    title = fields.String(validate=validate.Length(min=2, max=200))
    question = fields.String(validate=validate.Length(max=2000))
    location_note = fields.String(load_default="", validate=validate.Length(max=300))
    lat = fields.Float(validate=validate.Range(-90, 90))
    lon = fields.Float(validate=validate.Range(-180, 180))
    parties = fields.List(fields.Nested(PartyInput), load_default=list, validate=validate.Length(max=10))
    case_ids = fields.List(fields.Integer(validate=validate.Range(min=1, max=2**31 - 1)), load_default=list,
                           validate=validate.Length(max=500))


class DisputeFormSchema(FormSchema):
    item_type = fields.String(required=True, validate=_CODE)
    area = fields.String(required=True, validate=_AREA)
    title = fields.String(validate=validate.Length(max=200))
    question = fields.String(validate=validate.Length(max=2000))
    location_note = fields.String(load_default="", validate=validate.Length(max=300))
    parties = fields.String(load_default="", validate=validate.Length(max=400),
                            metadata={"description": "当事方单位编码，以逗号或空格分隔"})


class HotspotOpenSchema(BodySchema):
    item_type = fields.String(required=True, validate=_CODE)
    area = fields.String(required=True, validate=_AREA)
    days = fields.Integer(load_default=180, validate=validate.Range(min=1, max=3650))
    min_bounces = fields.Integer(load_default=3, validate=validate.Range(min=1, max=1000))


class HotspotOpenForm(FormSchema, HotspotOpenSchema):
    class Meta:
        unknown = EXCLUDE


class HotspotQuery(QuerySchema):
    days = fields.Integer(load_default=180, validate=validate.Range(min=1, max=3650))
    by = fields.String(load_default="grid", validate=validate.OneOf(("grid", "street")))
    min_bounces = fields.Integer(load_default=3, validate=validate.Range(min=1, max=1000))


class MoveSchema(BodySchema):
    move = fields.String(required=True, validate=validate.OneOf(("accept", "reject", "inspect", "deliberate",
                                                                 "withdraw", "publish")))
    comment = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    inspection_record = fields.String(validate=validate.Length(max=10000))
    inspected_on = fields.Date()


class MoveForm(FormSchema, MoveSchema):
    class Meta:
        unknown = EXCLUDE

    @pre_load
    def blank_dates(self, data: Any, **kwargs: Any) -> Any:
        if hasattr(data, "items") and not data.get("inspected_on"):
            data = {k: v for k, v in data.items() if k != "inspected_on"}
        return data


class PartySchema(BodySchema):
    agency = fields.String(required=True, validate=_AGENCY)
    position = fields.String(load_default="", validate=validate.Length(max=5000))


class PartyForm(FormSchema, PartySchema):
    class Meta:
        unknown = EXCLUDE


class PanelSchema(BodySchema):
    experts = fields.List(fields.Integer(validate=validate.Range(min=1, max=2**31 - 1)), required=True,
                          validate=validate.Length(min=1, max=7))
    chair = fields.Integer(load_default=None, allow_none=True)


class PanelForm(FormSchema, PanelSchema):
    class Meta:
        unknown = EXCLUDE

    @pre_load
    def blank_chair(self, data: Any, **kwargs: Any) -> Any:
        if hasattr(data, "items") and not data.get("chair"):
            data = {k: v for k, v in data.items() if k != "chair"}
        return data


class DecisionInput(Schema):
    role = fields.String(required=True, validate=validate.OneOf(ROLE_VALUES))
    agency = fields.String(required=True, validate=_AGENCY)
    note = fields.String(load_default="", validate=validate.Length(max=300))


class DraftSchema(BodySchema):
    title = fields.String(validate=validate.Length(max=200))
    decisions = fields.List(fields.Nested(DecisionInput), required=True, validate=validate.Length(min=1, max=4))
    reasoning = fields.String(required=True, validate=validate.Length(max=20000))
    citations = fields.List(fields.String(validate=validate.Length(max=200)), load_default=list,
                            validate=validate.Length(max=30))
    scope = fields.String(load_default="area", validate=validate.OneOf(SCOPES),
                          metadata={"description": "asset 本处设施 | area 本区域该类设施 | district 全区该类设施"})
    scope_area = fields.String(validate=_AREA)
    effective_date = fields.Date(load_default=None, allow_none=True)


class DraftForm(FormSchema):
    title = fields.String(load_default="", validate=validate.Length(max=200))
    owner = fields.String(load_default="", validate=validate.Length(max=32))
    maintainer = fields.String(load_default="", validate=validate.Length(max=32))
    supervisor = fields.String(load_default="", validate=validate.Length(max=32))
    enforcer = fields.String(load_default="", validate=validate.Length(max=32))
    reasoning = fields.String(load_default="", validate=validate.Length(max=20000))
    citations = fields.String(load_default="", validate=validate.Length(max=4000))
    scope = fields.String(load_default="area", validate=validate.OneOf(SCOPES))
    scope_area = fields.String(load_default="", validate=validate.Length(max=20))
    effective_date = fields.Date(load_default=None, allow_none=True)

    @pre_load
    def blank_date(self, data: Any, **kwargs: Any) -> Any:
        if hasattr(data, "items") and not data.get("effective_date"):
            data = {k: v for k, v in data.items() if k != "effective_date"}
        return data


class VoteSchema(BodySchema):
    choice = fields.String(required=True, validate=validate.OneOf(VOTE_CHOICES),
                           metadata={"description": "concur 同意草案 | dissent 反对"})
    opinion = fields.String(required=True, validate=validate.Length(max=10000))


class VoteForm(FormSchema, VoteSchema):
    class Meta:
        unknown = EXCLUDE


class RevokeSchema(BodySchema):
    reason = fields.String(required=True, validate=validate.Length(min=2, max=2000))


class RevokeForm(FormSchema, RevokeSchema):
    class Meta:
        unknown = EXCLUDE


class ExpertForm(FormSchema):
    name = fields.String(required=True, validate=validate.Length(min=2, max=50))
    title = fields.String(load_default="", validate=validate.Length(max=100))
    affiliation = fields.String(load_default="", validate=validate.Length(max=32))
    specialties = fields.List(fields.String(validate=validate.Regexp(r"^\d{2}$")), load_default=list)
    username = fields.String(load_default="", validate=validate.Length(max=64))
    active = fields.Boolean(load_default=False)


class RulingListQuery(QuerySchema):
    item_type = fields.String(validate=_CODE)
    street = fields.String(validate=_AREA)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class DisputeListQuery(QuerySchema):
    stage = fields.String(validate=validate.OneOf(("filed", "accepted", "inspected", "deliberating", "ruled",
                                                   "published", "rejected", "withdrawn")))
    overdue = fields.Boolean()


# ----------------------------------------------------------------------------- output


class NamedRef(Schema):
    code = fields.String()
    name = fields.String()


class ExpertPublicSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    specialties = fields.List(fields.String())
    specialty_names = fields.List(fields.String())


class ExpertListSchema(Schema):
    items = fields.List(fields.Nested(ExpertPublicSchema))


class DecisionSchema(Schema):
    role = fields.String()
    role_label = fields.String()
    agency = fields.Nested(NamedRef)
    note = fields.String()


class LegalBasisOut(Schema):
    citation = fields.String()
    regulation_title = fields.String(allow_none=True)
    regulation_id = fields.Integer(allow_none=True)
    article_label = fields.String(allow_none=True)
    article_number = fields.Integer(allow_none=True)
    paragraph = fields.Integer(allow_none=True, metadata={"description": "款（引用到款时）"})
    text = fields.String(allow_none=True)
    in_force = fields.Boolean()
    changed_on = fields.Date(allow_none=True, metadata={"description": "条文修改或废止的日期"})
    status = fields.String()
    status_label = fields.String()
    url = fields.String(allow_none=True)
    replaced_by = fields.Nested(ReplacementRefSchema, allow_none=True, metadata={
        "description": "所引条文已废止时：接替它的现行条文；未识别或未废止时为 null"})


class OpinionSchema(Schema):
    expert = fields.String()
    choice = fields.String()
    opinion = fields.String()


class RulingSummarySchema(Schema):
    id = fields.Integer()
    number = fields.String(metadata={"description": "文号，如 示例区城市管理权属争议裁定〔2026〕3号"})
    short_number = fields.String(metadata={"description": "短文号，如〔2026〕3号"})
    title = fields.String()
    item_type = fields.Nested(NamedRef)
    scope = fields.String()
    scope_label = fields.String()
    scope_area = fields.Nested(NamedRef)
    street = fields.Nested(NamedRef, allow_none=True)
    effective_date = fields.Date(allow_none=True)
    published_at = fields.DateTime(allow_none=True)
    state = fields.String()
    url = fields.String()
    pdf_url = fields.String()


class RulingSchema(RulingSummarySchema):
    question = fields.String()
    dispute_number = fields.String(allow_none=True)
    location_note = fields.String(allow_none=True)
    filed_on = fields.Date(allow_none=True)
    inspected_on = fields.Date(allow_none=True)
    ruled_on = fields.Date(allow_none=True)
    ruled_at = fields.DateTime(allow_none=True)
    parties = fields.List(fields.Nested(NamedRef))
    decisions = fields.List(fields.Nested(DecisionSchema))
    reasoning = fields.String()
    legal_basis = fields.List(fields.Nested(LegalBasisOut))
    panel = fields.List(fields.Dict())
    majority = fields.Dict(metadata={"description": "表决结果：{concur 赞成票数, dissent 反对票数}"})
    dissents = fields.List(fields.Nested(OpinionSchema))
    duties = fields.List(fields.Dict(), metadata={"description": "裁定确定的权责条目"})
    withdrawn_reason = fields.String(allow_none=True)


class RulingPageSchema(Schema):
    total = fields.Integer()
    page = fields.Integer()
    items = fields.List(fields.Nested(RulingSummarySchema))


class StatsRowSchema(Schema):
    code = fields.String()
    name = fields.String()
    opened = fields.Integer()
    ruled = fields.Integer()
    median_working_days = fields.Float(allow_none=True)
    overdue_share = fields.Float()
    bounces_before = fields.Integer()
    bounces_after = fields.Integer()


class StatsSchema(Schema):
    generated_at = fields.DateTime()
    window_days = fields.Integer()
    by_item_type = fields.List(fields.Nested(StatsRowSchema))
    by_street = fields.List(fields.Nested(StatsRowSchema))
    total = fields.Nested(StatsRowSchema)


class DisputeSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    title = fields.String()
    question = fields.String(metadata={"description": "争议的问题"})
    stage = fields.String()
    stage_label = fields.String()
    stage_due = fields.DateTime(allow_none=True)
    overdue = fields.Boolean()
    item_type = fields.Nested(NamedRef)
    area = fields.Nested(NamedRef)
    parties = fields.List(fields.Dict())
    panel = fields.List(fields.Dict())
    cases = fields.List(fields.Integer())
    evidence = fields.List(fields.Dict())
    ruling = fields.Dict(allow_none=True)
    url = fields.String()


class DisputeListSchema(Schema):
    items = fields.List(fields.Nested(DisputeSchema))


class VoteResultSchema(Schema):
    vote_id = fields.Integer()
    round = fields.Integer()
    stage = fields.String()
    ruling_state = fields.String()
    number = fields.String(allow_none=True)


class HotspotSchema(Schema):
    item_type = fields.Dict()
    area = fields.Dict()
    bounces = fields.Integer()
    cases = fields.Integer()
    agencies = fields.List(fields.Dict())
    open_dispute_id = fields.Integer(allow_none=True)
    ruling_id = fields.Integer(allow_none=True, metadata={"description": "该处已公布的裁定"})
    bounces_since_ruling = fields.Integer(allow_none=True)
    since = fields.DateTime(allow_none=True, metadata={"description": "统计起点（有已公布裁定时）"})


class HotspotListSchema(Schema):
    items = fields.List(fields.Nested(HotspotSchema))
