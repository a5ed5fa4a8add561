"""Database: declarative base, engine set-up for SQLite and PostgreSQL, the request session.

SQLite is the embedded default. It runs in WAL mode (readers never block the writer) with foreign
keys enforced, and every transaction that may write is opened with ``BEGIN IMMEDIATE``: taking the
write lock up front is what keeps two concurrent read-modify-write transactions from losing an
update or failing half-way with "database is locked". PostgreSQL runs through the same code.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import transaction
import zope.sqlalchemy
from sqlalchemy import JSON, DateTime, MetaData, Select, Table, create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITER_BEGIN = "IMMEDIATE"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class AwareDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware timestamps on every backend.

    SQLite has no time zone type and hands back naive values; storing UTC and re-attaching it on
    the way out keeps comparisons between SQLite and PostgreSQL results honest.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a timezone-aware column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: AwareDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }
    if TYPE_CHECKING:  # every model maps one Table (SQLAlchemy types it as any FromClause)
        __table__: ClassVar[Table]


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


_cursor_names = itertools.count(1)


def ends_a_savepoint(session: Session) -> bool:
    """In an ``after_commit`` or ``after_rollback`` listener: True when the transaction ending is
    a SAVEPOINT. SQLAlchemy fires both events for savepoints too, while the outer transaction
    is still open: what it wrote is not visible to anyone else yet, and may still be rolled back.
    Listeners that act on "committed" (catch the index up, tell other nodes) wait for the outer
    commit; listeners that forget on rollback keep what the outer transaction wrote before."""
    return session.in_nested_transaction()


def stream_tuples(connection: Connection, stmt: Select[Any], batch_size: int) -> Iterator[Sequence[Any]]:
    """``stmt``'s rows as the DB-API driver gives them (plain tuples, no result processing), in
    batches from a server-side cursor on PostgreSQL (a stepped cursor on SQLite): for exports of a
    million rows, where SQLAlchemy's result rows cost ~1.5 µs each. The statement is compiled and
    its parameters bound by SQLAlchemy as for ``execute``; the caller selects only columns whose
    raw values are what it wants (no type's ``process_result_value`` runs; SQLite gives booleans
    as 0 / 1)."""
    compiled = stmt.compile(dialect=connection.dialect)
    state = compiled.construct_expanded_state()
    processors = state.processors
    values = {key: (processors[key](value) if key in processors else value)
              for key, value in state.parameters.items()}
    parameters: Any = (tuple(values[key] for key in state.positiontup) if state.positiontup is not None
                       else values)
    raw = connection.connection.dbapi_connection
    assert raw is not None
    if connection.dialect.name == "postgresql":
        # A named (server-side) cursor: the server keeps the result, the client holds one batch.
        cursor = raw.cursor(name=f"portal_stream_{next(_cursor_names)}")
    else:
        cursor = raw.cursor()
    try:
        cursor.execute(state.statement, parameters)
        while batch := cursor.fetchmany(batch_size):
            yield batch
    finally:
        cursor.close()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own implicit BEGIN would defeat BEGIN IMMEDIATE; take transactions over.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def get_engine(settings: Mapping[str, Any], *, for_migrations: bool = False) -> Engine:
    url = settings["sqlalchemy.url"]
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    if for_migrations:
        # Migrations switch foreign keys off on their connection; never hand it back to a pool.
        kwargs["poolclass"] = NullPool
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def writer_engine(engine: Engine) -> Engine:
    """The same engine, but every transaction starts by taking SQLite's write lock."""
    return engine.execution_options(sqlite_begin=WRITER_BEGIN)


def get_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def get_tm_session(
    session_factory: sessionmaker[Session],
    transaction_manager: transaction.TransactionManager,
    request: Any = None,
) -> Session:
    """A session joined to ``transaction_manager``: committed or aborted with it."""
    dbsession = session_factory(info={"request": request})
    zope.sqlalchemy.register(dbsession, transaction_manager=transaction_manager)
    return dbsession


def _request_dbsession(request: Any) -> Session:
    # Tests inject a SAVEPOINT-wrapped session here (cookiecutter pattern).
    dbsession = request.environ.get("app.dbsession")
    if dbsession is None:
        key = "dbsession_factory" if request.method in SAFE_METHODS else "dbsession_writer_factory"
        dbsession = get_tm_session(request.registry[key], request.tm, request=request)
    dbsession.info["request"] = request
    return dbsession


def includeme(config: Any) -> None:
    settings = config.get_settings()
    settings["tm.manager_hook"] = "pyramid_tm.explicit_manager"
    config.include("pyramid_tm")
    config.include("pyramid_retry")
    engine = get_engine(settings)
    config.registry["dbengine"] = engine
    config.registry["dbsession_factory"] = get_session_factory(engine)
    config.registry["dbsession_writer_factory"] = get_session_factory(writer_engine(engine))
    config.add_request_method(_request_dbsession, "dbsession", reify=True)
