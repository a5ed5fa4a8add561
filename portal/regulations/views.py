"""Regulation pages and the JSON API. Thin: the services answer, these only present."""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import ValidationError
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.view import view_config

from portal import clock
from portal.accounts.permissions import Permissions
from portal.errors import InvalidInput, NotFound, PortalError
from portal.numerals import article_slug
from portal.regulations.citations import Citation
from portal.regulations.interfaces import IArticleLookup, IRegulationImporter, IRegulationService
from portal.regulations.metadata import LEVELS, STATUSES
from portal.regulations.models import Article, Regulation, RegulationVersion
from portal.regulations.parsing import RegulationParseError, decode_text
from portal.regulations.schemas import (
    ArticleLookupQuery,
    ArticleLookupResultSchema,
    ArticlePageQuery,
    PointInTimeQuery,
    RegulationArticleDetailSchema,
    RegulationDetailSchema,
    RegulationImportIn,
    RegulationImportResultSchema,
    RegulationListQuery,
    RegulationPageSchema,
)
from portal.regulations.services import parse_article_ref
from portal.regulations.successors import Successor
from portal.regulations.versions import ImportMetadata, SubmittedImport
from portal.validation import form_errors

_MAX_ID = 2**31 - 1
_LIST_KEYS = ("level", "status", "region", "authority", "q", "at")


def _regulation_id(request: Request) -> int:
    value = int(request.matchdict["id"])
    if value > _MAX_ID:
        raise NotFound(f"法规 {value} 不存在。")
    return value


def _article_ref(request: Request) -> tuple[int, int]:
    try:
        return parse_article_ref(request.matchdict["n"])
    except ValueError:
        raise NotFound(f"条文编号无效：{request.matchdict['n']}") from None


def _service(request: Request) -> Any:
    return request.find_service(IRegulationService)


# ----------------------------------------------------------------------- presenters


def regulation_url(request: Request, regulation: Regulation, at: dt.date | None = None) -> str:
    query = {"at": at.isoformat()} if at else {}
    return request.route_url("regulations.detail", id=regulation.id, _query=query)


def article_url(request: Request, article: Article, at: dt.date | None = None) -> str:
    query = {"at": at.isoformat()} if at else {}
    return request.route_url("regulations.article", id=article.regulation_id, n=article.slug, _query=query)


def cited_position(article: Article, paragraph: int | None, item: int | None) -> tuple[int, int | None] | None:
    """(paragraph index, item index) of the provision a citation names, 0-based; a citation of an
    item without its paragraph (第四十二条第一项) means the first paragraph that lists items."""
    if paragraph is None and item is None:
        return None
    items = article.items or []
    if paragraph is None:
        paragraph = next((i + 1 for i, listed in enumerate(items) if len(listed) >= (item or 0)), None)
        if paragraph is None:
            return None
    if paragraph > len(article.paragraphs or []):
        return None
    listed = items[paragraph - 1] if paragraph - 1 < len(items) else []
    if item is not None and item > len(listed):
        return (paragraph - 1, None)
    return (paragraph - 1, item - 1 if item else None)


def _summary(request: Request, regulation: Regulation) -> dict[str, Any]:
    return {
        "id": regulation.id,
        "title": regulation.title,
        "short_title": regulation.short_title,
        "document_number": regulation.document_number,
        "level": regulation.level,
        "doc_type": regulation.doc_type,
        "issuing_authority": regulation.issuing_authority,
        "region": regulation.region,
        "status": regulation.status,
        "promulgation_date": regulation.promulgation_date,
        "effective_date": regulation.effective_date,
        "amended_date": regulation.amended_date,
        "repealed_date": regulation.repealed_date,
        "url": regulation_url(request, regulation),
    }


def _article(request: Request, article: Article, at: dt.date | None = None) -> dict[str, Any]:
    return {
        "number": article.number,
        "suffix": article.suffix,
        "label": article.label,
        "chapter_path": article.chapter_path,
        "paragraphs": article.paragraphs,
        "items": article.items,
        "text": article.text,
        "url": article_url(request, article, at),
    }


def successor_url(request: Request, successor: Successor) -> str:
    return request.route_url("regulations.article", id=successor.regulation_id,
                             n=article_slug(successor.number, successor.suffix))


