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
from pyramid.httpexceptions import HTTPException, HTTPForbidden, HTTPFound, HTTPNotFound
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import exception_view_config, forbidden_view_config, notfound_view_config

log = logging.getLogger(__name__)


class PortalError(Exception):
    """A domain error with a stable machine code, a human message and an HTTP status."""

    status = 400
    code = "bad_request"

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


@dataclass(frozen=True)
class ErrorInfo:
    status: int
    code: str
    message: str
    fields: dict[str, Any]
    headers: dict[str, str]


ErrorFormatter = Callable[[Request, ErrorInfo], Response]


def error_info(exc: BaseException) -> ErrorInfo:
    """Reduce any exception to what every error format needs."""
    if isinstance(exc, PortalError):
        headers: dict[str, str] = {}
        if isinstance(exc, RateLimited):
            headers.update(exc.headers)
            headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, Unauthorized):
            headers["WWW-Authenticate"] = 'Bearer realm="api"'

        return ErrorInfo(exc.status, exc.code, exc.message, exc.fields, headers)
    if isinstance(exc, ValidationError):
        fields = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return ErrorInfo(400, "validation_failed", "输入校验未通过，请查看各字段的说明。", fields, {})
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
        json_body={"error": {"code": info.code, "message": info.message, "fields": info.fields}},
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
        {"status": info.status, "title": title, "message": info.message, "fields": info.fields},
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
        log.exception("unhandled error on %s %s", request.method, request.path_info, exc_info=exc)
    # pyramid_tm aborts the transaction of any request whose error an exception view rendered.
    return _formatter_for(request)(request, info)


@notfound_view_config(append_slash=False)
def not_found(exc: HTTPNotFound, request: Request) -> Response:
    # The router's own 404 carries the bare path as its detail; users get the plain sentence.
    return render_error(request, HTTPNotFound() if exc.detail == request.path_info else exc)


@forbidden_view_config()
def forbidden(exc: HTTPForbidden, request: Request) -> Response:
    from portal.accounts.security import uses_api_keys

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
def portal_error(exc: Exception, request: Request) -> Response:
    return render_error(request, exc)


@exception_view_config(Exception)
def unexpected_error(exc: Exception, request: Request) -> Response:
    return render_error(request, exc)


def add_error_format(config: Any, prefix: str, formatter: ErrorFormatter) -> None:
    """Render errors under ``prefix`` with ``formatter``; the longest matching prefix wins."""
    formats = config.registry.setdefault("portal.error_formats", [])
    formats.append((prefix, formatter))
    formats.sort(key=lambda item: len(item[0]), reverse=True)


def includeme(config: Any) -> None:
    config.add_directive("add_error_format", add_error_format)
    config.add_error_format("/api/", api_error_response)
