"""Running Alembic from the portal's own settings (CLI, ``make run``, tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(settings: dict[str, Any]) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    cfg.attributes["portal_settings"] = dict(settings)
    return cfg


def upgrade(settings: dict[str, Any], revision: str = "head") -> None:
    command.upgrade(alembic_config(settings), revision)


def head_revision(settings: dict[str, Any]) -> str | None:
    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


def current_revision(connection: Any) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
