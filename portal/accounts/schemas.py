"""Account input schemas."""

from __future__ import annotations

from marshmallow import fields, validate

from portal.validation import BodySchema, QuerySchema


class LoginForm(QuerySchema):
    # Forms also carry csrf_token and the submit button: excluded, not errors.
    username = fields.String(required=True, validate=validate.Length(min=1, max=64),
                             error_messages={"required": "请输入用户名。"})
    password = fields.String(required=True, validate=validate.Length(min=1, max=256),
                             error_messages={"required": "请输入密码。"})
    next = fields.String(load_default="/")


class UserCreate(BodySchema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    display_name = fields.String(load_default="", validate=validate.Length(max=100))
    password = fields.String(required=True, validate=validate.Length(min=8, max=256))
    roles = fields.List(fields.String(), load_default=list)
