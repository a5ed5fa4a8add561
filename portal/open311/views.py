"""Open311 GeoReport v2 endpoints: discovery, services, service definitions, requests, tokens."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from portal import clock
from portal.accounts.permissions import Permissions
from portal.cases.interfaces import ICaseService
from portal.cases.public import PublicCase
from portal.errors import ErrorInfo, InvalidInput, NotFound, PortalError
from portal.open311.render import (
    errors_payload,
    format_of,
    parse_w3c_datetime,
    render,
    w3c_datetime,
)
from portal.validation import form_fields, json_body

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
MAX_SPAN = dt.timedelta(days=90)
DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 1000
MAX_PAGE = 100
MAX_IDS = 1000

# Open311 knows 400, 403 and 404; a bad key is 403 there (the rest of the portal says 401).
STATUS_MAP = {401: 403, 405: 400, 409: 400, 413: 400, 415: 400, 422: 400}

#: Attributes every service accepts (GET services/{code}); all optional.
ATTRIBUTES: tuple[dict[str, Any], ...] = (
    {"variable": True, "code": "URGENCY", "datatype": "singlevaluelist", "required": False,
     "datatype_description": None, "order": 1,
     "description": "是否紧急（危及人身或交通安全）。Urgent (danger to people or traffic)?",
     "values": [{"key": "normal", "name": "一般"}, {"key": "urgent", "name": "紧急"}]},
    {"variable": True, "code": "ASSET_ID", "datatype": "string", "required": False,
     "datatype_description": "部件上的编号，如井盖编号、路灯杆号", "order": 2,
     "description": "部件编号（如有）。Asset number on the object, if any."},
    {"variable": True, "code": "LANDMARK", "datatype": "string", "required": False,
     "datatype_description": "附近的标志物，如公交站、店铺", "order": 3,
     "description": "附近标志物。A landmark nearby."},
)
ATTRIBUTE_CODES = {a["code"] for a in ATTRIBUTES}


# ----------------------------------------------------------------------------- plumbing


def respond(request: Request, root: str, data: Any, status: int = 200) -> Response:
    body, content_type = render(request.matchdict.get("format", "json"), root, data)
    return Response(body=body, status=status, content_type=content_type, charset="utf-8")


def open311_error_response(request: Request, info: ErrorInfo) -> Response:
    """Errors under /open311/ as the spec's array, in the format the path asked for."""
    status = STATUS_MAP.get(info.status, info.status)
    description = info.message
    if info.fields:
        details = "；".join(f"{key}: {'、'.join(map(str, value)) if isinstance(value, list) else value}"
                           for key, value in info.fields.items())
        description = f"{description}（{details}）"
    matched = getattr(request, "matchdict", None) or {}
    fmt = matched.get("format") or format_of(request.path_info)
    body, content_type = render(fmt, "errors", errors_payload([(status, description)]))
    response = Response(body=body, status=status, content_type=content_type, charset="utf-8")
    # A challenge belongs to a 401; Open311 answers 403 for a missing or bad key.
    response.headers.update({k: v for k, v in info.headers.items() if status == 401 or k != "WWW-Authenticate"})
    return response


def cases(request: Request) -> Any:
    return request.find_service(ICaseService)


def _param(params: Mapping[str, Any], name: str) -> str:
    try:
        value = params.get(name)
    except UnicodeDecodeError as exc:  # undecodable bytes: a 400, never a 500
        raise InvalidInput("请求参数不是有效的 UTF-8。", code="invalid_encoding") from exc
    return value.strip() if isinstance(value, str) else ""


def check_jurisdiction(request: Request, params: Mapping[str, Any] | None = None) -> None:
    """One jurisdiction is served: an empty or absent jurisdiction_id is fine, a foreign one 404s."""
    value = _param(params if params is not None else request.params, "jurisdiction_id")
    if not value:
        return
    accepted = {"330199", "示例区", request.host.split(":")[0]}
    configured = request.registry.settings.get("open311.jurisdiction_id")
    if configured:
        accepted.add(str(configured))
    if value not in accepted:
        raise NotFound(f"jurisdiction_id not found: {value}（本接口只服务一个辖区）", code="jurisdiction_not_found")


