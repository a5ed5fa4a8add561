"""The Whoosh implementation of :class:`~portal.search.interfaces.ISearchService`.

Whoosh (``whoosh-reloaded``) stores the index: segments, postings, stored fields, the writer
lock.  Ranking is done here, vectorised with numpy over postings read from Whoosh, because
Whoosh's pure-Python matchers need 50–150 ms for a ten-word Chinese question over 30k articles
(every bigram of common words matches thousands of documents), while facets and totals need the
whole matching set anyway.  Per-segment data (stored fields, filter columns, field lengths, and
decoded postings, lazily) is cached by segment id, so a refresh after a commit only reads the
segments that are new.

Layout of ``index_dir``::

    CURRENT                 name of the live generation (replaced atomically by rebuild())
    gen-<stamp>/            a Whoosh index + portal-search.json (schema version, analysis mode)

Ranking: BM25 per field (title, regulation title, body, chapter), summed over the query's
concepts (query words and their synonyms, synonyms weighted lower); a multiplicative prior for
the places the query names (and, for a city, its province's own texts) and for texts in force; an
exact citation pins its article first, followed by the articles it cites or that cite it.

Evidence beyond an article's own words, each a small share of another score (``Ranking``):

- single characters jieba cut off (扣 in 城管扣了我的货) and the characters of words no text uses
  (删掉) are matched through the dictionary words containing them that the best matches of the
  rest of the query use (扣押, 删除);
- an article next to a good match (n-1, n+1 of the same text) usually continues its topic;
- articles cited by, or citing, the best matches (a penalty article and the duty it enforces);
- articles of a text that answers the query in several places rank above equally good single
  matches in texts about something else.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import html
import itertools
import json
import logging
import math
import os
import re
import shutil
import threading
import time
import unicodedata
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from whoosh import fields
from whoosh import index as whoosh_index
from whoosh.analysis import RegexTokenizer
from whoosh.filedb.filestore import FileStorage
from zope.interface import implementer

from portal.search import analysis
from portal.search.interfaces import (
    ISearchService,
    SearchDocument,
    SearchHit,
    SearchQuery,
    SearchResults,
    SearchUnavailable,
)
from portal.search.query import (
    LOOSE_STOP_CHARS,
    STOPWORDS,
    Concept,
    ConceptGroup,
    LawCatalogue,
    LawEntry,
    QueryPlan,
    QueryPlanner,
    SynonymTable,
)

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
META_FILE = "portal-search.json"
BUILDING_LOCK = "BUILDING.lock"  # held by the process writing a generation
CURRENT_FILE = "CURRENT"
FACETS = ("doc_type", "level", "status", "region", "authority")
TEXT_FIELDS = ("title", "regt", "body", "chapter")
# Statuses whose text is not the one in force: ranked below current texts (not filtered out).
NOT_IN_FORCE_STATUSES = frozenset({"已废止", "废止", "失效", "已失效", "历史版本", "尚未生效", "repealed",
                                   "expired", "historical", "not_yet_effective"})
_NO_DATE_FROM = 0
_NO_DATE_TO = 99_999_999
_MAX_PAGE_SIZE = 100
_MAX_PAGE = 1000




class IndexMissing(SearchUnavailable):
    pass


class IndexCorrupt(SearchUnavailable):
    pass


@dataclass(frozen=True)
class Ranking:
    """Ranking knobs.  Defaults chosen on the dev set and checked on the held-out set
    (bench/search_queries_holdout.tsv): a change is kept only when it helps one without hurting
    the other (see bench/RESULTS.md)."""

    k1: float = 1.2
    # field -> (boost, BM25 b)
    fields: tuple[tuple[str, float, float], ...] = (
        ("title", 2.0, 0.5),
        ("regt", 0.3, 0.3),
        ("body", 1.0, 0.75),
        ("chapter", 0.3, 0.3),
    )
    place_boost: float = 2.0  # score x (1 + place_boost) for the places the query names
    other_place_factor: float = 0.6  # local texts of another place when the query names one
    enclosing_place_factor: float = 2.0  # the province's own texts when the query names its city
    # Repealed / historical versions rank below current ones when about as relevant; a tie-breaker,
    # not a penalty (the in-force filter is there for strict needs, and a status shows on each hit).
    not_in_force_factor: float = 0.95
    whole_word_weight: float = 1.0  # weight of a multi-character query word next to its bigrams
    group_sum_weight: float = 0.5  # credit for further members of a synonym group beyond the best
    coordination: float = 1.0  # exponent of the share of query words a document matches
    term_share: float = 0.5  # a word's weight is split over its n terms as 1 / n ** term_share
    common_term_ratio: float = 0.25  # terms in more than this share of documents are skipped
    cross_refs: int = 9  # related articles shown after a pinned citation
    reference_boost: float = 0.2  # share of a top match's score given to articles it cites / is cited by
    reference_top: int = 10  # how many top matches pass score along their references
    neighbour_boost: float = 0.1  # share of the better neighbouring article's score (n-1, n+1)
    neighbour_gate: bool = True  # only articles that match the query themselves gain
    loose_weight: float = 0.7  # weight of the words found for single / unknown characters
    loose_docs: int = 10  # top documents those words are taken from
    loose_terms: int = 1  # words per character
    loose_min_docs: int = 2  # a word must occur in this many of those documents
    loose_max_df: float = 0.02  # ... and in at most this share of all documents
    regulation_weight: float = 0.4  # boost from the text's own best few articles (see _regulation_evidence)
    regulation_top: int = 3
    feedback_weight: float = 0.0  # pseudo-relevance feedback: weight of the feedback words
    feedback_docs: int = 10  # top documents the feedback words are taken from
    feedback_terms: int = 15  # how many feedback words
    feedback_idf: float = 1.0  # exponent of idf in the choice of feedback words
    feedback_gate: bool = False  # True: only documents matching the query itself gain


# --------------------------------------------------------------------------- schema / documents

_PRETOKENIZED = RegexTokenizer(r"[^ ]+")


def _schema() -> fields.Schema:
    text = dict(analyzer=_PRETOKENIZED, phrase=False)
    return fields.Schema(
        key=fields.ID(unique=True, stored=True),
        doc_type=fields.ID(),
        regulation=fields.ID(),
        title=fields.TEXT(**text),
        regt=fields.TEXT(**text),
        body=fields.TEXT(**text),
        chapter=fields.TEXT(**text),
        places=fields.KEYWORD(),
        data=fields.STORED(),
    )


_PLACE_PREFIX_RE = re.compile(r"^([\u4e00-\u9fff]{2,7}?)(?:省|市|自治区|特别行政区)")
_APPROVER_RE = re.compile(r"[（(]([\u4e00-\u9fff]{2,7}?)(?:省|自治区)")
_DISTRICT_RE = re.compile(r"^[\u4e00-\u9fff]{2,7}?市([\u4e00-\u9fff]{2,4}?)(?:新区|区|县)")
_NOT_PLACES = frozenset({"城市", "城乡", "全国", "本市", "本省", "各省", "直辖市", "设区的市", "中华人民共和国"})
_AUTONOMOUS = {"内蒙古": "内蒙古", "广西壮族": "广西", "西藏": "西藏", "宁夏回族": "宁夏", "新疆维吾尔": "新疆"}


def places_of(doc: SearchDocument) -> list[str]:
    """Place names a document belongs to: its region, the place of its issuing authority, the
    place its title starts with, and the province that approved a city's regulation."""
    found: list[str] = []

    def add(name: str | None):
        if not name:
            return
        name = _AUTONOMOUS.get(name, name)
        if name not in _NOT_PLACES and name not in found and len(name) >= 2:
            found.append(name)

    if doc.region:
        region = analysis.normalize(doc.region).strip()
        m = _PLACE_PREFIX_RE.match(region)
        add(m.group(1) if m else region)
    for text in (doc.authority, doc.regulation_title or doc.title):
        text = analysis.normalize(text or "").strip()
        m = _PLACE_PREFIX_RE.match(text)
        if m:
            add(m.group(1))
        d = _DISTRICT_RE.match(text)
        if d:
            add(d.group(1))
    m = _APPROVER_RE.search(analysis.normalize(doc.authority or ""))
    if m:
        add(m.group(1))
    return found


