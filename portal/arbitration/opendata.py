"""Published rulings (专家裁定) as an open-data dataset.

What a row shows is what the public ruling page shows: the decision per role, the reasoning, the
cited legal basis, the scope, the votes' tally; never the parties' positions, the evidence or the
panel's internal notes. With ``updated_since``, a ruling withdrawn since then comes as a tombstone
(``deleted = true``), as withdrawn duties do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from portal.arbitration.models import Dispute, Ruling
from portal.arbitration.services import DEFAULT_PREFIX, SCOPE_LABELS
from portal.catalogue.resolution import ROLE_LABELS
from portal.opendata.registry import Dataset, ExportContext, Field, Stamp
from portal.workflow import State

#: The states a synchronising client hears about: published rulings, and withdrawn ones as tombstones.
_SYNC_STATES = (State.PUBLISHED.value, State.WITHDRAWN.value)

FIELDS = (
    Field("id", "integer", "裁定序号", "/rulings/{id}"),
    Field("number", "string", "裁定书文号", "如 示例区城市管理权属争议裁定〔2026〕3号"),
    Field("title", "string", "标题"),
    Field("dispute_number", "string", "争议编号", "争〔年〕序号号"),
    Field("item_type_code", "string", "部件/事件代码"),
    Field("item_type_name", "string", "部件/事件名称"),
    Field("scope", "string", "适用范围", "；".join(f"{k} {v}" for k, v in SCOPE_LABELS.items()),
          enum=tuple(SCOPE_LABELS)),
    Field("scope_label", "string", "适用范围（中文）"),
    Field("scope_area_code", "string", "适用区域代码"),
    Field("scope_area_name", "string", "适用区域名称"),
    Field("street_code", "string", "争议所在街道代码"),
    Field("street_name", "string", "争议所在街道名称"),
    Field("decisions", "array", "裁定的责任",
          "JSON 数组，每项 {role 角色代码, role_label 角色, agency 单位代码, note 说明}"),
    Field("reasoning", "string", "裁定理由"),
    Field("citations", "array", "法律依据", "JSON 数组：引用的法规条文，如《城市道路管理条例》第二十三条"),
    Field("effective_date", "date", "生效日期"),
    Field("ruled_at", "datetime", "裁定时间"),
    Field("published_at", "datetime", "公布时间"),
    Field("concur", "integer", "赞成票数"),
    Field("dissent", "integer", "反对票数"),
    Field("updated_at", "datetime", "最近修改时间", "updated_since 按此字段筛选"),
    Field("deleted", "boolean", "是否已撤回", "仅在 updated_since 增量导出中可能为 true（墓碑记录）"),
)


def ruling_rows(ctx: ExportContext) -> Iterator[dict[str, Any]]:
    prefix = str(ctx.settings.get("arbitration.document_prefix") or DEFAULT_PREFIX)
    stmt = (select(Ruling).join(Dispute, Dispute.id == Ruling.dispute_id)
            .options(selectinload(Ruling.dispute).selectinload(Dispute.item_type),
                     selectinload(Ruling.dispute).selectinload(Dispute.street), selectinload(Ruling.scope_area))
            .order_by(Ruling.id))
    if ctx.updated_since is None:
        stmt = stmt.where(Ruling.state == State.PUBLISHED.value)
    else:
        stmt = stmt.where(Ruling.state.in_(_SYNC_STATES), Ruling.updated_at >= ctx.updated_since)
    for ruling in ctx.session.scalars(stmt):
        dispute = ruling.dispute
        street = dispute.street
        yield {
            "id": ruling.id, "number": f"{prefix}{ruling.number}" if ruling.number else "",
            "title": ruling.title, "dispute_number": dispute.number,
            "item_type_code": dispute.item_type.code, "item_type_name": dispute.item_type.name,
            "scope": ruling.scope, "scope_label": SCOPE_LABELS[ruling.scope],
            "scope_area_code": ruling.scope_area.code, "scope_area_name": ruling.scope_area.name,
            "street_code": street.code if street else None, "street_name": street.name if street else None,
            "decisions": [{"role": d["role"], "role_label": ROLE_LABELS.get(d["role"], d["role"]),
                           "agency": d["agency"], "note": d.get("note") or ""} for d in ruling.decisions or ()],
            "reasoning": ruling.reasoning, "citations": list(ruling.citations or ()),
            "effective_date": ruling.effective_date, "ruled_at": ruling.ruled_at,
            "published_at": ruling.published_at, "concur": ruling.concur, "dissent": ruling.dissent,
            "updated_at": ruling.updated_at, "deleted": ruling.state != State.PUBLISHED.value,
        }


def ruling_stamp(session: Session, registry: Any) -> Stamp:
    published = Ruling.state == State.PUBLISHED.value
    rows, last = session.execute(select(func.count(), func.max(Ruling.updated_at)).where(published)).one()
    # Any ruling's change (a withdrawal too) moves the token: the incremental exports see it.
    changed = session.execute(select(func.count(), func.max(Ruling.updated_at))).one()
    settings = registry.settings if registry is not None else {}
    token = hashlib.sha256(repr((rows, last, *changed, settings.get("arbitration.document_prefix"))).encode())
    return Stamp(rows or 0, last, token.hexdigest()[:32])


RULINGS = Dataset(
    name="rulings",
    title="专家裁定",
    description="权属争议的专家合议裁定：争议的部件/事件与地点、裁定的各角色责任单位、理由、法律依据、适用范围、"
                "生效日期与表决结果。与 /rulings 页面公布的内容相同。",
    fields=FIELDS,
    rows=ruling_rows,
    stamp=ruling_stamp,
    frequency="irregular",
    keywords=("专家裁定", "权属争议", "确权"),
    theme="arbitration",
    notes=("只含已公布的裁定；不含当事单位的陈述、证据材料和合议内部意见。",
           "带 updated_since 时还含此后撤回的裁定（deleted = true），以便同步删除。"),
    order=35,
)
