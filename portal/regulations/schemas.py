"""Marshmallow schemas of the regulations API: query parameters in, documents out."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from portal.regulations.metadata import LEVELS, STATUSES
from portal.regulations.services import parse_article_ref
from portal.validation import BodySchema, QuerySchema


class RegulationListQuery(QuerySchema):
    level = fields.String(validate=validate.OneOf(LEVELS), metadata={"description": "效力级别"})
    status = fields.String(validate=validate.OneOf(STATUSES), metadata={"description": "时效性"})
    region = fields.String(validate=validate.Length(min=1, max=50),
                           metadata={"description": "地区（含下级，如 浙江省 包括 浙江省杭州市）"})
    authority = fields.String(validate=validate.Length(min=1, max=200), metadata={"description": "制定机关"})
    q = fields.String(validate=validate.Length(min=1, max=100), metadata={"description": "标题包含"})
    at = fields.Date(metadata={"description": "只列出该日有效的法规 (YYYY-MM-DD)"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class PointInTimeQuery(QuerySchema):
    at = fields.Date(metadata={"description": "查看该日有效的文本 (YYYY-MM-DD)；缺省为今日"})


class ArticlePageQuery(PointInTimeQuery):
    """An article page, optionally pointing at the provision a citation names (第一款第二项)."""

    paragraph = fields.Integer(validate=validate.Range(1, 99), metadata={"description": "突出显示的款"})
    item = fields.Integer(validate=validate.Range(1, 99), metadata={"description": "突出显示的项"})


class ArticleRefField(fields.Field):
    """An article reference in a path or query: 23, 23-1, 第二十三条之一."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[int, int]:
        try:
            return parse_article_ref(value)
        except (ValueError, TypeError):
            raise ValidationError("条文编号无效，应如 23、23-1 或 第二十三条之一。") from None


class ArticleLookupQuery(QuerySchema):
    title = fields.String(validate=validate.Length(min=2, max=200), metadata={"description": "法规全称或简称"})
    article = ArticleRefField(metadata={"description": "条文编号：23、23-1、第二十三条之一", "type": "string",
                                        "pattern": r"^([1-9]\d{0,3}(-[1-9]\d?)?|第[一二三四五六七八九十百]+条(之[一二三四五六七八九])?)$"})
    paragraph = fields.Integer(validate=validate.Range(min=1, max=100), metadata={"description": "款"})
    citation = fields.String(validate=validate.Length(min=4, max=300),
                             metadata={"description": "整条引用，如 《城市道路管理条例》第二十三条第一款"})
    at = fields.Date(metadata={"description": "查询日期 (YYYY-MM-DD)；缺省为今日"})


# ----------------------------------------------------------------------------- output


class RegulationHistoryEventSchema(Schema):
    date = fields.String(allow_none=True)
    kind = fields.String()
    description = fields.String()


class RegulationVersionSchema(Schema):
    id = fields.Integer()
    version_no = fields.Integer()
    title = fields.String()
    valid_from = fields.Date(allow_none=True)
    valid_to = fields.Date(allow_none=True)
    version_date = fields.Date(allow_none=True)
    is_current = fields.Boolean()
    source = fields.String()
    history = fields.List(fields.Nested(RegulationHistoryEventSchema))


class RegulationSummarySchema(Schema):
    id = fields.Integer()
    title = fields.String()
    short_title = fields.String(allow_none=True)
    document_number = fields.String(allow_none=True)
    level = fields.String(allow_none=True)
    doc_type = fields.String(allow_none=True)
    issuing_authority = fields.String(allow_none=True)
    region = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "公布的时效性"})
    promulgation_date = fields.Date(allow_none=True)
    effective_date = fields.Date(allow_none=True)
    amended_date = fields.Date(allow_none=True)
    repealed_date = fields.Date(allow_none=True)
    url = fields.String()


class RegulationArticleSchema(Schema):
    number = fields.Integer()
    suffix = fields.Integer()
    label = fields.String(metadata={"example": "第二十三条"})
    chapter_path = fields.List(fields.String())
    paragraphs = fields.List(fields.String(), metadata={"description": "款"})
    items = fields.List(fields.List(fields.String()), metadata={"description": "各款之下的项"})
    text = fields.String()
    url = fields.String()


class RegulationLinkSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    url = fields.String()


class RegulationDetailSchema(RegulationSummarySchema):
    status_on = fields.String(metadata={"description": "在查询日期的时效性"})
    in_force = fields.Boolean()
    at = fields.Date()
    version = fields.Nested(RegulationVersionSchema, allow_none=True, metadata={"description": "查询日期有效的文本版本"})
    versions = fields.List(fields.Nested(RegulationVersionSchema))
    articles = fields.List(fields.Nested(RegulationArticleSchema))


class ArticleSuccessorSchema(Schema):
    citation = fields.String(metadata={"example": "《中华人民共和国生态环境法典》第五百七十二条"})
    url = fields.String(metadata={"description": "现行条文的页面"})
    regulation_id = fields.Integer()
    number = fields.Integer(metadata={"description": "条号"})
    suffix = fields.Integer(metadata={"description": "“之一”等的序号，无则为 0"})


