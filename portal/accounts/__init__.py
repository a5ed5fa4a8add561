"""Accounts: users with roles, login sessions, API keys, rate limits and the security policy."""

from __future__ import annotations

from typing import Any

from pyramid.exceptions import ConfigurationError
from pyramid.session import SignedCookieSessionFactory
from pyramid.tweens import EXCVIEW

from portal.accounts.interfaces import IApiKeyService, IUserService
from portal.accounts.ratelimit import make_rate_limiter, rate_limit_view_deriver
from portal.accounts.security import PortalSecurityPolicy, uses_api_keys
from portal.accounts.services import api_key_service_factory, user_service_factory
from portal.accounts.usage import ApiKeyUsage
from portal.settings import as_bool

UNSAFE_DEV_SECRET = "dev-only-secret-change-me"


def _csrf_applies(request: Any) -> bool:
    # Key-authenticated surfaces never read the session cookie, so they cannot be forged.
    return not uses_api_keys(request)


#: A flash message's length at most, in characters (a few fit in the session cookie together).
MAX_FLASH_CHARS = 300


def includeme(config: Any) -> None:
    settings = config.get_settings()
    secret = settings.get("session.secret") or ""
    if not secret or (secret == UNSAFE_DEV_SECRET and as_bool(settings.get("session.secure", False))):
        raise ConfigurationError("session.secret is not set: export PORTAL_SESSION_SECRET")
    cookie_session = SignedCookieSessionFactory(
        secret,
        cookie_name="portal_session",
        httponly=True,
        samesite="Lax",
        secure=as_bool(settings.get("session.secure", False)),
        timeout=8 * 3600,
        reissue_time=600,
    )

    class BoundedFlashSession(cookie_session):  # type: ignore[misc,valid-type]
        """The session lives in a cookie (about 4 KB at most): a flash message that quotes what a
        user typed (a 10,000-character form field) would overflow it and lose the session."""

        def flash(self, msg: Any, queue: str = "", allow_duplicate: bool = True) -> None:
            if isinstance(msg, str) and len(msg) > MAX_FLASH_CHARS:
                msg = msg[:MAX_FLASH_CHARS] + "…"
            super().flash(msg, queue, allow_duplicate)

    config.set_session_factory(BoundedFlashSession)
    config.set_default_csrf_options(require_csrf=True, callback=_csrf_applies)
    config.set_security_policy(PortalSecurityPolicy())
    config.registry["portal.ratelimiter"] = make_rate_limiter(config.registry)
    # Counted before the query is parsed: a flood of malformed queries is a flood too.
    config.add_view_deriver(rate_limit_view_deriver, name="rate_limit", over="schema")
    config.registry["portal.apikey_usage"] = ApiKeyUsage(
        config.registry["dbsession_writer_factory"],
        interval=float(settings.get("apikeys.usage_write_interval", 60)),
        shared=config.registry.get("portal.shared_state"))
    config.register_service_factory(user_service_factory, IUserService)
    config.register_service_factory(api_key_service_factory, IApiKeyService)
    config.add_tween("portal.accounts.ratelimit.client_address_tween_factory", under=EXCVIEW)
    config.add_tween("portal.accounts.ratelimit.body_size_tween_factory",
                     under="portal.accounts.ratelimit.client_address_tween_factory")
    config.add_tween("portal.accounts.ratelimit.api_guard_tween_factory", under="portal.accounts.ratelimit.body_size_tween_factory")
    config.add_route("accounts.login", "/login")
    config.add_route("accounts.logout", "/logout")
    config.add_route("accounts.users", "/admin/users")
    config.add_route("accounts.user", r"/admin/users/{id:\d+}")
    config.add_route("accounts.user_roles", r"/admin/users/{id:\d+}/roles")
    config.add_route("accounts.user_status", r"/admin/users/{id:\d+}/status")
    config.add_route("accounts.user_password", r"/admin/users/{id:\d+}/password")
    config.add_route("accounts.user_keys", r"/admin/users/{id:\d+}/keys")
    config.add_route("accounts.user_key_revoke", r"/admin/users/{id:\d+}/keys/{key_id:\d+}/revoke")
