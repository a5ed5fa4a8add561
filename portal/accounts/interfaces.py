"""Account service contracts."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import TYPE_CHECKING

from zope.interface import Interface

if TYPE_CHECKING:
    from portal.accounts.models import ApiKey, User


class IUserService(Interface):
    def get(user_id: int) -> User | None:
        """The user with this id, or None."""

    def by_username(username: str) -> User | None:
        """The user with this username, or None."""

    def create(username: str, password: str | None, roles: Iterable[str], display_name: str = "") -> User:
        """Create a user; raises Conflict when the username is taken, InvalidInput for an unknown role."""

    def authenticate(username: str, password: str) -> User | None:
        """The active user whose password matches, else None (constant work either way)."""

    def set_password(user: User, password: str) -> None:
        """Store an argon2 hash of ``password``; a changed password ends the user's sessions."""

    def revoke_sessions(user: User) -> None:
        """End every session the user has, on every device."""

    def reset_password(user: User, password: str) -> None:
        """An admin sets someone's password; recorded in the audit log (without the hash)."""

    # (From here on `list` is this method in the class body: annotations spell `builtins.list`.)
    def list() -> builtins.list[User]:
        """Every user, by username."""

    def update(user: User, *, roles: Iterable[str] | None = None, is_active: bool | None = None,
               actor: User | None = None) -> None:
        """Change roles and/or activation; raises Conflict when ``actor`` would lock themselves out."""


class IApiKeyService(Interface):
    def create(user: User, name: str, rate_limit_per_minute: int | None = None) -> tuple[ApiKey, str]:
        """Create a key; returns (ApiKey, secret). The secret is never stored and shown only here."""

    def verify(secret: str) -> ApiKey | None:
        """The active ApiKey for this secret, or None."""

    def list_for(user: User | None = None) -> list[ApiKey]:
        """The keys of ``user`` (all keys when None), oldest first; never their secrets."""

    def revoke(key_id: int, owner: User | None = None) -> None:
        """Revoke a key; it stops working at once. NotFound unless it exists (and is ``owner``'s)."""
