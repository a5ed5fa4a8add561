"""The portal's unified search: `/search` for people, `/api/v1/search` for programs."""

from __future__ import annotations

import dataclasses
from typing import Any

from pyramid.request import Request
from pyramid.view import view_config

from portal.errors import PortalError
from portal.search.interfaces import ISearchService, SearchQuery, SearchResults, SearchUnavailable
from portal.search.schemas import (
    DOC_TYPE_LABELS,
    FACET_LABELS,
    SearchParams,
    SearchResultsSchema,
    hit_payload,
)

#: Seconds a client should wait while the index rebuilds (a full rebuild takes one to two minutes).
REBUILD_RETRY_AFTER = 60


class SearchTemporarilyUnavailable(PortalError):
    status = 503
    code = "search_unavailable"


def run_search(request: Request) -> SearchResults | None:
    """Run the parsed query; None when there is nothing to search for."""
    params = request.parsed
    if not params["q"]:
        return None
    projection = request.registry.get("portal.search.projection")
    if projection is not None:
        # Another node may have committed changes: follow the log (throttled to every few seconds).
        projection.maybe_poll()
    query = SearchQuery(
        text=params["q"],
        doc_types=tuple(params["type"]),
        level=params.get("level"),
        status=params.get("status"),
        region=params.get("region"),
        authority=params.get("authority"),
        in_force_on=params.get("at"),
        regulation_id=params.get("regulation_id"),
        page=params["page"],
        page_size=params["page_size"],
    )
    try:
        return request.find_service(ISearchService).search(query)
    except SearchUnavailable as exc:
        if projection is not None and not projection.rebuilding.is_set():
            projection.rebuild_in_background()
        error = SearchTemporarilyUnavailable("搜索索引正在重建，请稍后再试。")
        error.retry_after = REBUILD_RETRY_AFTER
        raise error from exc


def beside_results(request: Request, results: SearchResults | None, per_type: int = 3) -> list[tuple[str, SearchResults]]:
    """The best few matches of each doc type outside the default scope (catalogue entries …),
    shown next to the main list when the query named no type."""
    if results is None or request.parsed["type"]:
        return []
    service = request.find_service(ISearchService)
    shown = service.default_doc_types
    boxes = []
    for doc_type, count in results.facets.get("doc_type", []):
        if doc_type in shown or not count:
            continue
        extra = service.search(dataclasses.replace(results.query, doc_types=(doc_type,), page=1, page_size=per_type))
        if extra.hits:
            boxes.append((doc_type, extra))
    return boxes


def results_payload(request: Request, results: SearchResults | None) -> dict[str, Any]:
    params = request.parsed
    if results is None:
        return {"q": params["q"], "total": 0, "page": params["page"], "page_size": params["page_size"],
                "pages": 0, "citation": None, "facets": {}, "hits": []}
    return {
        "q": params["q"],
        "total": results.total,
        "page": params["page"],
        "page_size": params["page_size"],
        "pages": results.pages,
        "citation": results.citation,
        "facets": {name: [{"value": value, "count": count} for value, count in values]
                   for name, values in results.facets.items()},
        "hits": [hit_payload(hit, request.application_url) for hit in results.hits],
    }


@view_config(route_name="search.api", request_method="GET", renderer="json", schema=SearchParams,
             api_doc={"summary": "统一检索（法规、条文，及后续的裁定、权责条目、公开案件）", "tags": ["search"],
                      "response": SearchResultsSchema, "errors": (400, 503)})
def search_api(request: Request) -> dict[str, Any]:
    return SearchResultsSchema().dump(results_payload(request, run_search(request)))


@view_config(route_name="search", request_method="GET", renderer="search/search.jinja2", schema=SearchParams,
             rate_limit="search")
def search_page(request: Request) -> dict[str, Any]:
    results = run_search(request)
    return {
        "params": request.parsed,
        "results": results,
        "beside": beside_results(request, results),
        "doc_type_labels": DOC_TYPE_LABELS,
        "facet_labels": FACET_LABELS,
    }
