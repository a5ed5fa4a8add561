"""Users and API keys."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.audit import Audited
from portal.db import Base, utcnow


class Role(StrEnum):
    DISPATCHER = "dispatcher"
    EDITOR = "editor"
    EXPERT = "expert"
    CLERK = "clerk"
    ADMIN = "admin"


ROLE_LABELS: dict[Role, str] = {
    Role.DISPATCHER: "派遣员",
    Role.EDITOR: "权责清单编辑",
    Role.EXPERT: "专家",
    Role.CLERK: "文员",
    Role.ADMIN: "管理员",
}


class User(Audited, Base):
    __tablename__ = "users"
    # Who was given which role, and when, is audited; secrets and sign-in times are not.
    __audit_exclude__ = frozenset({"password_hash", "last_login_at", "session_generation"})

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    roles: Mapped[list[str]] = mapped_column(default=list)
    # Optional link to the agency a staff member works for (dispatchers, clerks).
    agency_code: Mapped[str | None] = mapped_column(String(32))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None]
    # Sessions are signed cookies that live on in any copy of them: each carries the generation
    # it was issued in, and raising it (logout, password change, disabling) ends them all.
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")

    api_keys: Mapped[list[ApiKey]] = relationship(back_populates="user")

    @property
    def label(self) -> str:
        return self.display_name or self.username

    def has_role(self, role: Role | str) -> bool:
        return str(role) in self.roles


class ApiKey(Audited, Base):
    """An API key: only a SHA-256 of the secret is stored; the secret is shown once."""

    __tablename__ = "api_keys"
    __audit_exclude__ = frozenset({"key_hash", "last_used_at"})

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # The public part of the key, used to find the row without scanning hashes.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    # Requests per minute; None falls back to the configured default.
    rate_limit_per_minute: Mapped[int | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship(back_populates="api_keys")

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.user.is_active
