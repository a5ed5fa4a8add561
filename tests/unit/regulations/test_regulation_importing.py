"""Importing folders (manifest, savepoints, progress), the law pack and the knowledge-base loader."""

import datetime as dt
import sqlite3

from sqlalchemy import func, select

from portal.regulations.importing import collect_paths, import_lawpack, import_paths, load_regulation_sources
from portal.regulations.models import Article, Regulation, RegulationVersion
from portal.regulations.services import RegulationService

from .texts import BROKEN, PLAIN_RULE, ROAD_V1, ROAD_V2

MANIFEST_HEADER = "file\ttitle\tlevel\tissuing_authority\tdate\tarticle_count\tversion_history_in_source\n"


def _folder(tmp_path, files, manifest_rows=None):
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    if manifest_rows is not None:
        (tmp_path / "MANIFEST.tsv").write_text(MANIFEST_HEADER + "".join(manifest_rows), encoding="utf-8")
    return tmp_path


# Titles used here; other tests may have committed other regulations to the test database.
OURS = ("青石市街巷管理条例", "青石市占道经营管理办法", "坏掉的条例", "中华人民共和国示例法", "中华人民共和国旧示例法")


def _count(session, model):
    ids = select(Regulation.id).where(Regulation.title.in_(OURS))
    column = Regulation.id if model is Regulation else model.regulation_id
    return session.scalar(select(func.count(model.id)).where(column.in_(ids)))


def test_collect_paths_expands_folders(tmp_path):
    _folder(tmp_path, {"b.md": "x", "a.txt": "x", ".hidden.md": "x", "notes.pdf": "x"}, [])
    assert [p.name for p in collect_paths([tmp_path])] == ["a.txt", "b.md"]


def test_folder_import_uses_the_manifest_and_skips_a_malformed_file(dbsession, tmp_path):
    folder = _folder(
        tmp_path,
        {"road.md": ROAD_V1, "broken.md": BROKEN, "rule.txt": PLAIN_RULE},
        ["road.md\t青石市街巷管理条例\t地方性法规\t青石市人民代表大会常务委员会\t2001-03-05\t5\t\n"],
    )
    seen = []
    summary = import_paths(dbsession, [folder], source="corpus", progress=seen.append)
    assert [r.path.name for r in seen] == ["broken.md", "road.md", "rule.txt"]
    assert summary.counts == {"created": 2, "failed": 1}
    failure = summary.failed[0]
    assert failure.error.startswith(f"{folder / 'broken.md'}:7:")
    assert "倒退" in failure.describe()
    road = dbsession.scalar(select(Regulation).where(Regulation.title == "青石市街巷管理条例"))
    assert road.issuing_authority == "青石市人民代表大会常务委员会"
    assert road.source == "corpus" and road.source_ref == "road.md"
    # Nothing of the broken file was stored.
    assert dbsession.scalar(select(func.count(Regulation.id)).where(Regulation.title == "坏掉的条例")) == 0
    assert "新建 2" in summary.describe() and "失败 1" in summary.describe()
    files = RegulationService(dbsession).source_files("corpus")
    assert files["road.md"] == road.id and files["rule.txt"] != road.id and "broken.md" not in files


def test_manifest_article_count_mismatch_fails_that_file_only(dbsession, tmp_path):
    folder = _folder(tmp_path, {"road.md": ROAD_V1, "rule.txt": PLAIN_RULE},
                     ["road.md\t青石市街巷管理条例\t\t\t\t9\t\n"])
    summary = import_paths(dbsession, [folder])
    assert summary.counts == {"created": 1, "failed": 1}
    assert "9 条" in summary.failed[0].error
    assert _count(dbsession, Regulation) == 1


def test_reimporting_a_changed_file_adds_a_version(dbsession, tmp_path):
    path = tmp_path / "road.md"
    path.write_text(ROAD_V1, encoding="utf-8")
    import_paths(dbsession, [path])
    path.write_text(ROAD_V2, encoding="utf-8")
    summary = import_paths(dbsession, [path])
    assert summary.counts == {"new_version": 1}
    assert "第 2 版" in summary.results[0].describe()
    assert _count(dbsession, RegulationVersion) == 2
    assert import_paths(dbsession, [path]).counts == {"unchanged": 1}


def test_missing_file_is_reported(dbsession, tmp_path):
    summary = import_paths(dbsession, [tmp_path / "nope.md"])
    assert summary.counts == {"failed": 1}


# ----------------------------------------------------------------------- law pack


