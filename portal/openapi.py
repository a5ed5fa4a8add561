"""The OpenAPI 3 document, generated from the views' marshmallow schemas.

A JSON view declares itself with ``api_doc={...}`` next to ``schema=``::

    @view_config(route_name="regulations.api.list", request_method="GET", renderer="json",
                 schema=RegulationQuery, api_doc={"summary": "…", "tags": ["regulations"],
                                                  "response": RegulationPage})

The document is assembled from Pyramid's introspector on first request: path from the route
pattern, method from the view, parameters or request body from ``schema=``, the 200 body from
``api_doc["response"]``. Nothing is written twice, so the document cannot drift from the code.
"""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields
from pyramid.interfaces import IRoutesMapper
from pyramid.request import Request
from pyramid.view import view_config

API_TITLE = "城市管理权责知识门户 API (City Duty Portal)"
API_VERSION = "1.0.0"

_ROUTE_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")


class ErrorDetail(Schema):
    code = fields.String(required=True, metadata={"description": "稳定的机器可读错误代码"})
    message = fields.String(required=True, metadata={"description": "给人看的中文说明"})
    message_en = fields.String(metadata={"description": "英文说明（供开发者参考）"})
    fields = fields.Dict(metadata={"description": "各字段的校验说明（中文）"})  # type: ignore[assignment]  # the envelope's key; shadows the module: keep last


class ErrorEnvelope(Schema):
    error = fields.Nested(ErrorDetail, required=True)


def _schema_name(schema: Any) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    return cls.__name__.removesuffix("Schema") or cls.__name__


def _resolver(schema: Any) -> str:
    name = _schema_name(schema)
    instance = schema() if isinstance(schema, type) else schema
    modifiers = []
    if getattr(instance, "many", False):
        modifiers.append("Many")
    if getattr(instance, "partial", False):
        modifiers.append("Partial")
    return name + "".join(modifiers)


def build_spec(request: Request) -> dict[str, Any]:
    spec = APISpec(
        title=API_TITLE,
        version=API_VERSION,
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin(schema_name_resolver=_resolver)],
        info={
            "description": "城市管理权责知识门户的开放数据与派遣查询接口：部件事件分类、责任单位、区域网格、"
            "权属查询、权责条目、法规与条文、检索、公开案件。出错时返回 "
            "{\"error\": {\"code\", \"message\", \"fields\"}}：message 与 fields 为中文，"
            "message_en 为英文说明（供开发者参考）。字符串不能含 NUL 字符（\\u0000，400 invalid_character）；"
            "案件与环节的日期须在 1900 年至 2100 年之间。",
        },
        servers=[{"url": request.application_url}],
    )
    spec.components.schema("ErrorEnvelope", schema=ErrorEnvelope)
    spec.components.security_scheme("apiKey", {"type": "http", "scheme": "bearer", "description": "API 密钥：Authorization: Bearer <密钥>"})
    mapper = request.registry.queryUtility(IRoutesMapper)
    operations: dict[str, dict[str, Any]] = {}
    for intr in request.registry.introspector.get_category("views") or []:
        view = intr["introspectable"]
        api_doc = view.get("api_doc")
        route_name = view.get("route_name")
        if not api_doc or not route_name:
            continue
        route = mapper.get_route(route_name)
        if route is None:
            continue
        path = _ROUTE_PARAM.sub(r"{\1}", route.pattern)
        if not path.startswith("/"):
            path = "/" + path
        methods = view.get("request_methods") or ("GET",)
        if isinstance(methods, str):
            methods = (methods,)
        for method in methods:
            if method == "HEAD":
                continue
            operations.setdefault(path, {})[method.lower()] = _operation(route_name, method, path, view, api_doc)
    for path in sorted(operations):
        spec.path(path=path, operations=operations[path])
    document = spec.to_dict()
    # Domains add what applies across endpoints (shared parameters, headers): config.add_openapi_hook.
    for hook in request.registry.get("portal.openapi_hooks", ()):
        hook(document)
    _allow_empty_query_values(document)
    _only_null_beside_refs(document)
    return document


#: apispec's rendering of a nullable Nested field: any object at all, beside the one it names.
_ANY_OBJECT_OR_NULL = {"type": "object", "nullable": True}
_ONLY_NULL = {"type": "object", "nullable": True, "enum": [None]}


