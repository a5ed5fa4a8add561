"""The read side: a consistent view of one index generation at one commit, as numpy arrays.

Whoosh's pure-Python matchers need 50–150 ms for a ten-word Chinese question over 30k articles
(every bigram of common words matches thousands of documents), while facets and totals need the
whole matching set anyway; so the ranker works on arrays. Per-segment data (stored fields, filter
columns, field lengths, and decoded postings, lazily) is cached by segment id, so a refresh after
a commit only reads the segments that are new. Deleted copies stay in their segment until a merge
(see :mod:`portal.search.storage`): the ``live`` mask hides them.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from portal.search.indexing import (
    FACETS,
    NO_DATE_FROM,
    NO_DATE_TO,
    NOT_IN_FORCE_STATUSES,
    TEXT_FIELDS,
    date_int,
)
from portal.search.interfaces import SearchQuery, SearchUnavailable
from portal.search.query import LawCatalogue, LawEntry
from portal.search.storage import IndexCorrupt, IndexMissing, IndexStore, fingerprint

if TYPE_CHECKING:
    from portal.search.ranking.config import Ranking

log = logging.getLogger(__name__)

Postings = tuple[np.ndarray, np.ndarray]
EMPTY_POSTINGS: Postings = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))


class FacetCodes:
    """Append-only string <-> int codes per facet, shared by all segments of a service."""

    def __init__(self) -> None:
        self._codes: dict[str, dict[str, int]] = {f: {} for f in FACETS}
        self._values: dict[str, list[str]] = {f: [] for f in FACETS}
        self._lock = threading.Lock()

    def code(self, facet: str, value: str) -> int:
        table = self._codes[facet]
        c = table.get(value)
        if c is None:
            with self._lock:
                c = table.get(value)
                if c is None:
                    c = len(self._values[facet])
                    self._values[facet].append(value)
                    table[value] = c
        return c

    def lookup(self, facet: str, value: str) -> int | None:
        return self._codes[facet].get(value)

    def value(self, facet: str, code: int) -> str:
        return self._values[facet][code]


class SegmentData:
    """What the ranker needs of one immutable Whoosh segment, read once."""

    def __init__(self, reader: Any, codes: FacetCodes) -> None:
        self.reader = reader
        self.count = reader.doc_count_all()
        self.stored: list[dict[str, Any]] = [reader.stored_fields(docnum).get("data") or {}
                                             for docnum in range(self.count)]
        n = self.count
        self.facets = {f: np.full(n, -1, dtype=np.int32) for f in FACETS}
        self.regulation = np.full(n, -1, dtype=np.int64)
        self.article = np.full(n, -1, dtype=np.int32)
        self.valid_from = np.zeros(n, dtype=np.int32)
        self.valid_to = np.zeros(n, dtype=np.int32)
        self.in_force = np.zeros(n, dtype=bool)
        self.has_places = np.zeros(n, dtype=bool)
        # Texts replaced by a newer version: seen only by searches for a past date.
        self.historical = np.zeros(n, dtype=bool)
        self.lengths = np.zeros((len(TEXT_FIELDS), n), dtype=np.float32)
        for i, d in enumerate(self.stored):
            for f in FACETS:
                value = d.get(f)
                if value:
                    self.facets[f][i] = codes.code(f, value)
            if d.get("regulation_id") is not None:
                self.regulation[i] = int(d["regulation_id"])
            if d.get("article_number") is not None:
                self.article[i] = int(d["article_number"])
            self.valid_from[i] = d.get("valid_from", NO_DATE_FROM)
            self.valid_to[i] = d.get("valid_to", NO_DATE_TO)
            self.in_force[i] = d.get("status") not in NOT_IN_FORCE_STATUSES
            self.has_places[i] = bool(d.get("places"))
            self.historical[i] = bool((d.get("extra") or {}).get("historical"))
            self.lengths[:, i] = d.get("lengths") or (0,) * len(TEXT_FIELDS)
        # References between articles of the same text: (docnum, cited article number).
        src: list[int] = []
        num: list[int] = []
        for i, d in enumerate(self.stored):
            if d.get("article_number") is None or d.get("regulation_id") is None:
                continue
            for cited in internal_references(d.get("body") or ""):
                if cited != d["article_number"]:
                    src.append(i)
                    num.append(cited)
        self.ref_src = np.array(src, dtype=np.int64)
        self.ref_num = np.array(num, dtype=np.int64)
        self._postings: dict[tuple[str, str], Postings] = {}
        self._lock = threading.Lock()
        self._cached_postings = 0

    def doc_frequency(self, field: str, term: str) -> int:
        """How many documents of this segment hold the term (deleted ones included); cheap: read
        from the term index, the postings are not decoded."""
        key = (field, term)
        hit = self._postings.get(key)
        if hit is not None:
            return int(hit[0].size)
        with self._lock:
            try:
                return int(self.reader.doc_frequency(field, term))
            except KeyError:
                return 0

    def postings(self, field: str, term: str) -> Postings:
        key = (field, term)
        hit = self._postings.get(key)
        if hit is not None:
            return hit
        # Whoosh readers seek on shared file objects: one reader at a time per segment.
        with self._lock:
            hit = self._postings.get(key)
            if hit is None:
                hit = read_postings(self.reader, field, term)
                if self._cached_postings > 5_000_000:
                    self._postings.clear()
                    self._cached_postings = 0
                self._postings[key] = hit
                self._cached_postings += len(hit[0])
        return hit

    def live_mask(self) -> np.ndarray:
        mask = np.ones(self.count, dtype=bool)
        if self.reader.has_deletions():
            deleted = [d for d in self.reader.segment().deleted_docs() if d < self.count]
            mask[deleted] = False
        return mask


def read_postings(reader: Any, field: str, term: str) -> Postings:
    """Segment-local docnums and term frequencies, deleted documents included."""
    try:
        if (field, term) not in reader:
            return EMPTY_POSTINGS
        matcher = reader.postings(field, term)
    except KeyError:
        return EMPTY_POSTINGS
    # Deletions are applied through the live mask, so unwrap the reader's deletion filter.
    while not hasattr(matcher, "_read_ids") and hasattr(matcher, "child"):
        matcher = matcher.child
    ids: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    if hasattr(matcher, "_read_ids") and hasattr(matcher, "_lastblock"):
        # Whoosh 3 codec: read whole blocks instead of one posting at a time.
        while matcher.is_active():
            matcher._read_data()
            raw_ids, raw_weights = matcher._data[0], matcher._data[1]
            count = matcher._blocklength
            # Block ids are deltas from 0 (whoosh decodes them with a Python generator).
            ids.append(np.cumsum(np.asarray(raw_ids, dtype=np.int64)))
            if raw_weights is None:
                weights.append(np.ones(count, dtype=np.float32))
            elif isinstance(raw_weights, float):
                weights.append(np.full(count, raw_weights, dtype=np.float32))
            else:
                weights.append(np.asarray(raw_weights, dtype=np.float32))
            if matcher._lastblock:
                break
            matcher._next_block()
    else:  # other codecs: the public, slower interface
        pairs = []
        while matcher.is_active():
            pairs.append((matcher.id(), matcher.weight()))
            matcher.next()
        ids.append(np.array([p[0] for p in pairs], dtype=np.int64))
        weights.append(np.array([p[1] for p in pairs], dtype=np.float32))
    if not ids:
        return EMPTY_POSTINGS
    return np.concatenate(ids), np.concatenate(weights)


_REF_RE = re.compile(r"(》|本法|本条例|本规定|本办法|本细则)?第([零〇一二两三四五六七八九十百千]+|[0-9]+)条(?!之)")


def internal_references(text: str) -> list[int]:
    """Article numbers a text cites within its own regulation: 第二十四条, 本条例第二十四条,
    but not 《城市道路管理条例》第二十四条 (another text)."""
    from portal.numerals import chinese_to_int

    out: list[int] = []
    for m in _REF_RE.finditer(text):
        if m.group(1) == "》":
            continue
        n = chinese_to_int(m.group(2))
        if n and n not in out:
            out.append(n)
    return out


def _article_order(snap: Snapshot) -> tuple[np.ndarray, np.ndarray]:
    """The live articles of the texts in force, sorted by (regulation, article number)."""
    articles = np.flatnonzero(snap.live & ~snap.historical & (snap.article >= 0) & (snap.regulation >= 0))
    keys = snap.regulation[articles] * 100_000 + snap.article[articles]
    order = np.argsort(keys, kind="stable")
    return keys[order], articles[order]


class Snapshot:
    """A consistent view of one index generation at one commit: the searcher and the arrays."""

    def __init__(self, generation: str, ix: Any, searcher: Any, segments: list[tuple[SegmentData, int]],
                 ranking: Ranking) -> None:
        self.generation = generation
        self.ix = ix
        self.searcher = searcher
        self.segments = segments
        self.opened = time.monotonic()
        # The commit the searcher reads, not the newest on disk: a commit between opening the
        # searcher and this line would otherwise pass for seen, and its documents stay unfound.
        read = searcher.reader().generation()  # None for an empty index
        self.toc_generation = read if read is not None else ix.latest_generation()
        self.fingerprint: dict[str, tuple[int, int]] = {}
        parts = [s for s, _ in segments]
        self.n = sum(s.count for s in parts)

        def cat(name: str) -> np.ndarray:
            return np.concatenate([getattr(s, name) for s in parts])

        if parts:
            self.live = np.concatenate([s.live_mask() for s in parts])
            self.facets = {f: np.concatenate([s.facets[f] for s in parts]) for f in FACETS}
            self.regulation = cat("regulation")
            self.article = cat("article")
            self.valid_from = cat("valid_from")
            self.valid_to = cat("valid_to")
            self.in_force = cat("in_force")
            self.has_places = cat("has_places")
            self.historical = cat("historical")
            lengths = np.concatenate([s.lengths for s in parts], axis=1)
            self.stored = [d for s in parts for d in s.stored]
        else:
            self.live = np.zeros(0, dtype=bool)
            self.facets = {f: np.zeros(0, dtype=np.int32) for f in FACETS}
            self.regulation = np.zeros(0, dtype=np.int64)
            self.article = np.zeros(0, dtype=np.int32)
            self.valid_from = self.valid_to = np.zeros(0, dtype=np.int32)
            self.in_force = self.has_places = self.historical = np.zeros(0, dtype=bool)
            lengths = np.zeros((len(TEXT_FIELDS), 0), dtype=np.float32)
            self.stored = []
        self.doc_count = int(self.live.sum())
        self._has_deletions = {off: not bool(self.live[off:off + seg.count].all()) for seg, off in segments}
        # Ranking statistics (idf, average lengths) are those of the texts in force: older texts
        # would otherwise count a law's words twice and shift every score.
        self.counted = self.live & ~self.historical
        self.counted_count = int(self.counted.sum())
        # What a query's scores ignore: deleted copies always, older texts unless it is dated.
        self.hidden_dated = ~self.live if self.doc_count < self.n else None
        self.hidden_undated = ~self.counted if self.counted_count < self.n else None
        # BM25 length normalisation, precomputed per field: k1 * (1 - b + b * len / avglen).
        self.norms: dict[str, np.ndarray] = {}
        for i, name in enumerate(TEXT_FIELDS):
            _boost, b = ranking.field_conf(name)
            live_lengths = lengths[i][self.counted] if self.n else lengths[i]
            avg = float(live_lengths.mean()) if live_lengths.size and live_lengths.mean() > 0 else 1.0
            self.norms[name] = (ranking.k1 * (1 - b + b * lengths[i] / avg)).astype(np.float32)
        self._read_texts()
        self._link_references(segments)
        self._link_neighbours()

    def _read_texts(self) -> None:
        """Places, the catalogue of law names, successors of repealed articles, enclosing places."""
        self.places: set[str] = set()
        entries: dict[int, LawEntry] = {}
        docnum_of: dict[str, int] = {}
        replaced: dict[int, str] = {}
        for docnum, d in enumerate(self.stored):
            if not self.live[docnum]:
                continue
            docnum_of[f"{d.get('doc_type')}:{d.get('doc_id')}"] = docnum
            successor = (d.get("extra") or {}).get("replaced_by")
            if successor:
                replaced[docnum] = successor
            self.places.update(d.get("places") or ())
            rid = d.get("regulation_id")
            if rid is not None and d.get("regulation_title"):
                prev = entries.get(rid)
                if prev is None or (d.get("doc_type") == "regulation"):
                    entries[rid] = LawEntry(int(rid), d["regulation_title"], d.get("regulation_short_title"),
                                            d.get("status") not in NOT_IN_FORCE_STATUSES,
                                            tuple(d.get("places") or ()))
        self.catalogue = LawCatalogue(entries.values())
        # A repealed article → the article of the text in force that took it over.
        self.successor: dict[int, int] = {d: docnum_of[k] for d, k in replaced.items() if k in docnum_of}
        # Places that enclose another (浙江 for 宁波: a city's texts are listed under its province
        # first), and the documents of the enclosing level alone (a province's own texts).
        self.enclosing: dict[str, set[str]] = {}
        own: dict[str, list[int]] = {}
        for docnum, d in enumerate(self.stored):
            places = d.get("places") or ()
            if not places or not self.live[docnum]:
                continue
            if len(places) == 1:
                own.setdefault(places[0], []).append(docnum)
            for p in places[1:]:
                if p != places[0]:
                    self.enclosing.setdefault(p, set()).add(places[0])
        self.own_place_docs = {p: np.array(v, dtype=np.int64) for p, v in own.items()}

    def _link_references(self, segments: list[tuple[SegmentData, int]]) -> None:
        """Reference edges as global docnums: src cites dst (same regulation)."""
        self.ref_src = np.zeros(0, dtype=np.int64)
        self.ref_dst = np.zeros(0, dtype=np.int64)
        if not segments:
            return
        srcs = np.concatenate([s.ref_src + off for s, off in segments])
        nums = np.concatenate([s.ref_num for s, _off in segments])
        # Links between the articles of the texts in force (an older text's numbers may differ).
        current = ~self.historical[srcs]
        srcs, nums = srcs[current], nums[current]
        keys, articles = _article_order(self)
        if not keys.size:
            return
        wanted = self.regulation[srcs] * 100_000 + nums
        pos = np.minimum(np.searchsorted(keys, wanted), keys.size - 1)
        ok = (keys[pos] == wanted) & self.live[srcs]
        self.ref_src = srcs[ok]
        self.ref_dst = articles[pos[ok]]

    def _link_neighbours(self) -> None:
        """Neighbouring articles (n-1, n+1) of the same text: consecutive articles treat one topic."""
        self.prev_doc = np.full(self.n, -1, dtype=np.int64)
        self.next_doc = np.full(self.n, -1, dtype=np.int64)
        if not self.n:
            return
        keys, articles = _article_order(self)
        if keys.size > 1:
            follows = keys[1:] == keys[:-1] + 1
            self.next_doc[articles[:-1][follows]] = articles[1:][follows]
            self.prev_doc[articles[1:][follows]] = articles[:-1][follows]

    def doc_frequency(self, field: str, term: str) -> int:
        """Live documents holding the term. A segment's term index still counts the documents
        deleted from it (until a merge), so a segment with deletions is counted from its cached
        postings: after a large update (the daily refresh re-indexes thousands of articles) the
        stale counts pushed terms over the "common" threshold and changed rankings."""
        total = 0
        for seg, off in self.segments:
            if self._has_deletions.get(off, False):
                ids, _tf = seg.postings(field, term)
                total += int(np.count_nonzero(self.live[ids + off])) if ids.size else 0
            else:
                total += seg.doc_frequency(field, term)
        return total

    def postings(self, field: str, term: str) -> Postings:
        """Global docnums and term frequencies of ``term`` in ``field`` over all segments."""
        ids: list[np.ndarray] = []
        tfs: list[np.ndarray] = []
        for seg, offset in self.segments:
            i, w = seg.postings(field, term)
            if i.size:
                ids.append(i + offset if offset else i)
                tfs.append(w)
        if not ids:
            return EMPTY_POSTINGS
        if len(ids) == 1:
            return ids[0], tfs[0]
        return np.concatenate(ids), np.concatenate(tfs)

    def close(self) -> None:
        try:
            self.searcher.close()
        except Exception:  # a broken searcher is being dropped anyway  # pragma: no cover
            log.debug("closing searcher failed", exc_info=True)

    # ------------------------------------------------------------------ masks

    def type_mask(self, codes: FacetCodes, doc_types: tuple[str, ...]) -> np.ndarray | None:
        """Documents of the given types (all when none); None when no indexed type is among them."""
        if not doc_types:
            return np.ones(self.n, dtype=bool)
        wanted = [c for c in (codes.lookup("doc_type", t) for t in doc_types) if c is not None]
        if not wanted:
            return None
        return np.isin(self.facets["doc_type"], wanted)

    def filter_mask(self, codes: FacetCodes, query: SearchQuery) -> np.ndarray | None:
        """Every filter but the type one (the type facet counts across types); None when a filter
        names a value no document has."""
        mask = self.live.copy()
        for facet in ("level", "status", "region", "authority"):
            value = getattr(query, facet, None)
            if value:
                code = codes.lookup(facet, value)
                if code is None:
                    return None
                mask &= self.facets[facet] == code
        if query.regulation_id is not None:
            mask &= self.regulation == int(query.regulation_id)
        if query.in_force_on is not None:
            day = date_int(query.in_force_on, 0)
            mask &= (self.valid_from <= day) & (self.valid_to >= day)
        else:
            mask &= ~self.historical
        return mask


class SnapshotSource:
    """Hands out the current snapshot, reloading it after a commit (this process's, at once;
    another process's, within ``refresh_interval``) and detecting an index changed under it."""

    def __init__(self, store: IndexStore, ranking: Ranking, refresh_interval: float) -> None:
        self.store = store
        self.ranking = ranking
        self.refresh_interval = refresh_interval
        self.codes = FacetCodes()
        self._segments: dict[str, SegmentData] = {}
        self.snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()  # one reader of new segments at a time
        self.stale = True
        self.error: str | None = None
        self._last_check = 0.0
        # While a background writer rewrites the segments (a merge), searches keep the snapshot
        # they have instead of reading the index's intermediate states.
        self._holding = False
        # Commits noticed so far: a snapshot read while one more arrived is already stale (a
        # writer's commit between a reader's look at the index and its "fresh now" was lost).
        self._commits = 0

    def mark_stale(self) -> None:
        self._commits += 1
        self.stale = True

    def live_index(self) -> tuple[str, Any] | None:
        """(generation, Whoosh index) of the snapshot in use, for writers to reuse."""
        snap = self.snapshot
        return (snap.generation, snap.ix) if snap is not None else None

    def close(self) -> None:
        with self._lock:
            if self.snapshot is not None:
                self.snapshot.close()
            self.snapshot = None
            self._segments.clear()
            self.stale = True

    def _fresh(self, snap: Snapshot | None, now: float) -> bool:
        return snap is not None and not self.stale and now - self._last_check < self.refresh_interval

    def current(self) -> Snapshot:
        snap = self.snapshot
        if snap is not None and ((self._holding and not self.stale) or self._fresh(snap, time.monotonic())):
            return snap
        with self._lock:
            snap = self.snapshot
            now = time.monotonic()
            if self._fresh(snap, now):
                assert snap is not None
                return snap
            self._last_check = now
            seen = self._commits
            try:
                name = self.store.generation_name()
                if name is None:
                    raise IndexMissing(f"no search index in {self.store.index_dir}")
                if snap is not None and snap.generation == name and snap.ix.latest_generation() == snap.toc_generation:
                    now_seen = self._fingerprint(snap)
                    if now_seen == snap.fingerprint:
                        self.stale = self._commits != seen
                        return snap
                    if (set(now_seen) == set(snap.fingerprint) and snap.ix.latest_generation() == snap.toc_generation):
                        # A segment file never changes once written: this one was overwritten.
                        raise IndexCorrupt(f"segment files of {name} changed under the running node")
                    # A writer merged segments away while we looked: read the new state.
                with self._load_lock:
                    new = self._load(name, snap)
            except SearchUnavailable as exc:
                self.error = str(exc)
                self.stale = True  # checked again on every call until a good index is there
                raise
            except Exception as exc:  # any failure to read the files means the index is unusable
                self.error = f"index unreadable: {exc!r}"
                self.stale = True
                log.exception("search index unreadable")
                raise IndexCorrupt(self.error) from exc
            self.snapshot = new
            self.stale = self._commits != seen
            self.error = None
            # The old searcher stays usable for requests still holding it; its files are
            # released when it is garbage-collected.
            return new

    def hold(self) -> None:
        """Keep serving the current snapshot (until :meth:`switch`): a background merge follows."""
        self._holding = True

    def switch(self) -> None:
        """Read the index as it is now into a new snapshot while searches go on with the old
        one, then serve the new one: no search waits for the (seconds-long) read of a merged
        segment. Ends :meth:`hold`."""
        seen = self._commits
        try:
            name = self.store.generation_name()
            if name is None:
                return
            with self._load_lock:
                new = self._load(name, self.snapshot)
            with self._lock:
                self.snapshot = new
                self.stale = self._commits != seen
                self.error = None
                self._last_check = time.monotonic()
        finally:
            self._holding = False

    def _fingerprint(self, snap: Snapshot) -> dict[str, tuple[int, int]]:
        return fingerprint(self.store.index_dir / snap.generation,
                           (seg.reader.segment().segment_id() for seg, _off in snap.segments))

    def _load(self, name: str, previous: Snapshot | None) -> Snapshot:
        if previous is not None and previous.generation == name:
            ix = previous.ix
        else:
            ix = self.store.open_generation(name)
        searcher = ix.searcher()
        segments: list[tuple[SegmentData, int]] = []
        keep: dict[str, SegmentData] = {}
        leaves = searcher.reader().leaf_readers() if searcher.doc_count_all() else []
        for reader, offset in leaves:
            segid = f"{name}/{reader.segment().segment_id()}"
            seg = self._segments.get(segid)
            if seg is None or seg.count != reader.doc_count_all():
                seg = SegmentData(reader, self.codes)
            else:
                seg.reader = reader  # same immutable files; deletions come from the new reader
            keep[segid] = seg
            segments.append((seg, offset))
        self._segments = keep
        snapshot = Snapshot(name, ix, searcher, segments, self.ranking)
        snapshot.fingerprint = self._fingerprint(snapshot)
        return snapshot

