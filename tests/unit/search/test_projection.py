"""The index as a projection of the database: change log on flush, catch-up, deletions, rebuild."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from sqlalchemy import String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from zope.interface import implementer

from portal.db import Base
from portal.search.interfaces import IDocumentProvider, SearchDocument
from portal.search.models import SearchChange
from portal.search.projection import SearchProjection, add_search_source


class _TestBase(DeclarativeBase):
    type_annotation_map = Base.type_annotation_map


class Memo(_TestBase):
    __tablename__ = "test_memos"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(100))
    public: Mapped[bool] = mapped_column(default=True)


add_search_source(Memo, lambda memo: [("memo", str(memo.id))])


@implementer(IDocumentProvider)
class MemoProvider:
    doc_types = ("memo",)

    def documents(self, session, doc_type, doc_ids=None):
        stmt = select(Memo).where(Memo.public.is_(True))
        if doc_ids is not None:
            stmt = stmt.where(Memo.id.in_([int(i) for i in doc_ids]))
        for memo in session.scalars(stmt):
            yield SearchDocument(doc_type="memo", doc_id=str(memo.id), title=memo.text, body=memo.text, url="/")

    def count(self, session, doc_type):
        return session.scalar(select(func.count()).select_from(Memo).where(Memo.public.is_(True)))


class MemoryIndex:
    """A test double of ISearchService that just remembers documents by key."""

    def __init__(self) -> None:
        self.docs: dict[str, SearchDocument] = {}
        self.healthy = True

    def index(self, documents: Iterable[SearchDocument]) -> int:
        documents = list(documents)
        self.docs.update({d.key: d for d in documents})
        return len(documents)

    def delete(self, keys: Iterable[str]) -> int:
        return sum(self.docs.pop(k, None) is not None for k in keys)

    def rebuild(self, documents, progress=None) -> int:
        self.docs = {}
        self.healthy = True
        return self.index(documents)

    def health(self):
        return {"ok": self.healthy, "documents": len(self.docs)}


@pytest.fixture
def memos(dbsession):
    Memo.__table__.create(dbsession.connection())
    return dbsession


class BorrowedSession:
    """The test's session handed out as if new: closing it must not end the test's transaction."""

    def __init__(self, session) -> None:
        self._session = session

    def __getattr__(self, name):
        return getattr(self._session, name)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


@pytest.fixture
def projection(memos, tmp_path):
    index = MemoryIndex()
    projection = SearchProjection(index, session_factory=lambda: BorrowedSession(memos), index_dir=tmp_path / "index")
    projection.add_provider(MemoProvider())
    # Changes logged by other tests' data in this database are not ours to replay.
    projection._write_cursor(memos.scalar(select(func.max(SearchChange.id))) or 0)
    return projection


def logged(session) -> list[tuple[str, str]]:
    return [(c.doc_type, c.doc_id) for c in session.scalars(select(SearchChange).where(SearchChange.doc_type == "memo"))]


def test_inserts_updates_and_deletes_are_logged_in_the_same_transaction(memos):
    memo = Memo(text="窨井盖")
    memos.add(memo)
    memos.flush()
    memos.flush()  # the log rows themselves are flushed by the next flush
    assert logged(memos) == [("memo", str(memo.id))]
    memo.text = "检查井盖"
    memos.flush()
    memos.delete(memo)
    memos.flush()
    memos.flush()
    assert logged(memos).count(("memo", str(memo.id))) == 3


def test_catch_up_indexes_changes_and_removes_what_is_gone_or_private(memos, projection):
    a, b = Memo(text="甲"), Memo(text="乙")
    memos.add_all([a, b])
    memos.flush()
    memos.flush()
    assert projection.catch_up(memos) == 2
    assert set(projection.service.docs) == {f"memo:{a.id}", f"memo:{b.id}"}
    b.public = False
    memos.delete(a)
    memos.flush()
    memos.flush()
    projection.catch_up(memos)
    assert projection.service.docs == {}
    # Nothing new: nothing to do, and the cursor sits at the newest change.
    assert projection.catch_up(memos) == 0
    assert projection.read_cursor() == memos.scalar(select(func.max(SearchChange.id)))


def test_rebuild_comes_from_the_database_alone(memos, projection):
    memos.add_all([Memo(text="一"), Memo(text="二"), Memo(text="三", public=False)])
    memos.flush()
    projection.service.docs = {"memo:999": None}  # stale junk a rebuild must drop
    assert projection.rebuild() == 2
    assert len(projection.service.docs) == 2 and "memo:999" not in projection.service.docs


def test_a_worker_healing_a_missing_index_skips_the_build_another_worker_just_finished(memos, projection):
    """A new node's workers all find the index missing at start; the first builds it, the others,
    once they hold the lock, find it usable and only catch up."""
    memos.add(Memo(text="甲"))
    memos.flush()
    memos.flush()
    projection.service.healthy = False
    assert projection.rebuild(unless_healthy=True) == 1
    projection.service.healthy = True
    projection.service.docs = {"memo:999": None}  # what a rebuild would drop
    assert projection.rebuild(unless_healthy=True) == -1
    assert "memo:999" in projection.service.docs


def test_bring_up_to_date_rebuilds_an_unusable_index_and_catches_up_a_healthy_one(memos, projection):
    memos.add(Memo(text="甲"))
    memos.flush()
    memos.flush()
    projection.service.healthy = False
    assert projection.bring_up_to_date().startswith("rebuilt")
    memos.add(Memo(text="乙"))
    memos.flush()
    memos.flush()
    assert projection.bring_up_to_date() == "caught up (1 documents)"
    assert len(projection.service.docs) == 2


def test_documents_that_depend_on_the_day_are_re_read_once_a_day(memos, projection):
    import datetime as dt

    memos.add(Memo(text="甲"))
    memos.flush()
    asked: list[tuple[dt.date, dt.date]] = []

    def changed_by_date(session, doc_type, after, through):
        asked.append((after, through))
        return [str(m.id) for m in session.scalars(select(Memo))]

    provider = projection.providers["memo"]
    provider.changed_by_date = changed_by_date
    day = [dt.date(2026, 12, 31)]
    projection.today = lambda: day[0]
    projection.rebuild()  # built on the 31st: current for that day
    projection.service.docs = {}
    assert projection.refresh_dates() == 0 and asked == []
    day[0] = dt.date(2027, 1, 2)  # two days later: one look covering both
    assert projection.refresh_dates() == 1 and asked == [(dt.date(2026, 12, 31), dt.date(2027, 1, 2))]
    assert len(projection.service.docs) == 1
    assert projection.refresh_dates() == 0 and len(asked) == 1  # once a day
    del provider.changed_by_date


def test_a_reader_never_does_the_catch_up_itself(projection, monkeypatch):
    """Following other processes' changes runs on a background thread: the search that notices
    them answers at once, whatever the backlog (an upload once held a search for nine minutes)."""
    import threading

    release, started, done = threading.Event(), threading.Event(), threading.Event()
    caller = []

    def slow_catch_up(session=None, **_options):
        caller.append(threading.current_thread())
        started.set()
        release.wait(10)
        done.set()
        return 0

    monkeypatch.setattr(projection, "catch_up", slow_catch_up)
    monkeypatch.setattr(projection, "refresh_dates", lambda: 0)
    projection._last_poll = -1e9
    projection.maybe_poll()  # returns although the catch-up has not finished
    assert started.wait(5) and not done.is_set()
    assert caller[0] is not threading.current_thread()
    release.set()
    assert done.wait(5)


@pytest.fixture
def committing(tmp_path):
    """A database of its own with real commits (the test session of ``memos`` never commits),
    and a projection reading it through fresh sessions, as a node does."""
    from sqlalchemy.orm import Session

    from portal.db import get_engine

    engine = get_engine({"sqlalchemy.url": f"sqlite:///{tmp_path / 'memos.sqlite'}"})
    Memo.__table__.create(engine)
    SearchChange.__table__.create(engine)
    index = MemoryIndex()
    projection = SearchProjection(index, session_factory=lambda: Session(engine), index_dir=tmp_path / "index")
    projection.add_provider(MemoProvider())
    yield engine, projection, index
    engine.dispose()


def test_a_savepoint_inside_a_transaction_is_indexed_when_the_transaction_commits(committing):
    """An editor's import runs in a SAVEPOINT inside the request's transaction. SQLAlchemy
    announces the savepoint's release as a commit: the catch-up then read a database without
    the new rows, and the real commit later found its flag used up, so the new regulation
    stayed unfound until the next poll (up to 30 s with Redis)."""
    from sqlalchemy.orm import Session

    engine, projection, index = committing
    with Session(engine) as session:
        session.info["projection"] = projection
        session.add(Memo(text="较早写入的"))
        session.flush()
        with session.begin_nested():
            session.add(Memo(text="犬只文明饲养"))
        assert index.docs == {}  # nothing is committed yet
        with session.begin_nested() as preview:  # a dry run: rolled back
            session.add(Memo(text="只是预览"))
            session.flush()
            preview.rollback()
        session.commit()
    assert sorted(doc.title for doc in index.docs.values()) == ["犬只文明饲养", "较早写入的"]


def test_a_rolled_back_transaction_with_a_savepoint_indexes_nothing(committing):
    from sqlalchemy.orm import Session

    engine, projection, index = committing
    with Session(engine) as session:
        session.info["projection"] = projection
        with session.begin_nested():
            session.add(Memo(text="作废"))
        session.rollback()
        session.add(Memo(text="下一笔"))
        session.commit()
    assert [doc.title for doc in index.docs.values()] == ["下一笔"]
