"""Conventions shared by every JSON endpoint under /api/v1/ (documented in the OpenAPI document):

- ``fields=a,b,c.d`` sparse fieldsets: only the named keys of each item (or of the object);
- ``next`` links beside every ``next_cursor`` (in the body and as ``Link: <…>; rel="next"``);
- CORS for GET and HEAD on /api/, /open311/ and /opendata/ (preflights answered, no credentials);
- the OpenAPI document learns these parameters and headers from :func:`document_conventions`.

Rate-limit headers live with the limiter (:func:`portal.accounts.ratelimit.ratelimit_headers`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from pyramid.request import Request
from pyramid.response import Response

from portal.errors import InvalidInput

API_PREFIX = "/api/v1/"
CORS_PREFIXES = ("/api/", "/open311/", "/opendata/")
CORS_EXPOSED = ("ETag", "Last-Modified", "Link", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining",
                "RateLimit-Reset", "RateLimit-Policy", "X-Request-Id", "Content-Disposition")
CORS_ALLOWED_HEADERS = ("Authorization", "If-None-Match", "If-Modified-Since", "Accept-Encoding", "Content-Type")


# ----------------------------------------------------------------------------- sparse fieldsets


def _pick(value: dict[str, Any], paths: list[list[str]]) -> dict[str, Any]:
    picked: dict[str, Any] = {}
    for path in paths:
        head = path[0]
        if head not in value:
            continue
        if len(path) == 1:
            picked[head] = value[head]
        elif isinstance(value[head], dict):
            inner = _pick(value[head], [path[1:]])
            picked[head] = {**picked.get(head, {}), **inner}
    return picked


def sparse_fieldset(result: dict[str, Any], spec: str) -> dict[str, Any]:
    """``result`` reduced to the fields named in ``spec``; for a list (``items``), each item."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        return result  # fields= names no field: the whole result, as without the parameter
    if len(names) > 100 or any(len(n) > 100 for n in names):
        raise InvalidInput("fields 为逗号分隔的字段名，如 fields=id,status,agency.name。", code="invalid_fields",
                           fields={"fields": ["格式无效。"]})
    paths = [name.split(".") for name in names]
    items = result.get("items")
    targets = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else [result]
    if targets:
        known = set().union(*(t.keys() for t in targets))
        unknown = sorted({p[0] for p in paths} - known)
        if unknown:
            raise InvalidInput(f"没有这些字段：{'、'.join(unknown)}。可选：{'、'.join(sorted(known))}。",
                               code="unknown_fields", fields={"fields": [f"未知字段：{', '.join(unknown)}"]})
    if isinstance(items, list):
        return {**result, "items": [_pick(i, paths) if isinstance(i, dict) else i for i in items]}
    return _pick(result, paths)


# ----------------------------------------------------------------------------- next links


def next_link(request: Request, cursor: Any) -> str:
    params = [(k, v) for k, v in request.GET.items() if k not in ("cursor", "page")]
    params.append(("cursor", str(cursor)))
    return f"{request.application_url}{request.path_info}?{urlencode(params)}"


def api_conventions_deriver(view: Callable[..., Any], info: Any) -> Callable[..., Any]:
    """Applies to what a view returns for its renderer (a dict), never to a ready Response."""

    def conventions_view(context: Any, request: Request) -> Any:
        result = view(context, request)
        if not isinstance(result, dict) or request.method not in ("GET", "HEAD") or \
                not request.path_info.startswith(API_PREFIX):
            return result
        if result.get("next_cursor") not in (None, "") and "next" not in result:
            link = next_link(request, result["next_cursor"])
            result = {**result, "next": link}
            request.response.headers["Link"] = f'<{link}>; rel="next"'
        elif "next_cursor" in result and "next" not in result:
            result = {**result, "next": None}
        spec = request.GET.get("fields")
        if spec is not None:
            result = sparse_fieldset(result, spec)
        return result

    return conventions_view


# ----------------------------------------------------------------------------- CORS


