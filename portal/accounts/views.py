"""Login and logout pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from marshmallow import ValidationError
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.security import forget, remember
from pyramid.view import view_config

from portal.accounts.interfaces import IUserService
from portal.accounts.schemas import LoginForm
from portal.errors import RateLimited
from portal.validation import load

LOGIN_ATTEMPTS_PER_MINUTE = 10


def safe_next(target: str | None) -> str:
    """Only same-site paths: a login link must not become an open redirect."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@view_config(route_name="accounts.login", request_method="GET", renderer="accounts/login.jinja2")
def login_form(request: Request) -> dict[str, Any]:
    return {"next": safe_next(request.GET.get("next")), "errors": {}, "username": ""}


@view_config(route_name="accounts.login", request_method="POST", renderer="accounts/login.jinja2")
def login(request: Request) -> Any:
    per_minute = int(request.registry.settings.get("ratelimit.login_per_minute", LOGIN_ATTEMPTS_PER_MINUTE))
    retry_after = request.registry["portal.ratelimiter"].hit(f"login:{request.client_addr}", per_minute)
    if retry_after is not None:
        raise RateLimited("登录尝试过于频繁，请稍后再试。", retry_after=retry_after)
    try:
        form = load(request, LoginForm, "form")
    except ValidationError as exc:
        request.response.status = 400
        return {"next": safe_next(request.POST.get("next")), "errors": exc.messages,
                "username": request.POST.get("username", "")}
    user = request.find_service(IUserService).authenticate(form["username"], form["password"])
    if user is None:
        request.response.status = 400
        return {"next": safe_next(form["next"]), "errors": {"_form": ["用户名或密码不正确。"]},
                "username": form["username"]}
    # A new session id at privilege change defeats session fixation.
    request.session.invalidate()
    headers = remember(request, user.id)
    request.session.flash(f"欢迎，{user.label}。", "success")
    return HTTPSeeOther(location=safe_next(form["next"]), headers=headers)


@view_config(route_name="accounts.logout", request_method="POST")
def logout(request: Request) -> Any:
    if request.identity is not None and request.identity.api_key is None:
        # A copy of this cookie (another tab, a stolen one) must not outlive the logout.
        request.find_service(IUserService).revoke_sessions(request.identity.user)
    headers = forget(request)
    request.session.invalidate()
    return HTTPSeeOther(location=request.route_url("home"), headers=headers)
