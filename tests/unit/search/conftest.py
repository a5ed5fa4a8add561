"""Synthetic regulations for the search engine's tests (texts written for the tests)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from portal.search.interfaces import SearchDocument
from portal.search.whoosh_index import WhooshSearchService

SYNONYMS = """
expand:
  窨井盖: [检查井, 井盖]
  摆摊: [设摊, 占道经营]
  违建: [违法建筑]
  罚多少: [罚款]
equivalent:
  - [噪声, 噪音]
"""


def article(rid: int, title: str, number: int, label: str, body: str, **kw) -> SearchDocument:
    return SearchDocument(
        doc_type="article", doc_id=f"{rid}-{number}", title=f"《{title}》{label}", body=body,
        url=f"/regulations/{rid}/articles/{number}", regulation_id=rid, regulation_title=title,
        regulation_short_title=title.removeprefix("中华人民共和国") if title.startswith("中华人民共和国") else None,
        article_number=number, article_label=label, **kw)


def regulation(rid: int, title: str, **kw) -> SearchDocument:
    return SearchDocument(doc_type="regulation", doc_id=str(rid), title=title, body="", url=f"/regulations/{rid}",
                          regulation_id=rid, regulation_title=title, **kw)


ROAD = "示范城市道路管理条例"
SH = "上海市示范市容管理条例"
BJ = "北京市示范市容管理条例"
TRAFFIC = "中华人民共和国示范道路交通安全法"
OLD = "示范旧版噪声管理办法"

NATIONAL = dict(level="行政法规", status="现行有效", authority="国务院", valid_from=dt.date(2019, 1, 1))
SHANGHAI = dict(level="地方性法规", status="现行有效", region="上海", authority="上海市人民代表大会常务委员会",
                valid_from=dt.date(2018, 1, 1))
BEIJING = dict(level="地方性法规", status="现行有效", region="北京", authority="北京市人民代表大会常务委员会",
               valid_from=dt.date(2020, 1, 1))
LAW = dict(level="法律", status="现行有效", authority="全国人民代表大会常务委员会", valid_from=dt.date(2021, 1, 1))
REPEALED = dict(level="部门规章", status="已废止", authority="示范部", valid_from=dt.date(2000, 1, 1),
                valid_to=dt.date(2010, 12, 31))


def corpus() -> list[SearchDocument]:
    docs = [
        regulation(1, ROAD, **NATIONAL),
        article(1, ROAD, 1, "第一条", "为了加强示范道路的管理，保障道路完好，制定本条例。", chapter="第一章 总则", **NATIONAL),
        article(1, ROAD, 23, "第二十三条",
                "设在道路上的各类管线的检查井、箱盖，应当符合养护规范；缺损影响通行的，产权单位应当及时补缺或者修复。",
                chapter="第三章 养护", **NATIONAL),
        article(1, ROAD, 27, "第二十七条", "禁止在道路上擅自设摊经营、堆放物料。", chapter="第三章 养护", **NATIONAL),
        article(1, ROAD, 42, "第四十二条", "违反本条例第二十七条规定的，由主管部门责令限期改正，可以处二万元以下的罚款。",
                chapter="第五章 罚则", **NATIONAL),
        regulation(2, SH, **SHANGHAI),
        article(2, SH, 5, "第五条", "本市窨井盖出现破损、移位的，权属单位应当立即设置警示标志并修复。", **SHANGHAI),
        article(2, SH, 25, "第二十五条", "擅自占用道路设摊经营的，由城管执法部门责令改正，处五十元以上五百元以下罚款。",
                **SHANGHAI),
        article(2, SH, 30, "第三十条", "违法建筑的拆除，按照本市有关规定执行。", **SHANGHAI),
        regulation(3, BJ, **BEIJING),
        article(3, BJ, 25, "第二十五条", "在道路上设摊经营的，由城市管理综合执法部门责令改正，处二百元以下罚款。", **BEIJING),
        article(3, BJ, 31, "第三十一条", "井盖丢失的，所有权人应当立即补设，并设置警示标志。", **BEIJING),
        regulation(4, TRAFFIC, **LAW),
        article(4, TRAFFIC, 5, "第五条", "国务院公安部门负责全国道路交通安全管理工作。", **LAW),
        article(4, TRAFFIC, 90, "第九十条", "机动车驾驶人违反道路交通安全法律、法规关于道路通行规定的，处警告或者罚款。",
                **LAW),
        regulation(5, OLD, **REPEALED),
        article(5, OLD, 3, "第三条", "夜间施工产生噪声，应当事先公告。", **REPEALED),
    ]
    # Filler articles so that idf means something and pagination has pages.
    for n in range(100, 130):
        docs.append(article(1, ROAD, n, f"第{n}条", f"示范条款{n}：有关单位应当依照本条例做好道路养护记录第{n}号。",
                            chapter="第六章 附则", **NATIONAL))
    return docs


@pytest.fixture(scope="session")
def synonyms_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kb") / "synonyms.yaml"
    path.write_text(SYNONYMS, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def built_index(tmp_path_factory: pytest.TempPathFactory, synonyms_file: Path) -> Path:
    index_dir = tmp_path_factory.mktemp("search") / "index"
    service = WhooshSearchService(index_dir, synonyms_file, refresh_interval=0)
    service.rebuild(corpus())
    service.close()
    return index_dir


@pytest.fixture()
def service(built_index: Path, synonyms_file: Path) -> WhooshSearchService:
    """A read-only service over the shared synthetic index."""
    svc = WhooshSearchService(built_index, synonyms_file, refresh_interval=0)
    svc.warm_up()
    yield svc
    svc.close()


@pytest.fixture()
def fresh_service(tmp_path: Path, synonyms_file: Path) -> WhooshSearchService:
    """A service over its own index, for tests that write."""
    svc = WhooshSearchService(tmp_path / "index", synonyms_file, refresh_interval=0)
    svc.rebuild(corpus())
    yield svc
    svc.close()
