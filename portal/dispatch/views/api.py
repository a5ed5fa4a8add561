"""The dispatch assistant's JSON API."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from pyramid.view import view_config

from portal.accounts.permissions import Permissions
from portal.dispatch.resources import DispatchPermissions
from portal.dispatch.schemas import (
    DiscardBody,
    ExampleBody,
    ExampleOut,
    ExamplePage,
    ExampleQuery,
    SuggestBody,
    SuggestionOut,
    SuggestQuery,
)
from portal.dispatch.views import dispatch

TAGS = ["dispatch"]
PAGE_SIZE = 50


def _suggest(request: Request) -> dict[str, Any]:
    p = request.parsed
    return dispatch(request).suggest(p["text"], lat=p.get("lat"), lon=p.get("lon"), area=p.get("area"), at=p.get("at"))


@view_config(route_name="dispatch.api.suggest", renderer="json", request_method="GET", schema=SuggestQuery,
             permission=Permissions.PUBLIC_READ,
             api_doc={"summary": "派遣助手：由群众原话（及位置）推荐事件类型、地点、权属与法律依据", "tags": TAGS,
                      "response": SuggestionOut, "status": 200})
def suggest_get(request: Request) -> dict[str, Any]:
    return _suggest(request)


@view_config(route_name="dispatch.api.suggest", renderer="json", request_method="POST", schema=SuggestBody,
             permission=Permissions.PUBLIC_READ,
             api_doc={"summary": "派遣助手（POST JSON：text, lat, lon, area, at）", "tags": TAGS,
                      "response": SuggestionOut, "status": 200})
def suggest_post(request: Request) -> dict[str, Any]:
    return _suggest(request)


def example_dict(example: Any) -> dict[str, Any]:
    return ExampleOut().dump(example)


@view_config(route_name="dispatch.api.examples", renderer="json", request_method="POST", schema=ExampleBody,
             permission=DispatchPermissions.TEACH,
             api_doc={"summary": "调度员确认或纠正一条推荐（原话 → 编码），作为后续推荐的依据", "tags": TAGS,
                      "response": ExampleOut, "auth": True, "errors": (400,)})
def example_create(request: Request) -> dict[str, Any]:
    p = request.parsed
    example = dispatch(request).record_example(p["text"], p["code"], p.get("suggested_code", ""), source="screen",
                                               area_code=p.get("area"))
    request.response.status = 201
    return example_dict(example)


@view_config(route_name="dispatch.api.examples", renderer="json", request_method="GET", schema=ExampleQuery,
             permission=DispatchPermissions.REVIEW,
             api_doc={"summary": "已确认的派遣样例（编辑可见）", "tags": TAGS, "response": ExamplePage, "auth": True})
def examples_list(request: Request) -> dict[str, Any]:
    p = request.parsed
    rows, total = dispatch(request).examples(p["include_discarded"], limit=PAGE_SIZE, offset=(p["page"] - 1) * PAGE_SIZE)
    return {"items": [example_dict(r) for r in rows], "total": total, "page": p["page"]}


@view_config(route_name="dispatch.api.discard", renderer="json", request_method="POST", schema=DiscardBody,
             permission=DispatchPermissions.REVIEW,
             api_doc={"summary": "作废一条错误样例（不再作为推荐依据；留审计记录）", "tags": TAGS,
                      "response": ExampleOut, "auth": True, "status": 200, "errors": (400, 404)})
def example_discard(request: Request) -> dict[str, Any]:
    example = dispatch(request).discard_example(int(request.matchdict["id"]), request.parsed["reason"])
    return example_dict(example)
