"""Open-data views: the catalogue page, DCAT, the data package, streamed exports, /developers."""

from __future__ import annotations

from typing import Any

import orjson
from pyramid.httpexceptions import HTTPMovedPermanently
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from portal.accounts.permissions import Permissions
from portal.opendata.encoding import gzip_chunks
from portal.opendata.interfaces import IOpenDataService
from portal.opendata.registry import Dataset
from portal.opendata.schemas import ExportQuery
from portal.opendata.services import FORMAT_LABELS, LICENSE, MEDIA_TYPES, ExportOptions, reading_session

TAGS = ["opendata"]


def opendata(request: Request) -> Any:
    return request.find_service(IOpenDataService)


def export_url(request: Request) -> Any:
    def url(dataset: Dataset, fmt: str) -> str:
        return request.route_url("opendata.export", name=dataset.name, format=fmt)
    return url


@view_config(route_name="opendata.index_noslash", request_method="GET")
def index_noslash(request: Request) -> Response:
    return HTTPMovedPermanently(location=request.route_url("opendata.index"))


@view_config(route_name="opendata.index", renderer="opendata/index.jinja2", request_method="GET",
             permission=Permissions.PUBLIC_READ)
def index(request: Request) -> dict[str, Any]:
    return {"summaries": opendata(request).summaries(), "license": LICENSE, "publisher": opendata(request).publisher,
            "format_labels": FORMAT_LABELS, "url": export_url(request)}


@view_config(route_name="opendata.catalog", request_method="GET", permission=Permissions.PUBLIC_READ,
             api_doc={"summary": "DCAT 数据目录（JSON-LD，DCAT-AP 风格）", "tags": TAGS,
                      "content_type": "application/ld+json", "errors": ()})
def catalog(request: Request) -> Response:
    document = opendata(request).catalog(export_url(request), request.route_url("opendata.index"),
                                         request.route_url("opendata.catalog"),
                                         request.route_url("opendata.datapackage"))
    return Response(body=orjson.dumps(document), content_type="application/ld+json", charset="utf-8")


@view_config(route_name="opendata.datapackage", renderer="json", request_method="GET",
             permission=Permissions.PUBLIC_READ,
             api_doc={"summary": "Frictionless 数据包描述（datapackage.json，各资源的表结构）", "tags": TAGS,
                      "errors": ()})
def datapackage(request: Request) -> dict[str, Any]:
    return opendata(request).datapackage(export_url(request), request.route_url("opendata.index"))


@view_config(route_name="opendata.export", request_method="GET", permission=Permissions.PUBLIC_READ,
             schema=ExportQuery,
             api_doc={"summary": "数据集批量导出（流式；CSV / JSON Lines / 区域的 GeoJSON）；支持 ETag、"
                                 "If-Modified-Since、gzip、bom=1、updated_since", "tags": TAGS,
                      "content_type": "text/csv", "errors": (400, 404)})
def export(request: Request) -> Response:
    service = opendata(request)
    dataset = service.get(request.matchdict["name"])
    fmt = request.matchdict["format"]
    options = ExportOptions(bom=request.parsed["bom"], updated_since=request.parsed["updated_since"])
    service.check(dataset, fmt, options)
    stamp = service.stamp(dataset)
    # Without the header any coding is "acceptable", but clients that say nothing expect plain bytes.
    gzipped = "Accept-Encoding" in request.headers and bool(request.accept_encoding.acceptable_offers(["gzip"]))
    # Each representation has its own strong ETag: the gzip bytes differ from the plain ones.
    etag = service.etag(dataset, fmt, options, stamp) + ("-gz" if gzipped else "")
    response = Response(content_type=MEDIA_TYPES[fmt], charset="utf-8")
    response.etag = etag
    if stamp.last_modified is not None:
        response.last_modified = stamp.last_modified
    response.cache_control = "public, max-age=300"
    response.vary = ("Accept-Encoding",)
    if options.updated_since is None:  # an incremental export's size is only known once it is sent
        response.headers["X-Row-Count"] = str(stamp.rows)
    response.content_disposition = f'attachment; filename="{dataset.name}.{fmt}"'
    if _not_modified(request, etag, stamp.last_modified):
        response.status = 304
        response.app_iter = []
        response.content_length = None
        del response.headers["Content-Type"]
        return response
    chunks = service.chunks(dataset, fmt, options, lambda: reading_session(request))
    if gzipped:
        response.content_encoding = "gzip"
        chunks = gzip_chunks(chunks)
    response.app_iter = chunks
    return response


def _not_modified(request: Request, etag: str, last_modified: Any) -> bool:
    if request.if_none_match:
        return etag in request.if_none_match
    if request.if_modified_since is not None and last_modified is not None:
        return last_modified.replace(microsecond=0) <= request.if_modified_since
    return False


@view_config(route_name="developers", renderer="opendata/developers.jinja2", request_method="GET",
             permission=Permissions.PUBLIC_READ)
def developers(request: Request) -> dict[str, Any]:
    from portal.opendata.examples import examples

    settings = request.registry.settings
    return {"examples": examples(request.application_url),
            "anonymous_limit": int(settings.get("ratelimit.anonymous_per_minute", 600)),
            "key_limit": int(settings.get("ratelimit.apikey_per_minute", 3000)),
            "datasets": opendata(request).datasets(), "url": export_url(request)}
