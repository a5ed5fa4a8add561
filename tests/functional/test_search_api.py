"""The unified search endpoints over the app's real Whoosh index."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.search.interfaces import ISearchService, SearchDocument

DOCS = [
    SearchDocument(doc_type="article", doc_id="9001", title="示例市容条例 第十二条",
                   body="任何单位和个人不得擅自移动、损坏窨井盖等市政设施。", url="/regulations/901/articles/12",
                   regulation_id=901, regulation_title="示例市容条例", article_number=12, article_label="第十二条",
                   level="地方性法规", status="现行有效", region="示例市", valid_from=dt.date(2020, 1, 1)),
    SearchDocument(doc_type="article", doc_id="9002", title="示例市容条例 第十三条",
                   body="窨井盖缺失的，权属单位应当在二十四小时内补装。", url="/regulations/901/articles/13",
                   regulation_id=901, regulation_title="示例市容条例", article_number=13, article_label="第十三条",
                   level="地方性法规", status="已废止", region="示例市", valid_from=dt.date(2010, 1, 1),
                   valid_to=dt.date(2019, 12, 31)),
]


DUTY = SearchDocument(doc_type="duty", doc_id="9101", title="窨井盖（部件，公用设施）",
                      body="又称：井盖、检查井 权属：示例区供水公司 养护：示例区供水公司",
                      url="/catalogue/item-types/0101")


@pytest.fixture
def indexed(app):
    service = app.registry.getUtility(ISearchService)
    service.index(DOCS)
    yield service
    service.delete(doc.key for doc in DOCS)


def test_api_hits_carry_regulation_article_snippet_and_url(testapp, indexed):
    body = testapp.get("/api/v1/search", params={"q": "窨井盖"}).json
    assert body["total"] >= 2
    hit = next(h for h in body["hits"] if h["id"] == "9001")
    assert hit["regulation"] == {"id": 901, "title": "示例市容条例"}
    assert hit["article"] == {"number": 12, "label": "第十二条"}
    assert hit["url"] == "http://example.com/regulations/901/articles/12"
    assert "<mark>" in hit["snippet"]


@pytest.fixture
def with_duty(app, indexed):
    indexed.index([DUTY])
    yield
    indexed.delete([DUTY.key])


def test_catalogue_entries_show_beside_the_regulations(testapp, with_duty):
    body = testapp.get("/api/v1/search", params={"q": "窨井盖"}).json
    assert "9101" not in {h["id"] for h in body["hits"]}
    assert {f["value"]: f["count"] for f in body["facets"]["doc_type"]}.get("duty") == 1
    duties = testapp.get("/api/v1/search", params={"q": "窨井盖", "type": "duty"}).json
    assert [h["id"] for h in duties["hits"]] == ["9101"]
    page = testapp.get("/search", params={"q": "窨井盖"})
    box = page.html.select_one("section.beside")
    assert box is not None and "权责条目" in box.h2.text
    assert box.a["href"] == "/catalogue/item-types/0101"
    assert page.html.select("ol.hits li.hit")  # the articles are still listed


def test_filters_and_facets(testapp, indexed):
    body = testapp.get("/api/v1/search", params={"q": "窨井盖", "status": "现行有效"}).json
    assert {h["id"] for h in body["hits"]} >= {"9001"} and "9002" not in {h["id"] for h in body["hits"]}
    statuses = {f["value"]: f["count"] for f in body["facets"]["status"]}
    assert statuses.get("现行有效", 0) >= 1
    in_force_2015 = testapp.get("/api/v1/search", params={"q": "窨井盖", "at": "2015-06-01"}).json
    ids = {h["id"] for h in in_force_2015["hits"]}
    assert "9002" in ids and "9001" not in ids


@pytest.mark.parametrize("params", [{"q": "x", "page": "0"}, {"q": "x", "type": "everything"},
                                    {"q": "x" * 300}, {"q": "x", "at": "2024-13-45"}])
def test_bad_parameters_get_400(testapp, params):
    response = testapp.get("/api/v1/search", params=params, status=400)
    assert response.json["error"]["code"] == "validation_failed"


@pytest.mark.parametrize("q", ['"', "AND OR NOT", "((", "第条", "*:*", "。，！？"])
def test_odd_queries_never_fail(testapp, q):
    assert testapp.get("/api/v1/search", params={"q": q}).status_int == 200


def test_empty_query_returns_nothing_without_error(testapp):
    assert testapp.get("/api/v1/search").json["hits"] == []
    assert "检索" in testapp.get("/search").text


def test_html_results_show_highlighted_chinese(testapp, indexed):
    page = testapp.get("/search", params={"q": "窨井盖 补装"})
    first = page.html.select("ol.hits li.hit")[0]
    assert first.find("mark") is not None
    assert "示例市容条例" in page.text
    # Facet links keep the query and add the filter.
    facet_links = [a["href"] for a in page.html.select("aside.facets a")]
    assert any("status=" in href and "q=" in href for href in facet_links)


REPEALED = SearchDocument(
    doc_type="article", doc_id="9201", title="示例噪声条例 第四十三条",
    body="夜间施工噪声扰民的，禁止夜间进行产生噪声的建筑施工作业。夜间施工噪声", url="/regulations/921/articles/43",
    regulation_id=921, regulation_title="示例噪声条例", article_number=43, article_label="第四十三条",
    level="地方性法规", status="已废止", region="示例市", valid_from=dt.date(2010, 1, 1), valid_to=dt.date(2025, 12, 31),
    extra={"replaced_by": "article:922-572", "replaced_by_citation": "《示例生态环境法典》第五百七十二条",
           "replaced_by_url": "/regulations/922/articles/572"})
SUCCESSOR = SearchDocument(
    doc_type="article", doc_id="922-572", title="示例生态环境法典 第五百七十二条",
    body="在噪声敏感建筑物集中区域，禁止夜间进行产生噪声的建筑施工作业。", url="/regulations/922/articles/572",
    regulation_id=922, regulation_title="示例生态环境法典", article_number=572, article_label="第五百七十二条",
    level="地方性法规", status="现行有效", region="示例市", valid_from=dt.date(2026, 1, 1))


@pytest.fixture
def repealed_and_successor(app):
    service = app.registry.getUtility(ISearchService)
    service.index([REPEALED, SUCCESSOR])
    yield service
    service.delete([REPEALED.key, SUCCESSOR.key])


def test_the_text_in_force_comes_before_the_article_it_replaced(testapp, repealed_and_successor):
    # The repealed article matches the question's words better; today's law still comes first.
    body = testapp.get("/api/v1/search", params={"q": "夜间施工噪声扰民"}).json
    ids = [h["id"] for h in body["hits"]]
    assert ids.index("922-572") == ids.index("9201") - 1
    repealed = body["hits"][ids.index("9201")]
    assert repealed["replaced_by"] == {"citation": "《示例生态环境法典》第五百七十二条",
                                       "url": "http://example.com/regulations/922/articles/572"}
    assert body["hits"][ids.index("922-572")]["replaced_by"] is None
    page = testapp.get("/search", params={"q": "夜间施工噪声扰民"})
    link = page.html.select_one("p.replaced-by a")
    assert link["href"] == "/regulations/922/articles/572" and "第五百七十二条" in link.text
    # A search for a day when the old text was in force shows it alone.
    dated = testapp.get("/api/v1/search", params={"q": "夜间施工噪声扰民", "at": "2015-01-01"}).json
    assert [h["id"] for h in dated["hits"]] == ["9201"]
