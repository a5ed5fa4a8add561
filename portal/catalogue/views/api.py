"""The catalogue's JSON API under /api/v1/."""

from __future__ import annotations

from typing import Any

import orjson
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from portal import clock
from portal.accounts.permissions import Permissions
from portal.catalogue.models import Duty
from portal.catalogue.schemas import (
    AgencyListSchema,
    AgencyQuery,
    AgencySchema,
    AreaQuery,
    AreaTreeSchema,
    CheckQuery,
    CompletionQuery,
    CompletionSchema,
    CoverageQuery,
    CoverageSchema,
    DutyCreateSchema,
    DutyListQuery,
    DutyListSchema,
    DutyPatchSchema,
    DutySchema,
    ItemTypeListSchema,
    ItemTypeQuery,
    ItemTypeSchema,
    LocateQuery,
    LocateResultSchema,
    ResponsibilityQuery,
    ResponsibilitySchema,
    StaleReportSchema,
    TransitionSchema,
)
from portal.catalogue.views import (
    agency_dict,
    catalogue,
    duties,
    duty_dict,
    duty_filters,
    duty_id,
    item_type_dict,
    override_reason,
    reports,
    responsibility,
)
from portal.workflow import State

TAGS = ["catalogue"]
# Schema instances, not classes, for the dispatch hot paths: a marshmallow schema is safe to reuse
# across requests and threads, and instantiating one costs more than loading the query with it.
RESPONSIBILITY_QUERY = ResponsibilityQuery()
LOCATE_QUERY = LocateQuery()


@view_config(route_name="catalogue.api.item_types", renderer="json", request_method="GET",
             permission=Permissions.PUBLIC_READ, schema=ItemTypeQuery,
             api_doc={"summary": "部件/事件分类（两种编码体系）", "tags": TAGS, "response": ItemTypeListSchema})
def item_types_api(request: Request) -> dict[str, Any]:
    rows = catalogue(request).item_types(**request.parsed)
    return {"total": len(rows), "items": [item_type_dict(request, r) for r in rows]}


@view_config(route_name="catalogue.api.complete", renderer="json", request_method="GET",
             permission=Permissions.PUBLIC_READ, schema=CompletionQuery,
             api_doc={"summary": "部件/事件名称补全（名称、别名、编码）", "tags": TAGS, "response": CompletionSchema})
def complete_api(request: Request) -> dict[str, Any]:
    query = request.parsed
    found = catalogue(request).find_item_types(query["q"], limit=query["limit"], kind=query.get("kind"),
                                                scheme=query.get("scheme"))
    return {"items": [{"key": i.key, "code": i.code, "name": i.name, "scheme": i.scheme, "kind": i.kind,
                       "major_name": i.major_name, "aliases": list(i.aliases)} for i in found]}


@view_config(route_name="catalogue.api.item_type", renderer="json", request_method="GET",
             permission=Permissions.PUBLIC_READ, schema=ItemTypeQuery,
             api_doc={"summary": "一个部件/事件类型，含对照关系", "tags": TAGS, "response": ItemTypeSchema})
def item_type_api(request: Request) -> dict[str, Any]:
    service = catalogue(request)
    item = service.item_type(request.matchdict["code"], request.parsed.get("scheme"), request.parsed.get("kind"))
    result = item_type_dict(request, item)
    result["crosswalk"] = [{"scheme": other.scheme, "kind": other.kind, "code": other.code, "name": other.name,
                            "link": link} for other, link in service.crosswalk_of(item)]
    return result


@view_config(route_name="catalogue.api.agencies", renderer="json", request_method="GET",
             permission=Permissions.PUBLIC_READ, schema=AgencyQuery,
             api_doc={"summary": "职能部门、权属与养护单位", "tags": TAGS, "response": AgencyListSchema})
def agencies_api(request: Request) -> dict[str, Any]:
    rows = catalogue(request).agencies(request.parsed.get("kind"))
    return {"total": len(rows), "items": [agency_dict(a) for a in rows]}


@view_config(route_name="catalogue.api.agency", renderer="json", request_method="GET",
             permission=Permissions.PUBLIC_READ,
             api_doc={"summary": "一个单位", "tags": TAGS, "response": AgencySchema})
def agency_api(request: Request) -> dict[str, Any]:
    return agency_dict(catalogue(request).agency(request.matchdict["code"]))


@view_config(route_name="catalogue.api.areas", renderer="json", request_method="GET",
             permission=Permissions.PUBLIC_READ, schema=AreaQuery,
             api_doc={"summary": "区域树（区—街道—片区—社区—网格）", "tags": TAGS, "response": AreaTreeSchema})
def areas_api(request: Request) -> dict[str, Any]:
    return {"items": catalogue(request).area_tree(request.parsed["max_level"])}


@view_config(route_name="catalogue.api.area", renderer="json", request_method="GET",
             permission=Permissions.PUBLIC_READ,
             api_doc={"summary": "一个区域，含上级与 GeoJSON 多边形", "tags": TAGS})
