"""The arbitration JSON API under /api/v1/ (rulings public; disputes for clerks and their panels)."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from pyramid.view import view_config

from portal.accounts.permissions import Permissions
from portal.arbitration.resources import ArbitrationPermissions as P
from portal.arbitration.schemas import (
    DisputeCreateSchema,
    DisputeListQuery,
    DisputeListSchema,
    DisputeSchema,
    DraftSchema,
    ExpertListSchema,
    HotspotListSchema,
    HotspotOpenSchema,
    HotspotQuery,
    MoveSchema,
    PanelSchema,
    PartySchema,
    RevokeSchema,
    RulingListQuery,
    RulingPageSchema,
    RulingSchema,
    StatsSchema,
    VoteResultSchema,
    VoteSchema,
)
from portal.arbitration.views import (
    arbitration,
    dispute_dict,
    expert_public,
    path_id,
    ruling_dict,
    ruling_summary,
)
from portal.errors import InvalidInput

TAGS = ["arbitration"]


def _identity_user(request: Request) -> Any:
    identity = request.identity
    return identity.user if identity is not None else None


# ----------------------------------------------------------------------------- public


@view_config(route_name="arbitration.api.rulings", renderer="json", request_method="GET",
             permission=Permissions.PUBLIC_READ, schema=RulingListQuery,
             api_doc={"summary": "已公布的专家裁定", "tags": TAGS, "response": RulingPageSchema})
def rulings_api(request: Request) -> dict[str, Any]:
    query = request.parsed
    rows, total = arbitration(request).rulings(public=True, item_type=query.get("item_type"),
                                                street=query.get("street"), page=query["page"],
                                                page_size=query["page_size"])
    return {"total": total, "page": query["page"], "items": [ruling_summary(request, r) for r in rows]}


@view_config(route_name="arbitration.api.ruling", renderer="json", request_method="GET",
             permission=Permissions.PUBLIC_READ,
             api_doc={"summary": "一份已公布的裁定书（含 pdf_url）", "tags": TAGS, "response": RulingSchema})
def ruling_api(request: Request) -> dict[str, Any]:
    return ruling_dict(request, arbitration(request).get_ruling(path_id(request)))


@view_config(route_name="arbitration.api.stats", renderer="json", request_method="GET",
             permission=Permissions.PUBLIC_READ,
             api_doc={"summary": "确权统计：按类型、按街道", "tags": TAGS, "response": StatsSchema})
def stats_api(request: Request) -> dict[str, Any]:
    return arbitration(request).stats()


@view_config(route_name="arbitration.api.experts", renderer="json", request_method="GET",
             permission=Permissions.PUBLIC_READ,
             api_doc={"summary": "专家库（公开：姓名与专业领域）", "tags": TAGS, "response": ExpertListSchema})
def experts_api(request: Request) -> dict[str, Any]:
    return {"items": [expert_public(request, e) for e in arbitration(request).experts(active_only=True)]}


# ----------------------------------------------------------------------------- disputes


@view_config(route_name="arbitration.api.disputes", renderer="json", request_method="GET",
             permission=P.VIEW, schema=DisputeListQuery,
             api_doc={"summary": "争议列表（文员：全部；专家：本人所在合议组）", "tags": TAGS,
                      "response": DisputeListSchema, "auth": True})
def disputes_api(request: Request) -> dict[str, Any]:
    service = arbitration(request)
    expert = None
    if not request.has_permission(P.MANAGE):
        expert = service.expert_for_user(_identity_user(request))
        if expert is None:
            return {"items": []}
    rows = service.disputes(stage=request.parsed.get("stage"), expert=expert, overdue=request.parsed.get("overdue"))
    return {"items": [dispute_dict(request, d) for d in rows]}


@view_config(route_name="arbitration.api.disputes", renderer="json", request_method="POST",
             permission=P.MANAGE, schema=DisputeCreateSchema,
             api_doc={"summary": "提出确权争议", "tags": TAGS, "response": DisputeSchema, "auth": True,
                      "errors": (400, 409)})
def dispute_create_api(request: Request) -> dict[str, Any]:
    dispute = arbitration(request).open_dispute(dict(request.parsed))
    request.response.status = 201
    request.response.headers["Location"] = request.route_url("arbitration.api.dispute", id=dispute.id)
    return dispute_dict(request, dispute)


@view_config(route_name="arbitration.api.hotspots", renderer="json", request_method="GET",
             permission=P.MANAGE, schema=HotspotQuery,
             api_doc={"summary": "退单热点（争议候选）", "tags": TAGS, "response": HotspotListSchema, "auth": True})
def hotspots_api(request: Request) -> dict[str, Any]:
    query = request.parsed
    spots = arbitration(request).hotspots(days=query["days"], by=query["by"], min_bounces=query["min_bounces"])
    return {"items": spots}


@view_config(route_name="arbitration.api.hotspots", renderer="json", request_method="POST",
             permission=P.MANAGE, schema=HotspotOpenSchema,
             api_doc={"summary": "就退单热点提出争议（带上退单案件）", "tags": TAGS, "response": DisputeSchema,
                      "auth": True, "errors": (400, 409)})
def hotspot_open_api(request: Request) -> dict[str, Any]:
    import datetime as dt

    service = arbitration(request)
    query = request.parsed
    dispute = service.open_from_hotspot(query["item_type"], query["area"],
                                        since=service.now() - dt.timedelta(days=query["days"]),
                                        min_bounces=query["min_bounces"])
    request.response.status = 201
    return dispute_dict(request, dispute)


@view_config(route_name="arbitration.api.dispute", renderer="json", request_method="GET", permission=P.VIEW,
             api_doc={"summary": "一个争议（文员与本案合议组）", "tags": TAGS, "response": DisputeSchema, "auth": True})
def dispute_api(request: Request) -> dict[str, Any]:
    return dispute_dict(request, request.context.dispute)


@view_config(route_name="arbitration.api.transitions", renderer="json", request_method="POST",
             permission=P.MANAGE, schema=MoveSchema,
             api_doc={"summary": "推进争议环节：accept / reject / inspect / deliberate / withdraw / publish",
                      "tags": TAGS, "response": DisputeSchema, "auth": True, "errors": (400, 409)})
def transition_api(request: Request) -> dict[str, Any]:
    data = dict(request.parsed)
    service, dispute = arbitration(request), request.context.dispute
    move = data.pop("move")
    comment = data.pop("comment", None)
    if move == "publish":
        if not request.has_permission(P.PUBLISH):
            from pyramid.httpexceptions import HTTPForbidden

            raise HTTPForbidden()
        service.publish(dispute, comment)
    else:
        service.advance(dispute, move, comment, **data)
    return dispute_dict(request, dispute)


@view_config(route_name="arbitration.api.parties", renderer="json", request_method="POST",
             permission=P.MANAGE, schema=PartySchema,
             api_doc={"summary": "增加当事方或更新其书面意见", "tags": TAGS, "response": DisputeSchema, "auth": True,
                      "errors": (400, 409)})
def party_api(request: Request) -> dict[str, Any]:
    service, dispute = arbitration(request), request.context.dispute
    data = request.parsed
    if any(p.agency.code == data["agency"] for p in dispute.parties):
        service.set_position(dispute, data["agency"], data["position"])
    else:
        service.add_party(dispute, data["agency"], data["position"])
    return dispute_dict(request, dispute)


@view_config(route_name="arbitration.api.panel", renderer="json", request_method="PUT",
             permission=P.MANAGE, schema=PanelSchema,
             api_doc={"summary": "组成合议组（3/5/7 名；有利害关系的专家 403）", "tags": TAGS,
                      "response": DisputeSchema, "auth": True, "errors": (400, 403, 409)})
def panel_api(request: Request) -> dict[str, Any]:
    dispute = request.context.dispute
    arbitration(request).seat_panel(dispute, request.parsed["experts"], request.parsed.get("chair"))
    return dispute_dict(request, dispute)


@view_config(route_name="arbitration.api.panel", renderer="json", request_method="GET", permission=P.MANAGE,
             api_doc={"summary": "推荐合议组成员（按专业与工作量，排除应回避者）", "tags": TAGS, "auth": True})
def panel_suggest_api(request: Request) -> dict[str, Any]:
    size = request.GET.get("size", "3")
    if size not in ("3", "5", "7"):
        raise InvalidInput("size 须为 3、5 或 7。", fields={"size": ["须为 3、5 或 7。"]})
    dispute = request.context.dispute
    service = arbitration(request)
    return {
        "suggested": [{**expert_public(request, c["expert"]), "specialty_match": c["specialty_match"],
                       "workload": c["workload"]} for c in service.suggest_panel(dispute, int(size))],
        "recused": [{"id": e.id, "name": e.name, "reason": reason} for e, reason in service.conflicted_experts(dispute)],
    }


@view_config(route_name="arbitration.api.draft", renderer="json", request_method="PUT",
             permission=P.MANAGE, schema=DraftSchema,
             api_doc={"summary": "起草或修改裁定草案（改动已表决的草案将开启新一轮表决）", "tags": TAGS,
                      "response": DisputeSchema, "auth": True, "errors": (400, 409)})
def draft_api(request: Request) -> dict[str, Any]:
    dispute = request.context.dispute
    arbitration(request).save_draft(dispute, dict(request.parsed))
    return dispute_dict(request, dispute)


@view_config(route_name="arbitration.api.votes", renderer="json", request_method="POST",
             permission=P.VOTE, schema=VoteSchema,
             api_doc={"summary": "合议组专家表决（须附书面意见；回避或非本组专家 403）", "tags": TAGS,
                      "response": VoteResultSchema, "auth": True, "errors": (400, 403, 409)})
def vote_api(request: Request) -> dict[str, Any]:
    service, dispute = arbitration(request), request.context.dispute
    expert = service.expert_for_user(_identity_user(request))
    vote = service.cast_vote(dispute, expert, request.parsed["choice"], request.parsed["opinion"])
    request.response.status = 201
    ruling = dispute.ruling
    return {"vote_id": vote.id, "round": vote.round, "stage": dispute.stage, "ruling_state": ruling.state,
            "number": service.reference(ruling) if ruling.number else None}


@view_config(route_name="arbitration.api.revoke", renderer="json", request_method="POST",
             permission=P.PUBLISH, schema=RevokeSchema,
             api_doc={"summary": "撤销已公布的裁定（恢复此前的权责）", "tags": TAGS, "response": RulingSchema,
                      "status": 200, "auth": True, "errors": (400, 409)})
def revoke_api(request: Request) -> dict[str, Any]:
    dispute = request.context.dispute
    if dispute.ruling is None:
        from portal.errors import Conflict

        raise Conflict("该争议没有裁定。", code="no_ruling")
    arbitration(request).revoke(dispute.ruling, request.parsed["reason"])
    return ruling_dict(request, dispute.ruling)


@view_config(route_name="arbitration.api.evidence", renderer="json", request_method="POST", permission=P.MANAGE,
             api_doc={"summary": "上传证据（multipart/form-data：file，可选 party、description）", "tags": TAGS,
                      "request_body": {"required": True, "content": {"multipart/form-data": {"schema": {
                          "type": "object", "required": ["file"], "properties": {
                              "file": {"type": "string", "format": "binary", "description": "证据文件"},
                              "party": {"type": "string", "description": "提交证据的当事方单位编码"},
                              "description": {"type": "string", "description": "证据说明"}}}}}},
                      "response": DisputeSchema, "auth": True, "errors": (400, 409, 413)})
def evidence_api(request: Request) -> dict[str, Any]:
    service, dispute = arbitration(request), request.context.dispute
    if not (request.content_type or "").startswith("multipart/form-data"):
        raise InvalidInput("请以 multipart/form-data 上传文件。", code="multipart_required", fields={"file": ["必填。"]})
    upload = request.POST.get("file")
    if upload is None or not hasattr(upload, "file"):
        raise InvalidInput("请选择要上传的文件。", fields={"file": ["必填。"]})
    description = request.POST.get("description", "")
    if len(description) > 300:
        raise InvalidInput("说明不得超过 300 字。", fields={"description": ["不得超过 300 字。"]})
    service.add_evidence(dispute, upload.filename or "", upload.file.read(service.evidence_max_bytes + 1),
                         description, request.POST.get("party") or None)
    request.response.status = 201
    return dispute_dict(request, dispute)