def _strip_title(doc: SearchDocument) -> str:
    """The title words of a document beyond its regulation title and article label: an article
    titled 《城市道路管理条例》第二十三条 has none; its regulation title is indexed on its own."""
    title = doc.title or ""
    if doc.doc_type != "regulation" and doc.regulation_title:
        for part in (doc.regulation_title, doc.regulation_short_title, doc.article_label):
            if part:
                title = title.replace(part, " ")
    return title


def _date_int(value: dt.date | None, default: int) -> int:
    if value is None:
        return default
    return value.year * 10_000 + value.month * 100 + value.day


def _first_of_each_key(documents: Iterable[SearchDocument], repeated: list[SearchDocument]
                       ) -> Iterator[SearchDocument]:
    seen: set[str] = set()
    for doc in documents:
        if doc.key in seen:
            repeated.append(doc)
        else:
            seen.add(doc.key)
            yield doc


def _batches(items: Iterable[SearchDocument], size: int) -> Iterator[list[SearchDocument]]:
    batch: list[SearchDocument] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _analyse_batch(job: tuple[list[SearchDocument], str]) -> list[dict]:
    """In a rebuild worker process (its segmenter warmed with the same words)."""
    batch, mode = job
    return [_doc_fields(doc, mode) for doc in batch]


@lru_cache(maxsize=4096)
def _cached_terms(text: str, mode: str, _generation: int) -> tuple[str, ...]:
    return tuple(analysis.index_terms(text, mode))


def _doc_fields(doc: SearchDocument, mode: str) -> dict:
    texts = {
        "title": _strip_title(doc),
        "body": doc.body or "",
    }
    terms: dict[str, Sequence[str]] = {name: analysis.index_terms(value, mode) for name, value in texts.items()}
    # Every article repeats its regulation's title and often its chapter heading: analyse each once.
    generation = analysis.segmenter_generation()
    terms["regt"] = _cached_terms(" ".join(t for t in (doc.regulation_title, doc.regulation_short_title) if t)
                                  if doc.doc_type != "regulation" else "", mode, generation)
    terms["chapter"] = _cached_terms(doc.chapter or "", mode, generation)
    places = places_of(doc)
    data = {
        "key": doc.key,
        "doc_type": doc.doc_type,
        "doc_id": doc.doc_id,
        "title": doc.title,
        "body": doc.body,
        "url": doc.url,
        "regulation_id": doc.regulation_id,
        "regulation_title": doc.regulation_title,
        "regulation_short_title": doc.regulation_short_title,
        "article_number": doc.article_number,
        "article_label": doc.article_label,
        "chapter": doc.chapter,
        "level": doc.level,
        "status": doc.status,
        "region": doc.region,
        "authority": doc.authority,
        "valid_from": _date_int(doc.valid_from, _NO_DATE_FROM),
        "valid_to": _date_int(doc.valid_to, _NO_DATE_TO),
        "extra": dict(doc.extra or {}),
        "places": places,
        "lengths": [len(terms[f]) for f in TEXT_FIELDS],
    }
    out = {name: " ".join(t.replace(" ", "") for t in value) for name, value in terms.items()}
    out.update(
        key=doc.key,
        doc_type=doc.doc_type,
        regulation="" if doc.regulation_id is None else str(doc.regulation_id),
        places=" ".join(places),
        data=data,
    )
    return out


# --------------------------------------------------------------------------- in-memory views


class _SegmentData:
    """What the ranker needs of one immutable Whoosh segment, read once."""

    def __init__(self, reader, codes: _Codes):
        self.reader = reader
        self.count = reader.doc_count_all()
        self.stored: list[dict] = [None] * self.count  # type: ignore[list-item]
        for docnum in range(self.count):
            self.stored[docnum] = reader.stored_fields(docnum).get("data") or {}
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
            self.valid_from[i] = d.get("valid_from", _NO_DATE_FROM)
            self.valid_to[i] = d.get("valid_to", _NO_DATE_TO)
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
            for n in internal_references(d.get("body") or ""):
                if n != d["article_number"]:
                    src.append(i)
                    num.append(n)
        self.ref_src = np.array(src, dtype=np.int64)
        self.ref_num = np.array(num, dtype=np.int64)
        self._postings: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
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

    def postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        key = (field, term)
        hit = self._postings.get(key)
        if hit is not None:
            return hit
        # Whoosh readers seek on shared file objects: one reader at a time per segment.
        with self._lock:
            hit = self._postings.get(key)
            if hit is None:
                hit = _read_postings(self.reader, field, term)
                if self._cached_postings > 5_000_000:
                    self._postings.clear()
                    self._cached_postings = 0
                self._postings[key] = hit
                self._cached_postings += len(hit[0])
        return hit


_EMPTY = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))


