"""Errors: one exception vocabulary for services, rendered per surface.

Services raise :class:`PortalError` subclasses and never think about HTTP. The exception views
render them, and Pyramid's own HTTP exceptions, as

- the JSON envelope ``{"error": {"code", "message", "fields"}}`` under ``/api/``;
- whatever a domain registers for its prefix with ``config.add_error_format`` (Open311 uses its
  ``[{"code", "description"}]`` array);
- a friendly Chinese page everywhere else.

Bad input must never end in a 500, so validation errors, malformed JSON and oversized bodies all
have their own 4xx here; only a genuine fault reaches the catch-all, which logs it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from marshmallow import ValidationError
from pyramid.exceptions import PredicateMismatch
from pyramid.httpexceptions import HTTPException, HTTPForbidden, HTTPFound, HTTPMethodNotAllowed, HTTPNotFound
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import exception_view_config, forbidden_view_config, notfound_view_config
from sqlalchemy.exc import DataError, OperationalError

log = logging.getLogger(__name__)


class PortalError(Exception):
    """A domain error with a stable machine code, a human message and an HTTP status."""

    status = 400
    code = "bad_request"
    #: Seconds after which trying again may succeed (a Retry-After header), when known.
    retry_after: int | None = None

    def __init__(self, message: str, *, code: str | None = None, fields: dict[str, Any] | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class InvalidInput(PortalError):
    status = 400
    code = "validation_failed"


class NotFound(PortalError):
    status = 404
    code = "not_found"


class Conflict(PortalError):
    status = 409
    code = "conflict"


class PayloadTooLarge(PortalError):
    status = 413
    code = "payload_too_large"


class RateLimited(PortalError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        #: RateLimit-* headers (portal.accounts.ratelimit.ratelimit_headers) for the refusal
        self.headers = headers or {}


class Unauthorized(PortalError):
    status = 401
    code = "unauthorized"


# Chinese wording for the statuses users actually meet.
STATUS_MESSAGES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "请求有误，请检查输入。"),
    401: ("unauthorized", "需要有效的身份凭证（API 密钥）。"),
    403: ("forbidden", "您没有执行此操作的权限。"),
    404: ("not_found", "您访问的页面或资源不存在。"),
    405: ("method_not_allowed", "不支持该请求方法。"),
    409: ("conflict", "请求与现有数据冲突。"),
    413: ("payload_too_large", "请求内容过大。"),
    415: ("unsupported_media_type", "不支持的内容类型。"),
    422: ("unprocessable", "请求内容无法处理。"),
    429: ("rate_limited", "请求过于频繁，请稍后再试。"),
    500: ("internal_error", "服务器内部错误，我们已记录并将尽快处理。"),
    503: ("unavailable", "服务暂时不可用，请稍后再试。"),
}


# The API adds English for developers (``message_en``); people read ``message``.
STATUS_MESSAGES_EN: dict[int, str] = {
    400: "Bad request: check the input.",
    401: "A valid API key is required.",
    403: "Not allowed.",
    404: "Not found.",
    405: "Method not allowed.",
    409: "Conflicts with existing data.",
    413: "Request body too large.",
    415: "Unsupported media type.",
    422: "Unprocessable request.",
    429: "Too many requests: retry later.",
    500: "Internal error.",
    503: "Service unavailable.",
}


@dataclass(frozen=True)
class ErrorInfo:
    status: int
    code: str
    message: str
    fields: dict[str, Any]
    headers: dict[str, str]
    message_en: str | None = None

    @property
    def english(self) -> str:
        return self.message_en or STATUS_MESSAGES_EN.get(self.status, "Error.")


ErrorFormatter = Callable[[Request, ErrorInfo], Response]


def error_info(exc: BaseException) -> ErrorInfo:
    """Reduce any exception to what every error format needs."""
    if isinstance(exc, PortalError):
        headers: dict[str, str] = {}
        if isinstance(exc, RateLimited):
            headers.update(exc.headers)
        if getattr(exc, "retry_after", None):
            headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, Unauthorized):
            headers["WWW-Authenticate"] = 'Bearer realm="api"'

        return ErrorInfo(exc.status, exc.code, exc.message, exc.fields, headers)
    if isinstance(exc, ValidationError):
        fields = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return ErrorInfo(400, "validation_failed", "输入校验未通过，请查看各字段的说明。", fields, {},
                         "Validation failed: see the messages per field.")
    if isinstance(exc, OverflowError):
        # A number or a date beyond what Python's dates or the database can hold (第99999…条,
        # 9999-12-31T23:59:59-14:00): the request asked for something that cannot exist.
        return ErrorInfo(400, "out_of_range", "数值或日期超出可处理的范围。", {}, {})
    if isinstance(exc, OperationalError):
        # The database is locked past its timeout, unreachable or restarting: try again shortly.
        return ErrorInfo(503, "database_unavailable", "数据库暂时不可用，请稍后再试。", {},
                         {"Retry-After": str(DATABASE_RETRY_AFTER)})
    if isinstance(exc, DataError):
        # The database refused a value the request carried (PostgreSQL: an id beyond its
        # integer range). Nothing was stored: the transaction is aborted with the error.
        return ErrorInfo(400, "invalid_value", "请求中的数值超出允许的范围或格式无效。", {}, {})
    if isinstance(exc, UnicodeError):
        # Query strings, forms and bodies are decoded lazily, wherever a view first reads them.
        return ErrorInfo(400, "invalid_encoding", "请求内容不是有效的 UTF-8 编码。", {}, {})
    if isinstance(exc, HTTPException):
        code, message = STATUS_MESSAGES.get(exc.code, ("http_error", exc.title))
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail else None
        headers = {k: v for k, v in exc.headers.items() if k.lower() in {"allow", "retry-after", "www-authenticate"}}
        return ErrorInfo(exc.code, code, detail or message, {}, headers)
    code, message = STATUS_MESSAGES[500]
    return ErrorInfo(500, code, message, {}, {})


def api_error_response(request: Request, info: ErrorInfo) -> Response:
    response = Response(
        json_body={"error": {"code": info.code, "message": info.message, "fields": info.fields,
                             "message_en": info.english}},
        status=info.status,
        charset="utf-8",
    )
    response.headers.update(info.headers)
    return response


def html_error_response(request: Request, info: ErrorInfo) -> Response:
    from pyramid.renderers import render_to_response

    title = STATUS_MESSAGES.get(info.status, ("", "出错了"))[1]
    response = render_to_response(
        "errors/error.jinja2",
        {"status": info.status, "title": title, "message": info.message, "fields": info.fields,
         "retry_after": info.headers.get("Retry-After")},
        request=request,
    )
    response.status = info.status
    response.headers.update(info.headers)
    return response


def _formatter_for(request: Request) -> ErrorFormatter:
    formats: list[tuple[str, ErrorFormatter]] = request.registry.get("portal.error_formats", [])
    for prefix, formatter in formats:
        if request.path_info.startswith(prefix):
            return formatter
    return html_error_response


def render_error(request: Request, exc: BaseException) -> Response:
    info = error_info(exc)
    if info.status >= 500:
        log.error("unhandled error on %s %s", request.method, request.path_info, exc_info=exc)
    # pyramid_tm aborts the transaction of any request whose error an exception view rendered.
    return _formatter_for(request)(request, info)


def allowed_methods(request: Request, route_name: str) -> frozenset[str] | None:
    """The methods some view of ``route_name`` answers; None when one answers any method."""
    cache: dict[str, frozenset[str] | None] = request.registry.setdefault("portal.allowed_methods", {})
    if route_name not in cache:
        methods: set[str] = set()
        for intr in request.registry.introspector.get_category("views") or []:
            view = intr["introspectable"]
            if view.get("route_name") != route_name:
                continue
            declared = view.get("request_methods")
            if not declared:
                methods = set()
                break
            methods.update((declared,) if isinstance(declared, str) else declared)
        cache[route_name] = frozenset(methods) if methods else None
    return cache[route_name]


@notfound_view_config(append_slash=False)
def not_found(exc: HTTPNotFound, request: Request) -> Response:
    if isinstance(exc, PredicateMismatch) and request.matched_route is not None:
        # The path exists but no view takes this method (TRACE, DELETE on a list): 405 naming
        # the methods that work, not a 404 quoting the view's internals.
        allowed = allowed_methods(request, request.matched_route.name)
        if allowed is not None and request.method not in allowed:
            return render_error(request, HTTPMethodNotAllowed(headers={"Allow": ", ".join(sorted(allowed))}))
        return render_error(request, HTTPNotFound())
    # The router's own 404 carries the bare path as its detail; users get the plain sentence.
    return render_error(request, HTTPNotFound() if exc.detail == request.path_info else exc)


@forbidden_view_config()
def forbidden(exc: HTTPForbidden, request: Request) -> Response:
    from portal.accounts.security import uses_api_keys

    if getattr(request.context, "conceal_when_forbidden", False):
        # content whose very existence is not public (an unpublished draft): as if it were not there
        return render_error(request, HTTPNotFound())
    if request.identity is None:
        if uses_api_keys(request):
            # No credentials at all is "who are you?" (401), not "you may not" (403).
            return render_error(request, Unauthorized("此操作需要 API 密钥：Authorization: Bearer <密钥>。",
                                                      code="authentication_required"))
        if request.method in {"GET", "HEAD"}:
            # An anonymous visitor of a staff page is sent to log in, and back afterwards.
            return HTTPFound(location=request.route_url("accounts.login", _query={"next": request.path_qs}))
    return render_error(request, exc)


@exception_view_config(HTTPException)
def http_exception(exc: HTTPException, request: Request) -> Response:
    if exc.code < 400:
        return exc
    return render_error(request, exc)


@exception_view_config(PortalError)
@exception_view_config(ValidationError)
@exception_view_config(UnicodeError)
@exception_view_config(OverflowError)
@exception_view_config(DataError)
@exception_view_config(OperationalError)
def portal_error(exc: Exception, request: Request) -> Response:
    return render_error(request, exc)


@exception_view_config(Exception)
def unexpected_error(exc: Exception, request: Request) -> Response:
    return render_error(request, exc)


#: Seconds to wait before retrying when the database did not answer.
DATABASE_RETRY_AFTER = 5


def readable_path(request: Request) -> str:
    return request.environ.get("PATH_INFO", "").encode("latin-1", "replace").decode("utf-8", "replace")


def request_guard_tween_factory(handler: Callable[[Request], Response], registry: Any) -> Callable[[Request], Response]:
    """Requests no view could read, refused before anything touches them (the transaction,
    the identity, the router all read the path and the body):

    - a path that is not UTF-8 (``/api/%ff``): its bytes are replaced by U+FFFD so the error can be
      rendered in the format of its prefix, then 400;
    - a ``multipart/form-data`` body without a ``boundary``: no part of it can be found, 400.
    """

    def request_guard(request: Request) -> Response:
        # Refused before the router ran: the error page (its layout asks what the user may do)
        # needs the context the router would have given it.
        from portal.resources import root_factory

        request.context = root_factory(request)
        path = request.environ.get("PATH_INFO", "")
        try:
            path.encode("latin-1").decode("utf-8")
        except UnicodeError:
            readable = path.encode("latin-1", "replace").decode("utf-8", "replace")
            request.environ["PATH_INFO"] = readable.encode("utf-8").decode("latin-1")
            log.info("refused a path that is not UTF-8: %s %s", request.method, readable)
            return render_error(request, InvalidInput("请求路径不是有效的 UTF-8 编码。", code="invalid_encoding"))
        if "\x00" in readable_path(request) or "%00" in request.environ.get("QUERY_STRING", ""):
            return render_error(request, InvalidInput("请求中不能含有 NUL 字符（%00）。", code="invalid_character"))
        if request.content_type == "multipart/form-data" and not request.headers.get("Content-Type", "").count("boundary="):
            return render_error(request, InvalidInput("表单格式无效：multipart/form-data 请求须带 boundary。",
                                                      code="invalid_form"))
        try:
            return handler(request)
        except OperationalError as exc:
            # Raised above the exception views (pyramid_tm loads the identity before any view
            # runs): answer 503 here, without the HTML layout, which would ask the database again.
            log.warning("database unavailable on %s: %s", readable_path(request), str(exc).splitlines()[0])
            info = error_info(exc)
            formatter = _formatter_for(request)
            if formatter is html_error_response:
                response = Response(f"<!DOCTYPE html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>503</title>"
                                    f"<h1>服务暂时不可用</h1><p>{info.message}</p></html>",
                                    status=503, content_type="text/html", charset="utf-8")
                response.headers.update(info.headers)
                return response
            return formatter(request, info)

    return request_guard


def add_error_format(config: Any, prefix: str, formatter: ErrorFormatter) -> None:
    """Render errors under ``prefix`` with ``formatter``; the longest matching prefix wins."""
    formats = config.registry.setdefault("portal.error_formats", [])
    formats.append((prefix, formatter))
    formats.sort(key=lambda item: len(item[0]), reverse=True)


def includeme(config: Any) -> None:
    config.add_directive("add_error_format", add_error_format)
    config.add_error_format("/api/", api_error_response)
