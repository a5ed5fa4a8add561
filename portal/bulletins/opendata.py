"""The indicators of published bulletins (考评通报指标) as an open-data dataset.

One row per published bulletin × unit (the district, each street, each agency) × indicator, read
from the bulletin's frozen snapshot: the figures are exactly those of the published PDF, CSV and
JSON, whatever happened to the cases since. Drafts never appear; a bulletin superseded by a
correction leaves the dataset (its correction takes its place).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, undefer

from portal.bulletins.indicators import INDICATORS
from portal.bulletins.models import PERIOD_KINDS, Bulletin
from portal.opendata.registry import Dataset, ExportContext, Field, Stamp
from portal.opendata.stamps import StampCache
from portal.workflow import State

LEVELS = {"district": "全区", "street": "街道", "agency": "责任单位"}
_LABELS = {indicator.key: indicator.label for indicator in INDICATORS}
_KINDS = {indicator.key: indicator.kind for indicator in INDICATORS}

FIELDS = (
    Field("id", "string", "行标识", "通报序号-层级-单位代码-指标代码"),
    Field("bulletin_id", "integer", "通报序号"),
    Field("period", "string", "统计期", "如 2026-10（月）、2026-Q3（季）、2026（年）"),
    Field("period_kind", "string", "统计期类型", "month 月；quarter 季；year 年", enum=PERIOD_KINDS),
    Field("issue_label", "string", "期号"),
    Field("revision", "integer", "修订版次", "更正通报的版次大于 1"),
    Field("level", "string", "考评层级", "；".join(f"{k} {v}" for k, v in LEVELS.items()), enum=tuple(LEVELS)),
    Field("unit_code", "string", "单位代码", "全区、街道或责任单位的代码"),
    Field("unit_name", "string", "单位名称"),
    Field("indicator", "string", "指标代码", "定义见 /bulletins/indicators", enum=tuple(_LABELS)),
    Field("indicator_name", "string", "指标名称"),
    Field("indicator_kind", "string", "指标类型", "count 计数；rate 比率（百分数）；average 平均值（小时）",
          enum=("count", "rate", "average")),
    Field("value", "number", "指标值", "比率为百分数（0–100）；无案件可计时为空"),
    Field("score", "number", "综合得分", "加权指标的综合得分（0–100）；案件太少不排名时为空"),
    Field("rank", "integer", "排名", "同层级内按综合得分排名"),
    Field("published_at", "datetime", "通报公布时间"),
)


def indicator_rows(ctx: ExportContext) -> Iterator[dict[str, Any]]:
    stmt = (select(Bulletin).where(Bulletin.state == State.PUBLISHED.value).options(undefer(Bulletin.data_json))
            .order_by(Bulletin.id))
    for bulletin in ctx.session.scalars(stmt):
        data = json.loads(bulletin.data_json)
        units = ([("district", data["district"])] if data.get("district") else []) + \
            [("street", row) for row in data.get("streets", ())] + [("agency", row) for row in data.get("agencies", ())]
        for level, unit in units:
            for key, value in unit.get("values", {}).items():
                yield {"id": f"{bulletin.id}-{level}-{unit['code']}-{key}", "bulletin_id": bulletin.id,
                       "period": bulletin.period, "period_kind": bulletin.period_kind,
                       "issue_label": bulletin.issue_label, "revision": bulletin.revision, "level": level,
                       "unit_code": unit["code"], "unit_name": unit["name"], "indicator": key,
                       "indicator_name": _LABELS.get(key, key), "indicator_kind": _KINDS.get(key),
                       "value": value, "score": unit.get("score"), "rank": unit.get("rank"),
                       "published_at": bulletin.published_at}


_STAMPS = StampCache()


def indicator_stamp(session: Session, registry: Any) -> Stamp:
    # A publication (or a correction superseding a bulletin) changes the state and updated_at.
    published = Bulletin.state == State.PUBLISHED.value
    count, last, ids = session.execute(
        select(func.count(), func.max(Bulletin.updated_at), func.sum(Bulletin.id)).where(published)).one()
    token = hashlib.sha256(repr((count, last, ids, str(session.get_bind().engine.url))).encode()).hexdigest()[:32]

    def rows() -> Stamp:
        # Rows per bulletin are only known from its snapshot: counted once per version.
        found = sum(1 for _ in indicator_rows(ExportContext(session, registry, {}))) if count else 0
        return Stamp(found, last, token)

    return _STAMPS.get(token, rows)

BULLETIN_INDICATORS = Dataset(
    name="bulletin-indicators",
    title="考评通报指标",
    description="已公布的城市管理考评通报中各统计期、全区、各街道、各责任单位的考评指标值（受理数、按期处置率、"
                "结案率、返工率、满意率等）、综合得分和排名，与通报的 PDF 一致。",
    fields=FIELDS,
    rows=indicator_rows,
    stamp=indicator_stamp,
    frequency="monthly",
    keywords=("考评通报", "考核指标", "按期处置率", "满意率"),
    theme="bulletins",
    incremental=False,
    notes=("只含已公布的通报；被更正通报取代的旧版不在其中（更正版代替它）。",
           "比率为百分数；指标定义与计算口径见 /bulletins/indicators。"),
    order=50,
)