def _replaced_by(request: Request, successor: Successor | None) -> dict[str, Any] | None:
    if successor is None:
        return None
    return {"citation": successor.citation, "url": successor_url(request, successor),
            "regulation_id": successor.regulation_id, "number": successor.number, "suffix": successor.suffix}


def _chapters(articles: list[Article]) -> list[dict[str, Any]]:
    """The table of contents: each heading once, with its depth and first article."""
    toc: list[dict[str, Any]] = []
    previous: list[str] = []
    for article in articles:
        path = list(article.chapter_path or [])
        for depth, heading in enumerate(path):
            if depth < len(previous) and previous[: depth + 1] == path[: depth + 1]:
                continue
            toc.append({"heading": heading, "depth": depth, "anchor": article.anchor})
        previous = path
    return toc


def _point_in_time(request: Request) -> dt.date | None:
    return request.parsed.get("at")


# ------------------------------------------------------------------------------ HTML


@view_config(route_name="regulations.index", renderer="regulations/index.jinja2", request_method="GET",
             permission=Permissions.PUBLIC_READ, schema=RegulationListQuery)
def index_page(request: Request) -> dict[str, Any]:
    query = request.parsed
    filters = {key: query.get(key) for key in _LIST_KEYS}
    page = _service(request).browse(**filters, page=query["page"], page_size=query["page_size"])
    active = {key: value for key, value in filters.items() if value}
    return {
        "page": page,
        "filters": active,
        "query": {key: (value.isoformat() if isinstance(value, dt.date) else value) for key, value in active.items()},
        "levels": LEVELS,
        "statuses": STATUSES,
        "today": clock.today(),
    }


@view_config(route_name="regulations.detail", renderer="regulations/detail.jinja2", request_method="GET",
             permission=Permissions.PUBLIC_READ, schema=PointInTimeQuery)
def detail_page(request: Request) -> dict[str, Any]:
    service = _service(request)
    regulation = service.get(_regulation_id(request))
    at = _point_in_time(request)
    version = service.version_on(regulation, at)
    articles = service.articles(version) if version else []
    when = at or clock.today()
    return {
        "regulation": regulation,
        "version": version,
        "versions": service.versions(regulation),
        "articles": articles,
        "toc": _chapters(articles),
        "at": at,
        "status_on": regulation.status_on(when),
        "when": when,
        "article_url": lambda article: article_url(request, article, at),
        "citation": lambda article: Citation(regulation.title, article.number, article.suffix),
    }


@view_config(route_name="regulations.article", renderer="regulations/article.jinja2", request_method="GET",
             permission=Permissions.PUBLIC_READ, schema=ArticlePageQuery)
def article_page(request: Request) -> dict[str, Any]:
    service = _service(request)
    number, suffix = _article_ref(request)
    at = _point_in_time(request)
    regulation, version, article = service.article(_regulation_id(request), number, suffix, at)
    previous, following = service.neighbours(article)
    when = at or clock.today()
    replacement = service.replacement(regulation, article, when)
    return {
        "replacement": replacement,
        "successor_url": successor_url(request, replacement.successor)
        if replacement and replacement.successor else None,
        "regulation": regulation,
        "version": version,
        "article": article,
        "previous": previous,
        "following": following,
        "at": at,
        "status_on": regulation.status_on(when),
        "citation": Citation(regulation.title, article.number, article.suffix),
        "paragraph_citations": [
            Citation(regulation.title, article.number, article.suffix, index).render()
            for index in range(1, len(article.paragraphs) + 1)
        ],
        "article_url": lambda a: article_url(request, a, at),
        "regulation_url": regulation_url(request, regulation, at),
        "cited": cited_position(article, request.parsed.get("paragraph"), request.parsed.get("item")),
    }


# ------------------------------------------------------------------------------ JSON


def _version(version: RegulationVersion | None) -> dict[str, Any] | None:
    if version is None:
        return None
    return {
        "id": version.id,
        "version_no": version.version_no,
        "title": version.title,
        "valid_from": version.valid_from,
        "valid_to": version.valid_to,
        "version_date": version.version_date,
        "is_current": version.is_current,
        "source": version.source,
        "history": version.history or [],
    }


