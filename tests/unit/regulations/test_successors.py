"""A repealed article names the article of the text in force that took it over."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from portal.regulations.documents import ARTICLE, RegulationDocumentProvider
from portal.regulations.models import ArticleSuccessor
from portal.regulations.parsing import parse_regulation_text
from portal.regulations.successors import record_successors, stored_successor, stored_successors, successors
from portal.regulations.versions import RegulationImporter, announced_repeals, apply_repeals, build_metadata
from portal.search.models import SearchChange

OLD_LAW = """\
# 青石市夜间施工噪声管理条例

2001年3月5日 青石市人民代表大会常务委员会通过

<!-- INFO END -->

第一条 为了防治夜间施工噪声，保护居民休息，制定本条例。

第二条 在噪声敏感建筑物集中区域，禁止夜间进行产生噪声的建筑施工作业，但抢修、抢险作业和因生产工艺要求必须连续施工的除外。

第三条 本条例自2001年5月1日起施行。
"""

CODE = """\
# 青石市生态环境条例

2024年3月5日 青石市人民代表大会常务委员会通过

<!-- INFO END -->

第一条 为了保护和改善生态环境，制定本条例。

第二条 园林绿化应当因地制宜，优先选用乡土树种。

第三条 在噪声敏感建筑物集中区域，禁止夜间进行产生噪声的建筑施工作业，但是抢修、抢险作业和因生产工艺上要求或者特殊需要必须连续施工作业的除外。

第四条 本条例自2025年1月1日起施行。《青石市夜间施工噪声管理条例》同时废止。
"""


def _import(session, text):
    parsed = parse_regulation_text(text)
    return RegulationImporter(session).import_text(parsed, build_metadata(parsed, None, None)).regulation


def test_the_repealing_texts_most_similar_article_is_the_successor(dbsession):
    old, code = _import(dbsession, OLD_LAW), _import(dbsession, CODE)
    apply_repeals(dbsession, on=dt.date(2026, 1, 1))
    found = successors(dbsession)[old.id]
    # The night-work ban moved to the code's 第三条; the purpose clause and the commencement
    # clause have no counterpart close enough to name.
    assert set(found) == {(2, 0)}
    assert found[(2, 0)].citation == "《青石市生态环境条例》第三条"
    assert found[(2, 0)].regulation_id == code.id and found[(2, 0)].similarity >= 0.5
    assert successors(dbsession, [code.id]) == {}


def test_the_repealed_articles_search_documents_link_their_successor(dbsession):
    old, code = _import(dbsession, OLD_LAW), _import(dbsession, CODE)
    apply_repeals(dbsession, on=dt.date(2026, 1, 1))
    dbsession.flush()
    provider = RegulationDocumentProvider(today=lambda: dt.date(2026, 1, 1))
    docs = {doc.doc_id: doc for doc in provider.documents(dbsession, ARTICLE)}
    banned = docs[f"{old.id}-2"]
    assert banned.status == "已废止"
    assert banned.extra["replaced_by"] == f"article:{code.id}-3"
    assert banned.extra["replaced_by_citation"] == "《青石市生态环境条例》第三条"
    assert banned.extra["replaced_by_url"] == f"/regulations/{code.id}/articles/3"
    assert "replaced_by" not in docs[f"{old.id}-1"].extra
    assert "replaced_by" not in docs[f"{code.id}-3"].extra


# -- the stored mapping ---------------------------------------------------------------------

NOISE_LAW = """\
# 青石市社会生活噪声管理条例

2003年3月5日 青石市人民代表大会常务委员会通过

<!-- INFO END -->

第一条 为了防治社会生活噪声，制定本条例。

第二条 禁止在商业经营活动中使用高音广播喇叭或者采用其他持续反复发出高噪声的方法进行广告宣传。

