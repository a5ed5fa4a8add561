"""Account service contracts."""

from __future__ import annotations

from zope.interface import Interface


class IUserService(Interface):
    def get(user_id: int):
        """The user with this id, or None."""

    def by_username(username: str):
        """The user with this username, or None."""

    def create(username: str, password: str | None, roles, display_name: str = ""):
        """Create a user; raises Conflict when the username is taken, InvalidInput for an unknown role."""

    def authenticate(username: str, password: str):
        """The active user whose password matches, else None (constant work either way)."""

    def set_password(user, password: str) -> None:
        """Store an argon2 hash of ``password``; a changed password ends the user's sessions."""

    def revoke_sessions(user) -> None:
        """End every session the user has, on every device."""

    def reset_password(user, password: str) -> None:
        """An admin sets someone's password; recorded in the audit log (without the hash)."""

    def list():
        """Every user, by username."""

    def update(user, *, roles=None, is_active=None, actor=None) -> None:
        """Change roles and/or activation; raises Conflict when ``actor`` would lock themselves out."""


class IApiKeyService(Interface):
    def create(user, name: str, rate_limit_per_minute: int | None = None):
        """Create a key; returns (ApiKey, secret). The secret is never stored and shown only here."""

    def verify(secret: str):
        """The active ApiKey for this secret, or None."""

    def list_for(user=None):
        """The keys of ``user`` (all keys when None), oldest first; never their secrets."""

    def revoke(key_id: int, owner=None) -> None:
        """Revoke a key; it stops working at once. NotFound unless it exists (and is ``owner``'s)."""