def _only_null_beside_refs(node: Any) -> None:
    """``anyOf: [{$ref: Foo}, {type: object, nullable: true}]`` admits ``{}`` where a Foo or null
    is meant (``feedback: {}`` without its required rating): the second branch becomes null alone."""
    if isinstance(node, dict):
        choices = node.get("anyOf")
        if isinstance(choices, list) and any("$ref" in c for c in choices if isinstance(c, dict)):
            node["anyOf"] = [dict(_ONLY_NULL) if c == _ANY_OBJECT_OR_NULL else c for c in choices]
        for value in node.values():
            _only_null_beside_refs(value)
    elif isinstance(node, list):
        for value in node:
            _only_null_beside_refs(value)


def _allow_empty_query_values(document: dict[str, Any]) -> None:
    """A blank optional query parameter (``?at=``, what an empty form field sends) means "not
    given" throughout the API: the document says so on each of them."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            for parameter in operation.get("parameters", ()):
                if parameter.get("in") == "query" and not parameter.get("required"):
                    parameter["allowEmptyValue"] = True
                    # A query string has no null: an absent parameter is the None of the schema.
                    schema = parameter.get("schema", {})
                    schema.pop("nullable", None)
                    if "default" in schema and schema["default"] is None:
                        del schema["default"]


def _operation(route_name: str, method: str, path: str, view: Any, api_doc: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": f"{route_name}.{method.lower()}",
        "summary": api_doc.get("summary", route_name),
        "tags": api_doc.get("tags", [route_name.split(".")[0]]),
        "responses": {},
    }
    if api_doc.get("description"):
        operation["description"] = api_doc["description"]
    parameters: list[dict[str, Any]] = [
        {"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
        for name in _ROUTE_PARAM.findall(path)
    ]
    schema = view.get("schema")
    if schema is not None:
        if method in {"GET", "DELETE"}:
            parameters.append({"in": "query", "schema": schema})
        else:
            content_type = "application/x-www-form-urlencoded" if view.get("schema_location") == "form" else "application/json"
            operation["requestBody"] = {"required": True, "content": {content_type: {"schema": schema}}}
    if api_doc.get("request_body"):
        # A body no marshmallow schema describes (a file upload), written out in OpenAPI terms.
        operation["requestBody"] = api_doc["request_body"]
    if parameters:
        operation["parameters"] = parameters
    status = str(api_doc.get("status", 201 if method == "POST" else 200))
    response: dict[str, Any] = {"description": api_doc.get("response_description", "成功")}
    if api_doc.get("response") is not None:
        response["content"] = {api_doc.get("content_type", "application/json"): {"schema": api_doc["response"]}}
    elif api_doc.get("content_type"):
        # A JSON document (JSON-LD, a data package) is an object; CSV and the like are text.
        body_type = "object" if api_doc["content_type"].endswith(("json", "+json", "jsonld")) else "string"
        response["content"] = {api_doc["content_type"]: {"schema": {"type": body_type}}}
    operation["responses"][status] = response
    # Another success status with the same body (a PATCH that creates a new revision: 201).
    for also in api_doc.get("also", ()):
        operation["responses"][str(also)] = response
    error = {"description": "错误（error.code 为错误代码，error.message 为中文说明）", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}}
    for code in api_doc.get("errors", (400, 404) if schema is not None or "{" in path else (404,)):
        operation["responses"][str(code)] = error
    if "{" in path:
        # Whatever a path names (an id, a code, a period) may not exist.
        operation["responses"].setdefault("404", error)
    if api_doc.get("auth"):
        operation["security"] = [{"apiKey": []}]
        operation["responses"].setdefault("401", error)
        operation["responses"].setdefault("403", error)
    return operation


def openapi_document(request: Request) -> dict[str, Any]:
    cached = request.registry.get("portal.openapi")
    if cached is None or cached[0] != request.application_url:
        cached = (request.application_url, build_spec(request))
        request.registry["portal.openapi"] = cached
    return cached[1]


@view_config(route_name="api.openapi", renderer="json", request_method="GET")
def openapi_json(request: Request) -> dict[str, Any]:
    return openapi_document(request)


@view_config(route_name="api.docs", renderer="api/docs.jinja2", request_method="GET")
def api_docs(request: Request) -> dict[str, Any]:
    return {"spec": openapi_document(request)}


def includeme(config: Any) -> None:
    config.add_route("api.openapi", "/api/v1/openapi.json")
    config.add_route("api.docs", "/api/docs")
