"""Test fixtures, after the Pyramid cookiecutter and warehouse.

- Every database test runs twice: on SQLite and on PostgreSQL (``PORTAL_TEST_POSTGRES_URL``,
  default ``postgresql://postgres@127.0.0.1:5432/test``). An unreachable PostgreSQL skips those
  runs, except under ``CI=true``, where it fails them.
- Migrations run once per database and test session; each test then works inside a transaction
  and SAVEPOINT that are rolled back afterwards.
- Functional tests drive the real WSGI app with webtest, with the test's session injected.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import transaction
import webtest
from pyramid.paster import get_appsettings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from portal.db import get_engine
from portal.settings import normalise_database_url

ROOT = Path(__file__).resolve().parent.parent
TESTING_INI = ROOT / "testing.ini"
POSTGRES_URL = os.environ.get("PORTAL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CORPUS_DIR = Path(os.environ.get("PORTAL_CORPUS_DIR", ROOT.parent / "shared" / "corpus" / "laws"))


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _postgres_admin_engine() -> Engine | None:
    url = normalise_database_url(POSTGRES_URL)
    engine = create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        engine.dispose()
        return None
    return engine


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@contextlib.contextmanager
def empty_database(kind: str, folder: Path, prefix: str = "portal_scratch") -> Iterator[str]:
    """The URL of a new, empty database: a SQLite file in ``folder``, or a PostgreSQL database
    dropped afterwards (unreachable PostgreSQL: skipped, or failed under CI=true)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'portal.sqlite'}"
        return
    admin = _postgres_admin_engine()
    if admin is None:
        message = f"PostgreSQL is not reachable at {POSTGRES_URL}"
        if _in_ci():
            pytest.fail(message + " (CI=true: PostgreSQL tests are required)")
        pytest.skip(message)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalise_database_url(POSTGRES_URL)).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with empty_database(request.param, tmp_path_factory.mktemp("sqlite"), prefix=f"portal_test_{_worker()}") as url:
        yield url


def _require(service: str, reachable: bool) -> None:
    """Skip a test whose server is not running, except under CI=true, where it fails."""
    if reachable:
        return
    if _in_ci():
        pytest.fail(f"{service} is not reachable (CI=true: tests that need it are required)")
    pytest.skip(f"{service} is not reachable")


@pytest.fixture
def redis_url() -> str:
    """The test Redis (``PORTAL_TEST_REDIS_URL``); each user picks its own key prefix."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        reachable = True
    except (redis.RedisError, OSError):
        reachable = False
    _require(f"Redis at {REDIS_URL}", reachable)
    return REDIS_URL


@pytest.fixture(scope="session")
def app_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settings = dict(get_appsettings(str(TESTING_INI)))
    settings["sqlalchemy.url"] = database_url
    settings["portal.var_dir"] = str(tmp_path_factory.mktemp("var"))
    settings["portal.knowledge_base"] = str(ROOT / "knowledge_base")
    from portal.settings import complete_settings

    return dict(complete_settings(settings))


@pytest.fixture(scope="session")
def engine(app_settings: dict[str, Any]) -> Iterator[Engine]:
    from portal.migrate import upgrade

    upgrade(app_settings)
    engine = get_engine(app_settings)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def app(app_settings: dict[str, Any], engine: Engine) -> Any:
    from portal import main

    wsgi_app = main({}, **app_settings)
    # Start from a usable (empty) index, as `portal init` leaves it.
    wsgi_app.registry["portal.search.projection"].rebuild()
    return wsgi_app


@pytest.fixture
def dbsession(engine: Engine) -> Iterator[Session]:
    """A session whose every change disappears after the test (SAVEPOINT-wrapped)."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield session
    session.close()
    outer.rollback()
    connection.close()


@pytest.fixture
def tm() -> Iterator[transaction.TransactionManager]:
    manager = transaction.TransactionManager(explicit=True)
    manager.begin()
    manager.doom()
    yield manager
    manager.abort()


@pytest.fixture
def testapp(app: Any, tm: transaction.TransactionManager, dbsession: Session) -> webtest.TestApp:
    return webtest.TestApp(app, extra_environ={
        "HTTP_HOST": "example.com",
        "REMOTE_ADDR": "10.0.0.1",
        "tm.active": True,
        "tm.manager": tm,
        "app.dbsession": dbsession,
    })


def load_demo_catalogue(connection: Any, laws: tuple[str, ...] = ()) -> None:
    """Load knowledge_base/'s demo catalogue onto ``connection`` (and, when the shared corpus is
    present, the corpus laws named in ``laws``, so citations resolve to real articles)."""
    from portal.catalogue.loader import load_catalogue

    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False,
                      info={"actor_name": "test-catalogue"})
    if laws and CORPUS_DIR.is_dir():
        from portal.regulations.importing import import_paths

        import_paths(session, [CORPUS_DIR / name for name in laws], manifest=CORPUS_DIR / "MANIFEST.tsv",
                     source="corpus")
    load_catalogue(session, ROOT / "knowledge_base")
    session.commit()
    session.close()


@pytest.fixture(scope="module")
def catalogue_laws() -> tuple[str, ...]:
    """Corpus laws to import beside the demo catalogue; override in a module or conftest."""
    return ()


@pytest.fixture(scope="module")
def catalogue_connection(engine: Engine, catalogue_laws: tuple[str, ...]) -> Iterator[Any]:
    """A connection whose open transaction holds the demo catalogue.

    Loading it takes about a second, too slow for every test: it is loaded once per test module
    and rolled back at the module's end, so other modules never see it.
    """
    connection = engine.connect()
    outer = connection.begin()
    load_demo_catalogue(connection, catalogue_laws)
    yield connection
    outer.rollback()
    connection.close()


@pytest.fixture
def catalogue_session(catalogue_connection: Any) -> Iterator[Session]:
    """Each test in a SAVEPOINT on the catalogue's connection, rolled back afterwards."""
    nested = catalogue_connection.begin_nested()
    session = Session(bind=catalogue_connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield session
    session.close()
    if nested.is_active:
        nested.rollback()


@pytest.fixture
def make_user(dbsession: Session) -> Any:
    """Create a user with some roles (password: ``correct horse battery``)."""
    from portal.accounts.services import DatabaseUserService

    def factory(username: str, *roles: str, password: str = "correct horse battery") -> Any:
        return DatabaseUserService(dbsession).create(username, password, roles, display_name=username)

    return factory


@pytest.fixture
def make_api_key(dbsession: Session, make_user: Any) -> Any:
    """Create a user with ``roles`` and return a valid API key secret for it."""
    from portal.accounts.services import DatabaseApiKeyService

    def factory(*roles: str, username: str | None = None) -> str:
        user = make_user(username or f"client-{uuid.uuid4().hex[:6]}", *roles)
        _, secret = DatabaseApiKeyService(dbsession).create(user, "test key")
        return secret

    return factory


@pytest.fixture
def login_as(testapp: webtest.TestApp, make_user: Any) -> Any:
    """Create a user with ``roles`` and log in through the real form (CSRF included)."""

    def factory(*roles: str, username: str = "staff") -> Any:
        user = make_user(username, *roles)
        form = testapp.get("/login").forms[0]
        form["username"] = username
        form["password"] = "correct horse battery"
        form.submit(status=303)
        return user

    return factory
