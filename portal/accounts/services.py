"""Users (argon2 password hashes) and API keys (hashed, shown once)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session
from zope.interface import implementer

from portal.accounts.interfaces import IApiKeyService, IUserService
from portal.accounts.models import ApiKey, Role, User
from portal.audit import record
from portal.db import utcnow
from portal.errors import Conflict, InvalidInput, NotFound

API_KEY_PREFIX = "cdp"
_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps login timing the same either way.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def _validate_roles(roles: Iterable[str]) -> list[str]:
    known = {r.value for r in Role}
    roles = sorted(set(roles))
    unknown = [r for r in roles if r not in known]
    if unknown:
        raise InvalidInput(f"未知角色：{', '.join(unknown)}", fields={"roles": [f"可选：{', '.join(sorted(known))}"]})
    return roles


@implementer(IUserService)
class DatabaseUserService:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, user_id: int) -> User | None:
        return self.session.get(User, user_id)

    def by_username(self, username: str) -> User | None:
        return self.session.scalar(select(User).where(User.username == username))

    def list(self) -> list[User]:
        return list(self.session.scalars(select(User).order_by(User.username)))

    def create(self, username: str, password: str | None, roles: Iterable[str], display_name: str = "") -> User:
        username = username.strip()
        if not username:
            raise InvalidInput("用户名不能为空。", fields={"username": ["必填"]})
        if self.by_username(username) is not None:
            raise Conflict(f"用户名 {username} 已存在。", fields={"username": ["已存在"]})
        user = User(username=username, display_name=display_name, roles=_validate_roles(roles))
        if password is not None:
            self.set_password(user, password)
        self.session.add(user)
        self.session.flush()
        return user

    def set_roles(self, user: User, roles: Iterable[str]) -> None:
        user.roles = _validate_roles(roles)

    def update(self, user: User, *, roles: Iterable[str] | None = None, is_active: bool | None = None,
               actor: User | None = None) -> None:
        """Change roles and/or whether the account may sign in. Admins cannot lock themselves
        out: the last way back in would be the server's shell."""
        if actor is not None and actor.id == user.id:
            if is_active is False:
                raise Conflict("不能停用自己的账号。", fields={"active": ["不能停用自己"]})
            if roles is not None and user.has_role(Role.ADMIN) and Role.ADMIN.value not in set(roles):
                raise Conflict("不能取消自己的管理员角色。", fields={"roles": ["不能取消自己的管理员角色"]})
        if roles is not None:
            self.set_roles(user, roles)
        if is_active is not None:
            user.is_active = is_active
            if not is_active:
                self.revoke_sessions(user)

    def revoke_sessions(self, user: User) -> None:
        """End every session of this user, on every device (their cookies stop being accepted)."""
        user.session_generation = (user.session_generation or 0) + 1

    def set_password(self, user: User, password: str) -> None:
        if len(password) < 8:
            raise InvalidInput("密码至少 8 个字符。", fields={"password": ["至少 8 个字符"]})
        if user.password_hash is not None:
            self.revoke_sessions(user)  # whoever knew the old password is signed out
        user.password_hash = _hasher.hash(password)

    def reset_password(self, user: User, password: str) -> None:
        """An admin sets someone's password. The hash stays out of the audit log; that it was
        reset, and by whom, is recorded."""
        self.set_password(user, password)
        record(self.session, "users.password_reset", "users", str(user.id))

    def authenticate(self, username: str, password: str) -> User | None:
        user = self.by_username(username)
        stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
        try:
            _hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if user is None or not user.is_active or not user.password_hash:
            return None
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        user.last_login_at = utcnow()
        return user


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@implementer(IApiKeyService)
class DatabaseApiKeyService:
    def __init__(self, session: Session) -> None:
        self.session = session

    def create(self, user: User, name: str, rate_limit_per_minute: int | None = None) -> tuple[ApiKey, str]:
        prefix = secrets.token_hex(6)
        secret = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
        key = ApiKey(user=user, name=name, prefix=prefix, key_hash=_digest(secret),
                     rate_limit_per_minute=rate_limit_per_minute)
        self.session.add(key)
        self.session.flush()
        return key, secret

    def verify(self, secret: str) -> ApiKey | None:
        parts = secret.strip().split("_")
        if len(parts) < 3 or parts[0] != API_KEY_PREFIX:
            return None
        key = self.session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
        if key is None or not hmac.compare_digest(key.key_hash, _digest(secret.strip())):
            return None
        return key if key.is_active else None

    def list_for(self, user: User | None = None) -> list[ApiKey]:
        stmt = select(ApiKey).order_by(ApiKey.id)
        if user is not None:
            stmt = stmt.where(ApiKey.user_id == user.id)
        return list(self.session.scalars(stmt))

    def revoke(self, key_id: int, owner: User | None = None) -> None:
        key = self.session.get(ApiKey, key_id)
        if key is None or (owner is not None and key.user_id != owner.id):
            raise NotFound(f"API 密钥 {key_id} 不存在。")
        if key.revoked_at is None:
            key.revoked_at = utcnow()


def user_service_factory(context: Any, request: Any) -> DatabaseUserService:
    return DatabaseUserService(request.dbsession)


def api_key_service_factory(context: Any, request: Any) -> DatabaseApiKeyService:
    return DatabaseApiKeyService(request.dbsession)
