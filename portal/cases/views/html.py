"""Public pages: the case list with its district map, one case, and tracking by code."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError
from pyramid.request import Request
from pyramid.view import view_config

from portal.accounts.permissions import Permissions
from portal.cases.lifecycle import STATUS_LABELS, Status
from portal.cases.models import RATINGS
from portal.cases.schemas import CaseQuery, FeedbackIn
from portal.cases.svgmap import render_map
from portal.cases.views import cases
from portal.cases.views.api import query_filters
from portal.errors import Conflict, NotFound
from portal.open311.render import CHINA_TZ
from portal.validation import load

STATUS_OPTIONS = [("open", "在办"), ("closed", "已办结/撤销")] + [(s.value, STATUS_LABELS[s]) for s in Status]


def _filter_options(service: Any) -> dict[str, Any]:
    from portal.open311.views import offered_items

    places = service.places
    snapshot = places.snapshot
    items = offered_items(service)
    streets = sorted((a for a in snapshot.areas.values() if a.level == "street"), key=lambda a: a.code)
    agencies = sorted(snapshot.agencies.values(), key=lambda a: (a.kind, a.code))
    return {
        "item_options": [(places.service_code(i), f"{i.code} {i.name}") for i in items],
        "agency_options": [(a.code, a.name) for a in agencies],
        "street_options": [(a.code, a.name) for a in streets],
        "status_options": STATUS_OPTIONS,
    }


PAGE_SIZE = 20
PAGING_PARAMS = {"page", "page_size", "cursor", "before"}


def _paging(request: Request, page: Any) -> dict[str, str | None]:
    """Previous / next links: keyset cursors, so every case is reachable; ``page`` only labels them."""
    number = page.page
    prev_url = next_url = None
    if page.prev_cursor:
        # The first page is plain (no cursor): it is the page people bookmark and share.
        prev_url = (request.query_with(page=None, cursor=None, before=None) if number <= 2
                    else request.query_with(page=number - 1, cursor=None, before=page.prev_cursor))
    if page.next_cursor:
        next_url = request.query_with(page=number + 1, before=None, cursor=page.next_cursor)
    return {"prev": prev_url, "next": next_url}


@view_config(route_name="cases.index", renderer="cases/index.jinja2", request_method="GET",
             permission=Permissions.PUBLIC_READ)
def case_list(request: Request) -> dict[str, Any]:
    service = cases(request)
    errors: dict[str, Any] = {}
    try:
        parsed = load(request, CaseQuery, "query")
    except ValidationError as exc:
        errors = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        if PAGING_PARAMS & set(errors):
            # A page that cannot be shown is answered as such, never with another page's cases.
            raise
        parsed = CaseQuery().load({})
    filters = query_filters(parsed)
    filters["page_size"] = PAGE_SIZE
    page = service.public_page(filters)
    paged = parsed["page"] > 1 or bool(parsed.get("cursor") or parsed.get("before"))
    pages = -(-page.total // page.page_size)
    out_of_range = None
    if paged and not page.items:
        request.response.status = 404
        out_of_range = (f"没有第 {parsed['page']} 页：符合条件的案件" +
                        (f"超过 {page.total} 件" if page.total_is_lower_bound else f"共 {page.total} 件，{pages} 页") +
                        "。")
    counts = service.grid_counts(filters)
    selected_grid = service.places.area_by_code(parsed.get("grid") or "")
    svg = render_map(
        service.places.shapes(), counts,
        lambda shape: request.route_url("cases.index", _query={**{k: v for k, v in request.GET.items()
                                                                 if k not in {"grid", "page", "cursor"}},
                                                              "grid": shape.code}),
        selected=selected_grid.id if selected_grid else None,
    )
    return {"page": page, "pages": None if page.total_is_lower_bound else max(1, pages), "paging": _paging(request, page),
            "out_of_range": out_of_range, "params": request.GET, "china_tz": CHINA_TZ, "errors": errors, "map_svg": svg,
            "grid_name": selected_grid.name if selected_grid else None, **_filter_options(service)}


@view_config(route_name="cases.detail", renderer="cases/detail.jinja2", request_method="GET",
             permission=Permissions.PUBLIC_READ)
def case_detail(request: Request) -> dict[str, Any]:
    return {"case": cases(request).public_get(request.matchdict["id"]), "china_tz": CHINA_TZ}


@view_config(route_name="cases.track", renderer="cases/track.jinja2", request_method="GET",
             permission=Permissions.PUBLIC_READ)
def track_form(request: Request) -> dict[str, Any]:
    return {"case": None, "code": "", "error": None, "can_rate": False, "ratings": list(RATINGS.items()),
            "china_tz": CHINA_TZ, "rating_errors": {}}


@view_config(route_name="cases.track", renderer="cases/track.jinja2", request_method="POST",
             permission=Permissions.PUBLIC_READ)
def track(request: Request) -> dict[str, Any]:
    """Look a case up by its code (POST, so codes stay out of URLs and logs), or rate it once."""
    service = cases(request)
    code = (request.POST.get("tracking_code") or "").strip()[:32]
    result: dict[str, Any] = {"case": None, "code": code, "error": None, "can_rate": False,
                              "ratings": list(RATINGS.items()), "rating_errors": {}, "china_tz": CHINA_TZ}
    if request.POST.get("action") == "rate":
        try:
            data = load(request, FeedbackIn, "form")
            service.rate(data["tracking_code"], data["rating"], data["comment"])
            request.session.flash("感谢您的评价！", "success")
        except ValidationError as exc:
            result["rating_errors"] = exc.messages
        except (Conflict, NotFound) as exc:
            result["error"] = exc.message
    try:
        case = service.track(code)
    except NotFound as exc:
        request.response.status = 404
        result["error"] = exc.message
        return result
    result["case"] = service.public_get(case.id) if case.item_type_id not in service.hidden_item_ids else None
    if result["case"] is None:
        result["error"] = "该类案件不对外公开，请致电 12345 查询。"
    result["can_rate"] = case.status == Status.CLOSED.value and case.feedback is None
    return result
