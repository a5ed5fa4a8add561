"""The SQLite set-up that keeps concurrent writers safe, and timezone-aware timestamps."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import Integer, String, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from portal.db import AwareDateTime, get_engine, get_session_factory, writer_engine


class _Base(DeclarativeBase):
    pass


class Counter(_Base):
    __tablename__ = "counter"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(20), default="")


class Stamp(_Base):
    __tablename__ = "stamp"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(AwareDateTime())


@pytest.fixture
def sqlite_engine(tmp_path):
    engine = get_engine({"sqlalchemy.url": f"sqlite:///{tmp_path / 'db.sqlite'}"})
    _Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_engine):
    with sqlite_engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_concurrent_read_modify_write_loses_no_update(sqlite_engine):
    """Eight threads each add 1 twenty-five times through read-then-write transactions."""
    factory = get_session_factory(writer_engine(sqlite_engine))
    with factory() as session, session.begin():
        session.add(Counter(id=1, value=0))
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(25):
                with factory() as session, session.begin():
                    row = session.get(Counter, 1)
                    current = row.value
                    # Give the other threads every chance to interleave between read and write.
                    session.execute(text("SELECT 1"))
                    row.value = current + 1
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with factory() as session:
        assert session.get(Counter, 1).value == 200


def test_reader_sessions_do_not_take_the_write_lock(sqlite_engine):
    writer = get_session_factory(writer_engine(sqlite_engine))()
    reader = get_session_factory(sqlite_engine)()
    try:
        writer.begin()
        writer.add(Counter(id=5, value=1))
        writer.flush()
        # WAL: a reader proceeds while a writer holds the lock, and sees only committed data.
        assert reader.scalar(select(Counter).where(Counter.id == 5)) is None
    finally:
        writer.rollback()
        writer.close()
        reader.close()


def test_aware_datetimes_round_trip_as_utc(sqlite_engine):
    shanghai = dt.timezone(dt.timedelta(hours=8))
    with Session(sqlite_engine) as session, session.begin():
        session.add(Stamp(id=1, at=dt.datetime(2026, 3, 1, 9, 30, tzinfo=shanghai)))
    with Session(sqlite_engine) as session:
        value = session.get(Stamp, 1).at
    assert value.tzinfo is not None
    assert value == dt.datetime(2026, 3, 1, 1, 30, tzinfo=dt.UTC)


def test_naive_datetimes_are_refused(sqlite_engine):
    with Session(sqlite_engine) as session:
        session.add(Stamp(id=2, at=dt.datetime(2026, 3, 1, 9, 30)))
        with pytest.raises(Exception, match="naive datetime"):
            session.flush()
