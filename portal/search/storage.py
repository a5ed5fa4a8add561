"""Where the index lives on disk and how it is written: generations, the writer, rebuilds (with
worker processes that segment the texts), deleted copies and their merge, and the checks that
find an index missing, half-built or corrupt.

Layout of ``index_dir``::

    CURRENT                 name of the live generation (replaced atomically by rebuild())
    gen-<stamp>/            a Whoosh index + portal-search.json (schema version, analysis mode)

Whoosh only marks a re-indexed or deleted document as deleted in its segment; the copy stays
until the segment is merged. The daily date refresh re-indexes thousands of articles, and cold
queries then decode postings that are mostly dead copies (bench/RESULTS.md: up to 40 % slower):
:meth:`IndexStore.merge_deleted` rewrites the segments without them, in the background (see
``SearchProjection.maybe_merge``) while searches read the snapshot they hold.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import itertools
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage

from portal.search import analysis
from portal.search.indexing import analyse_batch, batches, doc_fields, first_of_each_key, schema
from portal.search.interfaces import SearchDocument, SearchUnavailable

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
META_FILE = "portal-search.json"
BUILDING_LOCK = "BUILDING.lock"  # held by the process writing a generation
CURRENT_FILE = "CURRENT"


class IndexMissing(SearchUnavailable):
    pass


class IndexCorrupt(SearchUnavailable):
    pass


class IndexStore:
    """The index directory of one service: reading CURRENT, opening and writing generations.

    ``on_commit`` is called after every commit this process makes (the reader then reloads)."""

    # Below this many documents a rebuild segments them itself: starting workers costs more.
    parallel_from = 2000

    def __init__(self, index_dir: Path, analysis_mode: str, *, writer_timeout: float, rebuild_memory_mb: int,
                 rebuild_workers: int, on_commit: Callable[[], None], ensure_segmenter: Callable[[], None]) -> None:
        self.index_dir = index_dir
        self.analysis_mode = analysis_mode
        self.writer_timeout = writer_timeout
        # Whoosh sorts a rebuild's postings (~2.8M for the law pack + corpus) in memory up to
        # this size and spills pickled runs to disk beyond it; spilling doubled the rebuild time.
        self.rebuild_memory_mb = rebuild_memory_mb
        # Segmenting the texts is the other half of a rebuild: worker processes do it while this
        # one writes (0 or 1: all in this process).
        self.rebuild_workers = rebuild_workers
        self._on_commit = on_commit
        self._ensure_segmenter = ensure_segmenter
        self.write_lock = threading.RLock()
        self.rebuilding = False
        self._pending: list[tuple[str, Any]] = []  # writes made while a rebuild runs

    # ------------------------------------------------------------------ generations

    def generation_name(self) -> str | None:
        try:
            name = (self.index_dir / CURRENT_FILE).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise IndexCorrupt(f"cannot read {self.index_dir / CURRENT_FILE}: {exc}") from exc
        if not name or "/" in name or name.startswith("."):
            raise IndexCorrupt(f"bad generation name {name!r} in {self.index_dir / CURRENT_FILE}")
        return name

    def open_generation(self, name: str) -> Any:
        path = self.index_dir / name
        if not path.is_dir():
            raise IndexMissing(f"index generation {path} is missing")
        try:
            meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(f"index metadata unreadable in {path}: {exc}") from exc
        if meta.get("schema") != SCHEMA_VERSION:
            raise IndexCorrupt(f"index schema {meta.get('schema')} != {SCHEMA_VERSION}: rebuild")
        if meta.get("analysis") != self.analysis_mode:
            raise IndexCorrupt(f"index analysed as {meta.get('analysis')!r}, service wants "
                               f"{self.analysis_mode!r}: rebuild")
        try:
            return whoosh_index.open_dir(str(path))
        except Exception as exc:  # whatever Whoosh raises on broken files means corrupt
            raise IndexCorrupt(f"cannot open index {path}: {exc}") from exc

    def writable_index(self, live: tuple[str, Any] | None) -> Any:
        """The Whoosh index of the live generation; ``live`` (name, index) is reused when current."""
        name = self.generation_name()
        if name is None:
            raise IndexMissing(f"no search index in {self.index_dir}: rebuild it first")
        if live is not None and live[0] == name:
            return live[1]
        return self.open_generation(name)

    # ------------------------------------------------------------------ writing

    def index(self, docs: list[SearchDocument], live: tuple[str, Any] | None) -> int:
        with self.write_lock:
            if self.rebuilding:
                self._pending.append(("index", docs))
            return self.write(self.writable_index(live), docs, deletes=())

    def delete(self, keys: list[str], live: tuple[str, Any] | None) -> int:
        with self.write_lock:
            if self.rebuilding:
                self._pending.append(("delete", keys))
            return self.write(self.writable_index(live), (), deletes=keys)

    def write(self, ix: Any, docs: Sequence[SearchDocument], deletes: Sequence[str]) -> int:
        self._ensure_segmenter()
        prepared = [doc_fields(d, self.analysis_mode) for d in docs]  # analyse outside the lock
        writer = ix.writer(timeout=self.writer_timeout, delay=0.05)
        count = 0
        try:
            for key in deletes:
                count += writer.delete_by_term("key", key)
            for fields_ in prepared:
                writer.update_document(**fields_)
                count += 1
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        self._on_commit()
        return count

    # ------------------------------------------------------------------ deleted copies

    def merge_deleted(self, ix: Any) -> int:
        """Rewrite the live generation's segments without their deleted copies; returns how many
        copies were dropped. Holds Whoosh's writer lock (other writers wait, up to
        ``writer_timeout``) but not this process's write lock or any reader: searches go on
        over the snapshot they hold, whose files stay open until it is replaced. The caller
        reads the new state (``on_commit`` is not called)."""
        self._ensure_segmenter()
        before = int(ix.doc_count_all()) - int(ix.doc_count())
        if not before:
            return 0
        writer = ix.writer(timeout=self.writer_timeout, delay=0.05, limitmb=self.rebuild_memory_mb)
        try:
            self._commit_merge(writer)
        except BaseException:
            writer.cancel()
            raise
        return before - (int(ix.doc_count_all()) - int(ix.doc_count()))

    @staticmethod
    def _commit_merge(writer: Any) -> None:
        # optimize: every segment is read into one new segment, skipping deleted documents.
        writer.commit(optimize=True)

    # ------------------------------------------------------------------ rebuilding

    def rebuild(self, documents: Iterable[SearchDocument],
                progress: Callable[[int], None] | None = None) -> tuple[str, int]:
        """Write a new generation beside the live one and switch CURRENT to it atomically.
        Searches keep using the old generation until the switch. Returns (generation, count)."""
        self._ensure_segmenter()
        self.index_dir.mkdir(parents=True, exist_ok=True)
        self.remove_partial_generations()
        name = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        path = self.index_dir / name
        path.mkdir()
        # Held for the whole build: a generation whose lock nobody holds and that never got its
        # META_FILE was left by a build that died (kill -9), and may be removed.
        building = open(path / BUILDING_LOCK, "w")  # noqa: SIM115 - released in the finally below
        fcntl.flock(building, fcntl.LOCK_EX)
        with self.write_lock:
            self.rebuilding = True
            self._pending = []
        count = 0
        try:
            storage = FileStorage(str(path))
            ix = storage.create_index(schema())
            writer = ix.writer(limitmb=self.rebuild_memory_mb)
            repeated: list[SearchDocument] = []  # a key given twice: the later one wins
            try:
                for prepared in self._analysed(first_of_each_key(documents, repeated)):
                    writer.add_document(**prepared)
                    count += 1
                    if progress is not None and count % 500 == 0:
                        progress(count)
            except BaseException:
                writer.cancel()
                raise
            writer.commit(optimize=True)
            if repeated:
                self.write(ix, repeated, ())
            (path / META_FILE).write_text(json.dumps({
                "schema": SCHEMA_VERSION, "analysis": self.analysis_mode, "documents": count,
                "built": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }), encoding="utf-8")
            with self.write_lock:
                pending, self._pending = self._pending, []
                for op, payload in pending:  # writes that arrived while we were building
                    if op == "index":
                        self.write(ix, payload, ())
                    else:
                        self.write(ix, (), payload)
                tmp = self.index_dir / f".{CURRENT_FILE}.{uuid.uuid4().hex[:8]}"
                tmp.write_text(name, encoding="utf-8")
                os.replace(tmp, self.index_dir / CURRENT_FILE)
                self._on_commit()
                self.rebuilding = False
        except BaseException:
            with self.write_lock:
                self.rebuilding = False
                self._pending = []
            shutil.rmtree(path, ignore_errors=True)
            raise
        finally:
            building.close()
        if progress is not None:
            progress(count)
        self.collect_old_generations(keep=name)
        return name, count

    def _analysed(self, documents: Iterable[SearchDocument]) -> Iterator[dict[str, Any]]:
        """Index fields of the documents, in order; segmented by worker processes when allowed."""
        docs = iter(documents)
        first = list(itertools.islice(docs, self.parallel_from))
        for doc in first:
            yield doc_fields(doc, self.analysis_mode)
        if len(first) < self.parallel_from:
            return
        if self.rebuild_workers <= 1:
            for doc in docs:
                yield doc_fields(doc, self.analysis_mode)
            return
        import multiprocessing

        # spawn, not fork: a rebuild may run in a serving process beside other threads.
        context = multiprocessing.get_context("spawn")
        words = analysis.segmenter_words()
        with context.Pool(self.rebuild_workers, initializer=_start_rebuild_worker,
                          initargs=(words, os.getpid())) as pool:
            # The documents are read here, not in the pool's feeder thread: they may come from a
            # database session, which belongs to this thread.  A few batches stay in flight.
            in_flight: deque[Any] = deque()
            for batch in batches(docs, 200):
                in_flight.append(pool.apply_async(analyse_batch, ((batch, self.analysis_mode),)))
                if len(in_flight) > 2 * self.rebuild_workers:
                    yield from in_flight.popleft().get()
            while in_flight:
                yield from in_flight.popleft().get()

    def remove_partial_generations(self) -> list[str]:
        """Remove the directories of builds that died half-way (no META_FILE, not CURRENT, and
        no live process holding their build lock); returns their names."""
        current = self.generation_name()
        removed = []
        for path in self.index_dir.glob("gen-*"):
            if not path.is_dir() or path.name == current or (path / META_FILE).exists():
                continue
            try:
                with open(path / BUILDING_LOCK, "a") as lock:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # another process is building it right now
            except OSError:
                pass  # no lock file at all: older than build locks, and unfinished
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
        return removed

    def collect_old_generations(self, keep: str) -> None:
        """Remove generations older than the previous one (another process may still be
        reading the previous one until its next refresh)."""
        gens = sorted((p for p in self.index_dir.glob("gen-*") if p.is_dir()), key=lambda p: p.stat().st_mtime)
        old = [p for p in gens if p.name != keep]
        for p in old[:-1]:
            shutil.rmtree(p, ignore_errors=True)


def dir_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):  # removed while we walked: not part of the size
                total += os.path.getsize(os.path.join(root, f))
    return total


def fingerprint(directory: Path, segment_ids: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Size and modification time of the segment files a snapshot reads (a stat each: cheap
    enough for every refresh check). A segment file never changes once written, so a change
    seen here means the files were overwritten under the running node (corruption)."""
    out: dict[str, tuple[int, int]] = {}
    for segment_id in segment_ids:
        # Only the compound segment file: it is written once; deletions live elsewhere.
        for path in directory.glob(segment_id + ".seg"):
            try:
                stat = path.stat()
            except OSError:
                continue
            out[path.name] = (stat.st_size, stat.st_mtime_ns)
    return out


def _start_rebuild_worker(words: list[str], parent_pid: int) -> None:
    """A rebuild worker: dies with the process that started it (a ``kill -9`` of ``portal
    reindex`` once left a worker segmenting at full CPU), and cuts text as its parent does."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        # The parent died before the line above took effect.  Compare with the parent's own pid,
        # not with 1: under a subreaper (systemd user sessions, tini -s) an orphan is re-parented
        # to the subreaper.
        if os.getppid() != parent_pid:
            os._exit(1)
    except OSError:  # not Linux: the pool's own shutdown is all there is
        pass
    analysis.warm_up_as(words)
