"""Keeps the search index a projection of the database.

Writes: a flush listener notes the documents whose source rows were inserted, changed or deleted
(models declare themselves with ``config.add_search_source``) and appends them to the
``search_changes`` log inside the same transaction. After the commit, the projection reads the log
past its cursor, asks the document providers for the current documents and updates the index;
documents whose rows are gone, or no longer public, are deleted from it. It never touches the
index from inside a transaction that may still roll back.

Each node keeps its own index replica and its own cursor (a file beside the index), so any number
of nodes follow the same log. ``rebuild()`` recreates the index from the database alone.

Re-indexing leaves the old copy of a document in its segment, marked deleted, until a merge; the
daily date refresh re-indexes thousands of articles at once, and cold queries then slow down by
up to 40 %. Past the service's ``merge_deleted_share`` (setting ``portal.search.merge_deleted_share``,
default 0.1, and at least ``portal.search.merge_deleted_min`` copies, default 500) a background
thread merges them away under the node's writer lock, while searches
answer from the snapshot they hold (:meth:`SearchProjection.maybe_merge`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import Any

from sqlalchemy import and_, event, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from portal import clock
from portal.db import ends_a_savepoint, utcnow
from portal.search.interfaces import IDocumentProvider, SearchDocument, SearchUnavailable
from portal.search.models import SearchChange

log = logging.getLogger(__name__)

KeysOf = Callable[[Any], Iterable[tuple[str, str]]]

# Model class -> the document keys a changed row affects. Process-wide, like the mapped classes.
_SOURCES: dict[type, KeysOf] = {}

# On PostgreSQL, sequence values can commit out of order: a change with a lower id may become
# visible after the cursor passed it. Changes up to LOOKBACK ids behind the cursor and younger than
# LOOKBACK_SECONDS are therefore read again (once per process), which catches a late committer
# without replaying the log at every start.
LOOKBACK = 1000
LOOKBACK_SECONDS = 120
# Past this many pending changes, writing a fresh index is faster than applying them one by one.
REBUILD_BACKLOG = 5000


def add_search_source(model: type, keys_of: KeysOf) -> None:
    _SOURCES[model] = keys_of


def _keys_for(obj: Any) -> Iterable[tuple[str, str]]:
    for cls in type(obj).__mro__:
        keys_of = _SOURCES.get(cls)
        if keys_of is not None:
            return keys_of(obj)
    return ()


@event.listens_for(Session, "after_flush")
def _collect_changed_documents(session: Session, _context: Any) -> None:
    if not _SOURCES:
        return
    keys: set[tuple[str, str]] = set()
    for obj in chain(session.new, session.dirty, session.deleted):
        keys.update(_keys_for(obj))
    if keys:
        session.info.setdefault("_search_keys", set()).update(keys)


@event.listens_for(Session, "after_flush_postexec")
def _log_changed_documents(session: Session, _context: Any) -> None:
    keys = session.info.pop("_search_keys", None)
    if keys:
        session.add_all(SearchChange(doc_type=doc_type, doc_id=str(doc_id)) for doc_type, doc_id in sorted(keys))
        session.info["_search_dirty"] = True


@event.listens_for(Session, "after_commit")
def _catch_up_after_commit(session: Session) -> None:
    if ends_a_savepoint(session) or not session.info.pop("_search_dirty", False):
        return
    projection = session.info.get("projection")
    request = session.info.get("request")
    if projection is None and request is not None:
        projection = request.registry.get("portal.search.projection")
    if projection is not None and not session.info.get("defer_search", False):
        # A request never waits for another index writer (a rebuild may take minutes); a CLI
        # command or test, without a request, does.
        projection.catch_up_quietly(wait=request is None)


@event.listens_for(Session, "after_rollback")
def _forget_on_rollback(session: Session) -> None:
    if ends_a_savepoint(session):
        return
    session.info.pop("_search_dirty", None)
    session.info.pop("_search_keys", None)


def _write_atomically(path: Path, text: str) -> None:
    """Readers (other processes of the node) see the old content or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")  # index.cursor.tmp, index.dated.tmp: one per file
    tmp.write_text(text)
    tmp.replace(path)


