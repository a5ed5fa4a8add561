"""The case JSON API: ingestion from the linkage centre, and the public (redacted) list."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyramid.request import Request
from pyramid.view import view_config

from portal.accounts.permissions import Permissions
from portal.cases.events import CaseCreated
from portal.cases.public import PublicCase
from portal.cases.schemas import (
    CaseIngested,
    CasePage,
    CaseQuery,
    CaseRecord,
    EventIn,
    EventIngested,
    FeedbackRecordIn,
    FeedbackStored,
    PublicCaseOut,
)
from portal.cases.views import cases
from portal.open311.render import CHINA_TZ

TAGS = ["cases"]


def public_dict(case: PublicCase) -> dict[str, Any]:
    return case.as_dict()


def query_filters(parsed: dict[str, Any]) -> dict[str, Any]:
    """CaseQuery → service filters (dates are whole China days)."""
    filters = dict(parsed)
    if parsed.get("date_from"):
        filters["since"] = dt.datetime.combine(parsed["date_from"], dt.time(), CHINA_TZ)
    if parsed.get("date_to"):
        filters["until"] = dt.datetime.combine(parsed["date_to"], dt.time(23, 59, 59, 999999), CHINA_TZ)
    if parsed.get("due_from"):
        filters["due_since"] = dt.datetime.combine(parsed["due_from"], dt.time(), CHINA_TZ)
    if parsed.get("due_to"):
        filters["due_until"] = dt.datetime.combine(parsed["due_to"], dt.time(23, 59, 59, 999999), CHINA_TZ)
    return filters


@view_config(route_name="cases.api.list", renderer="json", request_method="GET",
             permission=Permissions.PUBLIC_READ, schema=CaseQuery,
             api_doc={"summary": "公开案件列表（已脱敏；按类型、单位、街道、网格、状态、时段筛选）", "tags": TAGS,
                      "description": "带 updated_since 时为增量同步：此后有变化的公开案件按 id 升序分页（next_cursor），"
                                     "不公开的案件以墓碑（tombstones）给出，与权责条目接口的约定相同。",
                      "response": CasePage})
def list_cases(request: Request) -> dict[str, Any]:
    page = cases(request).public_page(query_filters(request.parsed))
    result = {"items": [public_dict(c) for c in page.items], "page": page.page, "page_size": page.page_size,
              "total": page.total, "total_is_lower_bound": page.total_is_lower_bound,
              "next_cursor": page.next_cursor, "prev_cursor": page.prev_cursor}
    if page.tombstones is not None:
        result["tombstones"] = page.tombstones
    return result


@view_config(route_name="cases.api.detail", renderer="json", request_method="GET",
             permission=Permissions.PUBLIC_READ,
             api_doc={"summary": "公开案件详情（含办理环节，已脱敏）", "tags": TAGS, "response": PublicCaseOut})
def case_detail(request: Request) -> dict[str, Any]:
    return public_dict(cases(request).public_get(request.matchdict["id"]))


def _ingested(result: Any, service: Any) -> dict[str, Any]:
    case = result.case
    agency = service.places.agency(case.agency_id)
    return {"id": case.id, "case_number": case.case_number, "external_id": case.external_id,
            "created": result.created, "status": case.status, "agency": agency.code if agency else None,
            "deadline": case.deadline.astimezone(CHINA_TZ) if case.deadline else None,
            "events_added": result.events_added, "tracking_code": result.tracking_code}


@view_config(route_name="cases.api.list", renderer="json", request_method="POST",
             permission=Permissions.CASES_INGEST, schema=CaseRecord,
             api_doc={"summary": "接收联动中心案件（按外部案件号幂等：重放不会重复建案）", "tags": TAGS,
                      "response": CaseIngested, "auth": True, "errors": (400, 409)})
def ingest_case(request: Request) -> dict[str, Any]:
    service = cases(request)
    result = service.ingest(request.parsed, source="api")
    request.response.status = 201 if result.created else 200
    if result.created:
        request.registry.notify(CaseCreated(request, result.case, request.parsed))
    return _ingested(result, service)


@view_config(route_name="cases.api.events", renderer="json", request_method="POST",
             permission=Permissions.CASES_INGEST, schema=EventIn,
             api_doc={"summary": "案件环节（派遣、处置、核查、督办、结案、退单、重新办理、撤销）；乱序环节返回 409",
                      "tags": TAGS, "response": EventIngested, "auth": True, "errors": (400, 404, 409)})
def add_event(request: Request) -> dict[str, Any]:
    service = cases(request)
    case = service.get(request.matchdict["id"])
    event, created = service.add_event(case, request.parsed)
    request.response.status = 201 if created else 200
    return {"case_id": case.id, "created": created, "seq": event.seq, "kind": event.kind,
            "at": event.at.astimezone(CHINA_TZ), "status": case.status,
            "deadline": case.deadline.astimezone(CHINA_TZ) if case.deadline else None}


@view_config(route_name="cases.api.feedback", renderer="json", request_method="POST",
             permission=Permissions.CASES_INGEST, schema=FeedbackRecordIn,
             api_doc={"summary": "回访评价（满意 / 基本满意 / 不满意）：每个已结案案件一次；同一评价重放不重复",
                      "tags": TAGS, "response": FeedbackStored, "auth": True, "errors": (400, 404, 409)})
def add_feedback(request: Request) -> dict[str, Any]:
    service = cases(request)
    case = service.get(request.matchdict["id"])
    existed = case.feedback is not None
    data = request.parsed
    feedback = service.record_feedback(case, data["rating"], data["comment"], channel="callback", at=data["at"],
                                       replay_ok=True)
    request.response.status = 200 if existed else 201
    return {"case_id": case.id, "created": not existed, "rating": feedback.rating}
