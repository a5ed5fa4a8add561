"""The Whoosh implementation of :class:`~portal.search.interfaces.ISearchService`: the façade that
callers use, over the pieces that change separately:

- :mod:`portal.search.indexing`: what a document becomes in the index (schema, fields, places);
- :mod:`portal.search.storage`: the index directory, generations, the writer, rebuilds, deleted
  copies and their merge, corruption checks;
- :mod:`portal.search.snapshot`: the read side (segments, postings, masks) as numpy arrays;
- :mod:`portal.search.ranking`: scoring, evidence, priors, citations (one stage per function);
- :mod:`portal.search.presentation`: hits, snippets, highlights, facets.

Ranking in one paragraph: BM25 per field (title, regulation title, body, chapter), summed over
the query's concepts (query words and their synonyms, synonyms weighted lower); a multiplicative
prior for the places the query names (and, for a city, its province's own texts) and for texts in
force; an exact citation pins its article first, followed by the articles it cites or that cite
it; evidence beyond an article's own words (loose characters, neighbouring articles, references,
the regulation's other articles) each adds a small share of another score.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from zope.interface import implementer

from portal.search import analysis
from portal.search.indexing import FACETS, places_of
from portal.search.interfaces import (
    ISearchService,
    SearchDocument,
    SearchQuery,
    SearchResults,
    SearchUnavailable,
)
from portal.search.presentation import facet_counts, highlight_pattern, hit, make_snippet
from portal.search.query import QueryPlanner, SynonymTable
from portal.search.ranking import Ranker, Ranking, top_order
from portal.search.ranking.citations import pin, successors_first
from portal.search.snapshot import Snapshot, SnapshotSource
from portal.search.storage import BUILDING_LOCK, IndexCorrupt, IndexMissing, IndexStore, dir_size

log = logging.getLogger(__name__)

# Names other modules and tests import from here.
__all__ = ["BUILDING_LOCK", "IndexCorrupt", "IndexMissing", "Ranking", "SearchUnavailable", "WhooshSearchService",
           "from_settings", "make_snippet", "places_of"]

_MAX_PAGE_SIZE = 100
_MAX_PAGE = 1000


@implementer(ISearchService)
class WhooshSearchService:
    """Full-text search over a Whoosh index directory.  Thread-safe; one instance per process.

    ``search()`` never raises for odd input; it raises :class:`SearchUnavailable` when the
    index is missing or corrupt (``health()`` then says so): the caller rebuilds.
    """

    def __init__(self, index_dir: str | os.PathLike[str], synonyms_path: str | os.PathLike[str] | None = None, *,
                 analysis_mode: str = analysis.DEFAULT_MODE, ranking: Ranking | None = None,
                 refresh_interval: float = 1.0, writer_timeout: float = 120.0, rebuild_memory_mb: int = 1024,
                 rebuild_workers: int | None = None, merge_deleted_share: float = 0.1,
                 merge_deleted_min: int = 500) -> None:
        if analysis_mode not in analysis.MODES:
            raise ValueError(f"unknown analysis mode {analysis_mode!r}")
        self.index_dir = Path(index_dir)
        self.synonyms_path = Path(synonyms_path) if synonyms_path else None
        self.analysis_mode = analysis_mode
        self.ranking = ranking or Ranking()
        # Share of deleted copies in the segments past which the projection merges them away in
        # the background (0: never).
        self.merge_deleted_share = merge_deleted_share
        # ... and at least this many: a few hundred copies cost no measurable time, and Whoosh
        # merges small segments by itself (a test database or a quiet day never starts a merge).
        self.merge_deleted_min = merge_deleted_min
        self.synonyms = SynonymTable.load(self.synonyms_path)
        self.planner = QueryPlanner(self.synonyms, analysis_mode)
        self.ranker = Ranker(self.ranking, analysis_mode)
        self._segmenter_ready = False
        self.store = IndexStore(
            self.index_dir, analysis_mode, writer_timeout=writer_timeout, rebuild_memory_mb=rebuild_memory_mb,
            # None: one worker per core; 0 or 1: all in the rebuilding process.
            rebuild_workers=(os.cpu_count() or 1) if rebuild_workers is None else rebuild_workers,
            on_commit=self._committed, ensure_segmenter=self._ensure_segmenter)
        self.source = SnapshotSource(self.store, self.ranking, refresh_interval)
        # Doc types a query without a type filter searches (empty: all of them).  Set by the
        # document providers: the regulations library is searched by default, while catalogue
        # entries (dozens of near-identical 井盖 item types) are asked for by type and shown
        # beside the results, so they never crowd the articles out of the first page.
        self.default_doc_types: set[str] = set()

    def _committed(self) -> None:
        self.source.mark_stale()

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
            snap = self.source.current()
            # Exercise every code path once (planning, places, synonyms, citations, snippets) and
            # read the postings of the field's most frequent words, so the first user pays for none.
            for text in self.WARM_UP_QUERIES:
                self._search(snap, SearchQuery(text=text))
        except SearchUnavailable as exc:
            log.warning("search index unavailable at start-up: %s", exc)

    def close(self) -> None:
        self.source.close()

    def _ensure_segmenter(self) -> None:
        """The segmenter must know the synonym words before any text is cut, in every process
        (the CLI indexes without the app's warm-up), or the same word would be cut differently
        at indexing and at query time."""
        if not self._segmenter_ready:
            analysis.warm_up(self.synonyms.words())
            self._segmenter_ready = True

    # ------------------------------------------------------------------ health

    def health(self) -> dict[str, object]:
        try:
            snap = self.source.current()
        except SearchUnavailable as exc:
            return {"ok": False, "documents": 0, "error": str(exc), "index_dir": str(self.index_dir),
                    "rebuilding": self.store.rebuilding}
        except Exception as exc:  # noqa: BLE001 - health never raises: it reports
            return {"ok": False, "documents": 0, "error": repr(exc), "index_dir": str(self.index_dir)}
        return {
            "ok": True,
            "documents": snap.doc_count,
            "deleted_copies": snap.n - snap.doc_count,
            "generation": snap.generation,
            "segments": len(snap.segments),
            "analysis": self.analysis_mode,
            "synonyms": len(self.synonyms),
            "index_dir": str(self.index_dir),
            "size_bytes": dir_size(self.index_dir / snap.generation),
            "rebuilding": self.store.rebuilding,
        }

    def document_count(self) -> int:
        return self.source.current().doc_count

    # ------------------------------------------------------------------ writing

    def index(self, documents: Iterable[SearchDocument]) -> int:
        docs = list(documents)
        if not docs:
            return 0
        return self.store.index(docs, self.source.live_index())

    def delete(self, keys: Iterable[str]) -> int:
        wanted = [k for k in keys if k]
        if not wanted:
            return 0
        return self.store.delete(wanted, self.source.live_index())

    def rebuild(self, documents: Iterable[SearchDocument],
                progress: Callable[[int], None] | None = None) -> int:
        """Write a new generation beside the live one and switch CURRENT to it atomically.
        Searches keep using the old generation until the switch."""
        _name, count = self.store.rebuild(documents, progress)
        try:
            self.source.current()
        except SearchUnavailable:  # pragma: no cover - freshly built
            log.exception("fresh index unreadable")
        return count

    def remove_partial_generations(self) -> list[str]:
        """Remove the directories of builds that died half-way; returns their names."""
        return self.store.remove_partial_generations()

    def deleted_share(self) -> float:
        """Share of the searched snapshot's documents that are deleted copies awaiting a merge
        (read from memory: cheap enough for every poll)."""
        snap = self.source.current()
        return (snap.n - snap.doc_count) / snap.n if snap.n else 0.0

    def _merge_wanted(self, copies: int, total: int, share: float) -> bool:
        return share > 0 and copies >= max(1, self.merge_deleted_min) and copies >= share * total

    def merge_due(self) -> bool:
        """Whether the searched snapshot's deleted copies have passed both thresholds."""
        snap = self.source.current()
        return self._merge_wanted(snap.n - snap.doc_count, snap.n, self.merge_deleted_share)

    def merge_deleted(self, min_share: float | None = None) -> int:
        """Merge the deleted copies out of the segments when there are at least
        ``merge_deleted_min`` and their share is at least ``min_share`` (default:
        ``merge_deleted_share``); returns how many were dropped (0: no merge). Searches
        meanwhile answer from the snapshot they hold; the next one after the merge reads the
        merged segment."""
        if self.store.rebuilding:
            return 0
        ix = self.store.writable_index(self.source.live_index())
        total = int(ix.doc_count_all())
        copies = total - int(ix.doc_count())
        if not self._merge_wanted(copies, total, self.merge_deleted_share if min_share is None else min_share):
            return 0
        self.source.hold()
        try:
            dropped = self.store.merge_deleted(ix)
        finally:
            self.source.switch()  # searches move to the merged segment once it is read
        log.info("search index: merged %d deleted copies away (%d documents in the segments)", dropped, total)
        return dropped

    # ------------------------------------------------------------------ searching

    def search(self, query: SearchQuery) -> SearchResults:
        snap = self.source.current()
        try:
            return self._search(snap, query)
        except SearchUnavailable:
            raise
        except Exception as exc:  # unreadable postings mean a broken index, not bad input
            # Unreadable postings (zlib, struct, Whoosh's "Block tag error" …): the files changed
            # or broke under us. The caller answers 503 and rebuilds; health() says so meanwhile.
            log.exception("search failed on index generation %s", snap.generation)
            self.source.mark_stale()
            self.source.error = f"search failed: {exc!r}"
            raise IndexCorrupt(self.source.error) from exc

    def _search(self, snap: Snapshot, query: SearchQuery) -> SearchResults:
        page = min(max(1, int(query.page or 1)), _MAX_PAGE)
        size = min(max(1, int(query.page_size or 10)), _MAX_PAGE_SIZE)
        text = query.text if isinstance(query.text, str) else str(query.text or "")
        self._ensure_segmenter()
        plan = self.planner.plan(text, snap.places)
        empty = SearchResults(query=query, total=0, hits=[], facets={f: [] for f in FACETS})
        if plan.empty or snap.n == 0:
            return empty
        codes = self.source.codes
        filtered = snap.filter_mask(codes, query)
        if filtered is None:
            return empty
        of_type = snap.type_mask(codes, tuple(query.doc_types) or tuple(sorted(self.default_doc_types)))
        # Types absent from the index match nothing, but the type facet still counts the others.
        allowed = filtered & of_type if of_type is not None else np.zeros(snap.n, dtype=bool)
        dated = query.in_force_on is not None
        score = self.ranker.score(snap, plan, dated)
        pinned, citation = pin(snap, self.ranking, self.analysis_mode, plan, allowed)
        if plan.citation is not None and not pinned:
            # Not a citation of an indexed article after all: search the law name's words too and
            # put articles with the cited number (the article label) first among the matches.
            number = plan.citation.number
            plan = self.planner.plan(text, snap.places, keep_law_words=True)
            score = self.ranker.score(snap, plan, dated) if plan.groups else np.zeros(snap.n, dtype=np.float32)
            numbered: np.ndarray = snap.article == (plan.citation.number if plan.citation is not None else number)
            top = float(score.max()) if score.size else 0.0
            if top > 0:
                score = score + np.where(numbered & (score > 0), top, 0.0).astype(np.float32)
            else:
                score = numbered.astype(np.float32)
        matched = (score > 0) & allowed
        if pinned:
            matched[pinned] = True
        total = int(matched.sum())
        facets = facet_counts(snap, codes, matched)
        # The type facet counts the matches of every type, so "权责条目 (12)" shows while only
        # regulations are listed.
        facets["doc_type"] = facet_counts(snap, codes, (score > 0) & filtered, ("doc_type",))["doc_type"]
        need = page * size
        order = top_order(score, matched, pinned, need)
        if not dated and snap.successor:
            order = successors_first(snap, order, allowed, len(pinned))[:need]
        page_docs = order[(page - 1) * size : page * size]
        pattern = highlight_pattern(plan.highlight)
        hits = [hit(snap, d, float(score[d]) if d not in pinned else float("inf"), pattern) for d in page_docs]
        return SearchResults(query=query, total=total, hits=hits, facets=facets, citation=citation)


def from_settings(settings: dict[str, Any]) -> WhooshSearchService:
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
    - ``portal.search.merge_deleted_share`` share of deleted copies (documents re-indexed or
      deleted since the segments were written, e.g. by the daily date refresh) past which the
      node merges them away in a background thread (default 0.1; 0 never merges). Cold queries
      decode the dead copies' postings too: up to 40 % slower before a merge.
    - ``portal.search.merge_deleted_min`` ... and at least this many deleted copies (default 500)
    """
    synonyms = settings.get("portal.search.synonyms")
    if not synonyms and settings.get("portal.knowledge_base"):
        default = Path(settings["portal.knowledge_base"]) / "synonyms.yaml"
        synonyms = default if default.exists() else None
    workers = settings.get("portal.search.rebuild_workers")
    return WhooshSearchService(
        settings.get("portal.index_dir", "var/index"),
        synonyms,
        analysis_mode=settings.get("portal.search.analysis", analysis.DEFAULT_MODE),
        refresh_interval=float(settings.get("portal.search.refresh_interval", 1.0)),
        rebuild_memory_mb=int(settings.get("portal.search.rebuild_memory_mb", 1024)),
        rebuild_workers=int(workers) if workers else None,
        merge_deleted_share=float(settings.get("portal.search.merge_deleted_share", 0.1)),
        merge_deleted_min=int(settings.get("portal.search.merge_deleted_min", 500)),
    )
