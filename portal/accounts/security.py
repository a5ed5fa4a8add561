"""The Pyramid 2 security policy: who is calling, and what their roles allow.

Two kinds of credentials, each on its own surface:

- HTML pages use the signed session cookie set at login (forms carry CSRF tokens);
- ``/api/`` and ``/open311/`` accept only API keys (``Authorization: Bearer …``, or Open311's
  ``api_key`` parameter). Ignoring the cookie there is what makes those endpoints immune to CSRF
  without tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyramid.authentication import SessionAuthenticationHelper
from pyramid.authorization import ACLHelper, Authenticated, Everyone
from pyramid.request import Request, RequestLocalCache

from portal.accounts.interfaces import IApiKeyService, IUserService
from portal.accounts.models import ApiKey, User
from portal.accounts.permissions import principal_for_role

KEY_AUTH_PREFIXES = ("/api/", "/open311/")


@dataclass
class Identity:
    user: User
    api_key: ApiKey | None = None
    principals: list[str] = field(default_factory=list)

    @property
    def id(self) -> int:
        return self.user.id


def uses_api_keys(request: Request) -> bool:
    return request.path_info.startswith(KEY_AUTH_PREFIXES)


def presented_api_key(request: Request) -> str | None:
    """The API key the client sent, if any: Bearer header first, then ``api_key`` parameter."""
    authorization = request.authorization
    if authorization is not None and authorization.authtype.lower() == "bearer":
        return str(authorization.params or "").strip() or None
    if request.path_info.startswith("/open311/"):
        try:
            value = request.params.get("api_key")
        except (UnicodeDecodeError, ValueError):
            return None
        return value.strip() if value else None
    return None


SESSION_GENERATION_KEY = "auth.generation"


class PortalSecurityPolicy:
    def __init__(self) -> None:
        self.session_helper = SessionAuthenticationHelper()
        self.acl = ACLHelper()
        self.identity_cache = RequestLocalCache(self._load_identity)

    def _load_identity(self, request: Request) -> Identity | None:
        user: User | None = None
        api_key: ApiKey | None = None
        if uses_api_keys(request):
            secret = presented_api_key(request)
            if secret is None:
                return None
            api_key = request.find_service(IApiKeyService).verify(secret)
            # Remembered so the API guard can answer 401 instead of treating the caller as anonymous.
            request.environ["portal.api_key_rejected"] = api_key is None
            if api_key is None:
                return None
            usage = request.registry.get("portal.apikey_usage")
            if usage is not None:
                usage.seen(api_key.id)
            user = api_key.user
        else:
            user_id = self.session_helper.authenticated_userid(request)
            if user_id is None:
                return None
            user = request.find_service(IUserService).get(user_id)
            if user is None or not user.is_active:
                return None
            if request.session.get(SESSION_GENERATION_KEY) != user.session_generation:
                return None  # signed out, or the password changed, since this cookie was issued
        principals = [f"user:{user.id}", *(principal_for_role(r) for r in user.roles)]
        if api_key is not None:
            principals.append(f"apikey:{api_key.id}")
        return Identity(user=user, api_key=api_key, principals=principals)

    def identity(self, request: Request) -> Identity | None:
        return self.identity_cache.get_or_create(request)

    def authenticated_userid(self, request: Request) -> int | None:
        identity = self.identity(request)
        return identity.user.id if identity is not None else None

    def permits(self, request: Request, context: Any, permission: str) -> Any:
        principals = [Everyone]
        identity = self.identity(request)
        if identity is not None:
            principals += [Authenticated, *identity.principals]
        return self.acl.permits(context, principals, permission)

    def remember(self, request: Request, userid: Any, **kw: Any) -> list[tuple[str, str]]:
        self.identity_cache.clear(request)
        user = request.find_service(IUserService).get(userid)
        request.session[SESSION_GENERATION_KEY] = user.session_generation if user is not None else None
        return self.session_helper.remember(request, userid, **kw)

    def forget(self, request: Request, **kw: Any) -> list[tuple[str, str]]:
        self.identity_cache.clear(request)
        return self.session_helper.forget(request, **kw)
