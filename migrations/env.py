"""Alembic environment: the portal's own settings decide the database, as for the app and the CLI.

SQLite specifics: migrations run in batch mode (SQLite cannot ALTER most things, so tables are
rebuilt), and with foreign keys switched off on the migration connection: rebuilding a parent
table with ``ON DELETE CASCADE`` children and foreign keys on would silently delete the children.
After the migration, ``PRAGMA foreign_key_check`` proves nothing was left dangling.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from portal.db import Base, get_engine
from portal.models import import_all_models
from portal.settings import complete_settings

config = context.config
import_all_models()
target_metadata = Base.metadata


def _settings() -> dict:
    settings = dict(config.attributes.get("portal_settings") or {})
    if not settings:
        ini_section = config.get_section("app:main") or {}
        settings = {key: value for key, value in ini_section.items()}
        settings.setdefault("portal.var_dir", config.get_main_option("here", ".") + "/var")
    return dict(complete_settings(settings))


def run_migrations_offline() -> None:
    url = _settings()["sqlalchemy.url"]
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=url.startswith("sqlite"), compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = get_engine(_settings(), for_migrations=True)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:
    is_sqlite = connection.dialect.name == "sqlite"
    if is_sqlite:
        # Outside any transaction (the pragma is a no-op inside one); the connection is not pooled.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=is_sqlite, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
        if is_sqlite:
            problems = connection.execute(text("PRAGMA foreign_key_check")).fetchall()
            if problems:
                raise RuntimeError(f"migration left dangling foreign keys: {problems[:5]}")
    if is_sqlite:
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