def _read_postings(reader, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        if (field, term) not in reader:
            return _EMPTY
        matcher = reader.postings(field, term)
    except KeyError:
        return _EMPTY
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
        return _EMPTY
    return np.concatenate(ids), np.concatenate(weights)


class _Codes:
    """Append-only string <-> int codes per facet, shared by all segments of a service."""

    def __init__(self):
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


class _Snapshot:
    """A consistent view of one index generation at one commit: the searcher and the arrays."""

    def __init__(self, generation: str, ix, searcher, segments: list[tuple[_SegmentData, int]],
                 ranking: Ranking):
        self.generation = generation
        self.ix = ix
        self.searcher = searcher
        self.segments = segments
        self.opened = time.monotonic()
        self.toc_generation = ix.latest_generation()
        self.fingerprint: dict[str, tuple[int, int]] = {}
        parts = [s for s, _ in segments]
        cat = (lambda name: np.concatenate([getattr(s, name) for s in parts])) if parts else None
        self.n = sum(s.count for s in parts)
        if parts:
            self.live = np.concatenate([_live_mask(s) for s in parts])
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
            _boost, b = _field_conf(ranking, name)
            live_lengths = lengths[i][self.counted] if self.n else lengths[i]
            avg = float(live_lengths.mean()) if live_lengths.size and live_lengths.mean() > 0 else 1.0
            self.norms[name] = (ranking.k1 * (1 - b + b * lengths[i] / avg)).astype(np.float32)
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
        # Reference edges as global docnums: src cites dst (same regulation).
        self.ref_src = np.zeros(0, dtype=np.int64)
        self.ref_dst = np.zeros(0, dtype=np.int64)
        if parts:
            srcs = np.concatenate([s.ref_src + off for s, off in segments])
            nums = np.concatenate([s.ref_num for s, _off in segments])
            # Links between the articles of the texts in force (an older text's numbers may differ).
            current = ~self.historical[srcs]
            srcs, nums = srcs[current], nums[current]
            articles = np.flatnonzero(self.live & ~self.historical & (self.article >= 0) & (self.regulation >= 0))
            keys = self.regulation[articles] * 100_000 + self.article[articles]
            order = np.argsort(keys, kind="stable")
            keys, articles = keys[order], articles[order]
            wanted = self.regulation[srcs] * 100_000 + nums
            pos = np.searchsorted(keys, wanted)
            pos = np.minimum(pos, max(0, keys.size - 1))
            ok = (keys.size > 0) & (keys[pos] == wanted) & self.live[srcs] if keys.size else np.zeros(0, bool)
            if keys.size:
                self.ref_src = srcs[ok]
                self.ref_dst = articles[pos[ok]]
        # Neighbouring articles (n-1, n+1) of the same text: consecutive articles treat one topic.
        self.prev_doc = np.full(self.n, -1, dtype=np.int64)
        self.next_doc = np.full(self.n, -1, dtype=np.int64)
        if self.n:
            articles = np.flatnonzero(self.live & ~self.historical & (self.article >= 0) & (self.regulation >= 0))
            keys = self.regulation[articles] * 100_000 + self.article[articles]
            order = np.argsort(keys, kind="stable")
            keys, articles = keys[order], articles[order]
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

    def postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Global docnums and term frequencies of ``term`` in ``field`` over all segments."""
        ids: list[np.ndarray] = []
        tfs: list[np.ndarray] = []
        for seg, offset in self.segments:
            i, w = seg.postings(field, term)
            if i.size:
                ids.append(i + offset if offset else i)
                tfs.append(w)
        if not ids:
            return _EMPTY
        if len(ids) == 1:
            return ids[0], tfs[0]
        return np.concatenate(ids), np.concatenate(tfs)

    def close(self):
        try:
            self.searcher.close()
        except Exception:  # pragma: no cover - closing a broken searcher
            log.debug("closing searcher failed", exc_info=True)


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


def _live_mask(seg: _SegmentData) -> np.ndarray:
    mask = np.ones(seg.count, dtype=bool)
    if seg.reader.has_deletions():
        deleted = [d for d in seg.reader.segment().deleted_docs() if d < seg.count]
        mask[deleted] = False
    return mask


def _field_conf(ranking: Ranking, name: str) -> tuple[float, float]:
    for fname, boost, b in ranking.fields:
        if fname == name:
            return boost, b
    return 0.0, 0.75


# --------------------------------------------------------------------------- snippets


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    folded = unicodedata.normalize("NFKC", ch).lower()
    return folded if len(folded) == 1 else ch


def _fold(text: str) -> str:
    """Per-character normalization that keeps offsets (so matches map back to the original)."""
    if text.isascii():
        return text.lower()
    return "".join(_fold_char(ch) for ch in text)


def highlight_pattern(terms: Sequence[str]) -> re.Pattern | None:
    terms = sorted({t for t in terms if t}, key=len, reverse=True)
    return re.compile("|".join(re.escape(t) for t in terms)) if terms else None


def make_snippet(text: str, terms: Sequence[str], width: int = 120, pattern: re.Pattern | None = None) -> str:
    """An HTML-safe excerpt of ``text`` around the densest cluster of ``terms``, each occurrence
    wrapped in <mark>.  Adjacent matches (the bigrams of one word) merge into one mark."""
    text = text or ""
    if pattern is None:
        pattern = highlight_pattern(terms)
    spans: list[tuple[int, int, str]] = []
    if pattern is not None and text:
        folded = _fold(text)
        for m in pattern.finditer(folded):
            spans.append((m.start(), m.end(), m.group()))
    if not spans:
        cut = text[:width]
        return html.escape(cut) + ("…" if len(text) > width else "")
    # Window with the most distinct terms (longer terms count more).
    best_start, best_score = 0, -1.0
    for s, _e, _t in spans:
        start = max(0, s - width // 5)
        seen = {t for a, b, t in spans if a >= start and b <= start + width}
        score = sum(len(t) for t in seen)
        if score > best_score:
            best_start, best_score = start, score
    start = best_start
    end = min(len(text), start + width)
    if end - start < width:
        start = max(0, end - width)
    merged: list[list[int]] = []
    for s, e, _t in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    out = ["…" if start > 0 else ""]
    pos = start
    for s, e in merged:
        out.append(html.escape(text[pos:s]))
        out.append("<mark>" + html.escape(text[s:e]) + "</mark>")
        pos = e
    out.append(html.escape(text[pos:end]))
    if end < len(text):
        out.append("…")
    return "".join(out)


# --------------------------------------------------------------------------- the service


@implementer(ISearchService)
class WhooshSearchService:
    """Full-text search over a Whoosh index directory.  Thread-safe; one instance per process.

    ``search()`` never raises for odd input; it raises :class:`SearchUnavailable` when the
    index is missing or corrupt (``health()`` then says so): the caller rebuilds.
    """

    def __init__(self, index_dir: str | os.PathLike, synonyms_path: str | os.PathLike | None = None, *,
                 analysis_mode: str = analysis.DEFAULT_MODE, ranking: Ranking | None = None,
                 refresh_interval: float = 1.0, writer_timeout: float = 120.0, rebuild_memory_mb: int = 1024,
                 rebuild_workers: int | None = None):
        if analysis_mode not in analysis.MODES:
            raise ValueError(f"unknown analysis mode {analysis_mode!r}")
        self.index_dir = Path(index_dir)
        self.synonyms_path = Path(synonyms_path) if synonyms_path else None
        self.analysis_mode = analysis_mode
        self.ranking = ranking or Ranking()
        self.refresh_interval = refresh_interval
        self.writer_timeout = writer_timeout
        # Whoosh sorts a rebuild's postings (~2.8M for the law pack + corpus) in memory up to
        # this size and spills pickled runs to disk beyond it; spilling doubled the rebuild time.
        self.rebuild_memory_mb = rebuild_memory_mb
        # Segmenting the texts is the other half of a rebuild: worker processes do it while this
        # one writes (None: one per core; 0 or 1: all in this process).
        self.rebuild_workers = (os.cpu_count() or 1) if rebuild_workers is None else rebuild_workers
        self.synonyms = SynonymTable.load(self.synonyms_path)
        self.planner = QueryPlanner(self.synonyms, analysis_mode)
        self._codes = _Codes()
        self._segments: dict[str, _SegmentData] = {}
        self._snapshot: _Snapshot | None = None
        self._snapshot_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._stale = True
        self._error: str | None = None
        self._rebuilding = False
        self._pending: list[tuple[str, object]] = []  # writes made while a rebuild runs
        self._last_check = 0.0
        self._segmenter_ready = False
        self._term_cache: dict[tuple[str, int], dict[str, int]] = {}
        # Doc types a query without a type filter searches (empty: all of them).  Set by the
        # document providers: the regulations library is searched by default, while catalogue
        # entries (dozens of near-identical 井盖 item types) are asked for by type and shown
        # beside the results, so they never crowd the articles out of the first page.
        self.default_doc_types: set[str] = set()

    # ------------------------------------------------------------------ lifecycle

    WARM_UP_QUERIES = (
        "城市管理部门负责 违法行为 责令改正 处罚款",
        "上海 北京 单位和个人 应当 不得 禁止",
        "人民政府 有关部门 规定 管理条例第一条",
        "中华人民共和国行政处罚法第一条",
        "城管扣了我的东西 删掉 怎么办",  # single / unknown characters: the expansion path
    )

    def warm_up(self) -> None:
        """Load the segmenter dictionary (plus synonym words) and open the index, so the first
        request pays for neither.  Never raises: a missing index is reported by health()."""
        self._ensure_segmenter()
        try:
            snap = self._current()
            # Exercise every code path once (planning, places, synonyms, citations, snippets) and
            # read the postings of the field's most frequent words, so the first user pays for none.
            for text in self.WARM_UP_QUERIES:
                self._search(snap, SearchQuery(text=text))
        except SearchUnavailable as exc:
            log.warning("search index unavailable at start-up: %s", exc)

    def close(self) -> None:
        with self._snapshot_lock:
            if self._snapshot is not None:
                self._snapshot.close()
            self._snapshot = None
            self._segments.clear()
            self._stale = True

    # ------------------------------------------------------------------ generations

    def _generation_name(self) -> str | None:
        try:
            name = (self.index_dir / CURRENT_FILE).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise IndexCorrupt(f"cannot read {self.index_dir / CURRENT_FILE}: {exc}") from exc
        if not name or "/" in name or name.startswith("."):
            raise IndexCorrupt(f"bad generation name {name!r} in {self.index_dir / CURRENT_FILE}")
        return name

    def _open_generation(self, name: str):
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
        except Exception as exc:
            raise IndexCorrupt(f"cannot open index {path}: {exc}") from exc

    def _current(self) -> _Snapshot:
        snap = self._snapshot
        now = time.monotonic()
        if snap is not None and not self._stale and now - self._last_check < self.refresh_interval:
            return snap
        with self._snapshot_lock:
            snap = self._snapshot
            now = time.monotonic()
            if snap is not None and not self._stale and now - self._last_check < self.refresh_interval:
                return snap
            self._last_check = now
            try:
                name = self._generation_name()
                if name is None:
                    raise IndexMissing(f"no search index in {self.index_dir}")
                if snap is not None and snap.generation == name and snap.ix.latest_generation() == snap.toc_generation:
                    now_seen = _fingerprint(self.index_dir / name, snap)
                    if now_seen == snap.fingerprint:
                        self._stale = False
                        return snap
                    if (set(now_seen) == set(snap.fingerprint) and snap.ix.latest_generation() == snap.toc_generation):
                        # A segment file never changes once written: this one was overwritten.
                        raise IndexCorrupt(f"segment files of {name} changed under the running node")
                    # A writer merged segments away while we looked: read the new state.
                new = self._load(name, snap)
            except SearchUnavailable as exc:
                self._error = str(exc)
                self._stale = True  # checked again on every call until a good index is there
                raise
            except Exception as exc:
                self._error = f"index unreadable: {exc!r}"
                self._stale = True
                log.exception("search index unreadable")
                raise IndexCorrupt(self._error) from exc
            self._snapshot = new
            self._stale = False
            self._error = None
            # The old searcher stays usable for requests still holding it; its files are
            # released when it is garbage-collected.
            return new

    def _load(self, name: str, previous: _Snapshot | None) -> _Snapshot:
        ix = previous.ix if previous is not None and previous.generation == name else self._open_generation(name)
        searcher = ix.searcher()
        segments: list[tuple[_SegmentData, int]] = []
        keep: dict[str, _SegmentData] = {}
        leaves = searcher.reader().leaf_readers() if searcher.doc_count_all() else []
        for reader, offset in leaves:
            segid = f"{name}/{reader.segment().segment_id()}"
            seg = self._segments.get(segid)
            if seg is None or seg.count != reader.doc_count_all():
                seg = _SegmentData(reader, self._codes)
            else:
                seg.reader = reader  # same immutable files; deletions come from the new reader
            keep[segid] = seg
            segments.append((seg, offset))
        self._segments = keep
        snapshot = _Snapshot(name, ix, searcher, segments, self.ranking)
        snapshot.fingerprint = _fingerprint(self.index_dir / name, snapshot)
        return snapshot

    # ------------------------------------------------------------------ health

    def health(self) -> dict[str, object]:
        try:
            snap = self._current()
        except SearchUnavailable as exc:
            return {"ok": False, "documents": 0, "error": str(exc), "index_dir": str(self.index_dir),
                    "rebuilding": self._rebuilding}
        except Exception as exc:  # health never raises
            return {"ok": False, "documents": 0, "error": repr(exc), "index_dir": str(self.index_dir)}
        return {
            "ok": True,
            "documents": snap.doc_count,
            "generation": snap.generation,
            "segments": len(snap.segments),
            "analysis": self.analysis_mode,
            "synonyms": len(self.synonyms),
            "index_dir": str(self.index_dir),
            "size_bytes": _dir_size(self.index_dir / snap.generation),
            "rebuilding": self._rebuilding,
        }

    def document_count(self) -> int:
        return self._current().doc_count

    # ------------------------------------------------------------------ writing

    def index(self, documents: Iterable[SearchDocument]) -> int:
        docs = list(documents)
        if not docs:
            return 0
        with self._write_lock:
            if self._rebuilding:
                self._pending.append(("index", docs))
            ix = self._writable_index()
            written = self._write(ix, docs, deletes=())
        return written

    def delete(self, keys: Iterable[str]) -> int:
        keys = [k for k in keys if k]
        if not keys:
            return 0
        with self._write_lock:
            if self._rebuilding:
                self._pending.append(("delete", keys))
            ix = self._writable_index()
            return self._write(ix, (), deletes=keys)

    def _writable_index(self):
        name = self._generation_name()
        if name is None:
            raise IndexMissing(f"no search index in {self.index_dir}: rebuild it first")
        snap = self._snapshot
        if snap is not None and snap.generation == name:
            return snap.ix
        return self._open_generation(name)

    def _ensure_segmenter(self) -> None:
        """The segmenter must know the synonym words before any text is cut, in every process
        (the CLI indexes without the app's warm-up), or the same word would be cut differently
        at indexing and at query time."""
        if not self._segmenter_ready:
            analysis.warm_up(self.synonyms.words())
            self._segmenter_ready = True

    def _write(self, ix, docs: Sequence[SearchDocument], deletes: Sequence[str]) -> int:
        self._ensure_segmenter()
        prepared = [_doc_fields(d, self.analysis_mode) for d in docs]  # analyse outside the lock
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
        self._stale = True
        return count

    def rebuild(self, documents: Iterable[SearchDocument],
                progress: Callable[[int], None] | None = None) -> int:
        """Write a new generation beside the live one and switch CURRENT to it atomically.
        Searches keep using the old generation until the switch."""
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
        with self._write_lock:
            self._rebuilding = True
            self._pending = []
        count = 0
        try:
            storage = FileStorage(str(path))
            ix = storage.create_index(_schema())
            writer = ix.writer(limitmb=self.rebuild_memory_mb)
            repeated: list[SearchDocument] = []  # a key given twice: the later one wins
            try:
                for prepared in self._analysed(_first_of_each_key(documents, repeated)):
                    writer.add_document(**prepared)
                    count += 1
                    if progress is not None and count % 500 == 0:
                        progress(count)
            except BaseException:
                writer.cancel()
                raise
            writer.commit(optimize=True)
            if repeated:
                self._write(ix, repeated, ())
            (path / META_FILE).write_text(json.dumps({
                "schema": SCHEMA_VERSION, "analysis": self.analysis_mode, "documents": count,
                "built": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }), encoding="utf-8")
            with self._write_lock:
                pending, self._pending = self._pending, []
                for op, payload in pending:  # writes that arrived while we were building
                    if op == "index":
                        self._write(ix, payload, ())
                    else:
                        self._write(ix, (), payload)
                tmp = self.index_dir / f".{CURRENT_FILE}.{uuid.uuid4().hex[:8]}"
                tmp.write_text(name, encoding="utf-8")
                os.replace(tmp, self.index_dir / CURRENT_FILE)
                self._stale = True
                self._rebuilding = False
        except BaseException:
            with self._write_lock:
                self._rebuilding = False
                self._pending = []
            shutil.rmtree(path, ignore_errors=True)
            raise
        finally:
            building.close()
        if progress is not None:
            progress(count)
        self._collect_old_generations(keep=name)
        try:
            self._current()
        except SearchUnavailable:  # pragma: no cover - freshly built
            log.exception("fresh index unreadable")
        return count

    # Below this many documents a rebuild segments them itself: starting workers costs more.
    parallel_from = 2000

    def _analysed(self, documents: Iterable[SearchDocument]) -> Iterator[dict]:
        """Index fields of the documents, in order; segmented by worker processes when allowed."""
        docs = iter(documents)
        first = list(itertools.islice(docs, self.parallel_from))
        for doc in first:
            yield _doc_fields(doc, self.analysis_mode)
        if len(first) < self.parallel_from:
            return
        if self.rebuild_workers <= 1:
            for doc in docs:
                yield _doc_fields(doc, self.analysis_mode)
            return
        import multiprocessing

        # spawn, not fork: a rebuild may run in a serving process beside other threads.
        context = multiprocessing.get_context("spawn")
        words = analysis.segmenter_words()
        with context.Pool(self.rebuild_workers, initializer=_start_rebuild_worker, initargs=(words,)) as pool:
            # The documents are read here, not in the pool's feeder thread: they may come from a
            # database session, which belongs to this thread.  A few batches stay in flight.
            in_flight: deque = deque()
            for batch in _batches(docs, 200):
                in_flight.append(pool.apply_async(_analyse_batch, ((batch, self.analysis_mode),)))
                if len(in_flight) > 2 * self.rebuild_workers:
                    yield from in_flight.popleft().get()
            while in_flight:
                yield from in_flight.popleft().get()

    def remove_partial_generations(self) -> list[str]:
        """Remove the directories of builds that died half-way (no META_FILE, not CURRENT, and
        no live process holding their build lock); returns their names."""
        current = self._generation_name()
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

    def _collect_old_generations(self, keep: str) -> None:
        """Remove generations older than the previous one (another process may still be
        reading the previous one until its next refresh)."""
        gens = sorted((p for p in self.index_dir.glob("gen-*") if p.is_dir()), key=lambda p: p.stat().st_mtime)
        old = [p for p in gens if p.name != keep]
        for p in old[:-1]:
            shutil.rmtree(p, ignore_errors=True)

    # ------------------------------------------------------------------ searching

    def search(self, query: SearchQuery) -> SearchResults:
        snap = self._current()
        try:
            return self._search(snap, query)
        except SearchUnavailable:
            raise
        except Exception as exc:
            # Unreadable postings (zlib, struct, Whoosh's "Block tag error" …): the files changed
            # or broke under us. The caller answers 503 and rebuilds; health() says so meanwhile.
            log.exception("search failed on index generation %s", snap.generation)
            self._stale = True
            self._error = f"search failed: {exc!r}"
            raise IndexCorrupt(self._error) from exc

    def _search(self, snap: _Snapshot, query: SearchQuery) -> SearchResults:
        page = min(max(1, int(query.page or 1)), _MAX_PAGE)
        size = min(max(1, int(query.page_size or 10)), _MAX_PAGE_SIZE)
        text = query.text if isinstance(query.text, str) else str(query.text or "")
        self._ensure_segmenter()
        plan = self.planner.plan(text, snap.places)
        empty = SearchResults(query=query, total=0, hits=[], facets={f: [] for f in FACETS})
        if plan.empty or snap.n == 0:
            return empty
        filtered = self._filter_mask(snap, query)
        if filtered is None:
            return empty
        of_type = self._type_mask(snap, query)
        # Types absent from the index match nothing, but the type facet still counts the others.
        allowed = filtered & of_type if of_type is not None else np.zeros(snap.n, dtype=bool)
        dated = query.in_force_on is not None
        score = self._score(snap, plan, dated)
        pinned, citation = self._pin(snap, plan, allowed)
        if plan.citation is not None and not pinned:
            # Not a citation of an indexed article after all: search the law name's words too and
            # put articles with the cited number (the article label) first among the matches.
            plan = self.planner.plan(text, snap.places, keep_law_words=True)
            score = self._score(snap, plan, dated) if plan.groups else np.zeros(snap.n, dtype=np.float32)
            numbered = snap.article == plan.citation.number
            top = float(score.max()) if score.size else 0.0
            if top > 0:
                score = score + np.where(numbered & (score > 0), top, 0.0).astype(np.float32)
            else:
                score = numbered.astype(np.float32)
        matched = (score > 0) & allowed
        if pinned:
            matched[pinned] = True
        total = int(matched.sum())
        facets = self._facets(snap, matched)
        # The type facet counts the matches of every type, so "权责条目 (12)" shows while only
        # regulations are listed.
        facets["doc_type"] = self._facets(snap, (score > 0) & filtered, ("doc_type",))["doc_type"]
        # Ranking: pinned documents first (in order), then by score.
        need = page * size
        order: list[int] = list(pinned)
        if len(order) < need:
            candidates = np.flatnonzero(matched)
            if pinned:
                candidates = candidates[~np.isin(candidates, pinned)]
            k = min(need - len(order), candidates.size)
            if k:
                cand_scores = score[candidates]
                if k < candidates.size:
                    # Keep every document tied with the k-th so that the docnum tie-break below
                    # decides, the same way for every page.
                    kth = -np.partition(-cand_scores, k - 1)[k - 1]
                    keep = cand_scores >= kth
                    candidates, cand_scores = candidates[keep], cand_scores[keep]
                # Stable tie-break on docnum keeps pagination deterministic.
                idx = np.lexsort((candidates, -cand_scores))[:k]
                order.extend(int(c) for c in candidates[idx])
        if not dated and snap.successor:
            order = self._successors_first(snap, order, allowed, len(pinned))[:need]
        page_docs = order[(page - 1) * size : page * size]
        pattern = highlight_pattern(plan.highlight)
        hits = [self._hit(snap, d, float(score[d]) if d not in pinned else float("inf"), pattern)
                for d in page_docs]
        return SearchResults(query=query, total=total, hits=hits, facets=facets, citation=citation)

    @staticmethod
    def _successors_first(snap: _Snapshot, order: list[int], allowed: np.ndarray, pinned: int = 0) -> list[int]:
        """Today's law before the law it replaced: a repealed article whose successor (the article
        of the text in force that took it over) can be shown comes right after that successor,
        which moves up to take its place when it ranked lower or not at all. The repealed article
        stays in the list, marked 已废止, for readers who know the old citation. The first
        ``pinned`` documents were cited by name: they keep their place, their successor follows."""
        out: list[int] = list(order[:pinned])
        placed: set[int] = set(out)
        for docnum in order[:pinned]:
            successor = snap.successor.get(docnum)
            if successor is not None and successor not in placed and allowed[successor]:
                out.append(successor)
                placed.add(successor)
        for docnum in order[pinned:]:
            if docnum in placed:
                continue
            successor = snap.successor.get(docnum)
            if successor is not None and successor not in placed and allowed[successor]:
                out.append(successor)
                placed.add(successor)
            out.append(docnum)
            placed.add(docnum)
        return out

    def _type_mask(self, snap: _Snapshot, query: SearchQuery) -> np.ndarray | None:
        """Documents of the asked-for types (the default scope when none are asked for)."""
        doc_types = tuple(query.doc_types) or tuple(sorted(self.default_doc_types))
        if not doc_types:
            return np.ones(snap.n, dtype=bool)
        codes = [c for c in (self._codes.lookup("doc_type", t) for t in doc_types) if c is not None]
        if not codes:
            return None
        return np.isin(snap.facets["doc_type"], codes)

    def _filter_mask(self, snap: _Snapshot, query: SearchQuery) -> np.ndarray | None:
        """Every filter but the type one (the type facet counts across types)."""
        mask = snap.live.copy()
        for facet in ("level", "status", "region", "authority"):
            value = getattr(query, facet, None)
            if value:
                code = self._codes.lookup(facet, value)
                if code is None:
                    return None
                mask &= snap.facets[facet] == code
        if query.regulation_id is not None:
            mask &= snap.regulation == int(query.regulation_id)
        if query.in_force_on is not None:
            day = _date_int(query.in_force_on, 0)
            mask &= (snap.valid_from <= day) & (snap.valid_to >= day)
        else:
            mask &= ~snap.historical
        return mask

    def _score(self, snap: _Snapshot, plan: QueryPlan, dated: bool = False) -> np.ndarray:
        """``dated``: a search for a past date, which older texts take part in."""
        rk = self.ranking
        n_docs = max(1, snap.counted_count)
        score = np.zeros(snap.n, dtype=np.float32)
        all_terms = {t for c in plan.concepts for t in c.terms}
        # Very common terms (bigrams such as 应当, 规定) have near-zero idf and huge postings:
        # skip them, unless the query has nothing else.
        # The skip only pays off on big postings; in a small index every present term would count
        # as "common" and real matches would be dropped.
        limit = max(rk.common_term_ratio * n_docs, 1000)
        common = {t for t in all_terms if snap.doc_frequency("body", t) > limit}
        if common == all_terms:
            common = set()
        contributions: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}

        def contribution(term: str) -> list[tuple[np.ndarray, np.ndarray]]:
            got = contributions.get(term)
            if got is None:
                got = []
                for fname, boost, _b in rk.fields:
                    if not boost:
                        continue
                    ids, tf = snap.postings(fname, term)
                    # Postings still list deleted documents; n_docs counts live ones only, so the
                    # document frequency must too (else idf turns negative after deletions).
                    df = int(np.count_nonzero(snap.counted[ids])) if ids.size else 0
                    if not df:
                        continue
                    idf = math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
                    got.append((ids, (boost * idf * (rk.k1 + 1.0)) * tf / (tf + snap.norms[fname][ids])))
                contributions[term] = got
            return got

        def match(groups) -> tuple[np.ndarray, np.ndarray, int, list[ConceptGroup]]:
            raw = np.zeros(snap.n, dtype=np.float32)
            matched = np.zeros(snap.n, dtype=np.float32)
            count = 0
            dead: list[ConceptGroup] = []
            for group in groups:
                best = None
                total = None
                for member in group.members:
                    terms = [t for t in member.terms if t not in common]
                    if not terms:
                        continue
                    m = np.zeros(snap.n, dtype=np.float32)
                    # A long word stands for several bigrams: share the word's weight among them.
                    share = member.weight / len(terms) ** rk.term_share
                    for term in terms:
                        w = share * (rk.whole_word_weight if len(term) > 2 and not term.isascii() else 1.0)
                        for ids, contrib in contribution(term):
                            m[ids] += w * contrib
                    if best is None:
                        best, total = m, m.copy()
                    else:
                        np.maximum(best, m, out=best)
                        total += m
                if best is not None:
                    raw += best + rk.group_sum_weight * (total - best)
                    if rk.coordination:
                        matched += best > 0
                        count += 1
                    if not best.any():
                        dead.append(group)
            return raw, matched, count, dead

        score, matched_groups, n_groups, dead = match(plan.groups)
        # Deleted documents (still in their segment until a merge) and, for a search of the law as
        # it stands, older texts neither answer nor lend evidence (neighbours, references, the
        # regulation's best articles, the words found for loose characters).
        hidden = snap.hidden_dated if dated else snap.hidden_undated
        if hidden is not None:
            score[hidden] = 0.0
        prior = self._prior(snap, plan)
        if rk.loose_weight:
            # Characters cut off alone, and the characters of words no text uses (删掉, 挖走):
            # search the words of the best matches that contain them (扣 -> 扣押, 删 -> 删除).
            chars = list(plan.loose)
            for group in dead:
                word = group.members[0].word
                if len(group.members) == 1 and analysis.is_cjk(word):
                    chars.extend(ch for ch in word if ch not in LOOSE_STOP_CHARS and ch not in STOPWORDS
                                 and ch not in chars)
            if chars:
                prelim = score * (matched_groups / n_groups) ** rk.coordination \
                    if rk.coordination and n_groups > 1 else score
                extra = self._expand_chars(snap, chars, prelim * prior if prior is not None else prelim,
                                           all_terms)
                if extra:
                    more, more_matched, more_n, _dead = match(extra)
                    score += more
                    matched_groups += more_matched
                    n_groups += more_n
        if rk.coordination and n_groups > 1:
            # Documents that answer more of the query's words rank higher (Lucene's coord).
            score *= (matched_groups / n_groups) ** rk.coordination
        if rk.feedback_weight and score.size:
            score = self._feedback(snap, plan, score, prior, common)
        if rk.neighbour_boost and score.size:
            score = self._neighbours(snap, score)
        if rk.reference_boost and snap.ref_src.size and score.size:
            score = self._propagate(snap, score)
        if prior is not None:
            score *= prior
        if rk.regulation_weight and score.size:
            score = self._regulation_evidence(snap, score)
        return score

    def _regulation_evidence(self, snap: _Snapshot, score: np.ndarray) -> np.ndarray:
        """Articles of a text that answers the query in several places rank above equally good
        single matches in texts about something else (a text's best few articles vote)."""
        rk = self.ranking
        docs = np.flatnonzero((score > 0) & (snap.regulation >= 0))
        if docs.size < 2:
            return score
        regs = snap.regulation[docs]
        order = np.lexsort((-score[docs], regs))
        docs, regs = docs[order], regs[order]
        starts = np.r_[0, np.flatnonzero(regs[1:] != regs[:-1]) + 1]
        rank_in = np.arange(docs.size) - np.repeat(starts, np.diff(np.r_[starts, docs.size]))
        keep = rank_in < rk.regulation_top
        uniq, inverse = np.unique(regs, return_inverse=True)
        evidence = np.bincount(inverse, weights=np.where(keep, score[docs], 0.0)).astype(np.float32)
        evidence /= max(float(evidence.max()), 1e-9)
        out = score.copy()
        out[docs] *= 1.0 + rk.regulation_weight * evidence[inverse]
        return out

    def _expand_chars(self, snap: _Snapshot, chars: list[str], ranked: np.ndarray,
                      query_terms: set[str]) -> list[ConceptGroup]:
        """For each character, the dictionary words containing it that the best matches of the
        rest of the query use most (a word in at least two of them), as a weak extra concept."""
        rk = self.ranking
        k = min(rk.loose_docs, ranked.size)
        if not k:
            return []
        top = np.argpartition(-ranked, k - 1)[:k]
        top = top[ranked[top] > 0]
        if top.size < 2:
            return []
        w_doc = ranked[top] / ranked[top].sum()
        known = analysis.dictionary_words()
        # Words as common as 管理, 部门, 进行 say nothing about the character's meaning.
        limit = max(rk.loose_max_df * snap.doc_count, 100)  # (no limit in a small index)
        groups = []
        for ch in chars:
            votes: dict[str, list[float]] = {}
            for d, wd in zip(top.tolist(), w_doc.tolist()):
                for t in self._doc_terms(snap, d):
                    if ch in t and 2 <= len(t) <= 4 and t not in query_terms and known(t) \
                            and snap.doc_frequency("body", t) <= limit:
                        v = votes.setdefault(t, [0.0, 0])
                        v[0] += wd
                        v[1] += 1
            best = sorted(((v[0], t) for t, v in votes.items() if v[1] >= rk.loose_min_docs), reverse=True)
            members = [Concept(t, rk.loose_weight, tuple(analysis.word_terms(t, self.analysis_mode)), True)
                       for _w, t in best[: rk.loose_terms]]
            if members:
                groups.append(ConceptGroup(members))
        return groups

    def _prior(self, snap: _Snapshot, plan: QueryPlan) -> np.ndarray | None:
        """Per-document factor: the places the query names, texts in force."""
        rk = self.ranking
        prior = None
        if plan.places and snap.n:
            in_place = np.zeros(snap.n, dtype=bool)
            for place in plan.places:
                ids, _tf = snap.postings("places", place)
                in_place[ids] = True
            prior = np.where(in_place, 1.0 + rk.place_boost,
                             np.where(snap.has_places, rk.other_place_factor, 1.0)).astype(np.float32)
            # A city's query is also answered by its province's own texts (which the city's
            # regulations often defer to): not another place's.
            enclosing = {e for place in plan.places for e in snap.enclosing.get(place, ())}
            enclosing -= set(plan.places)
            for e in enclosing:
                ids = snap.own_place_docs.get(e)
                if ids is not None and ids.size:
                    prior[ids] = np.maximum(prior[ids], rk.enclosing_place_factor)
        if rk.not_in_force_factor != 1.0 and snap.n:
            f = np.where(snap.in_force, 1.0, rk.not_in_force_factor).astype(np.float32)
            prior = f if prior is None else prior * f
        return prior

    def _feedback(self, snap: _Snapshot, plan: QueryPlan, score: np.ndarray, prior: np.ndarray | None,
                  common: set[str]) -> np.ndarray:
        """Pseudo-relevance feedback (RM3-like): the words that dominate the best matches, other
        than the query's own, are searched too, with a small weight."""
        rk = self.ranking
        ranked = score * prior if prior is not None else score
        k = min(rk.feedback_docs, ranked.size)
        top = np.argpartition(-ranked, k - 1)[:k]
        top = top[ranked[top] > 0]
        if top.size < 2:
            return score
        top = top[np.argsort(-ranked[top])]
        w_doc = ranked[top] / ranked[top].sum()
        query_terms = {t for c in plan.concepts for t in c.terms}
        n_docs = max(1, snap.doc_count)
        model: dict[str, float] = {}
        for d, wd in zip(top.tolist(), w_doc.tolist()):
            terms = self._doc_terms(snap, d)
            if not terms:
                continue
            inv = 1.0 / len(terms)
            for t, tf in terms.items():
                model[t] = model.get(t, 0.0) + wd * tf * inv
        cands = []
        for t, p in model.items():
            if t in query_terms or t in common or len(t) < 2:
                continue
            df = snap.doc_frequency("body", t)
            if df < 2 or df > rk.common_term_ratio * n_docs:
                continue
            idf = math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
            cands.append((p * idf ** rk.feedback_idf, t, idf))
        if not cands:
            return score
        cands.sort(reverse=True)
        cands = cands[: rk.feedback_terms]
        total = sum(c[0] for c in cands)
        fb = np.zeros_like(score)
        for w, t, idf in cands:
            for fname, boost, _b in rk.fields:
                if fname not in ("body", "title") or not boost:
                    continue
                ids, tf = snap.postings(fname, t)
                if ids.size:
                    fb[ids] += (w / total) * boost * idf * (rk.k1 + 1.0) * tf / (tf + snap.norms[fname][ids])
        top_fb = float(fb.max())
        if top_fb <= 0:
            return score
        scale = float(score.max()) / top_fb
        gate = score > 0 if rk.feedback_gate else 1.0
        return score + rk.feedback_weight * scale * fb * gate

    def _doc_terms(self, snap: _Snapshot, docnum: int) -> dict[str, int]:
        key = (snap.generation, docnum)
        got = self._term_cache.get(key)
        if got is None:
            d = snap.stored[docnum]
            counts: dict[str, int] = {}
            for t in analysis.index_terms(d.get("body") or "", self.analysis_mode):
                counts[t] = counts.get(t, 0) + 1
            if len(self._term_cache) > 20000:
                self._term_cache.clear()
            self._term_cache[key] = got = counts
        return got

    def _neighbours(self, snap: _Snapshot, score: np.ndarray) -> np.ndarray:
        """An article next to a good match usually continues its topic (the duty, then its
        exceptions, the time limit, the penalty): it shares part of its neighbours' score."""
        rk = self.ranking
        bonus = np.zeros_like(score)
        for nb in (snap.prev_doc, snap.next_doc):
            has = nb >= 0
            np.maximum(bonus, np.where(has, score[np.where(has, nb, 0)], 0.0), out=bonus)
        gate = score > 0 if rk.neighbour_gate else np.ones(score.size, dtype=bool)
        return score + rk.neighbour_boost * bonus * gate

    def _propagate(self, snap: _Snapshot, score: np.ndarray) -> np.ndarray:
        """Articles cited by (or citing) the best matches share some of their score: a penalty
        article and the duty it enforces, a rule and its definition, answer the same question."""
        rk = self.ranking
        k = min(rk.reference_top, score.size)
        top = np.argpartition(-score, k - 1)[:k]
        top = top[score[top] > 0]
        if not top.size:
            return score
        in_top = np.zeros(score.size, dtype=bool)
        in_top[top] = True
        bonus = np.zeros_like(score)
        fwd = in_top[snap.ref_src]
        np.maximum.at(bonus, snap.ref_dst[fwd], score[snap.ref_src[fwd]])
        back = in_top[snap.ref_dst]
        np.maximum.at(bonus, snap.ref_src[back], score[snap.ref_dst[back]])
        # Only documents that match the query themselves move up; references alone add none.
        return score + rk.reference_boost * bonus * (score > 0)

    def _pin(self, snap: _Snapshot, plan: QueryPlan, allowed: np.ndarray) -> tuple[list[int], dict | None]:
        ref = plan.citation
        if ref is None:
            return [], None
        candidates = snap.catalogue.resolve(ref.law_text, plan.places) if ref.law_text else []
        citation: dict[str, object] = {"law": ref.law_text, "article_number": ref.number, "label": ref.label,
                                       "regulation_id": None, "regulation_title": None, "key": None}
        if not candidates:
            return [], citation
        for entry in candidates:
            same = (snap.regulation == entry.regulation_id) & snap.live & (snap.article == ref.number)
            # The text asked for (in force today, or on the date given), else today's text.
            docs = np.flatnonzero(same & allowed)
            if not docs.size:
                docs = np.flatnonzero(same & ~snap.historical)
            if not docs.size:
                continue
            # 第十条之一 and 第十条 share the number: prefer the exact label.
            exact = [int(d) for d in docs if snap.stored[d].get("article_label") == ref.label]
            target = exact[0] if exact else int(docs[0])
            citation.update(regulation_id=entry.regulation_id, regulation_title=entry.title,
                            key=snap.stored[target].get("key"))
            if not allowed[target]:
                return [], citation
            pinned = [target]
            pinned.extend(d for d in self._cross_references(snap, target, entry.regulation_id)
                          if allowed[d] and d not in pinned)
            pinned = pinned[: 1 + self.ranking.cross_refs]
            if len(pinned) < 1 + self.ranking.cross_refs:
                similar = self._similar(snap, target, entry.regulation_id, allowed)
                pinned.extend(d for d in similar if d not in pinned)
            return pinned[: 1 + self.ranking.cross_refs], citation
        citation.update(regulation_id=candidates[0].regulation_id, regulation_title=candidates[0].title)
        return [], citation

    def _similar(self, snap: _Snapshot, target: int, regulation_id: int, allowed: np.ndarray,
                 limit: int = 10) -> list[int]:
        """Articles of the same regulation whose wording is closest to ``target``'s (a penalty
        article repeats the duties it punishes)."""
        body = snap.stored[target].get("body") or ""
        counts: dict[str, int] = {}
        for term in analysis.index_terms(body, self.analysis_mode):
            if len(term) >= 2:
                counts[term] = counts.get(term, 0) + 1
        n_docs = max(1, snap.doc_count)
        weighted = []
        for term, tf in counts.items():
            df = snap.doc_frequency("body", term)
            if df and df < self.ranking.common_term_ratio * n_docs:
                idf = math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
                weighted.append((math.sqrt(tf) * idf, term, idf))
        weighted.sort(reverse=True)
        same = (snap.regulation == regulation_id) & allowed & (snap.article >= 0)
        same[target] = False
        score = np.zeros(snap.n, dtype=np.float32)
        k1 = self.ranking.k1
        for _w, term, idf in weighted[:20]:
            ids, tf = snap.postings("body", term)
            score[ids] += idf * tf * (k1 + 1.0) / (tf + snap.norms["body"][ids])
        score[~same] = 0
        cand = np.flatnonzero(score > 0)
        cand = cand[np.argsort(-score[cand], kind="stable")][:limit]
        return [int(d) for d in cand]

    _ARTICLE_REF_RE = re.compile(r"第([零〇一二两三四五六七八九十百千0-9]+)条")

    def _cross_references(self, snap: _Snapshot, target: int, regulation_id: int) -> list[int]:
        """Articles of the same regulation that ``target`` cites, then those citing it."""
        from portal.numerals import chinese_to_int

        same = np.flatnonzero((snap.regulation == regulation_id) & snap.live & (snap.article > 0))
        by_number = {int(snap.article[d]): int(d) for d in same}
        body = snap.stored[target].get("body") or ""
        number = int(snap.article[target])
        out: list[int] = []
        for m in self._ARTICLE_REF_RE.finditer(body):
            n = chinese_to_int(m.group(1))
            if n and n != number and n in by_number and by_number[n] not in out:
                out.append(by_number[n])
        label = snap.stored[target].get("article_label") or ""
        if not label:
            return out
        cites = re.compile(re.escape(label) + "(?!之)")
        co_cited: list[int] = []
        for d in same:
            d = int(d)
            citing = snap.stored[d].get("body") or ""
            if d == target or not cites.search(citing):
                continue
            if d not in out:
                out.append(d)
            # An article cited as a pair with the target (未依照本法第四十四条、第四十五条的规定)
            # belongs to the same procedure: show it after the citing articles.  Longer lists
            # (第三十三条、第三十四条、第三十五条规定的罚款数额) only enumerate siblings.
            for sentence in re.split(r"[。；;]", citing):
                if not cites.search(sentence):
                    continue
                numbers = {chinese_to_int(m.group(1)) for m in self._ARTICLE_REF_RE.finditer(sentence)}
                numbers.discard(number)
                if len(numbers) == 1:
                    (n,) = numbers
                    if n in by_number and by_number[n] != d:
                        co_cited.append(by_number[n])
        out.extend(d for d in dict.fromkeys(co_cited) if d not in out)
        return out

    def _facets(self, snap: _Snapshot, matched: np.ndarray,
                names: Sequence[str] = FACETS) -> dict[str, list[tuple[str, int]]]:
        out: dict[str, list[tuple[str, int]]] = {}
        for facet in names:
            codes = snap.facets[facet][matched]
            codes = codes[codes >= 0]
            if not codes.size:
                out[facet] = []
                continue
            counts = np.bincount(codes)
            nz = np.flatnonzero(counts)
            pairs = [(self._codes.value(facet, int(c)), int(counts[c])) for c in nz]
            pairs.sort(key=lambda p: (-p[1], p[0]))
            out[facet] = pairs
        return out

    def _hit(self, snap: _Snapshot, docnum: int, score: float, pattern: re.Pattern | None) -> SearchHit:
        d = snap.stored[docnum]
        return SearchHit(
            doc_type=d.get("doc_type", ""),
            doc_id=d.get("doc_id", ""),
            title=d.get("title") or "",
            url=d.get("url") or "",
            score=score if math.isfinite(score) else 1e9,
            snippet=make_snippet(d.get("body") or d.get("title") or "", (), pattern=pattern),
            regulation_id=d.get("regulation_id"),
            regulation_title=d.get("regulation_title"),
            article_number=d.get("article_number"),
            article_label=d.get("article_label"),
            level=d.get("level"),
            status=d.get("status"),
            region=d.get("region"),
            extra=dict(d.get("extra") or {}),
        )


def _dir_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


def _start_rebuild_worker(words: list[str]) -> None:
    """A rebuild worker: dies with the process that started it (a ``kill -9`` of ``portal
    reindex`` once left a worker segmenting at full CPU), and cuts text as its parent does."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent died before the line above took effect
            os._exit(1)
    except OSError:  # not Linux: the pool's own shutdown is all there is
        pass
    analysis.warm_up_as(words)


def _fingerprint(directory: Path, snap: _Snapshot) -> dict[str, tuple[int, int]]:
    """Size and modification time of the segment files a snapshot reads (a stat each: cheap
    enough for every refresh check)."""
    out: dict[str, tuple[int, int]] = {}
    for seg, _offset in snap.segments:
        # Only the compound segment file: it is written once; deletions live elsewhere.
        for path in directory.glob(seg.reader.segment().segment_id() + ".seg"):
            try:
                stat = path.stat()
            except OSError:
                continue
            out[path.name] = (stat.st_size, stat.st_mtime_ns)
    return out


def from_settings(settings: dict) -> WhooshSearchService:
    """Build the service from Pyramid settings:

    - ``portal.index_dir`` (default ``var/index``)
    - ``portal.search.synonyms`` (default ``<portal.knowledge_base>/synonyms.yaml``)
    - ``portal.search.analysis`` (``combined`` | ``jieba`` | ``bigram``; default combined; a change
      makes health() ask for a rebuild)
    - ``portal.search.refresh_interval`` seconds between checks for commits made by other
      processes (default 1.0; this process's own commits are seen at once)
    - ``portal.search.rebuild_memory_mb`` memory for sorting postings during a rebuild (default
      1024: the whole library sorts in memory; less spills to disk and takes about twice as long)
    - ``portal.search.rebuild_workers`` processes that segment texts during a rebuild (default: one
      per core; 1 segments in the rebuilding process itself)
    """
    synonyms = settings.get("portal.search.synonyms")
    if not synonyms and settings.get("portal.knowledge_base"):
        default = Path(settings["portal.knowledge_base"]) / "synonyms.yaml"
        synonyms = default if default.exists() else None
    return WhooshSearchService(
        settings.get("portal.index_dir", "var/index"),
        synonyms,
        analysis_mode=settings.get("portal.search.analysis", analysis.DEFAULT_MODE),
        refresh_interval=float(settings.get("portal.search.refresh_interval", 1.0)),
        rebuild_memory_mb=int(settings.get("portal.search.rebuild_memory_mb", 1024)),
        rebuild_workers=int(workers) if (workers := settings.get("portal.search.rebuild_workers")) else None,
    )
