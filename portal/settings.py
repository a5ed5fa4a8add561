"""Settings: the ini file first, then the environment for secrets, URLs and paths.

Follows warehouse's ``maybe_set``: an environment variable, when present, wins over the ini value,
so one ini serves every node of a deployment and secrets never sit in files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

ENVIRONMENT_OVERRIDES: dict[str, str] = {
    "sqlalchemy.url": "DATABASE_URL",
    "portal.var_dir": "PORTAL_VAR_DIR",
    "session.secret": "PORTAL_SESSION_SECRET",
    "portal.corpus_dir": "PORTAL_CORPUS_DIR",
    "portal.knowledge_base": "PORTAL_KNOWLEDGE_BASE",
    "portal.lawpack": "PORTAL_LAWPACK",
    "portal.lawpack_path": "PORTAL_LAWPACK_PATH",
    "redis.url": "REDIS_URL",
    "redis.prefix": "PORTAL_REDIS_PREFIX",
}

DEFAULT_MAX_BODY_BYTES = 1024 * 1024


def maybe_set(
    settings: MutableMapping[str, Any],
    name: str,
    envvar: str,
    coercer: Callable[[str], Any] | None = None,
) -> None:
    """Set ``settings[name]`` from ``envvar`` when that variable exists."""
    if envvar in os.environ:
        value = os.environ[envvar]
        settings[name] = coercer(value) if coercer is not None else value


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def normalise_database_url(url: str) -> str:
    """Accept the libpq-style ``postgresql://`` URL operators paste, and drive it with psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def complete_settings(settings: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Apply environment overrides and derive the defaults every entry point relies on.

    Shared by the WSGI app, the CLI and Alembic's env.py so they always agree on the database.
    """
    for name, envvar in ENVIRONMENT_OVERRIDES.items():
        maybe_set(settings, name, envvar)
    if as_bool(settings.get("portal.require_production_settings", False)):
        check_production_settings(settings)
    var_dir = Path(settings.get("portal.var_dir") or "var").resolve()
    settings["portal.var_dir"] = str(var_dir)
    if not settings.get("sqlalchemy.url"):
        # The embedded default: a SQLite file beside the index, nothing to start.
        settings["sqlalchemy.url"] = f"sqlite:///{var_dir / 'portal.sqlite'}"
    settings["sqlalchemy.url"] = normalise_database_url(settings["sqlalchemy.url"])
    settings.setdefault("portal.index_dir", str(var_dir / "index"))
    settings["portal.max_body_bytes"] = int(settings.get("portal.max_body_bytes") or DEFAULT_MAX_BODY_BYTES)
    settings["portal.lawpack"] = as_bool(settings.get("portal.lawpack", False))
    settings.setdefault("portal.timezone", "Asia/Shanghai")
    from portal import clock

    clock.configure(settings)
    return settings


MIN_SECRET_BYTES = 32


def check_production_settings(settings: MutableMapping[str, Any]) -> None:
    """Refuse to start (``portal.require_production_settings = true``, as in production.ini)
    without a strong session secret or an explicit database: a guessable secret lets anyone
    forge a staff session, and a silent SQLite default would split one deployment's data per node."""
    from pyramid.exceptions import ConfigurationError

    secret = str(settings.get("session.secret") or "")
    if len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
        raise ConfigurationError(
            f"会话密钥缺失或过短：请设置 PORTAL_SESSION_SECRET（至少 {MIN_SECRET_BYTES} 字节，各节点相同），"
            "例如 python3 -c 'import secrets; print(secrets.token_urlsafe(48))'. "
            f"(session secret missing or shorter than {MIN_SECRET_BYTES} bytes)")
    if not str(settings.get("sqlalchemy.url") or "").strip():
        raise ConfigurationError(
            "未配置数据库：请设置 DATABASE_URL，例如 postgresql://portal@db.example/portal. "
            "(no database URL: set DATABASE_URL)")


def ensure_var_dir(settings: MutableMapping[str, Any]) -> Path:
    var_dir = Path(settings["portal.var_dir"])
    for sub in ("", "index", "uploads", "generated"):
        (var_dir / sub).mkdir(parents=True, exist_ok=True)
    return var_dir