def offered_items(service: Any) -> list[Any]:
    """Item types with published duties that may be disclosed: the services on offer."""
    places = service.places
    hidden = service.hidden_item_ids
    snapshot = places.snapshot
    items = [snapshot.items[i] for i in snapshot.items_with_duties if i not in hidden and i in snapshot.items]
    return sorted(items, key=lambda i: (i.scheme != "gbt30428", i.kind, i.code))


def service_item(service: Any, code: str) -> Any:
    item = service.places.item_for_code(code)
    if item is None or item.id in service.hidden_item_ids or item.id not in service.places.snapshot.items_with_duties:
        raise NotFound(f"service_code not found: {code}", code="service_not_found")
    return item


# ----------------------------------------------------------------------------- discovery & services


@view_config(route_name="open311.discovery", request_method="GET", permission=Permissions.PUBLIC_READ)
@view_config(route_name="open311.discovery_root", request_method="GET", permission=Permissions.PUBLIC_READ)
def discovery(request: Request) -> Response:
    snapshot = cases(request).places.snapshot
    # The spec's changeset is a W3C datetime: when the service list last changed.
    changeset = w3c_datetime(snapshot.built_at)
    return respond(request, "discovery", {
        "changeset": changeset,
        "contact": "示例区城市运行管理服务中心（演示系统）。City Duty Portal of the demo district.",
        "key_service": "API 密钥由门户管理员签发（portal apikeys create）。API keys are issued by the portal's administrators.",
        "endpoints": [{
            "specification": SPECIFICATION,
            "url": request.application_url + "/open311/v2",
            "changeset": changeset,
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }],
    })


def service_dict(service: Any, item: Any) -> dict[str, Any]:
    kind = "部件" if item.kind == "component" else "事件"
    return {
        "service_code": service.places.service_code(item),
        "service_name": item.name,
        "description": f"{kind}·{item.major_name}：{item.name}",
        "metadata": True,
        "type": "realtime",
        "keywords": ", ".join(dict.fromkeys([item.name, *item.aliases, item.major_name])),
        "group": item.major_name,
    }


@view_config(route_name="open311.services", request_method="GET", permission=Permissions.PUBLIC_READ)
def services(request: Request) -> Response:
    check_jurisdiction(request)
    service = cases(request)
    return respond(request, "services", [service_dict(service, item) for item in offered_items(service)])


@view_config(route_name="open311.service", request_method="GET", permission=Permissions.PUBLIC_READ)
@view_config(route_name="open311.service_alias", request_method="GET", permission=Permissions.PUBLIC_READ)
def service_definition(request: Request) -> Response:
    check_jurisdiction(request)
    service = cases(request)
    item = service_item(service, request.matchdict["code"])
    return respond(request, "service_definition", {
        "service_code": service.places.service_code(item),
        "attributes": [dict(a) for a in ATTRIBUTES],
    })


# ----------------------------------------------------------------------------- requests


def request_dict(case: PublicCase, extensions: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "service_request_id": str(case.id),
        "status": case.open311_status,
        "status_notes": case.status_notes,
        "service_name": case.item_type["name"] if case.item_type else None,
        "service_code": case.service_code,
        "description": case.description or None,
        "agency_responsible": case.agency["name"] if case.agency else None,
        "service_notice": case.service_notice or None,
        "requested_datetime": w3c_datetime(case.reported_at),
        "updated_datetime": w3c_datetime(case.updated_at),
        "expected_datetime": w3c_datetime(case.deadline),
        "address": case.place,
        "address_id": case.grid["code"] if case.grid else None,
        "zipcode": None,
        "lat": case.lat,
        "long": case.lon,
        "media_url": None,
    }
    if extensions:
        data["extended_attributes"] = {
            "case_number": case.case_number,
            "channel": case.channel_label,
            "street": case.street["name"] if case.street else None,
            "grid": case.grid["name"] if case.grid else None,
            "status_label": case.status_label,
            "time_limit": case.time_limit or None,
            "late": case.late,
            "supervised": case.supervised,
            "bounce_count": case.bounce_count,
            "rating": case.rating_label,
        }
        data["notes"] = [
            {"datetime": w3c_datetime(e.at), "type": e.kind,
             "description": e.label + (f"（{e.agency}）" if e.agency else "") + (f"：{e.note}" if e.note else "")}
            for e in (case.events or ())
        ]
    return data


def _as_bool(value: str) -> bool:
    return value.lower() in {"1", "true", "yes", "on"}


