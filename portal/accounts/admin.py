"""Staff accounts and API keys, managed by admins in the browser (``portal users`` and
``portal apikeys`` do the same from a shell)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.view import view_config

from portal.accounts.interfaces import IApiKeyService, IUserService
from portal.accounts.models import ROLE_LABELS, ApiKey, Role, User
from portal.accounts.permissions import Permissions
from portal.accounts.schemas import (
    ApiKeyCreateForm,
    UserCreate,
    UserPasswordForm,
    UserRolesForm,
    UserStatusForm,
)
from portal.accounts.usage import last_uses
from portal.errors import NotFound, PortalError
from portal.validation import form_errors

_MAX_ID = 2**31 - 1


def _users(request: Request) -> Any:
    return request.find_service(IUserService)


def _user(request: Request) -> User:
    user_id = int(request.matchdict["id"])
    user = _users(request).get(user_id) if user_id <= _MAX_ID else None
    if user is None:
        raise NotFound(f"用户 {user_id} 不存在。")
    return user


def _form(request: Request, *names: str, lists: tuple[str, ...] = ()) -> dict[str, Any]:
    """The named fields of a posted form; empty ones are "not given"."""
    data: dict[str, Any] = {name: request.POST.getall(name) for name in lists}
    for name in names:
        value = (request.POST.get(name) or "").strip()
        if value:
            data[name] = value
    return data


def _list_page(request: Request, values: dict[str, Any] | None = None,
               errors: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"users": _users(request).list(), "values": values or {}, "errors": errors or {},
            "roles": list(Role), "role_labels": ROLE_LABELS}


def _user_page(request: Request, user: User, errors: dict[str, Any] | None = None,
               new_key: tuple[ApiKey, str] | None = None) -> dict[str, Any]:
    keys = request.find_service(IApiKeyService).list_for(user)
    return {"user": user, "keys": keys, "last_used": last_uses(request.registry, keys), "errors": errors or {},
            "new_key": new_key, "roles": list(Role), "role_labels": ROLE_LABELS,
            "is_self": request.identity is not None and request.identity.user.id == user.id}


@view_config(route_name="accounts.users", renderer="admin/users.jinja2", request_method="GET",
             permission=Permissions.ADMIN_USERS_MANAGE)
def users_page(request: Request) -> dict[str, Any]:
    return _list_page(request)


@view_config(route_name="accounts.users", renderer="admin/users.jinja2", request_method="POST",
             permission=Permissions.ADMIN_USERS_MANAGE)
def create_user(request: Request) -> Any:
    raw = _form(request, "username", "display_name", "password", lists=("roles",))
    try:
        data = UserCreate().load(raw)
        user = _users(request).create(data["username"], data["password"], data["roles"], data["display_name"])
    except (ValidationError, PortalError) as exc:
        request.response.status = exc.status if isinstance(exc, PortalError) else 400
        raw.pop("password", None)  # never echoed back into the page
        return _list_page(request, raw, form_errors(exc))
    request.session.flash(f"已创建用户 {user.username}。", "success")
    return HTTPSeeOther(request.route_url("accounts.user", id=user.id))


@view_config(route_name="accounts.user", renderer="admin/user.jinja2", request_method="GET",
             permission=Permissions.ADMIN_USERS_MANAGE)
def user_page(request: Request) -> dict[str, Any]:
    return _user_page(request, _user(request))


def _change(request: Request, schema: type, apply: Any, done: str, *names: str, lists: tuple[str, ...] = ()) -> Any:
    """Load a form, apply it to the user, and come back to the user's page (errors shown there)."""
    user = _user(request)
    try:
        apply(user, schema().load(_form(request, *names, lists=lists)))
    except (ValidationError, PortalError) as exc:
        request.response.status = exc.status if isinstance(exc, PortalError) else 400
        return _user_page(request, user, form_errors(exc))
    request.session.flash(done, "success")
    return HTTPSeeOther(request.route_url("accounts.user", id=user.id))


@view_config(route_name="accounts.user_roles", renderer="admin/user.jinja2", request_method="POST",
             permission=Permissions.ADMIN_USERS_MANAGE)
def set_roles(request: Request) -> Any:
    return _change(request, UserRolesForm,
                   lambda user, data: _users(request).update(user, roles=data["roles"], actor=request.identity.user),
                   "角色已更新。", lists=("roles",))


@view_config(route_name="accounts.user_status", renderer="admin/user.jinja2", request_method="POST",
             permission=Permissions.ADMIN_USERS_MANAGE)
def set_status(request: Request) -> Any:
    return _change(request, UserStatusForm,
                   lambda user, data: _users(request).update(user, is_active=data["active"], actor=request.identity.user),
                   "账号状态已更新（停用的账号不能登录，其 API 密钥立即失效）。", "active")


@view_config(route_name="accounts.user_password", renderer="admin/user.jinja2", request_method="POST",
             permission=Permissions.ADMIN_USERS_MANAGE)
def set_password(request: Request) -> Any:
    return _change(request, UserPasswordForm,
                   lambda user, data: _users(request).reset_password(user, data["password"]),
                   "密码已重设。", "password")


@view_config(route_name="accounts.user_keys", renderer="admin/user.jinja2", request_method="POST",
             permission=Permissions.ADMIN_USERS_MANAGE)
def create_key(request: Request) -> Any:
    user = _user(request)
    try:
        data = ApiKeyCreateForm().load(_form(request, "name", "rate_limit_per_minute"))
        key, secret = request.find_service(IApiKeyService).create(user, data["name"], data["rate_limit_per_minute"])
    except ValidationError as exc:
        request.response.status = 400
        return _user_page(request, user, form_errors(exc))
    # Shown in this response only: never in a redirect, a flash message or a log.
    request.response.status = 201
    request.response.cache_control = "no-store"
    return _user_page(request, user, new_key=(key, secret))


@view_config(route_name="accounts.user_key_revoke", request_method="POST",
             permission=Permissions.ADMIN_USERS_MANAGE)
def revoke_key(request: Request) -> Any:
    user = _user(request)
    key_id = int(request.matchdict["key_id"])
    request.find_service(IApiKeyService).revoke(min(key_id, _MAX_ID), owner=user)
    request.session.flash(f"API 密钥 #{key_id} 已吊销，立即失效。", "success")
    return HTTPSeeOther(request.route_url("accounts.user", id=user.id))