def area_api(request: Request) -> dict[str, Any]:
    service = catalogue(request)
    area = service.area(request.matchdict["code"])
    info = service.area_info(area.code)
    snap = service.snapshot()
    return {
        "code": area.code, "name": area.name, "level": area.level, "area_km2": area.area_km2,
        "ancestors": [a.as_dict() for a in snap.ancestors(info)],
        "children": [snap.areas[c].as_dict() for c in snap.children.get(info.id, ())],
        "geometry": area.geometry,
    }


@view_config(route_name="catalogue.api.locate", renderer="json", request_method="GET",
             permission=Permissions.PUBLIC_READ, schema=LOCATE_QUERY,
             api_doc={"summary": "坐标定位到网格（及其上级区域）", "tags": TAGS, "response": LocateResultSchema})
def locate_api(request: Request) -> dict[str, Any]:
    lat, lon = request.parsed["lat"], request.parsed["lon"]
    grid, ancestors = catalogue(request).locate(lat, lon)
    return {"lat": lat, "lon": lon, "grid": grid.as_dict(), "ancestors": [a.as_dict() for a in ancestors]}


@view_config(route_name="catalogue.api.responsibility", renderer="json", request_method="GET",
             permission=Permissions.PUBLIC_READ, schema=RESPONSIBILITY_QUERY,
             api_doc={"summary": "权属查询：某类部件/事件在某地、某日由谁负责",
                      "description": "按角色（权属、养护、主管、执法）返回责任单位、来源条目、法律依据（含条文与"
                                     "效力）、处置时限与截止时间；冲突不做取舍，列入 conflicts。",
                      "tags": TAGS, "response": ResponsibilitySchema})
def responsibility_api(request: Request) -> Any:
    answer = responsibility(request).resolve(**request.parsed)
    # The dispatch hot path: an answer is ~10 KB of mostly Chinese text, and encoding it was the
    # largest single cost of the request with the standard library (orjson encodes dates natively).
    return Response(body=orjson.dumps(answer), content_type="application/json", charset="utf-8")


# ----------------------------------------------------------------------------- duties


def _can_see_drafts(request: Request) -> bool:
    return bool(request.has_permission(Permissions.CATALOGUE_VIEW_DRAFTS))


@view_config(route_name="catalogue.api.duties", renderer="json", request_method="GET",
             permission=Permissions.PUBLIC_READ, schema=DutyListQuery,
             api_doc={"summary": "权责条目列表（未登录仅见已发布）", "tags": TAGS, "response": DutyListSchema})
def duties_api(request: Request) -> dict[str, Any]:
    query = request.parsed
    filters = duty_filters(request, query)
    state = query.get("state")
    if not _can_see_drafts(request):
        state = State.PUBLISHED.value if state in (None, State.PUBLISHED.value) else "__none__"
    since, cursor = query.get("updated_since"), query.get("cursor")
    keyset = since is not None or cursor is not None
    tombstones: list[Duty] = []
    if since is not None:
        # What stopped being published since then, so a synchronising client can delete it.
        tombstones, _ = duties(request).list(states=(State.WITHDRAWN.value, State.SUPERSEDED.value),
                                             updated_since=since, after_id=cursor, limit=10_000, **filters)
    rows, total = duties(request).list(state=state, limit=query["page_size"] + (1 if keyset else 0),
                                       offset=0 if keyset else (query["page"] - 1) * query["page_size"],
                                       updated_since=since, after_id=cursor, **filters)
    result: dict[str, Any] = {"total": total, "page": query["page"]}
    if keyset:
        more = len(rows) > query["page_size"]
        rows = rows[:query["page_size"]]
        result["next_cursor"] = rows[-1].id if more else None
        if since is not None:
            last = rows[-1].id if more else None
            result["tombstones"] = [{"id": d.id, "state": d.state, "updated_at": d.updated_at}
                                    for d in tombstones if last is None or d.id <= last]
    result["items"] = [duty_dict(request, d) for d in rows]
    return result


@view_config(route_name="catalogue.api.duties", renderer="json", request_method="POST",
             permission=Permissions.CATALOGUE_EDIT, schema=DutyCreateSchema,
             api_doc={"summary": "新建权责条目（草稿）", "tags": TAGS, "response": DutySchema, "auth": True,
                      "errors": (400, 409)})
def duty_create_api(request: Request) -> dict[str, Any]:
    data = dict(request.parsed)
    submit = data.pop("submit", False)
    force = data.pop("force", False)
    comment = data.pop("comment", None)
    service = duties(request)
    duty = service.create(data, force=force)
    if submit:
        service.transition(duty, "submit", comment)
    request.response.status = 201
    request.response.headers["Location"] = request.route_url("catalogue.api.duty", id=duty.id)
    return duty_dict(request, duty, service.collisions(duty))