@view_config(route_name="regulations.api.list", renderer="json", request_method="GET",
             permission=Permissions.PUBLIC_READ, schema=RegulationListQuery,
             api_doc={"summary": "法规列表（按效力级别、时效性、地区筛选，含分面计数）", "tags": ["regulations"],
                      "response": RegulationPageSchema})
def list_api(request: Request) -> dict[str, Any]:
    query = request.parsed
    page = _service(request).browse(**{key: query.get(key) for key in _LIST_KEYS},
                                    page=query["page"], page_size=query["page_size"])
    return RegulationPageSchema().dump({
        "total": page.total,
        "page": page.page,
        "page_size": page.page_size,
        "items": [_summary(request, regulation) for regulation in page.items],
        "facets": {name: [{"value": v, "count": c} for v, c in values] for name, values in page.facets.items()},
    })


@view_config(route_name="regulations.api.detail", renderer="json", request_method="GET",
             permission=Permissions.PUBLIC_READ, schema=PointInTimeQuery,
             api_doc={"summary": "法规全文（某日有效的文本）", "tags": ["regulations"],
                      "response": RegulationDetailSchema})
def detail_api(request: Request) -> dict[str, Any]:
    service = _service(request)
    regulation = service.get(_regulation_id(request))
    at = _point_in_time(request)
    when = at or clock.today()
    version = service.version_on(regulation, at)
    articles = service.articles(version) if version else []
    return RegulationDetailSchema().dump({
        **_summary(request, regulation),
        "status_on": regulation.status_on(when),
        "in_force": regulation.in_force_on(when),
        "at": when,
        "version": _version(version),
        "versions": [_version(v) for v in service.versions(regulation)],
        "articles": [_article(request, article, at) for article in articles],
    })


@view_config(route_name="regulations.api.article", renderer="json", request_method="GET",
             permission=Permissions.PUBLIC_READ, schema=PointInTimeQuery,
             api_doc={"summary": "单条条文（某日有效的文本）与规范引用", "tags": ["regulations"],
                      "response": RegulationArticleDetailSchema})
def article_api(request: Request) -> dict[str, Any]:
    number, suffix = _article_ref(request)
    at = _point_in_time(request)
    when = at or clock.today()
    service = _service(request)
    regulation, version, article = service.article(_regulation_id(request), number, suffix, at)
    replacement = service.replacement(regulation, article, when)
    return RegulationArticleDetailSchema().dump({
        **_article(request, article, at),
        "regulation": {"id": regulation.id, "title": regulation.title, "url": regulation_url(request, regulation)},
        "version": _version(version),
        "citation": Citation(regulation.title, article.number, article.suffix).render(),
        "status_on": regulation.status_on(when),
        "in_force": regulation.in_force_on(when),
        "at": when,
        "replaced_by": _replaced_by(request, replacement.successor if replacement else None),
    })


@view_config(route_name="regulations.api.lookup", renderer="json", request_method="GET",
             permission=Permissions.PUBLIC_READ, schema=ArticleLookupQuery,
             api_doc={"summary": "法律依据核验：某法规某条在某日是否有效", "tags": ["regulations"],
                      "response": ArticleLookupResultSchema})
def lookup_api(request: Request) -> dict[str, Any]:
    from portal.errors import InvalidInput

    query = request.parsed
    lookup = request.find_service(IArticleLookup)
    if query.get("citation"):
        result = lookup.resolve(query["citation"], query.get("at"))
    elif query.get("title") and query.get("article"):
        number, suffix = query["article"]
        result = lookup.lookup(query["title"], f"{number}-{suffix}" if suffix else number, query.get("at"),
                               query.get("paragraph"))
    else:
        raise InvalidInput("请给出 citation，或同时给出 title 与 article。",
                           fields={"citation": ["citation 或 title+article 必填其一"]})
    regulation = result.regulation
    return ArticleLookupResultSchema().dump({
        "found": result.article is not None,
        "in_force": result.in_force,
        "reason": result.reason,
        "status": result.status,
        "at": result.on,
        "citation": result.render(),
        "changed_on": result.changed_on,
        "approximate": result.approximate,
        "regulation": {"id": regulation.id, "title": regulation.title,
                       "url": regulation_url(request, regulation)} if regulation else None,
        "article": _article(request, result.article) if result.article else None,
        "paragraph_text": result.paragraph_text,
        "replaced_by": _replaced_by(request, result.replaced_by),
    })


