"""Marshmallow schemas of the catalogue API: query parameters and bodies in, documents out."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from portal.catalogue.models import AGENCY_KIND_VALUES, LEVEL_VALUES, ROLE_VALUES, SOURCE_VALUES
from portal.opendata.schemas import UpdatedSince
from portal.validation import BodySchema, QuerySchema

SCHEMES = ("gbt30428", "gb47678")
KINDS = ("component", "event")
_CODE = validate.Length(min=1, max=40)


# ----------------------------------------------------------------------------- input


class ItemTypeQuery(QuerySchema):
    kind = fields.String(validate=validate.OneOf(KINDS), metadata={"description": "类别：component（部件）| event（事件）"})
    scheme = fields.String(validate=validate.OneOf(SCHEMES),
                           metadata={"description": "编码体系：gbt30428（四位码）| gb47678（GB/T 47678.5-2026 五位码）"})
    major_code = fields.String(validate=validate.Regexp(r"^\d{2}$"), metadata={"description": "大类代码"})
    q = fields.String(validate=validate.Length(min=1, max=50), metadata={"description": "名称、别名或编码"})


class CompletionQuery(QuerySchema):
    q = fields.String(required=True, validate=validate.Length(min=1, max=50),
                      metadata={"description": "输入的名称片段，如 窨井"})
    kind = fields.String(validate=validate.OneOf(KINDS))
    scheme = fields.String(validate=validate.OneOf(SCHEMES))
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50))


class AgencyQuery(QuerySchema):
    kind = fields.String(validate=validate.OneOf(AGENCY_KIND_VALUES))


class AreaQuery(QuerySchema):
    max_level = fields.String(load_default="grid", validate=validate.OneOf(LEVEL_VALUES),
                              metadata={"description": "树的最深层级"})


class LocateQuery(QuerySchema):
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90), allow_nan=False,
                       metadata={"description": "纬度 (WGS 84)"})
    lon = fields.Float(required=True, validate=validate.Range(min=-180, max=180), allow_nan=False,
                       metadata={"description": "经度 (WGS 84)"})


class ResponsibilityQuery(QuerySchema):
    item_type = fields.String(required=True, validate=_CODE,
                              metadata={"description": "部件/事件编码（0101、01001）、键（gb47678:event:06001）或名称"})
    scheme = fields.String(validate=validate.OneOf(SCHEMES))
    kind = fields.String(validate=validate.OneOf(KINDS))
    area = fields.String(validate=validate.Regexp(r"^\d{6,20}$"), metadata={"description": "区域编码（任一层级）；与 lat/lon 同时给出时以 area 为准"})
    lat = fields.Float(validate=validate.Range(min=-90, max=90), allow_nan=False)
    lon = fields.Float(validate=validate.Range(min=-180, max=180), allow_nan=False)
    at = fields.Date(metadata={"description": "查询日期 (YYYY-MM-DD)，缺省为今日"})
    urgency = fields.String(load_default="normal", validate=validate.OneOf(("normal", "urgent")),
                            metadata={"description": "按一般或紧急时限计算截止时间"})
    reported_at = fields.AwareDateTime(default_timezone=None,
                                       metadata={"description": "案件上报时间（ISO 8601，含时区），缺省为现在"})

    @validates_schema
    def _place(self, data: dict[str, Any], **_kwargs: Any) -> None:
        has_point = "lat" in data or "lon" in data
        if "area" not in data and not has_point:
            raise ValidationError("请给出 area，或 lat 与 lon。", "area")
        if has_point and ("lat" not in data or "lon" not in data):
            raise ValidationError("lat 与 lon 须同时给出。", "lat" if "lat" not in data else "lon")


class DutyListQuery(QuerySchema):
    item_type = fields.String(validate=_CODE)
    area = fields.String(validate=validate.Regexp(r"^\d{6,20}$"))
    agency = fields.String(validate=validate.Length(min=1, max=32))
    state = fields.String(validate=validate.OneOf(("draft", "pending", "published", "withdrawn", "superseded")))
    source_kind = fields.String(validate=validate.OneOf(SOURCE_VALUES),
                                metadata={"description": "regulation | ruling | agreement（ruling：裁定确定的条目）"})
    role = fields.String(validate=validate.OneOf(ROLE_VALUES), metadata={"description": "角色：owner / maintainer / supervisor / enforcer"})
    source = fields.String(validate=validate.OneOf(SOURCE_VALUES),
                           metadata={"description": "来源：regulation / ruling / agreement"})
    within = fields.Boolean(load_default=False, metadata={"description": "为 true 时 area 含其下级区域的条目"})
    q = fields.String(validate=validate.Length(max=100),
                      metadata={"description": "（空值即不按文字筛选）文字：类型名称或编码、单位、区域、法律依据、说明、来源文号（空格分隔的词须全部出现）"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.Integer(validate=validate.Range(min=0, max=2**31 - 1), metadata={
        "description": "上一页的 next_cursor：按条目编号继续，翻页期间新增或修改的条目不会使结果跳过或重复"})
    updated_since = UpdatedSince(metadata={
        "description": "增量同步：只返回此后变化的已发布条目，此后撤回或被取代的条目列在 tombstones 中"})


class _DutyFields(BodySchema):
    item_type = fields.String(validate=_CODE, metadata={"description": "部件/事件编码或键"})
    scheme = fields.String(validate=validate.OneOf(SCHEMES))
    kind = fields.String(validate=validate.OneOf(KINDS))
    area = fields.String(validate=validate.Regexp(r"^\d{6,20}$"), metadata={"description": "适用区域（含下级）"})
    role = fields.String(validate=validate.OneOf(ROLE_VALUES),
                         metadata={"description": "角色：owner 权属 | maintainer 养护 | supervisor 主管 | enforcer 执法"})
    agency = fields.String(validate=validate.Length(min=1, max=32), metadata={"description": "责任单位编码"})
    citations = fields.List(fields.String(validate=validate.Length(min=1, max=300)),
                            validate=validate.Length(max=20),
                            metadata={"description": "法律依据，如 《城市道路管理条例》第二十三条"})
    note = fields.String(validate=validate.Length(max=2000))
    urgent_hours = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=24 * 30))
    normal_working_days = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=365))
    valid_from = fields.Date(allow_none=True)
    valid_to = fields.Date(allow_none=True)
    source_kind = fields.String(validate=validate.OneOf(SOURCE_VALUES))
    source_id = fields.String(allow_none=True, validate=validate.Length(max=64))
    source_ref = fields.String(validate=validate.Length(max=200))
    basis_reviewed_on = fields.Date(allow_none=True)
    force = fields.Boolean(load_default=False, metadata={"description": "与已发布条目冲突时仍保存/发布"})
    comment = fields.String(validate=validate.Length(max=2000))

    @validates_schema
    def _dates(self, data: dict[str, Any], **_kwargs: Any) -> None:
        start, end = data.get("valid_from"), data.get("valid_to")
        if start and end and end < start:
            raise ValidationError("失效日期不能早于生效日期。", "valid_to")


class DutyCreateSchema(_DutyFields):
    item_type = fields.String(required=True, validate=_CODE)
    area = fields.String(required=True, validate=validate.Regexp(r"^\d{6,20}$"))
    role = fields.String(required=True, validate=validate.OneOf(ROLE_VALUES))
    agency = fields.String(required=True, validate=validate.Length(min=1, max=32))
    submit = fields.Boolean(load_default=False, metadata={"description": "创建后立即提交审核"})


class DutyPatchSchema(_DutyFields):
    pass


class TransitionSchema(BodySchema):
    transition = fields.String(required=True,
                               validate=validate.OneOf(("submit", "publish", "reject", "withdraw", "redraft")))
    comment = fields.String(validate=validate.Length(max=2000))
    force = fields.Boolean(load_default=False)
    override_reason = fields.String(
        load_default=None, validate=validate.Length(min=4, max=500),
        metadata={"description": "仅管理员：发布本人编写或提交的修改时越过四眼原则的理由（记入审计日志）"})


class CheckQuery(QuerySchema):
    at = fields.Date()


class CoverageQuery(QuerySchema):
    at = fields.Date()
    # empty: all three item lists (four-digit components, five-digit components, events)
    scheme = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(SCHEMES))
    kind = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(KINDS))


# ----------------------------------------------------------------------------- output


class ItemTypeSchema(Schema):
    scheme = fields.String()
    kind = fields.String()
    code = fields.String()
    key = fields.String()
    name = fields.String()
    major_code = fields.String()
    major_name = fields.String()
    aliases = fields.List(fields.String())
    urgent_hours = fields.Integer(allow_none=True)
    normal_working_days = fields.Integer(allow_none=True)
    provenance = fields.String()
    related_code = fields.String()
    crosswalk = fields.List(fields.Dict(), metadata={"description": "对照关系：另一分类标准中对应的类型（单个类型的接口）"})
    url = fields.String()


class ItemTypeListSchema(Schema):
    total = fields.Integer()
    items = fields.List(fields.Nested(ItemTypeSchema))


class CompletionItemSchema(Schema):
    key = fields.String()
    code = fields.String()
    name = fields.String()
    scheme = fields.String()
    kind = fields.String()
    major_name = fields.String()
    aliases = fields.List(fields.String())


class CompletionSchema(Schema):
    items = fields.List(fields.Nested(CompletionItemSchema))


class AgencySchema(Schema):
    code = fields.String()
    name = fields.String()
    short_name = fields.String()
    kind = fields.String()
    parent = fields.String(allow_none=True)
    area = fields.String(allow_none=True)
    supervision_phone = fields.String()
    phone_is_demo = fields.Boolean()
    units = fields.List(fields.String())
    note = fields.String()


class AgencyListSchema(Schema):
    total = fields.Integer()
    items = fields.List(fields.Nested(AgencySchema))


class AreaNodeSchema(Schema):
    code = fields.String()
    name = fields.String()
    level = fields.String()
    children = fields.List(fields.Nested(lambda: AreaNodeSchema()))


class AreaTreeSchema(Schema):
    items = fields.List(fields.Nested(AreaNodeSchema))


class AreaRefSchema(Schema):
    code = fields.String()
    name = fields.String()
    level = fields.String()


class LocateResultSchema(Schema):
    lat = fields.Float()
    lon = fields.Float()
    grid = fields.Nested(AreaRefSchema)
    ancestors = fields.List(fields.Nested(AreaRefSchema))


class ReplacementRefSchema(Schema):
    citation = fields.String()
    url = fields.String()


class LegalBasisSchema(Schema):
    citation = fields.String()
    regulation_title = fields.String()
    regulation_id = fields.Integer(allow_none=True)
    article_number = fields.Integer(allow_none=True)
    article_label = fields.String(allow_none=True)
    paragraph = fields.Integer(allow_none=True)
    text = fields.String(allow_none=True)
    in_force = fields.Boolean()
    status = fields.String(metadata={"description": "条文状态：in_force 现行有效 | unresolved 法规库未收录 | missing 条文不存在 | repealed 已废止 | not_yet_effective 尚未施行"})
    status_label = fields.String()
    changed_on = fields.Date(allow_none=True)
    url = fields.String(allow_none=True)
    replaced_by = fields.Nested(ReplacementRefSchema, allow_none=True, metadata={
        "description": "所引条文已废止时：接替它的现行条文（如并入法典的条文）；未识别或未废止时为 null"})


class TimeLimitSchema(Schema):
    amount = fields.Integer()
    unit = fields.String()
    label = fields.String()


class TimeLimitsSchema(Schema):
    urgent = fields.Nested(TimeLimitSchema, allow_none=True)
    normal = fields.Nested(TimeLimitSchema, allow_none=True)
    applied = fields.String()


class SourceSchema(Schema):
    kind = fields.String(metadata={"description": "来源：regulation 法规规定 | ruling 裁定 | agreement 协议"})
    label = fields.String()
    id = fields.String(allow_none=True)
    ref = fields.String(allow_none=True)


class AgencyRefSchema(Schema):
    code = fields.String()
    name = fields.String()
    short_name = fields.String()
    kind = fields.String()
    supervision_phone = fields.String()
    phone_is_demo = fields.Boolean()


class RouteSchema(Schema):
    kind = fields.String(metadata={"description": "作答途径：duty（本编码条目）、crosswalk（编码对照）、"
                                                  "component_relation（事件—部件关联）、ruling（裁定）"})
    label = fields.String()
    through = fields.String(metadata={"description": "取得条目的途径（裁定时仍说明经哪条途径）"})
    via = fields.List(fields.Dict(), metadata={"description": "经由的类型（编码、名称、对照关系）"})


class PowerRefSchema(Schema):
    code = fields.String()
    name = fields.String()
    category = fields.String()
    penalty = fields.String(allow_none=True, metadata={"description": "处罚幅度"})
    holder = fields.Nested(AgencyRefSchema, allow_none=True)
    legal_basis = fields.List(fields.Nested(LegalBasisSchema))


class RoleAnswerSchema(Schema):
    role = fields.String()
    role_label = fields.String(metadata={"description": "事件的 maintainer 标为“处置”"})
    route = fields.Nested(RouteSchema)
    agency = fields.Nested(AgencyRefSchema)
    duty_id = fields.Integer()
    scope = fields.Nested(AreaRefSchema)
    legal_basis = fields.List(fields.Nested(LegalBasisSchema))
    time_limit = fields.Nested(TimeLimitsSchema)
    deadline = fields.DateTime(allow_none=True)
    source = fields.Nested(SourceSchema)
    note = fields.String(allow_none=True)
    valid_from = fields.Date(allow_none=True)
    valid_to = fields.Date(allow_none=True)


class ConflictDutySchema(Schema):
    duty_id = fields.Integer()
    agency = fields.Nested(AgencyRefSchema)
    scope = fields.Nested(AreaRefSchema)
    source = fields.Nested(SourceSchema)
    citations = fields.List(fields.String())
    conflict_forced = fields.Boolean()


class ConflictSchema(Schema):
    role = fields.String()
    role_label = fields.String()
    route = fields.Nested(RouteSchema)
    duties = fields.List(fields.Nested(ConflictDutySchema))


class ItemRefSchema(Schema):
    scheme = fields.String()
    kind = fields.String()
    code = fields.String()
    name = fields.String()
    major_code = fields.String()
    major_name = fields.String()


class PlaceSchema(AreaRefSchema):
    ancestors = fields.List(fields.Nested(AreaRefSchema))


class ResponsibilitySchema(Schema):
    item_type = fields.Nested(ItemRefSchema)
    answered_as = fields.Dict(allow_none=True, metadata={"description": "经分类对照表换算时的实际类型"})
    area = fields.Nested(PlaceSchema)
    located = fields.Dict(allow_none=True)
    at = fields.Date()
    reported_at = fields.DateTime()
    urgency = fields.String()
    roles = fields.List(fields.Nested(RoleAnswerSchema))
    missing_roles = fields.List(fields.String())
    conflicts = fields.List(fields.Nested(ConflictSchema))
    powers = fields.List(fields.Nested(PowerRefSchema), metadata={"description": "该类型对应的权力事项"})
    calendar_note = fields.String(allow_none=True, metadata={
        "description": "截止时间所跨年份尚无节假日安排时的提示（按周一至周五推算，可能变动）；否则为 null"})


class DutySchema(Schema):
    id = fields.Integer()
    lineage_id = fields.Integer(allow_none=True)
    revision_of = fields.Integer(allow_none=True)
    item_type = fields.Nested(ItemRefSchema)
    area = fields.Nested(AreaRefSchema)
    role = fields.String()
    agency = fields.Nested(AgencyRefSchema)
    citations = fields.List(fields.String())
    note = fields.String()
    urgent_hours = fields.Integer(allow_none=True)
    normal_working_days = fields.Integer(allow_none=True)
    valid_from = fields.Date(allow_none=True)
    valid_to = fields.Date(allow_none=True)
    source_kind = fields.String()
    source_id = fields.String(allow_none=True)
    source_ref = fields.String()
    basis_reviewed_on = fields.Date(allow_none=True)
    state = fields.String()
    published_at = fields.DateTime(allow_none=True)
    conflict_forced = fields.Boolean()
    conflict_note = fields.String()
    collisions = fields.List(fields.Integer())
    url = fields.String()


class DutyTombstoneSchema(Schema):
    id = fields.Integer()
    state = fields.String(metadata={"description": "withdrawn 已撤回；superseded 已被新修订取代"})
    updated_at = fields.DateTime()


class DutyListSchema(Schema):
    total = fields.Integer()
    page = fields.Integer()
    items = fields.List(fields.Nested(DutySchema))
    next_cursor = fields.Integer(allow_none=True)
    next = fields.String(allow_none=True, metadata={"description": "下一页的完整链接（无下一页时为 null）"})
    tombstones = fields.List(fields.Nested(DutyTombstoneSchema), metadata={"description": "仅 updated_since 时"})


class StaleFindingSchema(Schema):
    duty_id = fields.Integer()
    item = fields.String()
    area = fields.String()
    role = fields.String()
    agency = fields.String()
    citation = fields.String()
    problem = fields.String()
    detail = fields.String()
    stale = fields.Boolean()


class StaleReportSchema(Schema):
    at = fields.Date()
    stale = fields.Integer()
    findings = fields.List(fields.Nested(StaleFindingSchema))


class CoverageListSchema(Schema):
    scheme = fields.String()
    kind = fields.String()
    label = fields.String()
    items = fields.Integer(metadata={"description": "类型数"})
    gaps = fields.Integer(metadata={"description": "缺口数（类型×街道）"})
    incomplete_items = fields.Integer()


class CoverageSchema(Schema):
    at = fields.Date()
    scheme = fields.String(allow_none=True)
    kind = fields.String(allow_none=True)
    gaps = fields.Integer()
    streets = fields.List(fields.Nested(AreaRefSchema))
    lists = fields.List(fields.Nested(CoverageListSchema))
    missing = fields.List(fields.Dict(), metadata={"description": "每个缺口：清单、类型、街道、角色、问题"})
    unresolved = fields.List(fields.Dict(), metadata={"description": "法规库无法解析的引用"})
    routes = fields.Dict(metadata={"description": "各作答途径的次数（duty/crosswalk/component_relation/ruling）"})
    duties = fields.Integer()
    powers = fields.Integer()
