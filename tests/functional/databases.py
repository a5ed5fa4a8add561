"""Empty databases for tests that need a whole database of their own (backups, killed commands)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from portal.settings import normalise_database_url
from tests.conftest import POSTGRES_URL, _in_ci, _postgres_admin_engine


@contextlib.contextmanager
def empty_database(kind: str, folder: Path) -> Iterator[str]:
    """The URL of a new, empty database: a SQLite file in ``folder``, or a PostgreSQL database
    dropped afterwards (unreachable PostgreSQL: skipped, or failed under CI=true, as in conftest)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'portal.sqlite'}"
        return
    admin = _postgres_admin_engine()
    if admin is None:
        message = f"PostgreSQL is not reachable at {POSTGRES_URL}"
        if _in_ci():
            pytest.fail(message + " (CI=true: PostgreSQL tests are required)")
        pytest.skip(message)
    name = f"portal_scratch_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalise_database_url(POSTGRES_URL)).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