第三条 本条例自2003年5月1日起施行。
"""

# The code's second text renumbers the night-work ban and takes over the noise law as well.
CODE_V2 = CODE.replace("2024年3月5日 青石市人民代表大会常务委员会通过",
                       "2024年3月5日 青石市人民代表大会常务委员会通过\n\n"
                       "2025年6月1日 青石市人民代表大会常务委员会修正").replace(
    "第三条 在噪声敏感", "第三条 禁止在商业经营活动中使用高音广播喇叭或者采用其他持续反复发出高噪声的方法进行广告宣传。\n\n"
    "第四条 在噪声敏感").replace("第四条 本条例自2025年1月1日起施行。《青石市夜间施工噪声管理条例》同时废止。",
                             "第五条 本条例自2025年1月1日起施行。《青石市夜间施工噪声管理条例》、"
                             "《青石市社会生活噪声管理条例》同时废止。")


def _rows(session, regulation_id):
    session.flush()
    return {(row.number, row.suffix): (row.successor_regulation_id, row.successor_number, row.successor_suffix)
            for row in session.scalars(select(ArticleSuccessor).where(ArticleSuccessor.regulation_id == regulation_id))}


def test_applying_the_repeal_stores_each_repealed_articles_successor(dbsession):
    old, code = _import(dbsession, OLD_LAW), _import(dbsession, CODE)
    assert _rows(dbsession, old.id) == {}
    apply_repeals(dbsession, on=dt.date(2026, 1, 1))
    # Every article has a row: the ones with no counterpart say so.
    assert _rows(dbsession, old.id) == {(1, 0): (None, None, None), (2, 0): (code.id, 3, 0), (3, 0): (None, None, None)}
    assert _rows(dbsession, code.id) == {}
    # What is stored is what matching finds.
    assert stored_successors(dbsession, [old.id]) == successors(dbsession, [old.id])
    assert stored_successor(dbsession, old.id, 2).citation == "《青石市生态环境条例》第三条"
    assert stored_successor(dbsession, old.id, 1) is None


def test_an_editors_import_of_the_repealing_text_stores_the_successors(dbsession):
    old = _import(dbsession, OLD_LAW)
    result = RegulationImporter(dbsession).import_submitted(CODE, "code.md")
    assert result.repeals == ["《青石市夜间施工噪声管理条例》自 2025-01-01 起废止"]
    assert _rows(dbsession, old.id)[(2, 0)] == (result.regulation_id, 3, 0)


def test_a_preview_stores_nothing(dbsession):
    old = _import(dbsession, OLD_LAW)
    RegulationImporter(dbsession).import_submitted(CODE, "code.md", dry_run=True)
    assert _rows(dbsession, old.id) == {}


def test_a_new_text_of_the_code_and_a_new_repeal_update_the_stored_successors(app, dbsession):
    # (``app``: its search sources note which documents a flush changed.)
    old, code = _import(dbsession, OLD_LAW), _import(dbsession, CODE)
    apply_repeals(dbsession, on=dt.date(2026, 1, 1))
    dbsession.flush()
    # Nothing changed: nothing is matched again (nor re-indexed).
    assert record_successors(dbsession, announced_repeals(dbsession)) == set()
    noise = _import(dbsession, NOISE_LAW)
    assert _import(dbsession, CODE_V2).id == code.id
    dbsession.flush()
    logged = dbsession.scalar(select(func.max(SearchChange.id))) or 0
    [repeal] = apply_repeals(dbsession, on=dt.date(2026, 1, 1))
    assert repeal.repealed.id == noise.id and noise.status == "已废止"
    # The ban moved to the code's 第四条; the noise law's advertising ban is the new 第三条.
    assert _rows(dbsession, old.id)[(2, 0)] == (code.id, 4, 0)
    assert _rows(dbsession, noise.id) == {(1, 0): (None, None, None), (2, 0): (code.id, 3, 0),
                                         (3, 0): (None, None, None)}
    # The repealed articles whose successor changed are re-indexed.
    after = set(dbsession.scalars(select(SearchChange.doc_id).where(SearchChange.doc_type == "article",
                                                                     SearchChange.id > logged)))
    assert f"{old.id}-2" in after and f"{noise.id}-2" in after


def test_rows_of_a_text_no_longer_repealed_go(dbsession):
    old, _code = _import(dbsession, OLD_LAW), _import(dbsession, CODE)
    apply_repeals(dbsession, on=dt.date(2026, 1, 1))
    assert _rows(dbsession, old.id)
    assert record_successors(dbsession, []) == {old.id}
    assert _rows(dbsession, old.id) == {}


def test_the_search_documents_read_the_stored_successors(dbsession):
    old, code = _import(dbsession, OLD_LAW), _import(dbsession, CODE)
    apply_repeals(dbsession, on=dt.date(2026, 1, 1))
    # Pretend the match had said 第一条: the documents show what is stored, not a new match.
    row = dbsession.scalars(select(ArticleSuccessor).where(ArticleSuccessor.regulation_id == old.id,
                                                           ArticleSuccessor.number == 2)).one()
    row.successor_number = 1
    dbsession.flush()
    provider = RegulationDocumentProvider(today=lambda: dt.date(2026, 1, 1))
    doc = next(provider.documents(dbsession, ARTICLE, [f"{old.id}-2"]))
    assert doc.extra["replaced_by"] == f"article:{code.id}-1"
