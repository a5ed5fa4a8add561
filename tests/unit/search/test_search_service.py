"""The Whoosh search service on synthetic regulations."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from pathlib import Path

import pytest

from portal.search.interfaces import ISearchService, SearchDocument, SearchQuery
from portal.search.whoosh_index import (
    Ranking,
    SearchUnavailable,
    WhooshSearchService,
    make_snippet,
    places_of,
)

from .conftest import BJ, LAW, ROAD, SH, TRAFFIC, article, corpus


def keys(results) -> list[str]:
    return [f"{h.doc_type}:{h.doc_id}" for h in results.hits]


def test_provides_the_interface(service):
    assert ISearchService.providedBy(service)


def test_short_word_finds_longer_compound_via_bigrams(service):
    # 井盖 is inside 窨井盖 (Shanghai) and stands alone (Beijing).
    found = keys(service.search(SearchQuery(text="井盖")))
    assert "article:2-5" in found
    assert "article:3-31" in found


def test_compound_finds_texts_using_other_words_via_synonyms(service):
    found = keys(service.search(SearchQuery(text="窨井盖")))
    # 检查井 (national road regulation) only matches through the synonym file.
    assert "article:1-23" in found
    assert "article:2-5" in found


def test_colloquial_word_expands_to_legal_wording(service):
    found = keys(service.search(SearchQuery(text="摆摊")))
    assert {"article:1-27", "article:2-25", "article:3-25"} <= set(found)


def test_question_words_do_not_dominate(service):
    results = service.search(SearchQuery(text="请问井盖丢了怎么办呢？是不是要找谁"))
    assert results.hits
    assert {keys(results)[0]} <= {"article:3-31", "article:2-5", "article:1-23"}


def test_place_in_query_prefers_that_region(service):
    results = service.search(SearchQuery(text="上海 摆摊 罚多少"))
    assert keys(results)[0] == "article:2-25"
    results = service.search(SearchQuery(text="北京 摆摊 罚多少"))
    assert keys(results)[0] == "article:3-25"


def test_filters(service):
    only_sh = service.search(SearchQuery(text="设摊", region="上海"))
    assert keys(only_sh) == ["article:2-25"]
    assert all(h.level == "法律" for h in service.search(SearchQuery(text="道路", level="法律")).hits)
    assert service.search(SearchQuery(text="道路", level="不存在的级别")).total == 0
    regs = service.search(SearchQuery(text="示范", doc_types=("regulation",)))
    assert regs.hits and all(h.doc_type == "regulation" for h in regs.hits)
    one = service.search(SearchQuery(text="设摊", regulation_id=3))
    assert keys(one) == ["article:3-25"]
    by_authority = service.search(SearchQuery(text="设摊", authority="国务院"))
    assert keys(by_authority) == ["article:1-27"]
    repealed = service.search(SearchQuery(text="噪声", status="已废止"))
    assert set(keys(repealed)) == {"article:5-3", "regulation:5"}


def test_in_force_on_date(service):
    old = service.search(SearchQuery(text="噪声", doc_types=("article",), in_force_on=dt.date(2005, 6, 1)))
    assert keys(old) == ["article:5-3"]
    assert service.search(SearchQuery(text="噪声", in_force_on=dt.date(2015, 6, 1))).total == 0
    # Beijing's text only starts in 2020.
    before = keys(service.search(SearchQuery(text="设摊", in_force_on=dt.date(2019, 6, 1))))
    assert "article:3-25" not in before and "article:2-25" in before


def test_facets_count_the_filtered_result_set(service):
    results = service.search(SearchQuery(text="设摊"))
    facets = dict(results.facets["region"])
    assert facets == {"上海": 1, "北京": 1}
    assert dict(results.facets["doc_type"]) == {"article": results.total}
    assert sum(n for _v, n in results.facets["level"]) == results.total
    filtered = service.search(SearchQuery(text="设摊", level="地方性法规"))
    assert dict(filtered.facets["level"]) == {"地方性法规": 2}
    assert set(results.facets) == {"doc_type", "level", "status", "region", "authority"}


def test_types_outside_the_default_scope_are_asked_for_by_type(fresh_service):
    item = SearchDocument(doc_type="duty", doc_id="7", title="井盖（部件）", body="又称：窨井盖、检查井 权属：示范区供水公司",
                          url="/catalogue/item-types/0101")
    fresh_service.index([item])
    fresh_service.default_doc_types.update({"regulation", "article"})
    plain = fresh_service.search(SearchQuery(text="井盖"))
    assert plain.hits and "duty:7" not in keys(plain)
    # The type facet still counts the catalogue entry, so the page can offer it.
    assert dict(plain.facets["doc_type"])["duty"] == 1
    assert dict(plain.facets["doc_type"])["article"] == plain.total
    assert keys(fresh_service.search(SearchQuery(text="井盖", doc_types=("duty",)))) == ["duty:7"]
    fresh_service.default_doc_types.clear()  # no scope declared: every type
    assert "duty:7" in keys(fresh_service.search(SearchQuery(text="井盖", page_size=50)))


def test_pagination(service):
    first = service.search(SearchQuery(text="养护记录", page=1, page_size=10))
    second = service.search(SearchQuery(text="养护记录", page=2, page_size=10))
    assert first.total >= 30 and first.total == second.total
    assert first.pages == -(-first.total // 10)
    assert len(first.hits) == 10 and len(second.hits) == 10
    assert not set(keys(first)) & set(keys(second))
    beyond = service.search(SearchQuery(text="养护记录", page=99, page_size=10))
    assert beyond.hits == [] and beyond.total == first.total
    # Out-of-range page sizes are clamped, never an error.
    assert len(service.search(SearchQuery(text="养护记录", page=0, page_size=-5)).hits) == 1
    assert len(service.search(SearchQuery(text="养护记录", page_size=10_000)).hits) == min(100, first.total)


def test_snippets_are_escaped_and_highlighted(service):
    hit = service.search(SearchQuery(text="窨井盖")).hits[0]
    assert "<mark>" in hit.snippet
    text = make_snippet("提示<b>窨井盖</b>丢失 & 破损", ["窨井盖", "井盖"])
    assert text == "提示&lt;b&gt;<mark>窨井盖</mark>&lt;/b&gt;丢失 &amp; 破损"
    # Bigrams of one word merge into one mark.
    assert make_snippet("强制拆除", ["强制", "制拆", "拆除"]) == "<mark>强制拆除</mark>"
    # Full-width input matches half-width query terms without shifting the marks.
    assert make_snippet("第６３条规定", ["63"]) == "第<mark>６３</mark>条规定"
    long = make_snippet("甲" * 300 + "井盖" + "乙" * 300, ["井盖"], width=40)
    assert "<mark>井盖</mark>" in long and long.startswith("…") and long.endswith("…")
    assert make_snippet("没有匹配的文字", ["井盖"]) == "没有匹配的文字"


@pytest.mark.parametrize("query, expected", [
    ("示范城市道路管理条例 第二十三条", "article:1-23"),
    ("示范城市道路管理条例第23条", "article:1-23"),
    ("《示范城市道路管理条例》第二十七条", "article:1-27"),
    ("示范道路交通安全法第90条", "article:4-90"),  # short title: 中华人民共和国 dropped
    ("中华人民共和国示范道路交通安全法 第五条", "article:4-5"),
    ("示范道交法第五条", "article:4-5"),  # abbreviation
    ("示范道路交通安全法90条", "article:4-90"),  # 第 left out after a law name
    ("上海市示范市容管理条例 第25条", "article:2-25"),
])
def test_exact_citations_come_first(service, query, expected):
    results = service.search(SearchQuery(text=query))
    assert keys(results)[0] == expected
    assert results.citation and results.citation["key"] == expected


def test_citation_brings_the_articles_it_is_linked_with(service):
    results = service.search(SearchQuery(text=f"{ROAD}第27条"))
    assert keys(results)[:2] == ["article:1-27", "article:1-42"]  # 第四十二条 punishes 第二十七条


def test_citation_brings_the_article_cited_as_its_pair(tmp_path, synonyms_file):
    law = "中华人民共和国示范处罚法"
    docs = [
        article(7, law, 44, "第四十四条", "行政机关作出处罚决定之前，应当告知当事人拟作出的处罚内容。", **LAW),
        article(7, law, 45, "第四十五条", "当事人有权进行陈述和申辩。", **LAW),
        article(7, law, 50, "第五十条", "行政机关作出处罚决定之前，应当告知当事人处罚内容并听取意见。", **LAW),
        article(7, law, 62, "第六十二条", "未依照本法第四十四条、第四十五条的规定告知当事人的，不得作出处罚决定。", **LAW),
        article(7, law, 70, "第七十条", "本法第四十四条、第五十条、第六十二条规定的期限，不含法定节假日。", **LAW),
    ]
    svc = WhooshSearchService(tmp_path / "index", synonyms_file, refresh_interval=0,
                              ranking=Ranking(cross_refs=3))
    svc.rebuild(docs)
    try:
        got = keys(svc.search(SearchQuery(text="示范处罚法第44条")))
        # 62 cites it; 45 is cited beside it there; 70's longer list only enumerates, so its
        # other members (50) come after, as merely similar wording.
        assert got[:3] == ["article:7-44", "article:7-62", "article:7-70"]
        assert got[3] == "article:7-45"
    finally:
        svc.close()


def test_citation_of_unknown_article_does_not_break(service):
    results = service.search(SearchQuery(text=f"{ROAD}第999条"))
    assert results.citation["regulation_id"] == 1 and results.citation["key"] is None


def test_citation_respects_filters(service):
    results = service.search(SearchQuery(text=f"{ROAD}第23条", level="法律"))
    assert "article:1-23" not in keys(results)


@pytest.mark.parametrize("text", [
    '"井盖', "井盖)", "AND OR NOT", "*?:~^", "井盖 AND (摆摊 OR", "？？？！！！", "。，、；：",
    "井" * 5000, "第条", "第零条", "第99999999999条", "\x00\x01", "<script>alert(1)</script>", "   ",
    "", "条例第一百零五条之一", "道路" * 400, "🙂🙂", "title:井盖", "井盖~2", "[a TO z]",
])
def test_odd_input_never_raises(service, text):
    results = service.search(SearchQuery(text=text))
    assert results.total >= 0
    for hit in results.hits:
        assert "<script>" not in hit.snippet


def test_empty_query_returns_nothing(service):
    results = service.search(SearchQuery(text=""))
    assert results.total == 0 and results.hits == []


def test_index_update_and_delete(fresh_service):
    svc = fresh_service
    assert svc.search(SearchQuery(text="共享单车")).total == 0
    svc.index([article(2, SH, 40, "第四十条", "共享单车应当有序停放。", region="上海", level="地方性法规")])
    assert keys(svc.search(SearchQuery(text="共享单车"))) == ["article:2-40"]
    # Same key: replaced, not duplicated.
    svc.index([article(2, SH, 40, "第四十条", "共享单车应当停放在指定区域。", region="上海", level="地方性法规")])
    results = svc.search(SearchQuery(text="共享单车"))
    assert keys(results) == ["article:2-40"] and "指定区域" in results.hits[0].snippet
    assert svc.delete(["article:2-40"]) == 1
    assert svc.search(SearchQuery(text="共享单车")).total == 0
    assert svc.health()["documents"] == len(corpus())


def test_missing_index_is_reported_not_fatal(tmp_path: Path):
    svc = WhooshSearchService(tmp_path / "nowhere")
    svc.warm_up()  # never raises
    health = svc.health()
    assert health["ok"] is False and "no search index" in health["error"]
    with pytest.raises(SearchUnavailable):
        svc.search(SearchQuery(text="井盖"))
    with pytest.raises(SearchUnavailable):
        svc.index([article(1, ROAD, 1, "第一条", "道路")])
    svc.rebuild(corpus())
    assert svc.health()["ok"] is True
    assert svc.search(SearchQuery(text="井盖")).total > 0


def _corrupt(index_dir: Path) -> None:
    gen = (index_dir / "CURRENT").read_text().strip()
    for f in (index_dir / gen).iterdir():
        if f.suffix in (".toc", ".seg", ".trm", ".pst") or f.name.startswith("_MAIN"):
            f.write_bytes(b"\x00garbage" * 10)


def test_corrupt_index_is_detected_and_rebuilt(fresh_service):
    svc = fresh_service
    index_dir = svc.index_dir
    svc.close()
    _corrupt(index_dir)
    broken = WhooshSearchService(index_dir, refresh_interval=0)
    health = broken.health()
    assert health["ok"] is False
    with pytest.raises(SearchUnavailable):
        broken.search(SearchQuery(text="井盖"))
    assert broken.rebuild(corpus()) == len(corpus())
    assert broken.health()["ok"] is True
    assert broken.search(SearchQuery(text="井盖")).total > 0


def test_garbage_current_pointer_is_detected(fresh_service):
    (fresh_service.index_dir / "CURRENT").write_text("../../etc")
    fresh_service.close()
    assert fresh_service.health()["ok"] is False


def test_index_of_other_analysis_mode_asks_for_rebuild(built_index: Path):
    other = WhooshSearchService(built_index, analysis_mode="bigram")
    assert other.health()["ok"] is False
    assert "rebuild" in other.health()["error"]


def test_rebuild_swaps_generations_and_keeps_searching(fresh_service):
    svc = fresh_service
    before = svc.health()["generation"]
    docs = corpus() + [article(9, "示范新条例", 1, "第一条", "新增的垃圾分类条文。", level="地方性法规")]
    seen: list[int] = []
    assert svc.rebuild(docs, progress=seen.append) == len(docs)
    assert seen and seen[-1] == len(docs)
    after = svc.health()
    assert after["generation"] != before and after["documents"] == len(docs)
    assert keys(svc.search(SearchQuery(text="垃圾分类"))) == ["article:9-1"]
    gens = sorted(p.name for p in svc.index_dir.glob("gen-*"))
    assert len(gens) <= 2  # the previous generation is kept for other readers, older ones go


def test_failed_rebuild_leaves_the_live_index_alone(fresh_service):
    svc = fresh_service

    def broken_documents():
        yield from corpus()[:3]
        raise RuntimeError("database went away")

    before = svc.health()["generation"]
    with pytest.raises(RuntimeError):
        svc.rebuild(broken_documents())
    assert svc.health()["generation"] == before
    assert svc.search(SearchQuery(text="井盖")).total > 0


def test_other_process_commits_are_picked_up(fresh_service, synonyms_file):
    reader = WhooshSearchService(fresh_service.index_dir, synonyms_file, refresh_interval=0)
    assert reader.search(SearchQuery(text="共享单车")).total == 0
    fresh_service.index([article(2, SH, 41, "第四十一条", "共享单车的停放。", region="上海")])
    assert reader.search(SearchQuery(text="共享单车")).total == 1
    reader.close()


def test_concurrent_searches_and_writes(fresh_service):
    svc = fresh_service
    errors: list[BaseException] = []

    def searcher():
        try:
            for _ in range(30):
                svc.search(SearchQuery(text="道路 井盖 设摊"))
        except BaseException as exc:  # noqa: BLE001 - reported below  # pragma: no cover
            errors.append(exc)

    def writer():
        try:
            for n in range(200, 210):
                svc.index([article(1, ROAD, n, f"第{n}条", f"并发写入的道路条文{n}。")])
        except BaseException as exc:  # noqa: BLE001 - reported below  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(4)] + [threading.Thread(target=writer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert svc.search(SearchQuery(text="并发写入")).total == 10


def test_a_commit_while_a_snapshot_is_read_is_found_by_the_next_search(fresh_service, monkeypatch):
    from portal.search import snapshot as snapshot_module

    svc = fresh_service
    svc.index([article(1, ROAD, 300, "第三百条", "先行登记的条文。")])  # the next search reads anew
    original = snapshot_module.Snapshot.__init__
    committed: list[int] = []

    def commit_meanwhile(self, *args, **kwargs):
        # Another thread's commit lands after the searcher was opened, before the snapshot is made.
        if not committed:
            committed.append(svc.index([article(1, ROAD, 301, "第三百零一条", "快照期间补录的条文。")]))
        original(self, *args, **kwargs)

    monkeypatch.setattr(snapshot_module.Snapshot, "__init__", commit_meanwhile)
    assert svc.search(SearchQuery(text="先行登记")).total == 1
    monkeypatch.setattr(snapshot_module.Snapshot, "__init__", original)
    assert committed and svc.search(SearchQuery(text="快照期间补录")).total == 1


def test_places_of_documents():
    doc = article(7, "杭州市示范垃圾条例", 1, "第一条", "正文",
                  authority="杭州市人民代表大会常务委员会（浙江省人民代表大会常务委员会批准）", level="地方性法规")
    assert places_of(doc) == ["杭州", "浙江"]
    assert places_of(article(8, TRAFFIC, 1, "第一条", "正文", authority="全国人民代表大会常务委员会")) == []
    assert "浦东" in places_of(article(9, "上海市浦东新区示范规定", 1, "第一条", "正文"))
    assert places_of(article(10, BJ, 1, "第一条", "正文", region="北京市")) == ["北京"]


def test_health_reports_size_and_counts(service):
    health = service.health()
    assert health["ok"] is True
    assert health["documents"] == len(corpus())
    assert health["size_bytes"] > 0
    assert health["analysis"] == "combined"


def test_unresolved_citation_falls_back_to_the_article_label(service):
    bare = service.search(SearchQuery(text="第二十五条"))
    assert set(keys(bare)) == {"article:2-25", "article:3-25"}
    unknown_law = service.search(SearchQuery(text="上海市示范市容条例第25条"))  # not the exact title
    assert keys(unknown_law)[0] == "article:2-25"
    missing_article = service.search(SearchQuery(text=f"{ROAD}第999条"))
    assert missing_article.hits and all(h.regulation_id == 1 for h in missing_article.hits[:3])


def test_a_rebuild_segmented_by_worker_processes_equals_one_done_in_process(tmp_path, synonyms_file):
    queries = ["马路上窨井盖丢了谁负责", "上海摆摊罚多少", "违建 拆除", "示范城市道路管理条例第二十三条", "噪音"]
    results = []
    for workers in (1, 2):
        svc = WhooshSearchService(tmp_path / f"index-{workers}", synonyms_file, refresh_interval=0,
                                  rebuild_workers=workers)
        svc.parallel_from = 5  # the synthetic corpus is small: hand most of it to the workers
        assert svc.rebuild(corpus()) == len(corpus())
        results.append([[(h.doc_type, h.doc_id, round(h.score, 4), h.snippet) for h in svc.search(SearchQuery(text=q)).hits]
                        for q in queries])
        svc.close()
    assert results[0] == results[1] and all(results[0])


def test_older_texts_answer_only_searches_for_a_past_date(tmp_path, synonyms_file):
    older = {"level": "行政法规", "status": "历史版本", "authority": "国务院", "valid_from": dt.date(2000, 1, 1),
             "valid_to": dt.date(2018, 12, 31)}
    old_23 = article(1, ROAD, 23, "第二十三条", "设在道路上的检查井、箱盖缺损的，产权单位应当在四十八小时内补缺。",
                     **older)
    old_23 = dataclasses.replace(old_23, doc_id="1-23@1", extra={"historical": "1", "version": "1"})
    svc = WhooshSearchService(tmp_path / "index", synonyms_file, refresh_interval=0)
    svc.rebuild(corpus() + [old_23])
    today = svc.search(SearchQuery(text="检查井 补缺"))
    assert "article:1-23" in keys(today) and "article:1-23@1" not in keys(today)
    assert "article:1-23@1" not in keys(svc.search(SearchQuery(text="四十八小时")))  # words only it has
    then = svc.search(SearchQuery(text="检查井 补缺", in_force_on=dt.date(2010, 1, 1)))
    assert keys(then)[0] == "article:1-23@1" and "article:1-23" not in keys(then)
    # a citation of a past date pins the text of that date; without a date, today's
    cited = svc.search(SearchQuery(text="示范城市道路管理条例第二十三条", in_force_on=dt.date(2010, 1, 1)))
    assert keys(cited)[0] == "article:1-23@1"
    assert keys(svc.search(SearchQuery(text="示范城市道路管理条例第二十三条")))[0] == "article:1-23"
    # the older text does not change how today's texts rank
    plain = WhooshSearchService(tmp_path / "plain", synonyms_file, refresh_interval=0)
    plain.rebuild(corpus())
    for text in ("检查井 补缺", "摆摊 罚款", "违建"):
        assert [(h.doc_id, round(h.score, 4)) for h in plain.search(SearchQuery(text=text)).hits] == \
            [(h.doc_id, round(h.score, 4)) for h in svc.search(SearchQuery(text=text)).hits]
    svc.close()
    plain.close()


def test_re_indexing_documents_leaves_rankings_as_a_fresh_build_has_them(fresh_service):
    # Re-indexed documents leave deleted copies in their old segment until a merge; those must
    # neither answer nor count (the daily date refresh re-indexes thousands of articles).
    svc = fresh_service
    queries = ["检查井 补缺", "摆摊 罚款", "示范城市道路管理条例第二十七条", "井盖丢失"]

    def ranking():
        return [[(h.doc_id, round(h.score, 4)) for h in svc.search(SearchQuery(text=q)).hits] for q in queries]

    before = ranking()
    svc.index([d for d in corpus() if d.regulation_id in (1, 3)])
    assert svc.health()["documents"] == len(corpus())
    assert ranking() == before


def test_repair_removes_what_a_killed_rebuild_left_and_nothing_else(tmp_path):
    import fcntl

    from portal.search.whoosh_index import BUILDING_LOCK
    from tests.unit.search.conftest import article

    service = WhooshSearchService(tmp_path / "index")
    service.rebuild([article(1, "示范条例", 1, "第一条", "井盖缺失应当及时补装。")])
    current = (tmp_path / "index" / "CURRENT").read_text().strip()
    # What `kill -9` of `portal reindex` leaves: a generation with segments but no META_FILE.
    dead = tmp_path / "index" / "gen-20990101T000000-deadbeef"
    dead.mkdir()
    (dead / "MAIN_x.seg").write_bytes(b"half written")
    (dead / BUILDING_LOCK).write_text("")
    # A build still running in another process holds its lock: it must be left alone.
    live = tmp_path / "index" / "gen-20990101T000001-cafebabe"
    live.mkdir()
    with open(live / BUILDING_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert service.remove_partial_generations() == [dead.name]
    assert not dead.exists() and live.exists() and (tmp_path / "index" / current).exists()
    assert [h.doc_id for h in service.search(SearchQuery(text="井盖")).hits] == ["1-1"]
