"""A repealed article names the article of the text in force that took it over."""

from __future__ import annotations

import datetime as dt

from portal.regulations.documents import ARTICLE, RegulationDocumentProvider
from portal.regulations.parsing import parse_regulation_text
from portal.regulations.successors import successors
from portal.regulations.versions import RegulationImporter, apply_repeals, build_metadata

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
