"""The audit log, readable by admins: an HTML page and a JSON endpoint sharing one query."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate
from pyramid.request import Request
from pyramid.view import view_config

from portal.accounts.permissions import Permissions
from portal.audit import action_label, diff, entity_label, query_entries, value_text
from portal.validation import QuerySchema


class AuditQuery(QuerySchema):
    entity_type = fields.String(validate=validate.Length(max=64))
    entity_id = fields.String(validate=validate.Length(max=64))
    action = fields.String(validate=validate.Length(max=64))
    actor = fields.String(validate=validate.Length(max=100))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class AuditEntrySchema(Schema):
    id = fields.Integer()
    at = fields.AwareDateTime()
    actor_name = fields.String()
    action = fields.String()
    entity_type = fields.String()
    entity_id = fields.String()
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)
    comment = fields.String(allow_none=True)


class AuditPage(Schema):
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    items = fields.List(fields.Nested(AuditEntrySchema))


def _page(request: Request) -> dict[str, Any]:
    query = request.parsed
    entries, total = query_entries(request.dbsession, **query)
    return {"total": total, "page": query["page"], "page_size": query["page_size"], "items": entries}


@view_config(route_name="audit.list", renderer="admin/audit.jinja2", permission=Permissions.ADMIN_AUDIT_READ,
             request_method="GET", schema=AuditQuery)
def audit_page(request: Request) -> dict[str, Any]:
    page = _page(request)
    page["diffs"] = {entry.id: diff(entry) for entry in page["items"]}
    page["query"] = request.parsed
    page.update(action_label=action_label, entity_label=entity_label, value_text=value_text)
    return page


@view_config(route_name="audit.api.list", renderer="json", permission=Permissions.ADMIN_AUDIT_READ,
             request_method="GET", schema=AuditQuery,
             api_doc={"summary": "审计日志（仅管理员）", "tags": ["admin"], "response": AuditPage, "auth": True})
def audit_api(request: Request) -> dict[str, Any]:
    return AuditPage().dump(_page(request))


def includeme(config: Any) -> None:
    config.add_route("audit.list", "/admin/audit")
    config.add_route("audit.api.list", "/api/v1/audit")