_REPLACED_BY = {"description": "本条所在法规在查询日期已废止时，废止它的法规中接替本条的现行条文（措辞最相近的条文）；"
                               "未废止，或未找到接替的条文时为 null"}


class RegulationArticleDetailSchema(RegulationArticleSchema):
    regulation = fields.Nested(RegulationLinkSchema)
    version = fields.Nested(RegulationVersionSchema)
    citation = fields.String(metadata={"example": "《城市道路管理条例》第二十三条"})
    status_on = fields.String()
    in_force = fields.Boolean()
    at = fields.Date()
    replaced_by = fields.Nested(ArticleSuccessorSchema, allow_none=True, metadata=_REPLACED_BY)


class RegulationFacetCountSchema(Schema):
    value = fields.String()
    count = fields.Integer()


class RegulationPageSchema(Schema):
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    items = fields.List(fields.Nested(RegulationSummarySchema))
    facets = fields.Dict(keys=fields.String(), values=fields.List(fields.Nested(RegulationFacetCountSchema)))


class ArticleLookupResultSchema(Schema):
    found = fields.Boolean()
    in_force = fields.Boolean()
    reason = fields.String(allow_none=True, metadata={
        "description": "未解析的原因：regulation_not_found 法规未收录 | no_text_for_date 该日无文本 | article_not_found 条文不存在 | repealed 已废止 | not_yet_effective 尚未施行"})
    status = fields.String(allow_none=True)
    at = fields.Date()
    citation = fields.String()
    changed_on = fields.Date(allow_none=True, metadata={"description": "之后的文本改动或删去此条的日期"})
    approximate = fields.Boolean()
    regulation = fields.Nested(RegulationLinkSchema, allow_none=True)
    article = fields.Nested(RegulationArticleSchema, allow_none=True)
    paragraph_text = fields.String(allow_none=True)
    replaced_by = fields.Nested(ArticleSuccessorSchema, allow_none=True, metadata=_REPLACED_BY)


# ----------------------------------------------------------------------------- import (editors)

# A national code runs to ~300k characters; the request body limit (portal.max_body_bytes) caps
# what arrives anyway.
MAX_TEXT_CHARS = 1_000_000


class RegulationImportIn(BodySchema):
    """One statute text and what is known of it; header lines of the text fill what is not given."""

    text = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TEXT_CHARS), metadata={
        "description": "全文：markdown（与 corpus 相同格式）或从官方数据库复制的纯文本（第X编/章/节，可无章）"})
    filename = fields.String(load_default=None, validate=validate.Length(max=200),
                             metadata={"description": "来源文件名，记入版本来源"})
    dry_run = fields.Boolean(load_default=False, metadata={"description": "只预览解析结果，不保存"})
    title = fields.String(load_default=None, validate=validate.Length(min=2, max=300))
    short_title = fields.String(load_default=None, validate=validate.Length(min=2, max=100))
    level = fields.String(load_default=None, validate=validate.OneOf(LEVELS), metadata={"description": "效力级别"})
    issuing_authority = fields.String(load_default=None, validate=validate.Length(min=2, max=300),
                                      metadata={"description": "制定机关"})
    region = fields.String(load_default=None, validate=validate.Length(min=2, max=100),
                           metadata={"description": "地区，如 上海市、浙江省杭州市；全国性法规为 全国"})
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES), metadata={"description": "时效性"})
    document_number = fields.String(load_default=None, validate=validate.Length(min=2, max=200),
                                    metadata={"description": "文号"})
    promulgation_date = fields.Date(load_default=None, metadata={"description": "公布日期"})
    effective_date = fields.Date(load_default=None, metadata={"description": "法规最初施行日期"})
    version_date = fields.Date(load_default=None, metadata={"description": "产生本文本的修改日期"})
    valid_from = fields.Date(load_default=None, metadata={"description": "本文本起始有效日期"})
    repealed_date = fields.Date(load_default=None, metadata={"description": "废止日期"})


class ImportedArticleSchema(Schema):
    label = fields.String()
    text = fields.String(metadata={"description": "前 120 字"})


class RegulationImportResultSchema(Schema):
    action = fields.String(metadata={"description": "导入结果：created 新法规 | new_version 新版本 | updated 已更新 | unchanged 无变化"})
    label = fields.String(metadata={"example": "新版本"})
    dry_run = fields.Boolean()
    regulation = fields.Nested(RegulationLinkSchema, allow_none=True,
                               metadata={"description": "预览新法规时为 null"})
    title = fields.String()
    level = fields.String(allow_none=True)
    region = fields.String(allow_none=True)
    issuing_authority = fields.String(allow_none=True)
    status = fields.String(allow_none=True)
    version_no = fields.Integer()
    valid_from = fields.Date(allow_none=True)
    articles = fields.Integer()
    chapters = fields.List(fields.String())
    first_articles = fields.List(fields.Nested(ImportedArticleSchema))
    warnings = fields.List(fields.String())
    repeals = fields.List(fields.String(), metadata={"description": "本文本“同时废止”条款终止的法规"})
