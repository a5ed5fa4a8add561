"""Ranking evidence beyond an article's own words: neighbouring articles, the regulation's other
articles, the province of a city named in the query, and single characters of the query
(texts written for the tests)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from portal.search.interfaces import SearchQuery
from portal.search.query import QueryPlanner, SynonymTable
from portal.search.whoosh_index import Ranking, WhooshSearchService

from .conftest import article, regulation

# Isolate one mechanism at a time: every extra evidence off, then the one under test on.
PLAIN = dataclasses.replace(Ranking(), neighbour_boost=0.0, regulation_weight=0.0, loose_weight=0.0,
                            enclosing_place_factor=Ranking().other_place_factor, reference_boost=0.0)


def _service(tmp_path: Path, docs, ranking: Ranking) -> WhooshSearchService:
    svc = WhooshSearchService(tmp_path / "index", None, ranking=ranking)
    svc.rebuild(docs)
    return svc


def _order(svc: WhooshSearchService, text: str) -> list[str]:
    return [h.doc_id for h in svc.search(SearchQuery(text=text, doc_types=("article",), page_size=20)).hits]


NEIGHBOURS = [
    regulation(1, "甲示范施工管理条例"),
    article(1, "甲示范施工管理条例", 10, "第十条", "施工单位在夜间进行产生噪声的施工作业，应当事先公告附近居民并采取降噪措施。"),
    article(1, "甲示范施工管理条例", 11, "第十一条", "前条规定的时段，由市人民政府根据本地实际情况另行规定并向社会公布。"),
    regulation(2, "乙示范安全生产条例"),
    article(2, "乙示范安全生产条例", 5, "第五条", "作业时段应当报告。"),
]


def test_an_article_next_to_the_best_match_gains_from_it(tmp_path):
    plain = _order(_service(tmp_path / "a", NEIGHBOURS, PLAIN), "夜间 施工 作业时段")
    assert plain[0] == "1-10"
    assert plain.index("2-5") < plain.index("1-11")
    boosted = _order(_service(tmp_path / "b", NEIGHBOURS, dataclasses.replace(PLAIN, neighbour_boost=0.5)),
                     "夜间 施工 作业时段")
    # 第十一条 continues 第十条 (its time of day): it now comes before the other text's article.
    assert boosted[:2] == ["1-10", "1-11"]


EVIDENCE = [
    regulation(1, "丙示范渣土管理条例"),
    article(1, "丙示范渣土管理条例", 20, "第二十条",
            "运输渣土的车辆应当密闭，按照规定的时间和路线行驶，不得沿途泄漏、遗撒，车轮不得带泥上路。"),
    article(1, "丙示范渣土管理条例", 21, "第二十一条", "渣土消纳场所由市人民政府统一规划设置。"),
    article(1, "丙示范渣土管理条例", 22, "第二十二条", "渣土运输企业实行名录管理。"),
    regulation(2, "丁示范货运条例"),
    article(2, "丁示范货运条例", 8, "第八条", "渣土运输应当备案。"),
    article(2, "丁示范货运条例", 9, "第九条", "货运车辆应当定期检验。"),
]


def test_articles_of_a_text_that_answers_in_several_places_rank_higher(tmp_path):
    plain = _service(tmp_path / "a", EVIDENCE, PLAIN)
    assert _order(plain, "渣土 运输")[0] == "2-8"  # the best single match, from a freight text
    voted = _service(tmp_path / "b", EVIDENCE, dataclasses.replace(PLAIN, regulation_weight=1.0))
    # The muck regulation answers in three articles: its best one comes first.
    assert _order(voted, "渣土 运输")[0] in {"1-20", "1-22"}


PLACES = [
    regulation(1, "云岭省示范市容条例", region="云岭省", authority="云岭省人民代表大会常务委员会"),
    article(1, "云岭省示范市容条例", 16, "第十六条", "擅自占用人行道设摊经营的，责令改正，可以处五十元以下罚款。",
            region="云岭省", authority="云岭省人民代表大会常务委员会"),
    regulation(2, "青石市示范市容条例", region="云岭省青石市",
               authority="青石市人民代表大会常务委员会（云岭省人民代表大会常务委员会批准）"),
    article(2, "青石市示范市容条例", 25, "第二十五条", "任何单位和个人不得擅自占用城市道路设摊经营。",
            region="云岭省青石市", authority="青石市人民代表大会常务委员会（云岭省人民代表大会常务委员会批准）"),
    regulation(3, "白沙市示范市容条例", region="海川省白沙市",
               authority="白沙市人民代表大会常务委员会（海川省人民代表大会常务委员会批准）"),
    article(3, "白沙市示范市容条例", 16, "第十六条", "擅自占用人行道设摊经营的，责令改正，可以处五十元以下罚款。",
            region="海川省白沙市", authority="白沙市人民代表大会常务委员会（海川省人民代表大会常务委员会批准）"),
]


def test_a_citys_query_is_also_answered_by_its_provinces_own_texts(tmp_path):
    plain = _service(tmp_path / "a", PLACES, PLAIN)
    order = _order(plain, "青石 设摊 罚款")
    assert order[0] == "2-25"
    # Same text in the province and in another city: without the province rule they tie.
    assert {order[1], order[2]} == {"1-16", "3-16"}
    enclosing = _service(tmp_path / "b", PLACES, dataclasses.replace(PLAIN, enclosing_place_factor=2.0))
    order = _order(enclosing, "青石 设摊 罚款")
    assert order.index("1-16") < order.index("3-16")
    # A query naming the province itself, or another city, is unaffected.
    assert _order(enclosing, "白沙 设摊 罚款")[0] == "3-16"


def test_the_planner_keeps_single_content_characters_aside():
    planner = QueryPlanner(SynonymTable())
    plan = planner.plan("城管扣了我的货")
    assert "货" in plan.loose
    # (扣了 is a word once a synonym file taught it to the segmenter; then the engine expands
    # the characters of a word no text uses, see the test below.)
    assert "扣" in plan.loose or any("扣" in g.members[0].word for g in plan.groups)
    assert not {"了", "我", "的"} & set(plan.loose)
    # Place suffixes and the parts of a citation are no subject of their own.
    plan = planner.plan("上海市 设摊", known_places=["上海"])
    assert "市" not in plan.loose
    # A character a synonym key already covers is left to the synonym.
    plan = QueryPlanner(SynonymTable({"罚": ["罚款"]})).plan("乱扔垃圾 罚")
    assert "罚" not in plan.loose


SEIZURE = [
    regulation(1, "戊示范城管执法条例"),
    article(1, "戊示范城管执法条例", 18, "第十八条", "城管执法部门扣押物品的，应当当场交付扣押决定书和清单。"),
    article(1, "戊示范城管执法条例", 19, "第十九条", "城管执法部门扣押的物品，应当妥善保管，不得使用或者损毁。"),
    article(1, "戊示范城管执法条例", 20, "第二十条", "城管执法部门对扣押的物品，应当在三十日内作出处理决定。"),
    article(1, "戊示范城管执法条例", 21, "第二十一条", "城管执法部门应当公开执法依据、执法程序和监督电话，接受社会监督。"),
    article(1, "戊示范城管执法条例", 22, "第二十二条", "城管执法部门应当建立执法全过程记录制度，执法文书应当规范。"),
]


@pytest.mark.parametrize("weight", [0.0, 0.7])
def test_a_single_character_is_matched_through_the_words_of_the_best_matches(tmp_path, weight):
    svc = _service(tmp_path, SEIZURE, dataclasses.replace(PLAIN, loose_weight=weight))
    order = _order(svc, "城管执法部门扣了东西")
    seizure = {"1-18", "1-19", "1-20"}
    if weight:
        # 扣 -> 扣押, a word the best matches of 城管执法部门 use: the seizure articles come first.
        assert set(order[:3]) == seizure
    else:
        assert set(order[:3]) != seizure
