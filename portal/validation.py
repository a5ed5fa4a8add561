"""Validation at the boundary: marshmallow schemas attached to views.

``@view_config(..., schema=FooSchema)`` loads the request's input through the schema before the view
runs and leaves the result in ``request.parsed``; a :class:`marshmallow.ValidationError` becomes a
400 with per-field messages (see :mod:`portal.errors`). ``api_doc=`` on the same view feeds the
OpenAPI document (:mod:`portal.openapi`).

Where the input comes from: the query string for GET/DELETE, a JSON body when the request says it
sends JSON, form fields otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, pre_load
from pyramid.request import Request

from portal.errors import InvalidInput, PortalError


class QuerySchema(Schema):
    """Query-string parameters: unknown ones (cache busters, tracking) are ignored, and a blank
    one (``?at=``, what an empty form field sends) means "not given", as the OpenAPI document
    states (``allowEmptyValue``)."""

    class Meta:
        unknown = EXCLUDE

    @pre_load
    def _blank_is_not_given(self, data: Any, **_: Any) -> Any:
        if isinstance(data, Mapping):
            # Only the empty value: "%0B" (a vertical tab) is a value, and not a date.
            return {key: value for key, value in data.items() if value != ""}
        return data


class BodySchema(Schema):
    """Request bodies: an unknown field is a client mistake worth reporting."""

    class Meta:
        unknown = RAISE


class UnsupportedMediaType(PortalError):
    status = 415
    code = "unsupported_media_type"


def _single_values(params: Mapping[str, Any], schema: Schema) -> dict[str, Any]:
    """Flatten a MultiDict: repeated keys become lists only for List fields."""
    from marshmallow import fields as ma_fields

    data: dict[str, Any] = {}
    for key in params:
        field = schema.fields.get(key)
        values = params.getall(key) if hasattr(params, "getall") else [params[key]]
        if isinstance(field, ma_fields.List):
            data[key] = values
        else:
            data[key] = values[-1]
    return data


def blank_to_none(data: Any, names: tuple[str, ...]) -> Any:
    """``data`` with the named fields that are blank strings set to None: a form or a client
    that sends ``lat=""`` means "not given", not "not a number" (for ``pre_load`` hooks)."""
    if isinstance(data, dict):
        data = dict(data)
        for name in names:
            if isinstance(data.get(name), str) and not data[name].strip():
                data[name] = None
    return data


def request_input(request: Request, schema: Schema, location: str | None = None) -> Any:
    """The raw input a schema should load for this request."""
    if location is None:
        if request.method in {"GET", "HEAD", "DELETE", "OPTIONS"}:
            location = "query"
        elif (request.content_type or "").endswith("json"):
            location = "json"
        elif request.content_type in {"application/x-www-form-urlencoded", "multipart/form-data"}:
            location = "form"
        elif not request.body:
            location = "json"
        else:
            raise UnsupportedMediaType("请以 application/json 或表单格式提交。")
    if location == "query":
        return _single_values(request.GET, schema)
    if location == "form":
        return _single_values(form_fields(request), schema)
    return json_body(request)


def json_body(request: Request) -> Any:
    """The request's JSON body ({} when empty); 400 for anything that is not JSON."""
    if not request.body:
        return {}
    try:
        data = request.json_body
    except RecursionError:
        # "[[[[…" nested deeper than the parser's recursion limit: not a document anyone sends.
        raise InvalidInput("请求体的 JSON 嵌套过深。", code="invalid_json") from None
    except ValueError as exc:
        raise InvalidInput(f"请求体不是有效的 JSON：{exc}", code="invalid_json") from exc
    if _holds_nul(data):
        # No text a person writes holds one, and PostgreSQL refuses to store it.
        raise InvalidInput("请求中不能含有 NUL 字符（\\u0000）。", code="invalid_character")
    return data


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def form_fields(request: Request) -> Any:
    """The request's form fields; 400 for a body its content type does not describe (multipart
    without a boundary, a truncated part)."""
    try:
        fields = request.POST
    except (ValueError, KeyError, TypeError, AssertionError) as exc:
        raise InvalidInput("表单格式无效：multipart/form-data 请求须带 boundary 且内容完整。",
                           code="invalid_form") from exc
    if any("\x00" in value for value in fields.values() if isinstance(value, str)):
        raise InvalidInput("请求中不能含有 NUL 字符。", code="invalid_character")
    return fields


def load(request: Request, schema: Schema | type[Schema], location: str | None = None, **load_kwargs: Any) -> Any:
    """Load the request's input through ``schema`` (raises ValidationError on bad input)."""
    instance = schema() if isinstance(schema, type) else schema
    data = request_input(request, instance, location)
    if location != "query" and not isinstance(data, (dict, list)):
        raise InvalidInput("请求体必须是 JSON 对象。", code="invalid_json")
    return instance.load(data, **load_kwargs)


def _messages(value: Any) -> list[str]:
    # A list field reports {index: [message]}: a form shows the messages, not the indexes.
    if isinstance(value, dict):
        return [m for v in value.values() for m in _messages(v)]
    return [str(m) for m in value] if isinstance(value, list) else [str(value)]


def form_errors(exc: ValidationError | PortalError) -> dict[str, list[str]]:
    """Errors for an HTML form: field name -> messages, and ``_`` for the form as a whole."""
    if isinstance(exc, PortalError):
        return {**exc.fields, "_": [exc.message]}
    if not isinstance(exc.messages, dict):
        return {"_": _messages(exc.messages)}
    return {name: sorted(set(_messages(value))) for name, value in exc.messages.items()}


def schema_view_deriver(view: Any, info: Any) -> Any:
    schema = info.options.get("schema")
    if schema is None:
        return view
    location = info.options.get("schema_location")
    partial = info.options.get("schema_partial", False)

    def validating_view(context: Any, request: Request) -> Any:
        request.parsed = load(request, schema, location, partial=partial)
        return view(context, request)

    return validating_view


schema_view_deriver.options = ("schema", "schema_location", "schema_partial", "api_doc")  # type: ignore[attr-defined]


def includeme(config: Any) -> None:
    config.add_view_deriver(schema_view_deriver, name="schema")
