"""The dispatcher's screen ``/dispatch`` (works without JavaScript; suggests while typing with it)
and the editors' review of examples ``/dispatch/examples``."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import urlencode

from marshmallow import ValidationError, fields, validate
from pyramid.httpexceptions import HTTPForbidden, HTTPSeeOther
from pyramid.request import Request
from pyramid.view import view_config

from portal.accounts.permissions import Permissions
from portal.cases.models import CHANNELS, URGENCIES
from portal.cases.schemas import CaseRecord
from portal.catalogue.calendar import CHINA_TZ
from portal.dispatch.models import EXAMPLE_SOURCES
from portal.dispatch.resources import DispatchPermissions
from portal.dispatch.schemas import CaseForm, SuggestFields
from portal.dispatch.views import dispatch
from portal.errors import PortalError
from portal.validation import QuerySchema, form_errors

ROLE_LABELS = {"owner": "权属", "maintainer": "养护", "supervisor": "主管", "enforcer": "执法"}
STATUS_LABELS = {"in_force": "现行有效", "repealed": "已废止", "amended": "已修改", "not_yet_effective": "尚未生效",
                 "missing": "条文缺失", "unresolved": "未收录"}


class ScreenQuery(SuggestFields, QuerySchema):
    text = fields.String(load_default="", validate=validate.Length(max=2000, error="内容最多 2000 字。"))
    choose = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(r"^\d{5}$"))


def _grids_within(snapshot: Any, area_code: str | None) -> list[Any]:
    area = snapshot.area_by_code.get(area_code or "")
    if area is None:
        return []
    if area.level == "grid":
        return [area]
    out, stack = [], [area.id]
    while stack:
        for child in snapshot.children.get(stack.pop(), ()):
            info = snapshot.areas[child]
            if info.level == "grid":
                out.append(info)
            else:
                stack.append(child)
    return sorted(out, key=lambda a: a.code)


def _screen_url(request: Request, **params: Any) -> str:
    query = {k: v for k, v in params.items() if v not in (None, "")}
    return request.route_url("dispatch.screen") + ("?" + urlencode(query) if query else "")


@view_config(route_name="dispatch.screen", renderer="dispatch/screen.jinja2", request_method="GET",
             permission=Permissions.PUBLIC_READ)
def screen(request: Request) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    try:
        form = ScreenQuery().load({k: v for k, v in request.GET.items() if v.strip()})
    except ValidationError as exc:
        form, errors = {"text": request.GET.get("text", "")[:2000]}, form_errors(exc)
    text = (form.get("text") or "").strip()
    result = None
    service = dispatch(request)
    snapshot = service.catalogue.snapshot()
    if text and not errors:
        try:
            result = service.suggest(text, lat=form.get("lat"), lon=form.get("lon"), area=form.get("area"),
                                     at=form.get("at"), chosen=form.get("choose"))
        except PortalError as exc:
            errors = form_errors(exc)
    if errors:
        # bad input changes nothing and says so, with a 4xx like the API
        request.response.status = 400
    place_code = (((result or {}).get("place") or {}).get("area") or {}).get("code")
    grids = _grids_within(snapshot, place_code)
    selected_grid = grids[0] if len(grids) == 1 else None

    from portal.cases.places import Places
    from portal.cases.svgmap import render_map

    keep = {"text": text, "choose": form.get("choose"), "at": form.get("at")}
    svg = render_map(Places.of(request.dbsession, request.registry).shapes(), {},
                     lambda shape: _screen_url(request, area=shape.code, **keep),
                     selected=selected_grid.id if selected_grid else None, width=560,
                     title="点选网格以确定位置")
    areas = sorted((a for a in snapshot.areas.values() if a.level in ("street", "unit")), key=lambda a: a.code)
    return {
        "form": form, "raw": request.GET, "errors": errors, "text": text, "result": result, "svg": svg,
        "areas": areas, "grids": grids, "selected_grid": selected_grid, "channels": CHANNELS, "urgencies": URGENCIES,
        "can_teach": bool(request.has_permission(DispatchPermissions.TEACH)),
        "can_create": bool(request.has_permission(Permissions.CASES_INGEST)),
        "choose_url": lambda code: _screen_url(request, text=text, area=form.get("area"), lat=form.get("lat"),
                                               lon=form.get("lon"), at=form.get("at"), choose=code),
        "role_labels": ROLE_LABELS, "status_labels": STATUS_LABELS,
    }


@view_config(route_name="dispatch.choose", request_method="POST", permission=DispatchPermissions.TEACH)
def choose(request: Request) -> Any:
    """Confirm the chosen code (and, with action=case, create the case through the case service)."""
    try:
        data = CaseForm().load({k: v for k, v in request.POST.items() if k != "csrf_token"})
    except ValidationError as exc:
        for _field, messages in form_errors(exc).items():
            request.session.flash("；".join(messages), "error")
        return HTTPSeeOther(_screen_url(request, text=request.POST.get("text", "")[:2000],
                                        choose=request.POST.get("code"), area=request.POST.get("grid")))
    service = dispatch(request)
    back = _screen_url(request, text=data["text"], choose=data["code"], area=data.get("grid"),
                       lat=data.get("lat"), lon=data.get("lon"))
    code = data["code"].rsplit(":", 1)[-1]
    if data["action"] == "confirm":
        try:
            example = service.record_example(data["text"], code, data["suggested_code"], source="screen",
                                             area_code=data.get("grid"))
        except PortalError as exc:
            request.session.flash(exc.message, "error")
            return HTTPSeeOther(back)
        request.session.flash(f"已记录：{'纠正为' if example.corrected else '确认'} {example.code}，今后相似的描述将参考这一判断。",
                              "success")
        return HTTPSeeOther(back)
    if not request.has_permission(Permissions.CASES_INGEST):
        raise HTTPForbidden()
    from portal.cases.interfaces import ICaseService

    cases = request.find_service(ICaseService)
    now = dt.datetime.now(dt.UTC).isoformat()
    raw = {"external_id": f"DISPATCH-{uuid.uuid4().hex[:16].upper()}", "channel": data["channel"],
           "item_type": data["lookup_key"] if data["lookup_key"].endswith(":" + code) else f"gb47678:event:{code}", "description": data["text"], "reported_at": now,
           "urgency": data["urgency"], "lat": data.get("lat"), "lon": data.get("lon"),
           "grid_code": data.get("grid"), "address": data["address"]}
    # The same schema as POST /api/v1/cases: the screen cannot create a case the API would refuse.
    record = CaseRecord().load({**raw, "events": [{"kind": "dispatch", "at": now}]})
    try:
        result = cases.ingest(record, source="api")
    except PortalError as exc:
        if exc.code != "no_responsible_agency":
            request.session.flash(exc.message, "error")
            return HTTPSeeOther(back)
        # The catalogue names no agency for this type here: the case is reported, and the
        # dispatcher sends it on by hand (the flash says so).
        record = CaseRecord().load(raw)
        try:
            result = cases.ingest(record, source="api")
        except PortalError as again:
            request.session.flash(again.message, "error")
            return HTTPSeeOther(back)
        request.session.flash("权责清单中此处没有该类案件的责任单位：案件已登记为“发现上报”，请人工指定派遣单位。", "error")
    case = result.case
    service.record_example(data["text"], code, data["suggested_code"], source="screen", case_id=case.id,
                           area_code=data.get("grid"), known=(data["address"],) if data["address"] else ())
    agency = cases.places.agency(case.agency_id)
    deadline = case.deadline.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M") if case.deadline else "—"
    request.session.flash(
        f"已建案 {case.case_number}：{code}，派往 {agency.name if agency else '（待指定）'}，处置时限至 {deadline}；"
        f"群众查询码 {result.tracking_code}（仅此一次显示，请告知反映人）。", "success")
    return HTTPSeeOther(request.route_url("dispatch.screen"))


class ExamplesQuery(QuerySchema):
    include_discarded = fields.Boolean(load_default=False)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10000))


@view_config(route_name="dispatch.examples", renderer="dispatch/examples.jinja2", request_method="GET",
             permission=DispatchPermissions.REVIEW, schema=ExamplesQuery)
def examples_page(request: Request) -> dict[str, Any]:
    p = request.parsed
    size = 50
    rows, total = dispatch(request).examples(p["include_discarded"], limit=size, offset=(p["page"] - 1) * size)
    return {"rows": rows, "total": total, "page": p["page"], "pages": max(1, -(-total // size)),
            "include_discarded": p["include_discarded"], "sources": EXAMPLE_SOURCES,
            "local": lambda value: value.astimezone(CHINA_TZ)}


@view_config(route_name="dispatch.discard", request_method="POST", permission=DispatchPermissions.REVIEW)
def discard_page(request: Request) -> Any:
    try:
        example = dispatch(request).discard_example(int(request.matchdict["id"]), request.POST.get("reason", ""))
        request.session.flash(f"样例 #{example.id} 已作废，不再作为推荐依据。", "success")
    except PortalError as exc:
        request.session.flash(exc.message, "error")
    return HTTPSeeOther(request.route_url("dispatch.examples"))