def _pack(tmp_path):
    path = tmp_path / "laws.db"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE laws (law_id TEXT PRIMARY KEY, law_name TEXT NOT NULL, doc_type TEXT, level TEXT,
            issuing_body TEXT, publish_date TEXT, effective_date TEXT, version_date TEXT, status TEXT,
            law_department TEXT);
        CREATE TABLE articles (id INTEGER PRIMARY KEY, law_id TEXT NOT NULL, law_name TEXT NOT NULL,
            law_department TEXT, level TEXT, status TEXT, chapter TEXT, section TEXT, article_no TEXT,
            article_no_arabic INTEGER, article_text TEXT, char_count INTEGER);
    """)
    conn.executemany("INSERT INTO laws VALUES (?,?,?,?,?,?,?,?,?,?)", [
        ("o", "中华人民共和国示例法", "法律", "法律", "全国人民代表大会常务委员会", "2005-01-01", "2005-07-01",
         "2005-01-01", "历史版本", "行政法"),
        ("c", "中华人民共和国示例法", "法律", "法律", "全国人民代表大会常务委员会", "2018-01-01", "2005-07-01",
         "2018-01-01", "现行有效", "行政法"),
        ("r", "中华人民共和国旧示例法", "法律", "法律", "全国人民代表大会常务委员会", "1990-01-01", "1990-01-01",
         "1990-01-01", "已废止", "行政法"),
    ])
    conn.executemany(
        "INSERT INTO articles (law_id, law_name, chapter, article_no, article_no_arabic, article_text)"
        " VALUES (?,?,?,?,?,?)", [
            ("o", "中华人民共和国示例法", "第一章 总则", "第一条", 1, "旧文本第一条。"),
            ("c", "中华人民共和国示例法", "第一章 总则", "第一条", 1, "新文本第一条。"),
            ("c", "中华人民共和国示例法", "第一章 总则", "第一条之一", 1, "新增的条文。"),
            ("r", "中华人民共和国旧示例法", None, "第一条", 1, "已废止法的条文。"),
        ])
    conn.commit()
    conn.close()
    return path


def test_lawpack_import_keeps_versions_and_is_idempotent(dbsession, tmp_path):
    pack = _pack(tmp_path)
    ticks = []
    summary = import_lawpack(dbsession, pack, progress=ticks.append)
    assert summary.regulations == 2 and len(ticks) == 2
    assert summary.versions == {"created": 2, "new_version": 1}
    law = dbsession.scalar(select(Regulation).where(Regulation.title == "中华人民共和国示例法"))
    assert (law.short_title, law.level, law.region, law.source) == ("示例法", "法律", "全国", "lawpack")
    assert (law.promulgation_date, law.effective_date) == (dt.date(2005, 1, 1), dt.date(2005, 7, 1))
    versions = sorted(law.versions, key=lambda v: v.version_no)
    assert [(v.valid_from, v.valid_to, v.is_current) for v in versions] == [
        (dt.date(2005, 7, 1), dt.date(2018, 1, 1), False),
        (dt.date(2018, 1, 1), None, True),
    ]
    repealed = dbsession.scalar(select(Regulation).where(Regulation.title == "中华人民共和国旧示例法"))
    assert repealed.status == "已废止"
    again = import_lawpack(dbsession, pack)
    assert again.versions == {"unchanged": 3}


class _Ctx:
    def __init__(self, session, settings):
        self.session = session
        self.settings = settings
        self.registry = None
        self.lines = []

    def echo(self, line):
        self.lines.append(line)


def test_loader_reads_pack_and_corpus_and_survives_missing_sources(dbsession, tmp_path):
    pack = _pack(tmp_path)
    (tmp_path / "corpus").mkdir()
    corpus = _folder(tmp_path / "corpus", {"road.md": ROAD_V1, "broken.md": BROKEN})
    ctx = _Ctx(dbsession, {"portal.lawpack": "true", "portal.lawpack_path": str(pack),
                           "portal.corpus_dir": str(corpus), "portal.knowledge_base": str(tmp_path / "kb")})
    summary = load_regulation_sources(ctx)
    assert "国家法律包：2 部法律" in summary
    assert "法规目录" in summary and "失败 1" in summary
    assert any("broken.md" in line for line in ctx.lines)
    assert _count(dbsession, Regulation) == 3

    missing = _Ctx(dbsession, {"portal.lawpack": "false", "portal.corpus_dir": str(tmp_path / "absent")})
    assert "不存在，已跳过" in load_regulation_sources(missing)
    nothing = _Ctx(dbsession, {"portal.lawpack": "true", "portal.lawpack_path": str(tmp_path / "no.db")})
    assert "未找到国家法律包" in load_regulation_sources(nothing)
    assert _count(dbsession, Article) == 4 + 5


def test_unchanged_reimport_logs_no_search_changes(app, dbsession, tmp_path):
    """A second `make run` must not make the index redo anything."""
    from portal.search.models import SearchChange

    pack = _pack(tmp_path)
    (tmp_path / "c").mkdir()
    folder = _folder(tmp_path / "c", {"road.md": ROAD_V1})
    import_lawpack(dbsession, pack)
    import_paths(dbsession, [folder], source="corpus")
    dbsession.flush()
    before = dbsession.scalar(select(func.count(SearchChange.id)))
    assert before > 0
    import_lawpack(dbsession, pack)
    import_paths(dbsession, [folder], source="corpus")
    dbsession.flush()
    assert dbsession.scalar(select(func.count(SearchChange.id))) == before


def test_the_whole_corpus_imports_with_the_manifest_article_counts(dbsession):
    """Done-when of issue 3: every corpus file imports with its MANIFEST.tsv article count."""
    import pytest

    from portal.regulations.manifest import read_manifest

    from .test_regulation_corpus import CORPUS

    if not (CORPUS / "MANIFEST.tsv").is_file():
        pytest.skip(f"law corpus not found at {CORPUS}")
    summary = import_paths(dbsession, [CORPUS], source="corpus")
    assert summary.failed == []
    manifest = read_manifest(CORPUS / "MANIFEST.tsv")
    assert len(summary.results) == len(manifest)
    for result in summary.results:
        outcome = result.outcome
        stored = dbsession.scalar(select(func.count(Article.id)).where(Article.version_id == outcome.version.id))
        assert stored == manifest[result.path.name].article_count, result.path.name
        assert outcome.regulation.level == manifest[result.path.name].level
