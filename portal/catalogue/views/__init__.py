"""Catalogue views: HTML pages (:mod:`.html`) and the JSON API (:mod:`.api`), both thin."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyramid.httpexceptions import HTTPForbidden
from pyramid.request import Request

from portal.accounts.permissions import Permissions
from portal.catalogue.calendar import CHINA_TZ
from portal.catalogue.interfaces import (
    ICatalogueReports,
    ICatalogueService,
    IDutyService,
    IResponsibilityService,
)
from portal.catalogue.models import Agency, Duty, ItemType
from portal.catalogue.resolution import EVENT_ROLE_LABELS, ROLE_LABELS, SOURCE_LABELS
from portal.errors import NotFound

KIND_LABELS = {"component": "部件", "event": "事件"}
SCHEME_LABELS = {"gbt30428": "四位码（GB/T 30428.2 体系）", "gb47678": "五位码（GB/T 47678.5-2026）"}
AGENCY_KIND_LABELS = {
    "government": "政府部门",
    "street_office": "街道办事处",
    "utility": "公用事业单位",
    "enterprise": "企业",
    "property_company": "物业服务企业",
}
LEVEL_LABELS = {"district": "区", "street": "街道", "zone": "片区", "unit": "社区", "grid": "网格"}
CROSSWALK_LABELS = {"exact": "一致", "renamed": "更名", "split": "拆分", "approximate": "近似", "none": "无对应"}
_MAX_ID = 2**31 - 1


def catalogue(request: Request) -> Any:
    return request.find_service(ICatalogueService)


def responsibility(request: Request) -> Any:
    """The :class:`IResponsibilityService` of this request (see ``includeme`` for why not
    ``find_service``)."""
    service = request.responsibility_service
    assert IResponsibilityService.providedBy(service)
    return service


def duties(request: Request) -> Any:
    return request.find_service(IDutyService)


def reports(request: Request) -> Any:
    return request.find_service(ICatalogueReports)


def duty_filters(request: Request, query: dict[str, Any]) -> dict[str, Any]:
    """DutyListQuery → DutyService.list filters (codes resolved; unknown ones raise)."""
    service = catalogue(request)
    # ``source_kind`` (the API's name, e.g. ruling) and ``source`` (the staff list's) are one filter.
    filters: dict[str, Any] = {"role": query.get("role"), "source_kind": query.get("source_kind") or query.get("source"),
                               "text": query.get("q")}
    if query.get("item_type"):
        filters["item_type_id"] = service.resolve_item_info(query["item_type"]).id
    if query.get("area"):
        area = service.area(query["area"])
        filters["within_area" if query.get("within") else "area_id"] = area.code if query.get("within") else area.id
    if query.get("agency"):
        filters["agency_id"] = service.agency(query["agency"]).id
    return filters


def override_reason(request: Request, reason: str | None) -> str | None:
    """An override of four eyes is an admin's to give; anyone else asking is refused."""
    reason = (reason or "").strip() or None
    if reason and not request.has_permission(Permissions.CATALOGUE_PUBLISH_OVERRIDE):
        raise HTTPForbidden("只有管理员可以越过四眼原则发布。")
    return reason


def duty_id(request: Request) -> int:
    value = int(request.matchdict["id"])
    if value > _MAX_ID:
        raise NotFound(f"未找到权责条目 #{value}。")
    return value


def item_type_url(request: Request, item: Any) -> str:
    return request.route_url("catalogue.item_type", code=item.code,
                             _query={"scheme": item.scheme, "kind": item.kind})


def item_type_dict(request: Request, item: ItemType) -> dict[str, Any]:
    return {
        "scheme": item.scheme, "kind": item.kind, "code": item.code, "key": item.key, "name": item.name,
        "major_code": item.major_code, "major_name": item.major_name, "aliases": list(item.aliases or ()),
        "urgent_hours": item.urgent_hours, "normal_working_days": item.normal_working_days,
        "provenance": item.provenance, "related_code": item.related_code,
        "url": item_type_url(request, item),
    }


def agency_dict(agency: Agency) -> dict[str, Any]:
    return {
        "code": agency.code, "name": agency.name, "short_name": agency.short_name, "kind": agency.kind,
        "parent": agency.parent.code if agency.parent else None,
        "area": agency.area.code if agency.area else None,
        "supervision_phone": agency.supervision_phone, "phone_is_demo": agency.phone_is_demo,
        "units": list(agency.unit_codes or ()), "note": agency.note,
    }


def agency_ref(agency: Agency) -> dict[str, Any]:
    return {"code": agency.code, "name": agency.name, "short_name": agency.short_name, "kind": agency.kind,
            "supervision_phone": agency.supervision_phone, "phone_is_demo": agency.phone_is_demo}


def duty_dict(request: Request, duty: Duty, collisions: list[Duty] | None = None) -> dict[str, Any]:
    item = duty.item_type
    return {
        "id": duty.id, "lineage_id": duty.lineage_id, "revision_of": duty.revision_of_id,
        "item_type": {"scheme": item.scheme, "kind": item.kind, "code": item.code, "name": item.name,
                      "major_code": item.major_code, "major_name": item.major_name},
        "area": {"code": duty.area.code, "name": duty.area.name, "level": duty.area.level},
        "role": duty.role, "agency": agency_ref(duty.agency), "citations": list(duty.citations or ()),
        "note": duty.note, "urgent_hours": duty.urgent_hours, "normal_working_days": duty.normal_working_days,
        "valid_from": duty.valid_from, "valid_to": duty.valid_to, "source_kind": duty.source_kind,
        "source_id": duty.source_id, "source_ref": duty.source_ref, "basis_reviewed_on": duty.basis_reviewed_on,
        "state": duty.state, "published_at": duty.published_at, "conflict_forced": duty.conflict_forced,
        "conflict_note": duty.conflict_note,
        "collisions": [d.id for d in (collisions or [])],
        "url": request.route_url("catalogue.duty", id=duty.id),
    }


def template_globals() -> dict[str, Any]:
    return {
        "KIND_LABELS": KIND_LABELS, "SCHEME_LABELS": SCHEME_LABELS, "AGENCY_KIND_LABELS": AGENCY_KIND_LABELS,
        "LEVEL_LABELS": LEVEL_LABELS, "ROLE_LABELS": ROLE_LABELS, "SOURCE_LABELS": SOURCE_LABELS,
        "CROSSWALK_LABELS": CROSSWALK_LABELS, "EVENT_ROLE_LABELS": EVENT_ROLE_LABELS, "china_tz": CHINA_TZ, "utc": dt.UTC,
    }
