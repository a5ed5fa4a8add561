"""Search boundaries: the query parameters and the JSON result shape."""

from __future__ import annotations

import math
from typing import Any

from marshmallow import Schema, fields, post_load, pre_load, validate

from portal.validation import QuerySchema

DOC_TYPE_LABELS: dict[str, str] = {
    "regulation": "法规",
    "article": "条文",
    "ruling": "专家裁定",
    "duty": "权责条目",
    "case": "公开案件",
}
FACET_LABELS: dict[str, str] = {
    "doc_type": "类型",
    "level": "效力级别",
    "status": "时效性",
    "region": "地区",
    "authority": "制定机关",
}


class SearchParams(QuerySchema):
    q = fields.String(load_default="", validate=validate.Length(max=200),
                      metadata={"description": "查询词：关键词、问题或法规条文引用（如 行政处罚法第63条）"})
    type = fields.List(fields.String(validate=validate.OneOf(sorted(DOC_TYPE_LABELS))), load_default=list,
                       metadata={"description": "文档类型，可重复或逗号分隔：" + ", ".join(sorted(DOC_TYPE_LABELS))
                                         + "。省略时检索法规和条文；权责条目（duty）须指明类型，"
                                         "其数量见 facets.doc_type"})
    level = fields.String(validate=validate.Length(max=32), metadata={"description": "效力级别，如 法律、地方性法规"})
    status = fields.String(validate=validate.Length(max=32), metadata={"description": "时效性，如 现行有效"})
    region = fields.String(validate=validate.Length(max=32), metadata={"description": "地区，如 上海"})
    authority = fields.String(validate=validate.Length(max=100), metadata={"description": "制定机关"})
    at = fields.Date(metadata={"description": "只返回在该日期有效的文本（YYYY-MM-DD）"})
    regulation_id = fields.Integer(validate=validate.Range(min=1), metadata={"description": "限定在一部法规内"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100))
    page_size = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50))

    @pre_load
    def split_commas(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        types = data.get("type")
        if types:
            values = types if isinstance(types, list) else [types]
            data["type"] = [part.strip() for value in values for part in str(value).split(",") if part.strip()]
        # Empty filter fields from the HTML form mean "no filter".
        return {key: value for key, value in data.items() if value not in ("", None, [])}

    @post_load
    def strip_query(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data["q"] = data.get("q", "").strip()
        return data


class RegulationRef(Schema):
    id = fields.Integer()
    title = fields.String()


class ArticleRef(Schema):
    number = fields.Integer()
    label = fields.String()


class FacetValue(Schema):
    value = fields.String()
    count = fields.Integer()


class ReplacementRef(Schema):
    citation = fields.String(metadata={"description": "如《中华人民共和国生态环境法典》第五百七十二条"})
    url = fields.String()


class SearchHitSchema(Schema):
    type = fields.String(attribute="doc_type")
    id = fields.String(attribute="doc_id")
    title = fields.String()
    url = fields.String(metadata={"description": "文档的绝对地址（条文为其固定链接）"})
    snippet = fields.String(metadata={"description": "已做 HTML 转义的摘要，命中词以 <mark> 标出"})
    score = fields.Float(allow_none=True, metadata={"description": "相关度；精确引用置顶时为 null"})
    regulation = fields.Nested(RegulationRef, allow_none=True)
    article = fields.Nested(ArticleRef, allow_none=True)
    level = fields.String(allow_none=True)
    status = fields.String(allow_none=True)
    region = fields.String(allow_none=True)
    replaced_by = fields.Nested(ReplacementRef, allow_none=True, metadata={
        "description": "已废止条文：现行文本中取代它的条文（引用与链接）"})


class CitationSchema(Schema):
    law = fields.String()
    article_number = fields.Integer(allow_none=True)
    label = fields.String(allow_none=True)
    regulation_id = fields.Integer(allow_none=True)
    regulation_title = fields.String(allow_none=True)


class SearchResultsSchema(Schema):
    q = fields.String()
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    pages = fields.Integer()
    citation = fields.Nested(CitationSchema, allow_none=True,
                             metadata={"description": "查询被识别为精确引用时给出"})
    facets = fields.Dict(keys=fields.String(), values=fields.List(fields.Nested(FacetValue)))
    hits = fields.List(fields.Nested(SearchHitSchema))


def hit_payload(hit: Any, application_url: str) -> dict[str, Any]:
    """A hit as the API shows it: absolute URL, nested regulation/article references."""
    url = hit.url if hit.url.startswith("http") else application_url + hit.url
    return {
        "doc_type": hit.doc_type,
        "doc_id": hit.doc_id,
        "title": hit.title,
        "url": url,
        "snippet": hit.snippet,
        "score": hit.score if math.isfinite(hit.score) else None,
        "regulation": {"id": hit.regulation_id, "title": hit.regulation_title} if hit.regulation_id else None,
        "article": {"number": hit.article_number, "label": hit.article_label} if hit.article_number else None,
        "level": hit.level,
        "status": hit.status,
        "region": hit.region,
        "replaced_by": ({"citation": hit.extra["replaced_by_citation"],
                         "url": application_url + hit.extra["replaced_by_url"]}
                        if hit.extra.get("replaced_by_url") else None),
    }
