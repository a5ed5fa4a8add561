"""The disclosed cases as an open-data dataset.

Rows come from :meth:`ICaseService.iter_public`, the redacted view every public page uses: the
export cannot show anything the ``/cases`` pages do not (no reporter, no exact point or address,
scrubbed text, non-disclosable item types left out).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.cases.lifecycle import STATUS_LABELS
from portal.cases.models import CHANNELS, RATINGS, URGENCIES, Case, CaseEvent, Feedback
from portal.cases.places import Places, get_snapshot
from portal.cases.public import PublicCase
from portal.cases.services import CaseService
from portal.opendata.registry import Dataset, ExportContext, Field, Stamp

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
    Field("updated_at", "datetime", "最近环节时间", "updated_since 按此字段筛选"),
    Field("late", "boolean", "是否超时"),
    Field("supervised", "boolean", "是否督办"),
    Field("bounce_count", "integer", "退单次数"),
    Field("rating", "string", "回访评价", "satisfied 满意；basically_satisfied 基本满意；dissatisfied 不满意",
          enum=tuple(RATINGS)),
    Field("feedback_comment", "string", "评价留言（已脱敏）"),
)


def case_row(case: PublicCase) -> dict[str, Any]:
    item = case.item_type or {}
    agency = case.agency or {}
    street = case.street or {}
    grid = case.grid or {}
    return {
        "id": case.id, "case_number": case.case_number, "item_type_scheme": item.get("scheme"),
        "item_type_code": item.get("code"), "item_type_name": item.get("name"), "item_kind": item.get("kind"),
        "major_name": item.get("major_name"), "service_code": case.service_code, "channel": case.channel,
        "channel_label": case.channel_label, "urgency": case.urgency, "description": case.description,
        "status": case.status, "status_label": case.status_label, "agency_code": agency.get("code"),
        "agency_name": agency.get("name"), "street_code": street.get("code"), "street_name": street.get("name"),
        "grid_code": grid.get("code"), "grid_name": grid.get("name"), "place": case.place, "lat": case.lat,
        "lon": case.lon, "reported_at": case.reported_at, "dispatched_at": case.dispatched_at,
        "deadline": case.deadline, "time_limit": case.time_limit, "handled_at": case.handled_at,
        "closed_at": case.closed_at, "updated_at": case.updated_at, "late": case.late,
        "supervised": case.supervised, "bounce_count": case.bounce_count, "rating": case.rating,
        "feedback_comment": case.feedback_comment,
    }


def service_for(ctx: ExportContext) -> CaseService:
    return CaseService(ctx.session, Places.of(ctx.session, ctx.registry), ctx.settings)


def case_rows(ctx: ExportContext) -> Iterator[dict[str, Any]]:
    for case in service_for(ctx).iter_public(batch_size=5000, updated_since=ctx.updated_since):
        yield case_row(case)


_STAMPS: dict[str, Stamp] = {}
_STAMPS_LOCK = threading.Lock()


def case_stamp(session: Session, registry: Any) -> Stamp:
    """Every change to a case adds a step (the largest event id moves), a rating adds a feedback row,
    the catalogue's token covers the names a row shows: together they say whether anything changed.
    The count and the latest step (full scans on a million rows) are computed only when they did."""
    settings = registry.settings if registry is not None else {}
    snapshot = get_snapshot(session, registry)
    token_parts = (
        session.scalar(select(func.max(Case.id))), session.scalar(select(func.max(CaseEvent.id))),
        session.scalar(select(func.count()).select_from(Feedback)), snapshot.token,
        str(settings.get("cases.nondisclosable", "")), str(session.get_bind().engine.url),
    )
    token = hashlib.sha256(repr(token_parts).encode()).hexdigest()[:32]
    cached = _STAMPS.get(token)
    if cached is not None:
        return cached
    service = CaseService(session, Places.of(session, registry), settings)
    hidden = sorted(service.hidden_item_ids)
    criteria = [Case.item_type_id.not_in(hidden)] if hidden else []
    rows, last = session.execute(select(func.count(), func.max(Case.updated_at)).where(*criteria)).one()
    stamp = Stamp(rows or 0, last, token)
    with _STAMPS_LOCK:
        if len(_STAMPS) > 64:
            _STAMPS.clear()
        _STAMPS[token] = stamp
    return stamp


CASES = Dataset(
    name="cases",
    title="公开案件",
    description="城市管理案件的公开信息：类型、网格级位置、责任单位、各环节时间、时限、办理状态与回访评价。"
                "与 /cases 页面同一脱敏规则。",
    fields=FIELDS,
    rows=case_rows,
    stamp=case_stamp,
    frequency="continuous",
    keywords=("案件", "城市管理", "12345", "网格化管理"),
    theme="cases",
    notes=("不含上报人姓名、电话、证件号、邮箱与精确地址；描述和评价中的个人信息已去除。",
           "位置只到网格（经纬度为网格中心点）。",
           "涉及安全设施等不公开类型（cases.nondisclosable）的案件不在其中。",
           "updated_since 按最近环节时间（updated_at）筛选；撤销的案件以状态 cancelled 出现。"),
    order=10,
)


def includeme(config: Any) -> None:
    config.add_opendata_dataset(CASES)