def _int(params: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    raw = _param(params, name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} 必须是整数。{name} must be an integer.", fields={name: [raw[:40]]}) from None
    if not low <= value <= high:
        raise InvalidInput(f"{name} 必须在 {low} 到 {high} 之间。", fields={name: [str(value)]})
    return value


def _date(params: Mapping[str, Any], name: str) -> dt.datetime | None:
    raw = _param(params, name)
    if not raw:
        return None
    try:
        return parse_w3c_datetime(raw)
    except ValueError:
        raise InvalidInput(f"{name} 必须是带时区的 W3C 日期时间，例如 2026-01-01T00:00:00+08:00。"
                           f" {name} must be a W3C datetime with an offset.", fields={name: [raw[:40]]}) from None


def requests_filters(params: Mapping[str, Any], now: dt.datetime | None = None) -> dict[str, Any]:
    """GET requests' parameters as case filters (spec defaults: the last 90 days, at most 90)."""
    extensions = _as_bool(_param(params, "extensions"))
    page = _int(params, "page", 1, 1, MAX_PAGE)
    page_size = _int(params, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    filters: dict[str, Any] = {"page": page, "page_size": page_size, "with_total": False,
                               "with_feedback": extensions, "with_events": extensions}
    ids_raw = _param(params, "service_request_id")
    if ids_raw:
        ids = [part.strip() for part in ids_raw.split(",") if part.strip()]
        if len(ids) > MAX_IDS:
            raise InvalidInput(f"service_request_id 最多 {MAX_IDS} 个。", fields={"service_request_id": ["太多"]})
        # A list of ids overrides every other filter (spec).
        filters["ids"] = [int(i) for i in ids if i.isdigit() and len(i) < 12]
        return filters
    codes = [c.strip() for c in _param(params, "service_code").split(",") if c.strip()]
    if codes:
        filters["service_codes"] = codes
    statuses = {s.strip().lower() for s in _param(params, "status").split(",") if s.strip()}
    if statuses - {"open", "closed"}:
        raise InvalidInput("status 只能是 open 或 closed（可用逗号分隔）。", fields={"status": sorted(statuses)})
    if len(statuses) == 1:
        filters["statuses"] = statuses.pop()
    now = now or clock.now()
    start, end = _date(params, "start_date"), _date(params, "end_date")
    if start is None:
        end = end or now
        start = end - MAX_SPAN
    elif end is None:
        end = start + MAX_SPAN
    if end < start:
        raise InvalidInput("end_date 早于 start_date。end_date is before start_date.", fields={"end_date": ["早于开始"]})
    if end - start > MAX_SPAN:
        raise InvalidInput("start_date 与 end_date 的跨度不能超过 90 天。The range may not span more than 90 days.",
                           fields={"end_date": ["跨度超过 90 天"]})
    filters["since"], filters["until"] = start, end
    return filters


@view_config(route_name="open311.requests", request_method="GET", permission=Permissions.PUBLIC_READ)
def list_requests(request: Request) -> Response:
    check_jurisdiction(request)
    service = cases(request)
    filters = requests_filters(request.GET)
    codes = filters.pop("service_codes", None)
    if codes:
        ids: list[int] = []
        for code in codes:
            ids.extend(i.id for i in service.places.items_for_code(code))
        filters["item_type_ids"] = ids
    page = service.public_page(filters)
    return respond(request, "service_requests", [request_dict(c, filters["with_events"]) for c in page.items])


@view_config(route_name="open311.request", request_method="GET", permission=Permissions.PUBLIC_READ)
def get_request(request: Request) -> Response:
    check_jurisdiction(request)
    case_id = request.matchdict["id"]
    if not case_id.isdigit() or len(case_id) > 11:
        raise NotFound(f"service_request_id not found: {case_id}", code="request_not_found")
    extensions = _as_bool(_param(request.GET, "extensions"))
    try:
        case = cases(request).public_get(case_id, with_events=extensions)
    except NotFound:
        raise NotFound(f"service_request_id not found: {case_id}", code="request_not_found") from None
    return respond(request, "service_requests", [request_dict(case, extensions)])


@view_config(route_name="open311.token", request_method="GET", permission=Permissions.PUBLIC_READ)
def get_token(request: Request) -> Response:
    check_jurisdiction(request)
    token = request.matchdict["token"]
    try:
        case = cases(request).track(token)
    except NotFound:
        raise NotFound(f"token not found: {token[:40]}", code="token_not_found") from None
    return respond(request, "service_requests", [{"service_request_id": str(case.id), "token": token}])


def _attributes(params: Mapping[str, Any]) -> dict[str, list[str]]:
    """``attribute[CODE]=v`` and ``attribute[CODE][]=v1&attribute[CODE][]=v2``."""
    result: dict[str, list[str]] = {}
    for key in dict.fromkeys(params.keys()):  # a MultiDict repeats keys; getall gathers them
        if not key.startswith("attribute[") or "]" not in key:
            continue
        code = key[len("attribute["):key.index("]")]
        values = params.getall(key) if hasattr(params, "getall") else [params[key]]
        result.setdefault(code, []).extend(str(v).strip() for v in values if str(v).strip())
    return result


@view_config(route_name="open311.requests", request_method="POST")
def post_request(request: Request) -> Response:
    """Create a reported case; the answer names the responsible agency and the time limit."""
    if request.identity is None or not request.has_permission(Permissions.OPEN311_SUBMIT):
        raise PortalError("api_key 缺失或无效，不能提交服务请求。Missing or invalid api_key.",
                          code="invalid_api_key", status=403)
    params: Mapping[str, Any]
    if (request.content_type or "").endswith("json"):
        body = json_body(request)
        if not isinstance(body, dict):
            raise InvalidInput("请求体必须是 JSON 对象。", code="invalid_json")
        params = {k: ("" if v is None else str(v)) for k, v in body.items() if not isinstance(v, (dict, list))}
    else:
        params = form_fields(request)
    check_jurisdiction(request, params)
    service = cases(request)
    code = _param(params, "service_code")
    if not code:
        raise InvalidInput("缺少 service_code。service_code was not provided.", fields={"service_code": ["必填"]})
    item = service_item(service, code)
    lat_raw, lon_raw = _param(params, "lat"), _param(params, "long")
    address = _param(params, "address_string") or _param(params, "address_id")
    lat = lon = None
    if lat_raw or lon_raw:
        try:
            lat, lon = float(lat_raw), float(lon_raw)
        except ValueError:
            raise InvalidInput("lat 与 long 必须同时提供且为数字。lat and long must both be numbers.",
                               fields={"lat": [lat_raw[:30]], "long": [lon_raw[:30]]}) from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise InvalidInput("lat/long 超出范围。", fields={"lat": [lat_raw[:30]]})
    elif not address:
        raise InvalidInput("必须提供位置：lat 与 long，或 address_string。A location (lat & long or address_string) "
                           "is required.", code="location_required", fields={"lat": ["必填"]})
    description = _param(params, "description")
    if len(description) > 4000:
        raise InvalidInput("description 不能超过 4000 字。", fields={"description": ["太长"]})
    attributes = _attributes(params)
    urgency = (attributes.get("URGENCY") or ["normal"])[0]
    if urgency not in {"normal", "urgent"}:
        raise InvalidInput("attribute[URGENCY] 只能是 normal 或 urgent。", fields={"attribute[URGENCY]": [urgency[:20]]})
    extra = [f"{label}：{attributes[key][0]}" for key, label in (("ASSET_ID", "部件编号"), ("LANDMARK", "附近标志物"))
             if attributes.get(key)]
    name = (_param(params, "last_name") + _param(params, "first_name")).strip()
    record = {
        "external_id": None,
        "channel": "open311",
        "item_type": service.places.service_code(item),
        "description": "；".join(p for p in (description, *extra) if p)[:4000],
        "reported_at": clock.now().replace(microsecond=0),
        "urgency": urgency,
        "lat": lat,
        "lon": lon,
        "address": address[:300],
        "reporter": {"name": name[:100], "phone": _param(params, "phone")[:40], "email": _param(params, "email")[:200],
                     "id_number": "", "account_id": (_param(params, "account_id") or _param(params, "device_id"))[:100]},
        "events": [],
    }
    case, tracking_code, handling = service.submit(record)
    agency = service.places.agency(handling.agency_id)
    notice = (f"已受理。本案由{agency.name}负责处置，处置时限：{handling.limit.label}（自派遣起计）。"
              if agency else f"已受理，将由指挥中心派遣责任单位，处置时限：{handling.limit.label}。")
    return respond(request, "service_requests", [{
        "service_request_id": str(case.id),
        "token": tracking_code,
        "service_notice": notice,
        "account_id": _param(params, "account_id") or None,
    }])
