"""The disclosed cases as an open-data dataset.

Rows come from :func:`portal.cases.public.public_fields`, the redacted view every public page
uses: the export cannot show anything the ``/cases`` pages do not (no reporter, no exact point or
address, scrubbed text, non-disclosable item types left out).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.cases.lifecycle import STATUS_LABELS
from portal.cases.models import CHANNELS, RATINGS, URGENCIES, Case, CaseEvent, Feedback
from portal.cases.places import Places, get_snapshot
from portal.cases.public import PUBLIC_FIELDS, PublicNames, public_fields
from portal.cases.services import CaseService
from portal.opendata.encoding import iso_text_in_database, json_value
from portal.opendata.registry import Dataset, ExportContext, Field, Stamp
from portal.opendata.stamps import StampCache

FIELDS = (
    Field("id", "integer", "案件序号", "门户内的案件编号（案件详情页 /cases/{id}）"),
    Field("case_number", "string", "案件号", "AJ + 上报日期 + 序号"),
    Field("item_type_scheme", "string", "分类体系", "gbt30428：四位码；gb47678：五位码"),
    Field("item_type_code", "string", "部件/事件代码"),
    Field("item_type_name", "string", "部件/事件名称"),
    Field("item_kind", "string", "类别", "component 部件；event 事件", enum=("component", "event")),
    Field("major_name", "string", "大类名称"),
    Field("service_code", "string", "Open311 服务代码"),
    Field("channel", "string", "来源渠道", "、".join(f"{k} {v}" for k, v in CHANNELS.items()), enum=tuple(CHANNELS)),
    Field("channel_label", "string", "来源渠道（中文）"),
    Field("urgency", "string", "紧急程度", "normal 一般；urgent 紧急", enum=tuple(URGENCIES)),
    Field("description", "string", "问题描述（已脱敏）", "电话、证件号、车牌、邮箱、人名和门牌地址已去除"),
    Field("status", "string", "办理状态", "、".join(f"{s.value} {label}" for s, label in STATUS_LABELS.items()),
          enum=tuple(s.value for s in STATUS_LABELS)),
    Field("status_label", "string", "办理状态（中文）"),
    Field("agency_code", "string", "责任单位代码"),
    Field("agency_name", "string", "责任单位名称"),
    Field("street_code", "string", "街道代码"),
    Field("street_name", "string", "街道名称"),
    Field("grid_code", "string", "网格代码"),
    Field("grid_name", "string", "网格名称"),
    Field("place", "string", "位置（网格级）"),
    Field("lat", "number", "纬度（网格中心点，非精确位置）"),
    Field("lon", "number", "经度（网格中心点，非精确位置）"),
    Field("reported_at", "datetime", "上报时间"),
    Field("dispatched_at", "datetime", "派遣时间"),
    Field("deadline", "datetime", "处置时限截止时间"),
    Field("time_limit", "string", "处置时限"),
    Field("handled_at", "datetime", "处置时间"),
    Field("closed_at", "datetime", "结案时间"),
    Field("updated_at", "datetime", "最近环节时间"),
    Field("late", "boolean", "是否超时"),
    Field("supervised", "boolean", "是否督办"),
    Field("bounce_count", "integer", "退单次数"),
    Field("rating", "string", "回访评价", "satisfied 满意；basically_satisfied 基本满意；dissatisfied 不满意",
          enum=tuple(RATINGS)),
    Field("feedback_comment", "string", "评价留言（已脱敏）"),
)


def case_batches(ctx: ExportContext) -> Iterator[list[tuple[Any, ...]]]:
    """The export's rows in batches: plain column tuples from a server-side cursor, each passed
    through :func:`~portal.cases.public.public_fields` (the public view itself) with the
    catalogue's strings computed once; the database writes the times as text."""
    service = service_for(ctx)
    names = PublicNames.of(service.places)
    moment = iso_text_in_database(ctx.session.get_bind().dialect.name)
    fields = public_fields
    for rows in service.public_rows(updated_since=ctx.updated_since, moment=moment):
        batch = [fields(row, names) for row in rows]
        if moment is None:
            batch = [tuple(json_value(value) for value in values) for values in batch]
        yield batch


def case_rows(ctx: ExportContext) -> Iterator[dict[str, Any]]:
    for batch in case_batches(ctx):
        for values in batch:
            yield dict(zip(PUBLIC_FIELDS, values, strict=True))


def service_for(ctx: ExportContext) -> CaseService:
    return CaseService(ctx.session, Places.of(ctx.session, ctx.registry), ctx.settings)


_STAMPS = StampCache()


def case_stamp(session: Session, registry: Any) -> Stamp:
    """Every change to a case adds a step (the largest event id moves), a rating adds a feedback row,
    the catalogue's token covers the names a row shows: together they say whether anything changed.
    The count and the latest step (full scans on a million rows) are computed only when they did."""
    settings = registry.settings if registry is not None else {}
    snapshot = get_snapshot(session, registry)
    token_parts = (
        session.scalar(select(func.max(Case.id))), session.scalar(select(func.max(CaseEvent.id))),
        session.scalar(select(func.max(Case.changed_at))),
        session.scalar(select(func.count()).select_from(Feedback)), snapshot.token,
        str(settings.get("cases.nondisclosable", "")), str(session.get_bind().engine.url),
    )
    token = hashlib.sha256(repr(token_parts).encode()).hexdigest()[:32]

    def count() -> Stamp:
        service = CaseService(session, Places.of(session, registry), settings)
        hidden = sorted(service.hidden_item_ids)
        criteria = [Case.item_type_id.not_in(hidden)] if hidden else []
        rows, last = session.execute(select(func.count(), func.max(Case.changed_at)).where(*criteria)).one()
        return Stamp(rows or 0, last, token)

    return _STAMPS.get(token, count)

CASES = Dataset(
    name="cases",
    title="公开案件",
    description="城市管理案件的公开信息：类型、网格级位置、责任单位、各环节时间、时限、办理状态与回访评价。"
                "与 /cases 页面同一脱敏规则。",
    fields=FIELDS,
    rows=case_rows,
    batches=case_batches,
    stamp=case_stamp,
    frequency="continuous",
    keywords=("案件", "城市管理", "12345", "网格化管理"),
    theme="cases",
    notes=("不含上报人姓名、电话、证件号、邮箱与精确地址；描述和评价中的个人信息已去除。",
           "位置只到网格（经纬度为网格中心点）。",
           "涉及安全设施等不公开类型（cases.nondisclosable）的案件不在其中。",
           "updated_since 按案件记录的修改时间筛选（新环节、补录的旧环节、回访评价都算修改）；"
           "撤销的案件以状态 cancelled 出现。"),
    order=10,
)


def includeme(config: Any) -> None:
    config.add_opendata_dataset(CASES)