# ----------------------------------------------------------------- importing a text (editors)

_IMPORT_OPTIONS = ("title", "short_title", "level", "issuing_authority", "region", "status", "document_number",
                   "promulgation_date", "effective_date", "version_date", "valid_from", "repealed_date")


def _import(request: Request, data: dict[str, Any]) -> SubmittedImport:
    options = ImportMetadata(**{name: data.get(name) for name in _IMPORT_OPTIONS})
    name = data.get("filename") or "粘贴的文本"
    return request.find_service(IRegulationImporter).import_submitted(
        data["text"], name, options, dry_run=data["dry_run"])


def _import_result(request: Request, result: SubmittedImport) -> dict[str, Any]:
    link = None
    if result.regulation_id is not None:
        link = {"id": result.regulation_id, "title": result.title,
                "url": request.route_url("regulations.detail", id=result.regulation_id)}
    return {**{name: getattr(result, name) for name in result.__dataclass_fields__ if name != "regulation_id"},
            "regulation": link}


def _import_form(request: Request) -> dict[str, Any]:
    """The form as the API's input: an uploaded file wins over the text box; empty fields are
    "not given" (the text's header lines may still say them)."""
    post = request.POST
    raw: dict[str, Any] = {}
    for name in ("filename", *_IMPORT_OPTIONS):
        value = (post.get(name) or "").strip()
        if value:
            raw[name] = value
    upload = post.get("file")
    if getattr(upload, "file", None) is not None and upload.filename:
        try:
            raw["text"] = decode_text(upload.file.read(), upload.filename)
        except RegulationParseError as exc:
            raise InvalidInput(f"{upload.filename}：{exc.message}", code=f"regulation_{exc.code}",
                               fields={"file": [exc.message]}) from exc
        raw["filename"] = upload.filename[:200]  # what browsers send is not bounded
    elif post.get("text", "").strip():
        raw["text"] = post["text"]
    # Only the explicit 导入 button stores anything; any other submission previews.
    raw["dry_run"] = post.get("action") != "import"
    return raw


def _import_page(values: dict[str, Any], errors: dict[str, Any] | None = None,
                 preview: SubmittedImport | None = None) -> dict[str, Any]:
    return {"values": values, "errors": errors or {}, "preview": preview, "levels": LEVELS, "statuses": STATUSES}


@view_config(route_name="regulations.import", renderer="regulations/import.jinja2", request_method="GET",
             permission=Permissions.REGULATIONS_EDIT)
def import_form_page(request: Request) -> dict[str, Any]:
    return _import_page({})


@view_config(route_name="regulations.import", renderer="regulations/import.jinja2", request_method="POST",
             permission=Permissions.REGULATIONS_EDIT)
def import_submit_page(request: Request) -> Any:
    raw: dict[str, Any] = {}
    try:
        raw = _import_form(request)
        result = _import(request, RegulationImportIn().load(raw))
    except (ValidationError, PortalError) as exc:
        request.response.status = exc.status if isinstance(exc, PortalError) else 400
        errors = form_errors(exc)
        if "text" in errors and "text" not in raw:
            errors["text"] = ["请上传文件或粘贴全文。"]
        return _import_page(raw, errors)
    if result.dry_run:
        return _import_page(raw, preview=result)
    request.session.flash(f"已导入《{result.title}》：{result.label}，第 {result.version_no} 版，{result.articles} 条。",
                          "success")
    return HTTPSeeOther(request.route_url("regulations.detail", id=result.regulation_id))


@view_config(route_name="regulations.api.list", renderer="json", request_method="POST",
             permission=Permissions.REGULATIONS_EDIT, schema=RegulationImportIn,
             api_doc={"summary": "导入一部法规文本（新建，或文本变化时新增版本并保留旧版本）；dry_run 只预览",
                      "tags": ["regulations"], "response": RegulationImportResultSchema, "auth": True,
                      "errors": (400, 413)})
def import_api(request: Request) -> dict[str, Any]:
    result = _import(request, request.parsed)
    stored_new = not result.dry_run and result.action in ("created", "new_version")
    request.response.status = 201 if stored_new else 200
    return RegulationImportResultSchema().dump(_import_result(request, result))