@view_config(route_name="catalogue.api.duty", renderer="json", request_method="GET",
             permission=Permissions.CATALOGUE_DUTY_READ,
             api_doc={"summary": "一个权责条目（未发布的修订仅对可查看草稿的用户可见）", "tags": TAGS,
                      "response": DutySchema})
def duty_api(request: Request) -> dict[str, Any]:
    duty = request.context.duty
    return duty_dict(request, duty, duties(request).collisions(duty) if duty.state != "superseded" else [])


@view_config(route_name="catalogue.api.duty", renderer="json", request_method="PATCH",
             permission=Permissions.CATALOGUE_EDIT, schema=DutyPatchSchema,
             api_doc={"summary": "修改权责条目：草稿就地修改（200）；已发布条目生成待审修订（201）", "tags": TAGS,
                      "response": DutySchema, "also": (201,), "auth": True, "errors": (400, 404, 409)})
def duty_patch_api(request: Request) -> dict[str, Any]:
    data = dict(request.parsed)
    force = data.pop("force", False)
    data.pop("comment", None)
    service = duties(request)
    duty = service.get(duty_id(request))
    changed = service.update(duty, data, force=force)
    if changed.id != duty.id:
        request.response.status = 201
        request.response.headers["Location"] = request.route_url("catalogue.api.duty", id=changed.id)
    return duty_dict(request, changed, service.collisions(changed))


@view_config(route_name="catalogue.api.duty_transitions", renderer="json", request_method="POST",
             permission=Permissions.CATALOGUE_EDIT, schema=TransitionSchema,
             api_doc={"summary": "审核流转：submit / publish / reject / withdraw / redraft", "tags": TAGS,
                      "response": DutySchema, "auth": True, "status": 200, "errors": (400, 403, 404, 409)})
def duty_transition_api(request: Request) -> dict[str, Any]:
    data = request.parsed
    service = duties(request)
    duty = service.get(duty_id(request))
    if data["transition"] in ("publish", "reject", "withdraw") and not request.has_permission(
            Permissions.CATALOGUE_PUBLISH):
        from pyramid.httpexceptions import HTTPForbidden

        raise HTTPForbidden()
    service.transition(duty, data["transition"], data.get("comment"), force=data["force"],
                       override_reason=override_reason(request, data.get("override_reason")))
    return duty_dict(request, duty, service.collisions(duty))


@view_config(route_name="catalogue.api.duty_history", renderer="json", request_method="GET",
             permission=Permissions.CATALOGUE_DUTY_READ,
             api_doc={"summary": "权责条目的修改历史：工作人员可见各修订的逐项变化与审核流转，公众仅见各次发布",
                      "tags": TAGS})
def duty_history_api(request: Request) -> dict[str, Any]:
    duty = request.context.duty
    return {"duty_id": duty.id, "lineage_id": duty.lineage_id,
            "events": duties(request).history(duty, include_drafts=_can_see_drafts(request))}


@view_config(route_name="catalogue.api.powers", renderer="json", request_method="GET",
             permission=Permissions.PUBLIC_READ,
             api_doc={"summary": "权力事项清单", "tags": TAGS})
def powers_api(request: Request) -> dict[str, Any]:
    rows = catalogue(request).powers(request.GET.get("category") or None)
    return {
        "total": len(rows),
        "items": [
            {"code": p.code, "name": p.name, "category": p.category, "holder": agency_dict(p.holder),
             "penalty": p.penalty or None, "legal_basis": p.citations, "item_types": p.item_type_keys, "responsibilities": p.responsibilities,
             "accountability": {"text": p.accountability, "legal_basis": p.accountability_citations},
             "url": request.route_url("catalogue.power", code=p.code)}
            for p in rows
        ],
    }


# ----------------------------------------------------------------------------- reports


@view_config(route_name="catalogue.api.stale", renderer="json", request_method="GET",
             permission=Permissions.PUBLIC_READ, schema=CheckQuery,
             api_doc={"summary": "法律依据失效检查（废止、修改、条文不存在）", "tags": TAGS,
                      "response": StaleReportSchema})
def stale_api(request: Request) -> dict[str, Any]:
    at = request.parsed.get("at") or clock.today()
    findings = reports(request).stale_basis(at)
    return {"at": at, "stale": sum(1 for f in findings if f.stale), "findings": [f.as_dict() for f in findings]}


@view_config(route_name="catalogue.api.coverage", renderer="json", request_method="GET",
             permission=Permissions.PUBLIC_READ, schema=CoverageQuery,
             api_doc={"summary": "覆盖检查：三份类型清单 × 街道 × 角色的缺口、依据与未解析引用", "tags": TAGS,
                      "response": CoverageSchema})
def coverage_api(request: Request) -> dict[str, Any]:
    query = request.parsed
    report = reports(request).coverage(query.get("at"), kind=query.get("kind"), scheme=query.get("scheme"))
    report.pop("rows", None)
    report["lists"] = [{k: v for k, v in lst.items() if k != "rows"} for lst in report["lists"]]
    return report
