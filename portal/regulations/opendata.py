"""The regulations library's metadata as an open-data dataset (the texts stay on the pages)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import clock
from portal.opendata.registry import Dataset, ExportContext, Field, Stamp
from portal.opendata.stamps import regulations_token
from portal.regulations.models import Article, Regulation, RegulationVersion


def regulation_rows(ctx: ExportContext) -> Iterator[dict[str, Any]]:
    session = ctx.session
    today = clock.today()
    articles = dict(session.execute(
        select(Article.regulation_id, func.count()).join(RegulationVersion, RegulationVersion.id == Article.version_id)
        .where(RegulationVersion.is_current.is_(True)).group_by(Article.regulation_id)).all())
    versions = dict(session.execute(
        select(RegulationVersion.regulation_id, func.count()).group_by(RegulationVersion.regulation_id)).all())
    stmt = select(Regulation).order_by(Regulation.id)
    if ctx.updated_since is not None:
        stmt = stmt.where(Regulation.updated_at >= ctx.updated_since)
    for (reg,) in session.execute(stmt.execution_options(yield_per=500)):
        yield {"id": reg.id, "title": reg.title, "short_title": reg.short_title,
               "document_number": reg.document_number, "level": reg.level, "doc_type": reg.doc_type,
               "issuing_authority": reg.issuing_authority, "region": reg.region, "status": reg.status,
               "status_today": reg.status_on(today), "promulgation_date": reg.promulgation_date,
               "effective_date": reg.effective_date, "amended_date": reg.amended_date,
               "repealed_date": reg.repealed_date, "article_count": articles.get(reg.id, 0),
               "version_count": versions.get(reg.id, 0), "source": reg.source, "updated_at": reg.updated_at}


def regulation_stamp(session: Session, registry: Any) -> Stamp:
    parts = regulations_token(session)
    token = hashlib.sha256(repr((parts, clock.today().isoformat())).encode()).hexdigest()[:32]
    return Stamp(parts[0] if parts else 0, parts[1] if parts else None, token)


REGULATIONS = Dataset(
    name="regulations",
    title="法律法规目录",
    description="门户收录的法律、行政法规、规章和规范性文件的元数据：名称、层级、制定机关、地域、日期、效力状态和条文数。"
                "条文全文见 /regulations 页面和 /api/v1/regulations。",
    fields=(
        Field("id", "integer", "法规编号", "/regulations/{id}"),
        Field("title", "string", "名称"),
        Field("short_title", "string", "简称"),
        Field("document_number", "string", "文号"),
        Field("level", "string", "效力层级", "宪法、法律、行政法规、部门规章、地方性法规、地方政府规章、规范性文件"),
        Field("doc_type", "string", "文件类型", "法律、修正案、立法解释、修改决定等"),
        Field("issuing_authority", "string", "制定机关"),
        Field("region", "string", "适用地域", "全国或制定机关所在地"),
        Field("status", "string", "标注的效力状态", "现行有效、已修改、已废止、尚未生效"),
        Field("status_today", "string", "今日效力状态", "按生效、废止日期推算的今日状态"),
        Field("promulgation_date", "date", "公布日期"),
        Field("effective_date", "date", "施行日期"),
        Field("amended_date", "date", "最近修改日期"),
        Field("repealed_date", "date", "废止日期"),
        Field("article_count", "integer", "现行文本条文数"),
        Field("version_count", "integer", "文本版本数"),
        Field("source", "string", "来源", "lawpack 法律数据包；corpus 法规语料；file 导入文件；manual 手工"),
        Field("updated_at", "datetime", "最近修改时间"),
    ),
    rows=regulation_rows, stamp=regulation_stamp, frequency="daily",
    keywords=("法律", "法规", "规章"), theme="regulations", order=40,
)


def includeme(config: Any) -> None:
    config.add_opendata_dataset(REGULATIONS)
