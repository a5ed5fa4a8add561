"""Account input schemas."""

from __future__ import annotations

from marshmallow import fields, validate

from portal.accounts.models import Role
from portal.validation import BodySchema, QuerySchema


class LoginForm(QuerySchema):
    # Forms also carry csrf_token and the submit button: excluded, not errors.
    username = fields.String(required=True, validate=validate.Length(min=1, max=64),
                             error_messages={"required": "请输入用户名。"})
    password = fields.String(required=True, validate=validate.Length(min=1, max=256),
                             error_messages={"required": "请输入密码。"})
    next = fields.String(load_default="/")


_ROLES = validate.OneOf([r.value for r in Role], error="未知角色。")
_PASSWORD = validate.Length(min=8, max=256, error="密码 8 至 256 个字符。")


class UserCreate(BodySchema):
    username = fields.String(required=True, validate=[
        validate.Length(min=2, max=64), validate.Regexp(r"^[A-Za-z0-9._@-]+$", error="只能用字母、数字和 . _ @ -")],
        error_messages={"required": "请输入用户名。"})
    display_name = fields.String(load_default="", validate=validate.Length(max=100))
    # None: an account for a client system, reached with API keys only.
    password = fields.String(load_default=None, validate=_PASSWORD)
    roles = fields.List(fields.String(validate=_ROLES), load_default=list)


class UserRolesForm(BodySchema):
    roles = fields.List(fields.String(validate=_ROLES), load_default=list)


class UserStatusForm(BodySchema):
    active = fields.Boolean(required=True)


class UserPasswordForm(BodySchema):
    password = fields.String(required=True, validate=_PASSWORD, error_messages={"required": "请输入新密码。"})


class ApiKeyCreateForm(BodySchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100),
                         error_messages={"required": "请写明密钥的用途。"})
    rate_limit_per_minute = fields.Integer(load_default=None, validate=validate.Range(min=1, max=1_000_000))
