"""Bulletin pages, downloads, the JSON API and the staff page that generates and publishes."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from portal.accounts.permissions import Permissions
from portal.bulletins.indicators import definitions
from portal.bulletins.interfaces import IBulletinService
from portal.bulletins.models import Bulletin
from portal.bulletins.periods import Period
from portal.bulletins.resources import BulletinPermissions
from portal.bulletins.schemas import (
    BulletinListOut,
    BulletinOut,
    GenerateForm,
    PublishForm,
    RevisionQuery,
)
from portal.bulletins.services import case_list_query, csv_text, page_context
from portal.cases.measures import MEASURES
from portal.errors import PortalError
from portal.validation import form_errors, load
from portal.workflow import STATE_LABELS, State

TAGS = ["bulletins"]


def bulletins(request: Request) -> Any:
    return request.find_service(IBulletinService)


def _links(request: Request, bulletin: Bulletin) -> dict[str, str]:
    args = {"period": bulletin.period, "revision": bulletin.revision}
    return {"html_url": request.route_url("bulletins.revision", **args),
            "pdf_url": request.route_url("bulletins.file", ext="pdf", **args),
            "csv_url": request.route_url("bulletins.file", ext="csv", **args),
            "json_url": request.route_url("bulletins.file", ext="json", **args)}


def summary(request: Request, bulletin: Bulletin, revisions: dict[int, int] | None = None) -> dict[str, Any]:
    period = Period.parse(bulletin.period)
    corrects = (revisions or {}).get(bulletin.corrects_id) if bulletin.corrects_id else None
    return {"period": bulletin.period, "period_kind": bulletin.period_kind, "period_label": period.label,
            "issue": bulletin.issue_label, "revision": bulletin.revision, "state": bulletin.state,
            "state_label": STATE_LABELS[State(bulletin.state)], "corrects_revision": corrects,
            "correction_note": bulletin.correction_note, "published_at": bulletin.published_at,
            "sha256": {"json": bulletin.data_sha256, "pdf": bulletin.pdf_sha256}, "watermark": bulletin.watermark,
            **_links(request, bulletin)}


def _case_link(request: Request, data: dict[str, Any]) -> Any:
    def link(level: str, code: str | None, measure: str, period: dict[str, Any] | None = None) -> str:
        return request.route_url("cases.index", _query=case_list_query(period or data["period"], level, code, measure))

    return link


# ----------------------------------------------------------------------------- public pages


@view_config(route_name="bulletins.index", renderer="bulletins/index.jinja2", request_method="GET",
             permission=Permissions.PUBLIC_READ)
def archive(request: Request) -> dict[str, Any]:
    service = bulletins(request)
    items = service.public_list()
    revisions = {b.id: b.revision for b in items}
    groups: dict[str, list[dict[str, Any]]] = {"month": [], "quarter": [], "year": []}
    for bulletin in items:
        groups[bulletin.period_kind].append(summary(request, bulletin, revisions))
    return {"groups": groups, "can_manage": request.has_permission(BulletinPermissions.MANAGE, _admin(request))}


def _admin(request: Request) -> Any:
    from portal.bulletins.resources import BulletinAdmin

    return BulletinAdmin(request)


@view_config(route_name="bulletins.indicators", renderer="bulletins/indicators.jinja2", request_method="GET",
             permission=Permissions.PUBLIC_READ)
def indicator_definitions(request: Request) -> dict[str, Any]:
    from portal.bulletins.indicators import MIN_DUE_FOR_RANKING
    from portal.cases.measures import PATROL_CHANNELS, PUBLIC_CHANNELS
    from portal.cases.models import CHANNELS

    return {"definitions": definitions(), "measures": MEASURES, "min_due": MIN_DUE_FOR_RANKING,
            "patrol": [CHANNELS[c] for c in PATROL_CHANNELS], "public": [CHANNELS[c] for c in PUBLIC_CHANNELS]}


def _detail(request: Request, bulletin: Bulletin, *, preview: bool = False) -> dict[str, Any]:
    service = bulletins(request)
    data = service.data(bulletin)
    revisions = {b.id: b.revision for b in service.revisions(bulletin.period)}
    others = [summary(request, b, revisions) for b in service.revisions(bulletin.period)
              if b.state in ("published", "superseded") and b.id != bulletin.id]
    return {"bulletin": summary(request, bulletin, revisions), "others": others, "preview": preview,
            **page_context(data, link=_case_link(request, data), for_pdf=False)}


@view_config(route_name="bulletins.detail", renderer="bulletins/detail.jinja2", request_method="GET",
             permission=Permissions.PUBLIC_READ)
def latest(request: Request) -> dict[str, Any]:
    return _detail(request, bulletins(request).get(request.matchdict["period"]))


@view_config(route_name="bulletins.revision", renderer="bulletins/detail.jinja2", request_method="GET",
             permission=Permissions.PUBLIC_READ)
def revision(request: Request) -> dict[str, Any]:
    return _detail(request, bulletins(request).get(request.matchdict["period"], int(request.matchdict["revision"])))


def file_response(bulletin: Bulletin, ext: str) -> Response:
    """The frozen bytes: the JSON whose sha256 is published, the PDF, or the CSV derived from the JSON."""
    name = f"bulletin-{bulletin.period}-r{bulletin.revision}.{ext}"
    if ext == "pdf":
        response = Response(body=bulletin.pdf, content_type="application/pdf")
        response.headers["Content-Disposition"] = f'inline; filename="{name}"'
        response.etag = bulletin.pdf_sha256
    elif ext == "json":
        response = Response(body=bulletin.data_json.encode(), content_type="application/json", charset="utf-8")
        response.etag = bulletin.data_sha256
    else:
        import json

        body = "\ufeff" + csv_text(json.loads(bulletin.data_json))  # the BOM lets spreadsheet programs read UTF-8
        response = Response(body=body.encode(), content_type="text/csv", charset="utf-8")
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    if bulletin.state in ("published", "superseded"):
        response.cache_control = "public, max-age=86400"
    return response


@view_config(route_name="bulletins.file", request_method="GET", permission=Permissions.PUBLIC_READ)
def revision_file(request: Request) -> Response:
    bulletin = bulletins(request).get(request.matchdict["period"], int(request.matchdict["revision"]))
    return file_response(bulletin, request.matchdict["ext"])


@view_config(route_name="bulletins.latest_file", request_method="GET", permission=Permissions.PUBLIC_READ)
def latest_file(request: Request) -> Response:
    return file_response(bulletins(request).get(request.matchdict["period"]), request.matchdict["ext"])


# ----------------------------------------------------------------------------- JSON API


@view_config(route_name="bulletins.api.list", renderer="json", request_method="GET",
             permission=Permissions.PUBLIC_READ,
             api_doc={"summary": "已发布的考评通报（含已被更正的版本）：PDF、CSV、JSON 地址与 sha256", "tags": TAGS,
                      "response": BulletinListOut})
def api_list(request: Request) -> dict[str, Any]:
    items = bulletins(request).public_list()
    revisions = {b.id: b.revision for b in items}
    return {"items": [summary(request, b, revisions) for b in items]}


@view_config(route_name="bulletins.api.detail", renderer="json", request_method="GET",
             permission=Permissions.PUBLIC_READ, schema=RevisionQuery,
             api_doc={"summary": "一期考评通报（period：2026-10、2026-Q3 或 2026；revision 可选，默认现行版本）",
                      "tags": TAGS, "response": BulletinOut, "errors": (400, 404)})
def api_detail(request: Request) -> dict[str, Any]:
    service = bulletins(request)
    Period.parse(request.matchdict["period"])
    bulletin = service.get(request.matchdict["period"], request.parsed["revision"])
    all_revisions = service.revisions(bulletin.period)
    revisions = {b.id: b.revision for b in all_revisions}
    return {**summary(request, bulletin, revisions),
            "revisions": [summary(request, b, revisions) for b in all_revisions
                          if b.state in ("published", "superseded")],
            "data": service.data(bulletin)}


# ----------------------------------------------------------------------------- staff


def _manage_context(request: Request, errors: dict[str, Any] | None = None,
                    values: dict[str, Any] | None = None) -> dict[str, Any]:
    service = bulletins(request)
    items = service.all()
    revisions = {b.id: b.revision for b in items}
    return {"items": [{**summary(request, b, revisions), "id": b.id} for b in items], "errors": errors or {},
            "values": values or {}}


@view_config(route_name="bulletins.manage", renderer="bulletins/manage.jinja2", request_method="GET",
             permission=BulletinPermissions.MANAGE)
def manage(request: Request) -> dict[str, Any]:
    return _manage_context(request)


@view_config(route_name="bulletins.manage", renderer="bulletins/manage.jinja2", request_method="POST",
             permission=BulletinPermissions.MANAGE)
def generate(request: Request) -> Any:
    service = bulletins(request)
    try:
        data = load(request, GenerateForm, "form")
        bulletin = service.generate(Period.parse(data["period"]), data["correction_note"])
        if data["publish"]:
            service.publish(bulletin, "生成后直接发布")
    except ValidationError as exc:
        request.response.status = 400
        return _manage_context(request, form_errors(exc), dict(request.POST))
    except PortalError as exc:
        request.response.status = exc.status
        return _manage_context(request, form_errors(exc), dict(request.POST))
    state = "并发布" if data["publish"] else "（草稿，请预览后发布）"
    request.session.flash(f"已生成 {bulletin.issue_label} 第{bulletin.revision}版{state}。", "success")
    return HTTPSeeOther(request.route_url("bulletins.manage"))


@view_config(route_name="bulletins.publish", request_method="POST", permission=BulletinPermissions.MANAGE)
def publish(request: Request) -> Any:
    service = bulletins(request)
    bulletin = service.by_id(int(request.matchdict["id"]))
    try:
        form = load(request, PublishForm, "form")
        service.publish(bulletin, form["comment"] or None)
        request.session.flash(f"已发布 {bulletin.issue_label} 第{bulletin.revision}版。", "success")
    except (ValidationError, PortalError) as exc:
        request.session.flash("发布失败：" + "；".join(m for ms in form_errors(exc).values() for m in ms), "error")
    return HTTPSeeOther(request.route_url("bulletins.manage"))


@view_config(route_name="bulletins.preview", renderer="bulletins/detail.jinja2", request_method="GET",
             permission=BulletinPermissions.MANAGE)
def preview(request: Request) -> dict[str, Any]:
    service = bulletins(request)
    bulletin = service.by_id(int(request.matchdict["id"]))
    service.session.refresh(bulletin, ["data_json"])
    return _detail(request, bulletin, preview=True)


@view_config(route_name="bulletins.preview_pdf", request_method="GET", permission=BulletinPermissions.MANAGE)
def preview_pdf(request: Request) -> Response:
    return file_response(bulletins(request).by_id(int(request.matchdict["id"])), "pdf")


