"""Deleted copies (left in their segment by every re-index, thousands by the daily date refresh)
are merged away in the background once their share passes the threshold; searches answer
throughout, and rankings are those of a fresh build."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest

from portal.search.interfaces import SearchQuery
from portal.search.projection import SearchProjection
from portal.search.storage import IndexStore
from portal.search.whoosh_index import WhooshSearchService

from .conftest import corpus

QUERIES = ("窨井盖", "设摊 罚款", "道路 养护", "示范城市道路管理条例第二十三条")


def answers(svc: WhooshSearchService) -> list[list[tuple[float, str]]]:
    """Each query's hits with their scores; documents tied on score in any order (ties are
    broken by docnum, which a re-index or a merge changes)."""
    return [sorted((-round(h.score, 4), h.doc_id) for h in svc.search(SearchQuery(text=q, page_size=60)).hits)
            for q in QUERIES]


def projection_of(svc: WhooshSearchService, tmp_path: Path) -> SearchProjection:
    # The merge needs no database: only the node's writer lock beside the index.
    return SearchProjection(svc, session_factory=None, index_dir=tmp_path / "index")  # type: ignore[arg-type]


@pytest.fixture()
def svc(tmp_path: Path, synonyms_file: Path) -> WhooshSearchService:
    service = WhooshSearchService(tmp_path / "index", synonyms_file, refresh_interval=0, merge_deleted_share=0.2,
                                  merge_deleted_min=1)
    service.rebuild(corpus())
    yield service
    service.close()


def refresh(svc: WhooshSearchService, how_many: int) -> None:
    """What the daily date refresh does: re-index documents whose text did not change."""
    docs = [d for d in corpus() if d.doc_type == "article"][:how_many]
    svc.index([dataclasses.replace(d) for d in docs])


def test_past_the_threshold_a_background_merge_drops_the_copies_while_searches_answer(svc, tmp_path, monkeypatch):
    fresh = answers(svc)
    refresh(svc, 15)  # 15 of 62 documents in the segments are now deleted copies: 24 %
    assert svc.deleted_share() > 0.2 and svc.health()["deleted_copies"] == 15
    assert answers(svc) == fresh

    merging, release = threading.Event(), threading.Event()
    commit = IndexStore._commit_merge

    def slow_commit(writer):
        merging.set()
        assert release.wait(10)
        commit(writer)

    monkeypatch.setattr(IndexStore, "_commit_merge", staticmethod(slow_commit))
    thread = projection_of(svc, tmp_path).maybe_merge()
    assert thread is not None and merging.wait(10)
    during = answers(svc)  # the merge holds Whoosh's writer lock: searches are not held up
    release.set()
    thread.join(30)
    assert not thread.is_alive()
    assert during == fresh
    assert svc.deleted_share() == 0 and svc.health()["deleted_copies"] == 0
    assert svc.health()["documents"] == len(corpus())
    assert answers(svc) == fresh


def test_below_the_threshold_nothing_is_merged(svc, tmp_path):
    refresh(svc, 5)  # 5 of 52: under 20 %
    assert 0 < svc.deleted_share() < 0.2
    projection = projection_of(svc, tmp_path)
    assert projection.maybe_merge() is None
    assert projection.merge_deleted_copies() == 0
    assert svc.health()["deleted_copies"] == 5


@pytest.mark.parametrize(("share", "least"), [(0, 1), (0.2, 31)])
def test_a_threshold_of_zero_or_too_few_copies_never_merges(tmp_path, synonyms_file, share, least):
    svc = WhooshSearchService(tmp_path / "index", synonyms_file, refresh_interval=0, merge_deleted_share=share,
                              merge_deleted_min=least)
    svc.rebuild(corpus())
    refresh(svc, 30)  # 30 of 77: a share of 39 %, but fewer copies than asked for in the second case
    assert projection_of(svc, tmp_path).maybe_merge() is None and svc.merge_deleted() == 0
    assert svc.health()["deleted_copies"] == 30
    svc.close()


def test_the_daily_refresh_merges_once_past_the_threshold(svc, tmp_path, monkeypatch):
    projection = projection_of(svc, tmp_path)

    def refresh_dates() -> int:
        refresh(svc, 20)
        return 20

    monkeypatch.setattr(projection, "refresh_dates", refresh_dates)
    projection._dating.set()
    projection._refresh_dates_logged()  # what the poll's background thread runs
    assert svc.health()["deleted_copies"] == 0