class SearchProjection:
    def __init__(self, service: Any, session_factory: sessionmaker[Session], index_dir: str | Path,
                 poll_seconds: float = 2.0) -> None:
        self.service = service
        self.session_factory = session_factory
        self.index_dir = Path(index_dir)
        self.cursor_path = self.index_dir.with_name(self.index_dir.name + ".cursor")
        # The day the index's date-dependent documents were last brought up to (see refresh_dates).
        self.dated_path = self.index_dir.with_name(self.index_dir.name + ".dated")
        self.lock_path = self.index_dir.with_name(self.index_dir.name + ".lock")
        self.providers: dict[str, Any] = {}
        self.poll_seconds = poll_seconds
        #: set when a change bus (portal.sharing) wakes this projection up: polling is a safety net
        self.notified: Callable[[], bool] | None = None
        self.notified_poll_seconds = 30.0
        self._thread_lock = threading.Lock()
        self._applied_recently: set[int] = set()
        self._last_poll = 0.0
        self._dated_checked: dt.date | None = None
        self._dating = threading.Event()
        self.today: Callable[[], dt.date] = clock.today
        self.rebuilding = threading.Event()
        self._deferred: threading.Thread | None = None
        self._deferred_lock = threading.Lock()
        self._merging: threading.Thread | None = None

    # -- providers -------------------------------------------------------------------------
    def add_provider(self, provider: Any) -> None:
        if not IDocumentProvider.providedBy(provider):
            raise TypeError(f"{provider!r} does not provide IDocumentProvider")
        for doc_type in provider.doc_types:
            self.providers[doc_type] = provider

    # -- cursor and locking ----------------------------------------------------------------
    def read_cursor(self) -> int:
        try:
            return int(self.cursor_path.read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def _write_cursor(self, value: int) -> None:
        _write_atomically(self.cursor_path, str(value))

    @contextlib.contextmanager
    def _exclusive(self, wait: bool = True) -> Iterator[bool]:
        """One index writer across threads and processes of this node. With ``wait=False``,
        yields False at once instead of waiting when another writer holds the lock."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        if not self._thread_lock.acquire(blocking=wait):
            yield False
            return
        try:
            with open(self.lock_path, "a+") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    yield False
                    return
                try:
                    yield True
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    # -- catching up -----------------------------------------------------------------------
    def pending(self, session: Session) -> int:
        latest = session.scalar(select(func.max(SearchChange.id))) or 0
        return max(0, latest - self.read_cursor())

    def catch_up(self, session: Session | None = None, wait: bool = True) -> int:
        """Apply logged changes past the cursor; returns the number of documents touched.

        ``session`` lets a caller read uncommitted rows (tests, bulk loaders); by default a fresh
        session sees what is committed. ``wait=False`` (a request's thread) gives up at once when
        another thread or process of the node is writing the index, possibly rebuilding it for
        minutes: the change is in the log, and the next catch-up (a poll, a notice) applies it.
        """
        if self.rebuilding.is_set():
            return 0
        with self._exclusive(wait) as acquired:
            if not acquired:
                self._catch_up_later()
                return 0
            own = session is None
            session = session or self.session_factory()
            try:
                return self._apply(session)
            finally:
                if own:
                    session.close()

    def _apply(self, session: Session) -> int:
        cursor = self.read_cursor()
        recent = utcnow() - dt.timedelta(seconds=LOOKBACK_SECONDS)
        rows = session.execute(
            select(SearchChange.id, SearchChange.doc_type, SearchChange.doc_id)
            .where(or_(SearchChange.id > cursor,
                       and_(SearchChange.id > cursor - LOOKBACK, SearchChange.created_at > recent)))
            .order_by(SearchChange.id)
        ).all()
        fresh = [row for row in rows if row.id > cursor or row.id not in self._applied_recently]
        if not fresh:
            return 0
        wanted: dict[str, set[str]] = defaultdict(set)
        for row in fresh:
            wanted[row.doc_type].add(row.doc_id)
        touched = 0
        for doc_type, ids in wanted.items():
            provider = self.providers.get(doc_type)
            if provider is None:
                log.warning("search change for unknown document type %s ignored", doc_type)
                continue
            touched += self._reindex(session, provider, doc_type, ids)
        newest = max(row.id for row in fresh)
        self._applied_recently.update(row.id for row in fresh)
        self._applied_recently = {i for i in self._applied_recently if i > newest - LOOKBACK}
        self._write_cursor(max(cursor, newest))
        return touched

    # -- days passing ------------------------------------------------------------------------
    def _read_dated(self) -> dt.date | None:
        try:
            return dt.date.fromisoformat(self.dated_path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _write_dated(self, day: dt.date) -> None:
        _write_atomically(self.dated_path, day.isoformat())

    def refresh_dates(self) -> int:
        """Re-read the documents whose content depends on the day, once a day: which text of a
        regulation is in force, and its status, change when a date passes, not when a row does.
        Returns the number of documents touched."""
        today = self.today()
        if self._dated_checked == today or self.rebuilding.is_set():
            return 0
        with self._exclusive():
            since = self._read_dated()
            if since is None or since >= today:
                # A fresh node: its index was just built; remember the day it is current for.
                if since is None:
                    self._write_dated(today)
                self._dated_checked = today
                return 0
            touched = 0
            with self.session_factory() as session:
                for doc_type, provider in self.providers.items():
                    changed = getattr(provider, "changed_by_date", None)
                    if changed is None:
                        continue
                    ids = set(changed(session, doc_type, since, today))
                    if ids:
                        touched += self._reindex(session, provider, doc_type, ids)
            self._write_dated(today)
            self._dated_checked = today
        if touched:
            log.info("search index: %d documents changed with the date (%s -> %s)", touched, since, today)
        return touched

    def _reindex(self, session: Session, provider: Any, doc_type: str, ids: set[str]) -> int:
        """Index what the provider yields for ``ids``; delete the ids it no longer yields."""
        documents = list(provider.documents(session, doc_type, sorted(ids)))
        present = {doc.doc_id for doc in documents}
        touched = self.service.index(documents)
        gone = [f"{doc_type}:{doc_id}" for doc_id in ids - present]
        if gone:
            touched += self.service.delete(gone)
        return touched

    def _catch_up_later(self) -> None:
        """Catch up in one background thread (never more than one waiting): for a reader that
        noticed other processes' changes, and after a commit while another writer held the lock
        (it may have read the log before this commit)."""
        with self._deferred_lock:
            if self._deferred is not None and self._deferred.is_alive():
                return
            self._deferred = threading.Thread(target=self.catch_up_quietly, name="search-catch-up", daemon=True)
            self._deferred.start()

    def catch_up_quietly(self, session: Session | None = None, wait: bool = True) -> None:
        """Catch up, but never let an index problem fail the request whose data is committed."""
        try:
            self.catch_up(session, wait=wait)
        except Exception:  # the log is durable; the next catch-up retries
            log.exception("search index catch-up failed; it will be retried")

    def bring_up_to_date(self, progress: Callable[[int], None] | None = None) -> str:
        """Make the index usable and current: rebuild it when it is unusable or far behind
        (a first load, a long outage), otherwise apply the pending changes. Returns what it did."""
        healthy = bool(self.service.health().get("ok"))
        if healthy:
            with self.session_factory() as session:
                behind = self.pending(session)
            if behind <= REBUILD_BACKLOG:
                caught = self.catch_up()
                dated = self.refresh_dates()
                merged = self.merge_deleted_copies()
                return (f"caught up ({caught} documents)" + (f", {dated} changed with the date" if dated else "")
                        + (f", {merged} deleted copies merged away" if merged else ""))
        return f"rebuilt ({self.rebuild(progress)} documents)"

    def maybe_poll(self) -> None:
        """Follow changes committed by other processes or nodes, at most every poll_seconds
        (every notified_poll_seconds while change notices arrive: they trigger the catch-up)."""
        now = time.monotonic()
        interval = self.notified_poll_seconds if self.notified is not None and self.notified() else self.poll_seconds
        if now - self._last_poll < interval:
            return
        self._last_poll = now
        # A reader never does the index's work: however much other processes wrote, a
        # background thread applies it while the search answers from the current index.
        self._catch_up_later()
        self.maybe_merge()
        if self._dated_checked != self.today() and not self._dating.is_set():
            # Thousands of documents may change on a given day: never inside the request.
            self._dating.set()
            threading.Thread(target=self._refresh_dates_logged, name="search-dates", daemon=True).start()

    def _refresh_dates_logged(self) -> None:
        try:
            if self.refresh_dates():
                self.merge_deleted_copies()  # already on a background thread: no second one
        except Exception:  # serving goes on; the next poll retries
            log.exception("search index: refreshing date-dependent documents failed")
        finally:
            self._dating.clear()

    # -- deleted copies ----------------------------------------------------------------------
    def _merge_threshold(self) -> float:
        return float(getattr(self.service, "merge_deleted_share", 0) or 0)

    def merge_deleted_copies(self, wait: bool = True) -> int:
        """Merge the deleted copies out of the index when their share has passed the service's
        threshold, as this node's one index writer; returns how many were dropped (0: no merge,
        or another writer held the lock and ``wait`` is False)."""
        merge = getattr(self.service, "merge_deleted", None)
        if merge is None or not self._merge_threshold() or self.rebuilding.is_set():
            return 0
        with self._exclusive(wait) as acquired:
            if not acquired:
                return 0
            return int(merge())  # the service checks the share again, from the index itself

    def maybe_merge(self) -> threading.Thread | None:
        """Start a background merge of deleted copies when the service says one is due (never
        more than one at a time); returns the thread, if started. Cheap enough for every poll:
        the service reads the share from the snapshot in memory."""
        due = getattr(self.service, "merge_due", None)
        if due is None or not self._merge_threshold() or self.rebuilding.is_set():
            return None
        try:
            if not due():
                return None
        except SearchUnavailable:
            return None  # nothing to merge until the index is back
        with self._deferred_lock:
            if self._merging is not None and self._merging.is_alive():
                return None
            self._merging = threading.Thread(target=self._merge_logged, name="search-merge", daemon=True)
            self._merging.start()
            return self._merging

    def _merge_logged(self) -> None:
        try:
            self.merge_deleted_copies(wait=False)
        except Exception:  # searches go on over the unmerged segments; the next poll retries
            log.exception("search index: merging deleted copies failed")

    # -- rebuilding ------------------------------------------------------------------------
    def all_documents(self, session: Session) -> Iterator[SearchDocument]:
        for doc_type, provider in self.providers.items():
            yield from provider.documents(session, doc_type, None)

    def count_documents(self, session: Session) -> int:
        return sum(provider.count(session, doc_type) for doc_type, provider in self.providers.items())

    def rebuild(self, progress: Callable[[int], None] | None = None, *, unless_healthy: bool = False) -> int:
        """Recreate the index from the database alone; changes logged meanwhile are applied after.

        ``unless_healthy``: skip the rebuild when the index is usable by the time this process
        holds the lock, i.e. another worker of the node has just rebuilt it (a new node's workers
        all find the index missing at start; one build is enough). Returns -1 when skipped."""
        with self._exclusive():
            written = -1 if unless_healthy and self._usable() else self._rebuild_locked(progress)
        self.catch_up()
        return written

    def _usable(self) -> bool:
        try:
            return bool(self.service.health().get("ok"))
        except Exception:  # noqa: BLE001 - unreadable counts as unusable
            return False

    def _rebuild_locked(self, progress: Callable[[int], None] | None) -> int:
        self.rebuilding.set()
        try:
            built_on = self.today()
            with self.session_factory() as session:
                start = session.scalar(select(func.max(SearchChange.id))) or 0
                written = self.service.rebuild(self.all_documents(session), progress)
            self._applied_recently.clear()
            self._write_cursor(start)
            self._write_dated(built_on)
        finally:
            self.rebuilding.clear()
        return written

    def rebuild_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self._rebuild_logged, name="search-rebuild", daemon=True)
        thread.start()
        return thread

    def _rebuild_logged(self) -> None:
        try:
            count = self.rebuild(unless_healthy=True)
            if count >= 0:
                log.info("search index rebuilt with %d documents", count)
        except Exception:  # serving continues; health reports the index as not ready
            log.exception("search index rebuild failed")

    def health(self) -> dict[str, Any]:
        status = dict(self.service.health())
        status["rebuilding"] = self.rebuilding.is_set()
        status["cursor"] = self.read_cursor()
        return status
