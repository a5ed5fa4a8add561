"""Arbitration pages (Chinese UI, server-rendered, usable without JavaScript)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any
from urllib.parse import quote

from marshmallow import ValidationError
from pyramid.httpexceptions import HTTPForbidden, HTTPSeeOther
from pyramid.request import Request
from pyramid.response import FileResponse, Response
from pyramid.view import view_config

from portal.accounts.permissions import Permissions
from portal.arbitration.resources import ArbitrationPermissions as P
from portal.arbitration.schemas import (
    DisputeFormSchema,
    DisputeListQuery,
    DraftForm,
    ExpertForm,
    HotspotOpenForm,
    HotspotQuery,
    MoveForm,
    PanelForm,
    PartyForm,
    RevokeForm,
    RulingListQuery,
    VoteForm,
)
from portal.arbitration.services import MOVES, PANEL_SIZES, Recused
from portal.arbitration.views import (
    arbitration,
    decisions_out,
    dispute_dict,
    expert_public,
    path_id,
    ruling_dict,
    ruling_summary,
    specialty_names,
    template_globals,
)
from portal.catalogue.resolution import ROLES
from portal.errors import InvalidInput, PortalError
from portal.validation import form_errors, load


def _page(**values: Any) -> dict[str, Any]:
    return {**template_globals(), **values}


def _user(request: Request) -> Any:
    return request.identity.user if request.identity is not None else None


def _fail(request: Request, exc: ValidationError | PortalError) -> None:
    """A refused form: nothing of this request is stored, the reason is shown on the next page."""
    request.tm.doom()
    errors = form_errors(exc)
    general = errors.pop("_", [])
    details = "；".join(m for messages in errors.values() for m in messages)
    message = "；".join(general) or "输入校验未通过。"
    request.session.flash(message + (f"（{details}）" if details else ""), "error")


# ----------------------------------------------------------------------------- public


@view_config(route_name="arbitration.rulings", renderer="arbitration/rulings.jinja2", request_method="GET",
             permission=Permissions.PUBLIC_READ, schema=RulingListQuery)
def rulings_page(request: Request) -> dict[str, Any]:
    query = request.parsed
    service = arbitration(request)
    try:
        rows, total = service.rulings(public=True, item_type=query.get("item_type"), street=query.get("street"),
                                      page=query["page"], page_size=query["page_size"])
    except InvalidInput as exc:
        request.response.status = 400
        return _page(rulings=[], total=0, query=query, pages=1, error=exc.message, streets=_streets(request))
    pages = max(1, -(-total // query["page_size"]))
    return _page(rulings=[{**ruling_summary(request, r), "decisions": r.decisions} for r in rows], total=total,
                 query=query, pages=pages, error=None, streets=_streets(request),
                 can_manage=bool(request.has_permission(P.MANAGE, _root(request))))


def _root(request: Request) -> Any:
    from portal.arbitration.resources import ArbitrationRoot

    return ArbitrationRoot(request)


def _streets(request: Request) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from portal.catalogue.models import Area

    return [(a.code, a.name) for a in request.dbsession.scalars(
        select(Area).where(Area.level == "street").order_by(Area.code))]


@view_config(route_name="arbitration.ruling", renderer="arbitration/ruling.jinja2", request_method="GET",
             permission=Permissions.PUBLIC_READ)
def ruling_page(request: Request) -> dict[str, Any]:
    service = arbitration(request)
    ruling = service.get_ruling(path_id(request), public=False)
    dispute_context = _dispute_context(request, ruling.dispute)
    # Staff of the dispute may read a ruling before it is published; everyone else only once it is.
    if ruling.state != "published" and not request.has_permission(P.VIEW, dispute_context):
        ruling = service.get_ruling(ruling.id, public=True)
    return _page(r=ruling_dict(request, ruling), ruling=ruling,
                 can_revoke=ruling.state == "published" and bool(request.has_permission(P.PUBLISH, dispute_context)))


def _dispute_context(request: Request, dispute: Any) -> Any:
    from portal.arbitration.resources import DisputeResource

    context = DisputeResource.__new__(DisputeResource)
    context.request, context.service, context.dispute = request, arbitration(request), dispute
    return context


@view_config(route_name="arbitration.ruling_pdf", request_method="GET", permission=Permissions.PUBLIC_READ)
def ruling_pdf(request: Request) -> Response:
    from pyramid.renderers import render

    from portal.pdf.interfaces import IPdfRenderer

    ruling = arbitration(request).get_ruling(path_id(request), public=True)
    html = render("arbitration/ruling_pdf.jinja2", _page(r=ruling_dict(request, ruling)), request=request)
    started = time.perf_counter()
    pdf = request.find_service(IPdfRenderer).render(html, base_url=request.application_url)
    elapsed = time.perf_counter() - started
    response = Response(body=pdf, content_type="application/pdf")
    filename = f"裁定书{ruling.number}.pdf"
    response.headers["Content-Disposition"] = f"inline; filename=\"ruling-{ruling.id}.pdf\"; filename*=UTF-8''{quote(filename)}"
    response.headers["Server-Timing"] = f"pdf;dur={elapsed * 1000:.0f}"
    return response


@view_config(route_name="arbitration.stats", renderer="arbitration/stats.jinja2", request_method="GET",
             permission=Permissions.PUBLIC_READ)
def stats_page(request: Request) -> dict[str, Any]:
    return _page(stats=arbitration(request).stats())


@view_config(route_name="arbitration.experts", renderer="arbitration/experts.jinja2", request_method="GET",
             permission=Permissions.PUBLIC_READ)
def experts_page(request: Request) -> dict[str, Any]:
    service = arbitration(request)
    can_manage = bool(request.has_permission(P.MANAGE, _root(request)))
    experts = service.experts(active_only=not can_manage)
    return _page(experts=[{**expert_public(request, e), "row": e} for e in experts], can_manage=can_manage,
                 workload=service.workload() if can_manage else {}, majors=specialty_names(request))


@view_config(route_name="arbitration.experts", request_method="POST", permission=P.MANAGE)
def expert_save(request: Request) -> Any:
    service = arbitration(request)
    try:
        data = load(request, ExpertForm)
        expert = service.get_expert(int(request.POST["expert_id"])) if request.POST.get("expert_id", "").isdigit() else None
        expert = service.save_expert(data, expert)
    except (ValidationError, PortalError) as exc:
        _fail(request, exc)
    else:
        request.session.flash(f"已保存专家 {expert.name}。", "success")
    return HTTPSeeOther(request.route_url("arbitration.experts"))


# ----------------------------------------------------------------------------- workbench


@view_config(route_name="arbitration.index", renderer="arbitration/index.jinja2", request_method="GET",
             permission=P.VIEW, schema=DisputeListQuery)
def index_page(request: Request) -> dict[str, Any]:
    service = arbitration(request)
    manage = bool(request.has_permission(P.MANAGE))
    expert = None if manage else service.expert_for_user(_user(request))
    if manage or expert is not None:
        rows = service.disputes(stage=request.parsed.get("stage"), expert=expert,
                                overdue=request.parsed.get("overdue"))
    else:
        rows = []
    now = service.now()
    return _page(disputes=rows, manage=manage, expert=expert, query=request.parsed, now=now,
                 overdue_count=sum(d.overdue(now) for d in rows))


@view_config(route_name="arbitration.hotspots", renderer="arbitration/hotspots.jinja2", request_method="GET",
             permission=P.MANAGE, schema=HotspotQuery)
def hotspots_page(request: Request) -> dict[str, Any]:
    query = request.parsed
    spots = arbitration(request).hotspots(days=query["days"], by=query["by"], min_bounces=query["min_bounces"])
    return _page(spots=spots, query=query)


@view_config(route_name="arbitration.hotspots", request_method="POST", permission=P.MANAGE)
def hotspot_open(request: Request) -> Any:
    service = arbitration(request)
    try:
        data = load(request, HotspotOpenForm)
        dispute = service.open_from_hotspot(data["item_type"], data["area"],
                                            since=service.now() - dt.timedelta(days=data["days"]),
                                            min_bounces=data["min_bounces"])
    except (ValidationError, PortalError) as exc:
        _fail(request, exc)
        return HTTPSeeOther(request.route_url("arbitration.hotspots"))
    request.session.flash(f"已就退单热点立案 {dispute.number}，带入 {len(dispute.cases)} 件退单案件。", "success")
    return HTTPSeeOther(request.route_url("arbitration.dispute", id=dispute.id))


@view_config(route_name="arbitration.dispute_new", renderer="arbitration/dispute_new.jinja2", request_method="GET",
             permission=P.MANAGE)
def dispute_new_page(request: Request) -> dict[str, Any]:
    return _page(values={k: request.GET.get(k, "") for k in ("item_type", "area", "parties")}, errors={})


@view_config(route_name="arbitration.dispute_new", renderer="arbitration/dispute_new.jinja2", request_method="POST",
             permission=P.MANAGE)
def dispute_new(request: Request) -> Any:
    values = {k: request.POST.get(k, "") for k in ("item_type", "area", "parties", "title", "question", "location_note")}
    try:
        data = load(request, DisputeFormSchema)
        codes = [c for c in data.pop("parties", "").replace("，", ",").replace(",", " ").split() if c]
        data["parties"] = [{"agency": c} for c in codes]
        dispute = arbitration(request).open_dispute(data)
    except (ValidationError, PortalError) as exc:
        request.tm.doom()
        request.response.status = 400
        return _page(values=values, errors=form_errors(exc))
    request.session.flash(f"已立案 {dispute.number}。", "success")
    return HTTPSeeOther(request.route_url("arbitration.dispute", id=dispute.id))


@view_config(route_name="arbitration.dispute", renderer="arbitration/dispute.jinja2", request_method="GET",
             permission=P.VIEW)
def dispute_page(request: Request) -> dict[str, Any]:
    service, dispute = arbitration(request), request.context.dispute
    manage = bool(request.has_permission(P.MANAGE))
    expert = service.expert_for_user(_user(request))
    seat = service.seat_of(dispute, expert)
    ruling = dispute.ruling
    my_vote = None
    if ruling is not None and expert is not None:
        my_vote = next((v for v in ruling.round_votes() if v.expert_id == expert.id), None)
    moves = [m for m in MOVES.values() if dispute.stage in m.source]
    return _page(
        d=dispute, data=dispute_dict(request, dispute), manage=manage, expert=expert, seat=seat, my_vote=my_vote,
        moves=moves, history=service.stage_history(dispute), now=service.now(), roles=ROLES,
        suggestions=service.suggest_panel(dispute, 50) if manage and dispute.stage in ("accepted", "inspected") else [],
        recused=service.conflicted_experts(dispute) if manage else [],
        experts=service.experts(active_only=True) if manage else [], panel_sizes=PANEL_SIZES,
        can_publish=bool(request.has_permission(P.PUBLISH)),
        can_vote=bool(request.has_permission(P.VOTE)) and seat is not None,
        max_kb=service.evidence_max_bytes // 1024,
        ruling_view=ruling_dict(request, ruling) if ruling is not None and ruling.number else None,
        decisions=decisions_out(request, ruling) if ruling is not None else [],
    )


_ACTIONS: dict[str, Any] = {}


def _action(name: str, permission: str) -> Any:
    def register(func: Any) -> Any:
        _ACTIONS[name] = (permission, func)
        return func
    return register


@view_config(route_name="arbitration.dispute_action", request_method="POST", permission=P.VIEW)
def dispute_action(request: Request) -> Any:
    name = request.matchdict["action"]
    if name not in _ACTIONS:
        from portal.errors import NotFound

        raise NotFound("没有这个操作。")
    permission, func = _ACTIONS[name]
    if not request.has_permission(permission):
        raise HTTPForbidden()
    dispute = request.context.dispute
    try:
        message = func(request, arbitration(request), dispute)
    except Recused:
        # A conflicted expert is refused outright (403), never merely told on the next page.
        raise
    except (ValidationError, PortalError) as exc:
        _fail(request, exc)
    else:
        request.session.flash(message, "success")
    return HTTPSeeOther(request.route_url("arbitration.dispute", id=dispute.id))


@_action("move", P.MANAGE)
def _move(request: Request, service: Any, dispute: Any) -> str:
    data = load(request, MoveForm)
    move = data.pop("move")
    comment = data.pop("comment", None) or None
    if move == "publish":
        if not request.has_permission(P.PUBLISH):
            raise HTTPForbidden()
        ruling = service.publish(dispute, comment)
        return f"已公布 {service.reference(ruling)}，权责清单已按裁定更新。"
    service.advance(dispute, move, comment, **data)
    return f"{dispute.number} 现为“{dispute.stage}”。".replace(dispute.stage, template_globals()["STAGE_LABELS"][dispute.stage])


@_action("party", P.MANAGE)
def _party(request: Request, service: Any, dispute: Any) -> str:
    data = load(request, PartyForm)
    if any(p.agency.code == data["agency"] for p in dispute.parties):
        party = service.set_position(dispute, data["agency"], data["position"])
        return f"已更新{party.agency.name}的书面意见。"
    party = service.add_party(dispute, data["agency"], data["position"])
    recused = [s for s in dispute.panel if s.recused_at is not None]
    return f"已增加当事方{party.agency.name}。" + (f"（{len(recused)} 名专家因利害关系回避）" if recused else "")


@_action("evidence", P.MANAGE)
def _evidence(request: Request, service: Any, dispute: Any) -> str:
    upload = request.POST.get("file")
    if upload is None or not hasattr(upload, "file"):
        raise InvalidInput("请选择要上传的文件。", fields={"file": ["必填。"]})
    data = upload.file.read(service.evidence_max_bytes + 1)
    evidence = service.add_evidence(dispute, upload.filename or "", data, request.POST.get("description", ""),
                                    request.POST.get("party") or None)
    return f"已上传证据“{evidence.filename}”。"


@_action("panel", P.MANAGE)
def _panel(request: Request, service: Any, dispute: Any) -> str:
    data = load(request, PanelForm)
    seats = service.seat_panel(dispute, data["experts"], data.get("chair"))
    return f"合议组已组成：{'、'.join(s.expert.name for s in seats)}。"


@_action("draft", P.MANAGE)
def _draft(request: Request, service: Any, dispute: Any) -> str:
    data = load(request, DraftForm)
    draft = {
        "title": data["title"] or None,
        "decisions": [{"role": role, "agency": data[role]} for role in ROLES if data.get(role)],
        "reasoning": data["reasoning"],
        "citations": [c for c in data["citations"].replace("；", "\n").splitlines() if c.strip()],
        "scope": data["scope"], "scope_area": data["scope_area"] or None,
        "effective_date": data.get("effective_date"),
    }
    ruling = service.save_draft(dispute, draft)
    return f"裁定草案已保存（第 {ruling.round} 轮表决）。"


@_action("vote", P.VOTE)
def _vote(request: Request, service: Any, dispute: Any) -> str:
    data = load(request, VoteForm)
    vote = service.cast_vote(dispute, service.expert_for_user(_user(request)), data["choice"], data["opinion"])
    if dispute.stage == "ruled":
        return f"表决已记录。合议组多数同意，裁定 {service.reference(dispute.ruling)} 已作出。"
    return f"表决已记录（第 {vote.round} 轮）。"


@_action("revoke", P.PUBLISH)
def _revoke(request: Request, service: Any, dispute: Any) -> str:
    data = load(request, RevokeForm)
    if dispute.ruling is None:
        raise InvalidInput("该争议没有裁定。")
    service.revoke(dispute.ruling, data["reason"])
    return f"裁定 {service.reference(dispute.ruling)} 已撤销，权责清单已恢复此前的答复。"


@view_config(route_name="arbitration.evidence", request_method="GET", permission=P.EVIDENCE)
def evidence_file(request: Request) -> Response:
    service, dispute = arbitration(request), request.context.dispute
    evidence = service.get_evidence(dispute, path_id(request, "evidence_id"))
    path = service.evidence_path(evidence)
    if not path.is_file():
        from portal.errors import NotFound

        raise NotFound("证据文件已不存在。", code="evidence_missing")
    response = FileResponse(str(path), request=request, content_type=evidence.content_type.split(";")[0])
    if "charset" in evidence.content_type:
        response.charset = "utf-8"
    disposition = "inline" if evidence.content_type.startswith(("image/", "application/pdf")) else "attachment"
    response.headers["Content-Disposition"] = (
        f"{disposition}; filename=\"evidence-{evidence.id}{path.suffix}\"; filename*=UTF-8''{quote(evidence.filename)}")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "sandbox"
    return response