def cors_tween_factory(handler: Callable[[Request], Response], registry: Any) -> Callable[[Request], Response]:
    """Any origin may read (GET/HEAD) the public machine surfaces; writes are not offered to
    browsers of other origins (no preflight succeeds for them)."""

    def cors_tween(request: Request) -> Response:
        if not request.path_info.startswith(CORS_PREFIXES):
            return handler(request)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response = Response(status=204)
            if request.headers["Access-Control-Request-Method"].upper() in ("GET", "HEAD"):
                response.headers.update({
                    "Access-Control-Allow-Origin": "*",
                    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
                    "Access-Control-Allow-Headers": ", ".join(CORS_ALLOWED_HEADERS),
                    "Access-Control-Max-Age": "86400",
                })
            return response
        response = handler(request)
        if request.method in ("GET", "HEAD"):
            response.headers["Access-Control-Allow-Origin"] = "*"
            response.headers["Access-Control-Expose-Headers"] = ", ".join(CORS_EXPOSED)
        return response

    return cors_tween


# ----------------------------------------------------------------------------- OpenAPI


FIELDS_PARAMETER = {
    "in": "query", "name": "fields", "required": False, "schema": {"type": "string"},
    "description": "稀疏字段集（sparse fieldset）：逗号分隔的字段名，列表接口作用于每一项；"
                   "嵌套字段用点号，如 fields=id,status,agency.name。未知字段返回 400。",
}
RATELIMIT_HEADERS = {
    "RateLimit-Limit": {"description": "每分钟可用的请求数（按 API 密钥，匿名按 IP）", "schema": {"type": "integer"}},
    "RateLimit-Remaining": {"description": "当前窗口剩余的请求数", "schema": {"type": "integer"}},
    "RateLimit-Reset": {"description": "额度完全恢复还需的秒数", "schema": {"type": "integer"}},
    "RateLimit-Policy": {"description": "限额策略，如 600;w=60", "schema": {"type": "string"}},
}
CONVENTIONS_TEXT = (
    "\n\n接口约定（详见 /developers）：\n"
    "- 分页：带 next_cursor 的列表同时给出 next（完整 URL）和 Link: <…>; rel=\"next\" 响应头，"
    "沿 next 翻页直到其为 null；游标分页在并发插入时不漏不重；原有的 page/page_size 仍可用。\n"
    "- fields=：/api/v1/ 下所有 GET 接口支持稀疏字段集。\n"
    "- updated_since=（ISO 8601）：/api/v1/duties（撤回与被取代的条目列入 tombstones）、/api/v1/cases（不公开的案件列入 "
    "tombstones，只有 id 与时间）及 /opendata/ 批量导出的增量同步。\n"
    "- 跨域（CORS）：任何来源均可 GET，不带凭据。\n"
    "- 限流：按 API 密钥、匿名按 IP；每个响应带 RateLimit-Limit、RateLimit-Remaining、RateLimit-Reset、"
    "RateLimit-Policy，429 时带 Retry-After。\n"
    "- 错误：{\"error\": {\"code\", \"message\", \"fields\"}}。\n"
    "- 版本：不兼容的变更只在新路径（/api/v2/）上发布；/api/v1/ 在弃用通知（Deprecation、Sunset 响应头）后至少保留 12 个月。"
)


def document_conventions(document: dict[str, Any]) -> None:
    """Adds the shared parameters and headers to the generated OpenAPI document."""
    info = document.setdefault("info", {})
    info["description"] = info.get("description", "") + CONVENTIONS_TEXT
    for path, operations in document.get("paths", {}).items():
        if not path.startswith(API_PREFIX):
            continue
        for method, operation in operations.items():
            if method != "get":
                continue
            params = operation.setdefault("parameters", [])
            if not any(p.get("name") == "fields" for p in params):
                params.append(dict(FIELDS_PARAMETER))
            responses = operation.setdefault("responses", {})
            if "400" not in responses and "404" in responses:
                responses["400"] = dict(responses["404"])  # the error envelope: an unknown field name
            for response in operation.get("responses", {}).values():
                response.setdefault("headers", {}).update(RATELIMIT_HEADERS)
