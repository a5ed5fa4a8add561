"""The regulations library as readers and client systems meet it (HTML pages and JSON API)."""

from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import quote

import pytest

from portal.regulations.parsing import parse_regulation_text
from portal.regulations.versions import ImportMetadata, RegulationImporter, build_metadata

# The repealed law and the code that repeals it: the texts the successor unit tests use.
from tests.unit.regulations.test_successors import CODE as ENVIRONMENT_CODE
from tests.unit.regulations.test_successors import OLD_LAW as NIGHT_WORK

ROAD_V1 = """\
# 青石市街巷管理条例

2001年3月5日 青石市人民代表大会常务委员会通过

<!-- INFO END -->

## 第一章 总则

第一条 为了管好街巷，制定本条例。

## 第二章 井盖

第二条 井盖的权属单位负责井盖的日常养护。

井盖缺失的，权属单位应当在两小时内设置警示标志。

第三条 有下列行为之一的，由城市管理部门责令改正：

（一）擅自移动井盖；

（二）损毁井盖。

第四条 本条例自2001年5月1日起施行。
"""

ROAD_V2 = (ROAD_V1
           .replace("两小时", "一小时")
           .replace("通过\n", "通过\n\n2015年6月1日 青石市人民代表大会常务委员会修正\n")
           .replace("第三条 有下列", "第二条之一 井盖上应当标明权属单位。\n\n第三条 有下列"))

RULE = """\
青石市占道经营管理办法
【发布部门】青石市人民政府　【发文字号】青石市人民政府令第7号
第一条　为了规范占道经营，制定本办法。
第二条　本办法自2019年3月1日起施行。
"""


def _import(session, text, **options):
    parsed = parse_regulation_text(text)
    metadata = build_metadata(parsed, None, ImportMetadata(**options) if options else None)
    return RegulationImporter(session).import_text(parsed, metadata).regulation


@pytest.fixture
def road(dbsession):
    _import(dbsession, ROAD_V1)
    regulation = _import(dbsession, ROAD_V2)
    _import(dbsession, RULE, promulgation_date=dt.date(2019, 1, 20))
    dbsession.flush()
    return regulation


# ------------------------------------------------------------------------------ HTML


def test_browse_page_lists_and_filters_by_level_status_region(testapp, road):
    page = testapp.get("/regulations", params={"q": "青石市"})
    assert "青石市街巷管理条例" in page.text and "青石市占道经营管理办法" in page.text
    assert page.html.find("section", attrs={"aria-label": "分类统计"}) is not None
    filtered = testapp.get("/regulations", params={"q": "青石市", "level": "地方政府规章"})
    assert "青石市占道经营管理办法" in filtered.text and "青石市街巷管理条例" not in filtered.text
    assert "青石市街巷管理条例" in testapp.get("/regulations", params={"region": "青石市", "status": "现行有效"}).text
    assert "没有符合条件的法规" in testapp.get("/regulations", params={"q": "青石市", "at": "1990-01-01"}).text


def test_browse_page_rejects_bad_filters_with_400(testapp):
    response = testapp.get("/regulations", params={"level": "不存在的级别"}, status=400)
    assert response.content_type == "text/html"


def test_regulation_page_has_anchored_articles_and_toc(testapp, road):
    page = testapp.get(f"/regulations/{road.id}")
    html = page.html
    article = html.find("article", id="art-2")
    assert article is not None
    assert "一小时" in article.text
    assert html.find("article", id="art-2-1") is not None
    link = article.find("a")
    assert link["href"].endswith(f"/regulations/{road.id}/articles/2")
    assert html.find("a", href="#art-1").text == "第一章 总则"
    assert "文本版本" in page.text


def test_regulation_page_at_a_past_date_shows_the_old_text(testapp, road):
    page = testapp.get(f"/regulations/{road.id}", params={"at": "2010-01-01"})
    assert "两小时" in page.html.find("article", id="art-2").text
    assert page.html.find("article", id="art-2-1") is None
    assert "2010-01-01 有效的文本" in page.text
    assert "没有可用的文本" in testapp.get(f"/regulations/{road.id}", params={"at": "1990-01-01"}).text


def test_article_permalink_page(testapp, road):
    page = testapp.get(f"/regulations/{road.id}/articles/2")
    assert "《青石市街巷管理条例》第二条" in page.text
    assert "《青石市街巷管理条例》第二条第二款" in page.text
    assert page.html.find("a", rel="next")["href"].endswith("/articles/2-1")
    inserted = testapp.get(f"/regulations/{road.id}/articles/2-1")
    assert "第二条之一" in inserted.text
    by_label = testapp.get(f"/regulations/{road.id}/articles/{quote('第二条之一')}")
    assert "井盖上应当标明权属单位" in by_label.text
    old = testapp.get(f"/regulations/{road.id}/articles/2", params={"at": "2010-01-01"})
    assert "两小时" in old.text


@pytest.mark.parametrize("path", [
    "/regulations/999999", "/regulations/99999999999999999999999", "/regulations/{id}/articles/99",
    "/regulations/{id}/articles/abc", "/regulations/{id}/articles/0",
])
def test_missing_things_are_404_pages(testapp, road, path):
    response = testapp.get(path.format(id=road.id), status=404)
    assert "不存在" in response.text or "没有" in response.text


def test_bad_date_is_400(testapp, road):
    testapp.get(f"/regulations/{road.id}", params={"at": "2020-13-45"}, status=400)


def test_home_page_links_the_library(testapp):
    assert "/regulations" in testapp.get("/").text


# ------------------------------------------------------------------------------ JSON


def test_api_list_with_facets_and_pagination(testapp, road):
    body = testapp.get("/api/v1/regulations", params={"q": "青石市", "page_size": 1}).json
    assert body["total"] == 2 and body["page_size"] == 1 and len(body["items"]) == 1
    assert {f["value"] for f in body["facets"]["level"]} == {"地方性法规", "地方政府规章"}
    item = testapp.get("/api/v1/regulations", params={"q": "街巷"}).json["items"][0]
    assert item["title"] == "青石市街巷管理条例"
    assert item["url"] == f"http://example.com/regulations/{road.id}"
    assert item["level"] == "地方性法规" and item["region"] == "青石市"
    assert item["effective_date"] == "2001-05-01"


def test_api_list_validation_errors_use_the_envelope(testapp):
    response = testapp.get("/api/v1/regulations", params={"status": "nope", "page": "0"}, status=400)
    error = response.json["error"]
    assert error["code"] == "validation_failed"
    assert set(error["fields"]) == {"status", "page"}


def test_api_detail_and_point_in_time(testapp, road):
    body = testapp.get(f"/api/v1/regulations/{road.id}").json
    assert body["title"] == "青石市街巷管理条例"
    assert body["in_force"] is True and body["status_on"] == "现行有效"
    assert body["version"]["version_no"] == 2
    assert [v["valid_from"] for v in body["versions"]] == ["2001-05-01", "2015-06-01"]
    labels = [a["label"] for a in body["articles"]]
    assert labels == ["第一条", "第二条", "第二条之一", "第三条", "第四条"]
    third = body["articles"][3]
    assert third["items"] == [["（一）擅自移动井盖；", "（二）损毁井盖。"]]
    assert third["chapter_path"] == ["第二章 井盖"]
    old = testapp.get(f"/api/v1/regulations/{road.id}", params={"at": "2010-01-01"}).json
    assert old["version"]["version_no"] == 1 and len(old["articles"]) == 4
    early = testapp.get(f"/api/v1/regulations/{road.id}", params={"at": "1999-01-01"}).json
    assert early["version"] is None and early["status_on"] == "尚未生效" and early["in_force"] is False


def test_api_article(testapp, road):
    body = testapp.get(f"/api/v1/regulations/{road.id}/articles/2").json
    assert body["label"] == "第二条" and body["number"] == 2 and body["suffix"] == 0
    assert body["citation"] == "《青石市街巷管理条例》第二条"
    assert body["regulation"] == {"id": road.id, "title": "青石市街巷管理条例",
                                  "url": f"http://example.com/regulations/{road.id}"}
    assert body["paragraphs"][1] == "井盖缺失的，权属单位应当在一小时内设置警示标志。"
    assert body["url"] == f"http://example.com/regulations/{road.id}/articles/2"
    inserted = testapp.get(f"/api/v1/regulations/{road.id}/articles/2-1").json
    assert inserted["label"] == "第二条之一" and inserted["suffix"] == 1
    missing = testapp.get(f"/api/v1/regulations/{road.id}/articles/2-1", params={"at": "2010-01-01"}, status=404)
    assert missing.json["error"]["code"] == "not_found"
    assert testapp.get("/api/v1/regulations/99999999999999999999/articles/1", status=404).json["error"]


def test_api_lookup_for_legal_basis(testapp, road):
    body = testapp.get("/api/v1/regulations/lookup",
                       params={"citation": "《青石市街巷管理条例》第二条第二款", "at": "2010-01-01"}).json
    assert body["found"] and body["in_force"]
    assert body["paragraph_text"] == "井盖缺失的，权属单位应当在两小时内设置警示标志。"
    assert body["changed_on"] == "2015-06-01"
    by_parts = testapp.get("/api/v1/regulations/lookup", params={"title": "青石市街巷管理条例", "article": "2-1"}).json
    assert by_parts["found"] and by_parts["citation"] == "《青石市街巷管理条例》第二条之一"
    unknown = testapp.get("/api/v1/regulations/lookup", params={"title": "没有这部法规", "article": "1"}).json
    assert unknown["found"] is False and unknown["reason"] == "regulation_not_found"
    error = testapp.get("/api/v1/regulations/lookup", params={"title": "x"}, status=400).json["error"]
    assert error["code"] == "validation_failed"
    testapp.get("/api/v1/regulations/lookup", params={"title": "青石市街巷管理条例", "article": "abc"}, status=400)


def test_openapi_documents_the_regulation_endpoints(testapp):
    paths = testapp.get("/api/v1/openapi.json").json["paths"]
    for path in ("/api/v1/regulations", "/api/v1/regulations/{id}", "/api/v1/regulations/{id}/articles/{n}",
                 "/api/v1/regulations/lookup"):
        assert "get" in paths[path]


# ------------------------------------------------------------------------------- CLI


@pytest.fixture
def cli(tmp_path, database_url, app_settings, engine):
    """Runs ``portal import-regulations`` against the test database; removes what it stored."""
    from click.testing import CliRunner
    from sqlalchemy import delete
    from sqlalchemy.orm import Session

    from portal.cli import main
    from portal.regulations.models import Regulation

    ini = tmp_path / "cli.ini"
    ini.write_text(
        "[app:main]\nuse = egg:city-duty-portal\n"
        f"sqlalchemy.url = {database_url}\nportal.var_dir = {tmp_path / 'var'}\n"
        f"portal.knowledge_base = {app_settings['portal.knowledge_base']}\n"
        "portal.corpus_dir =\nportal.lawpack = false\nportal.search.warm_up = false\n"
        "portal.search.heal_on_start = false\nsession.secret = cli-test\n",
        encoding="utf-8",
    )
    marker = uuid.uuid4().hex[:8]

    def run(*args):
        # --no-index: building a Whoosh index here would load the knowledge base's words into
        # jieba's process-wide dictionary and change other tests' segmentation.
        return CliRunner().invoke(main, ["--config", str(ini), "import-regulations", "--no-index", *args],
                                  catch_exceptions=False)

    run.marker = marker
    yield run
    # The CLI commits for real: take its regulations out again so other tests see a clean library.
    with Session(engine) as session:
        session.execute(delete(Regulation).where(Regulation.title.like(f"%{marker}%")))
        session.commit()


def _write(folder, name, text):
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


def test_cli_imports_a_folder_reports_progress_and_a_bad_file(cli, tmp_path, testapp):
    folder = tmp_path / "texts"
    title = f"青石市{cli.marker}街巷管理条例"
    _write(folder, "road.md", ROAD_V1.replace("青石市街巷管理条例", title))
    _write(folder, "broken.md", f"# 坏文件{cli.marker}\n\n第二条 乙。\n\n第一条 甲。\n")
    result = cli(str(folder), "--source", "corpus")
    assert result.exit_code == 1, result.output
    assert f"✓ road.md → 新建《{title}》4 条" in result.output
    assert f"✗ {folder / 'broken.md'}:5:" in result.output
    assert "新建 1" in result.output and "失败 1" in result.output
    # Committed: a fresh request finds it.
    assert title in testapp.get("/api/v1/regulations", params={"q": cli.marker}).text

    _write(folder, "road.md", ROAD_V2.replace("青石市街巷管理条例", title))
    again = cli(str(folder / "road.md"))
    assert again.exit_code == 0, again.output
    assert "新版本" in again.output and "第 2 版" in again.output


def test_cli_options_give_metadata(cli, tmp_path, testapp):
    path = tmp_path / "rule.txt"
    path.write_text(RULE.replace("青石市占道经营管理办法", f"青石市{cli.marker}办法"), encoding="utf-8")
    result = cli(str(path), "--level", "规范性文件", "--region", "云岭省青石市", "--status", "已废止",
                 "--repealed-date", "2021-01-01", "--short-title", f"占道{cli.marker}")
    assert result.exit_code == 0, result.output
    item = testapp.get("/api/v1/regulations", params={"q": cli.marker}).json["items"][0]
    assert (item["level"], item["region"], item["status"], item["repealed_date"], item["short_title"]) == (
        "规范性文件", "云岭省青石市", "已废止", "2021-01-01", f"占道{cli.marker}")


def test_cli_loads_the_law_pack(cli, tmp_path, testapp):
    import sqlite3

    title = f"中华人民共和国{cli.marker}法"
    pack = tmp_path / "laws.db"
    conn = sqlite3.connect(pack)
    conn.executescript(
        "CREATE TABLE laws (law_id TEXT PRIMARY KEY, law_name TEXT, doc_type TEXT, level TEXT, issuing_body TEXT,"
        " publish_date TEXT, effective_date TEXT, version_date TEXT, status TEXT, law_department TEXT);"
        "CREATE TABLE articles (id INTEGER PRIMARY KEY, law_id TEXT, law_name TEXT, law_department TEXT,"
        " level TEXT, status TEXT, chapter TEXT, section TEXT, article_no TEXT, article_no_arabic INTEGER,"
        " article_text TEXT, char_count INTEGER);")
    conn.execute("INSERT INTO laws VALUES ('x', ?, '法律', '法律', '全国人民代表大会常务委员会', '2020-01-01',"
                 " '2020-06-01', '2020-01-01', '现行有效', '行政法')", (title,))
    conn.execute("INSERT INTO articles (law_id, law_name, article_no, article_no_arabic, article_text)"
                 " VALUES ('x', ?, '第一条', 1, '为了测试，制定本法。')", (title,))
    conn.commit()
    conn.close()
    result = cli("--lawpack", "--lawpack-path", str(pack))
    assert result.exit_code == 0, result.output
    assert "国家法律包：1 部法律，1 条" in result.output
    item = testapp.get("/api/v1/regulations", params={"q": cli.marker}).json["items"][0]
    assert (item["title"], item["short_title"], item["level"]) == (title, f"{cli.marker}法", "法律")
    missing = cli("--lawpack", "--lawpack-path", str(tmp_path / "none.db"))
    assert missing.exit_code == 1 and "未找到国家法律包" in missing.output


def test_cli_usage_errors(cli, tmp_path):
    assert cli().exit_code == 2
    _write(tmp_path, "a.md", ROAD_V1)
    _write(tmp_path, "b.md", ROAD_V1)
    result = cli(str(tmp_path), "--title", "x")
    assert result.exit_code == 2 and "--title" in result.output
    assert cli(str(tmp_path / "a.md"), "--effective-date", "yesterday").exit_code == 2


# ------------------------------------------------------------------- importing a text (editors)

DOG_RULE = """\
青石市犬只管理规定
【发布部门】青石市人民政府　【发文字号】青石市人民政府令第9号
第一条　为了规范养犬行为，制定本规定。
第二条　携犬出户应当束犬链，并及时清除犬只粪便。
第三条　本规定自2020年1月1日起施行。
"""


def _import_form(page):
    return next(form for form in page.forms.values() if form.action.endswith("/regulations/import"))


def _stored(dbsession, title):
    from portal.regulations.services import RegulationService

    return RegulationService(dbsession).by_title(title)


def test_editor_previews_then_imports_a_pasted_text(testapp, login_as, dbsession):
    assert "/login" in testapp.get("/regulations/import", status=302).location
    login_as("editor")
    assert "导入法规文本" in testapp.get("/regulations").text
    form = _import_form(testapp.get("/regulations/import"))
    form["text"] = DOG_RULE
    preview = form.submit("action", value="preview")
    assert "将新建法规" in preview.text and "3 条" in preview.text
    assert "青石市人民政府" in preview.text and "携犬出户应当束犬链" in preview.text
    assert _stored(dbsession, "青石市犬只管理规定") is None  # a preview stores nothing
    page = _import_form(preview).submit("action", value="import", status=303).follow()
    assert "第二条" in page.text and "携犬出户应当束犬链" in page.text
    regulation = _stored(dbsession, "青石市犬只管理规定")
    assert regulation is not None and regulation.level == "地方政府规章" and regulation.source == "manual"
    assert regulation.document_number == "青石市人民政府令第9号"
    assert [v.version_no for v in regulation.versions] == [1]


def test_an_uploaded_gb18030_file_is_decoded_and_a_binary_one_refused(testapp, login_as, dbsession):
    import webtest

    login_as("editor")
    form = _import_form(testapp.get("/regulations/import"))
    form["file"] = webtest.Upload("犬只.txt", DOG_RULE.encode("gb18030"), "text/plain")
    preview = form.submit("action", value="preview")
    assert "将新建法规" in preview.text
    # the decoded text comes back in the text box, so confirming needs no second upload
    assert "携犬出户应当束犬链" in _import_form(preview)["text"].value
    form = _import_form(testapp.get("/regulations/import"))
    form["file"] = webtest.Upload("scan.txt", b"\x00\x01PK\x03\x04" * 10, "text/plain")
    refused = form.submit("action", value="import", status=400)
    assert "不是文本文件" in refused.text
    assert _stored(dbsession, "青石市犬只管理规定") is None


def test_a_malformed_text_is_refused_with_its_line_and_nothing_is_stored(testapp, login_as, dbsession):
    login_as("editor")
    form = _import_form(testapp.get("/regulations/import"))
    form["text"] = "青石市测试条例\n第一条\n第二条 内容。\n"
    form["level"] = "地方性法规"
    page = form.submit("action", value="import", status=400)
    assert "第 2 行" in page.text and "没有正文" in page.text
    assert _import_form(page)["level"].value == "地方性法规"  # what the editor typed is kept
    assert _stored(dbsession, "青石市测试条例") is None
    empty = _import_form(testapp.get("/regulations/import")).submit("action", value="preview", status=400)
    assert "请上传文件或粘贴全文" in empty.text


def test_api_import_adds_a_version_keeps_the_old_one_and_replays_unchanged(testapp, make_api_key, road):
    headers = {"Authorization": f"Bearer {make_api_key('editor')}"}
    changed = ROAD_V2.replace("2015年6月1日", "2020年9月1日").replace("一小时", "三十分钟")
    dry = testapp.post_json("/api/v1/regulations", {"text": changed, "dry_run": True}, headers=headers, status=200)
    assert dry.json["action"] == "new_version" and dry.json["dry_run"] is True and dry.json["version_no"] == 3
    assert len(testapp.get(f"/api/v1/regulations/{road.id}").json["versions"]) == 2  # the dry run stored nothing
    created = testapp.post_json("/api/v1/regulations", {"text": changed, "filename": "jiexiang-2020.md"},
                                headers=headers, status=201)
    body = created.json
    assert body["action"] == "new_version" and body["regulation"]["id"] == road.id
    assert body["valid_from"] == "2020-09-01" and body["articles"] == 5
    detail = testapp.get(f"/api/v1/regulations/{road.id}").json
    assert [v["version_no"] for v in detail["versions"]] == [1, 2, 3]
    assert "三十分钟" in testapp.get(f"/api/v1/regulations/{road.id}/articles/2").json["text"]
    # the text in force on an earlier day is still there
    old = testapp.get(f"/api/v1/regulations/{road.id}/articles/2", params={"at": "2016-01-01"}).json
    assert "一小时" in old["text"]
    again = testapp.post_json("/api/v1/regulations", {"text": changed}, headers=headers, status=200)
    assert again.json["action"] == "unchanged" and not again.json["warnings"]
    # a text changed without a later date would hide every older text: the preview says so
    typo = testapp.post_json("/api/v1/regulations", {"text": changed.replace("管好街巷", "管理好街巷"), "dry_run": True},
                             headers=headers, status=200).json
    assert typo["action"] == "new_version" and any("不晚于已有文本" in w for w in typo["warnings"])


def test_api_import_validates_input_and_permissions(testapp, make_api_key, dbsession):
    editor = {"Authorization": f"Bearer {make_api_key('editor')}"}
    testapp.post_json("/api/v1/regulations", {"text": DOG_RULE}, status=401)
    dispatcher = {"Authorization": f"Bearer {make_api_key('dispatcher')}"}
    testapp.post_json("/api/v1/regulations", {"text": DOG_RULE}, headers=dispatcher, status=403)
    bad = testapp.post_json("/api/v1/regulations", {"text": DOG_RULE, "level": "乡规民约", "colour": 1},
                            headers=editor, status=400).json["error"]
    assert set(bad["fields"]) == {"level", "colour"}
    malformed = testapp.post_json("/api/v1/regulations", {"text": "青石市测试条例\n第二条 甲。\n第一条 乙。"},
                                  headers=editor, status=400).json["error"]
    assert "第 3 行" in malformed["fields"]["text"][0] and malformed["code"] == "regulation_article_order"
    untitled = testapp.post_json("/api/v1/regulations", {"text": "第一条 甲。\n第二条 乙。"},
                                 headers=editor, status=400).json["error"]
    assert "title" in untitled["fields"]
    assert _stored(dbsession, "青石市测试条例") is None and _stored(dbsession, "青石市犬只管理规定") is None


# ------------------------------------------------------------------- repealed articles


@pytest.fixture
def repealed(testapp, make_api_key, dbsession):
    """The night-work regulation, then the code that repeals it, imported by an editor's API call."""
    old = _import(dbsession, NIGHT_WORK)
    dbsession.flush()
    headers = {"Authorization": f"Bearer {make_api_key('editor')}"}
    body = testapp.post_json("/api/v1/regulations", {"text": ENVIRONMENT_CODE}, headers=headers, status=201).json
    assert body["repeals"] == ["《青石市夜间施工噪声管理条例》自 2025-01-01 起废止"]
    return old.id, body["regulation"]["id"]


def test_a_repealed_articles_page_names_the_article_now_in_force(testapp, repealed):
    old, code = repealed
    page = testapp.get(f"/regulations/{old}/articles/2")
    notice = page.html.select_one("p.replaced-by")
    assert " ".join(notice.text.split()) == "本条所在法规已于2025年1月1日废止，现行条文：《青石市生态环境条例》第三条"
    assert notice.a["href"] == f"http://example.com/regulations/{code}/articles/3"
    # Looked at for a day after the repeal: the same; for a day it was in force: nothing.
    dated = testapp.get(f"/regulations/{old}/articles/2", params={"at": "2025-06-01"})
    assert dated.html.select_one("p.replaced-by a")["href"].endswith(f"/regulations/{code}/articles/3")
    assert testapp.get(f"/regulations/{old}/articles/2", params={"at": "2020-01-01"}).html.select_one(
        "p.replaced-by") is None
    # No article of the code took over the purpose clause.
    none = testapp.get(f"/regulations/{old}/articles/1").html.select_one("p.replaced-by")
    assert " ".join(none.text.split()) == "本条所在法规已于2025年1月1日废止，未找到接替本条的现行条文。"
    assert none.a is None
    # The text in force shows no notice.
    assert testapp.get(f"/regulations/{code}/articles/3").html.select_one("p.replaced-by") is None


def test_the_article_api_names_the_article_now_in_force(testapp, repealed):
    old, code = repealed
    body = testapp.get(f"/api/v1/regulations/{old}/articles/2").json
    assert body["status_on"] == "已废止"
    assert body["replaced_by"] == {"citation": "《青石市生态环境条例》第三条", "regulation_id": code, "number": 3,
                                   "suffix": 0, "url": f"http://example.com/regulations/{code}/articles/3"}
    assert testapp.get(f"/api/v1/regulations/{old}/articles/2", params={"at": "2020-01-01"}).json["replaced_by"] is None
    assert testapp.get(f"/api/v1/regulations/{old}/articles/1").json["replaced_by"] is None
    assert testapp.get(f"/api/v1/regulations/{code}/articles/3").json["replaced_by"] is None


def test_the_legal_basis_check_names_the_article_now_in_force(testapp, repealed):
    _old, code = repealed
    body = testapp.get("/api/v1/regulations/lookup", params={"citation": "《青石市夜间施工噪声管理条例》第二条"}).json
    assert body["found"] and body["in_force"] is False and body["reason"] == "repealed"
    assert body["replaced_by"]["citation"] == "《青石市生态环境条例》第三条"
    assert body["replaced_by"]["url"] == f"http://example.com/regulations/{code}/articles/3"
    before = testapp.get("/api/v1/regulations/lookup", params={"title": "青石市夜间施工噪声管理条例", "article": "2",
                                                               "at": "2020-01-01"}).json
    assert before["in_force"] and before["replaced_by"] is None
    current = testapp.get("/api/v1/regulations/lookup", params={"citation": "《青石市生态环境条例》第三条"}).json
    assert current["in_force"] and current["replaced_by"] is None


def test_openapi_documents_replaced_by(testapp):
    document = testapp.get("/api/v1/openapi.json").json
    schemas = document["components"]["schemas"]
    for path in ("/api/v1/regulations/{id}/articles/{n}", "/api/v1/regulations/lookup"):
        ref = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert "replaced_by" in schemas[ref.rsplit("/", 1)[-1]]["properties"]


def test_a_legal_basis_citing_a_repealed_article_names_the_article_now_in_force(repealed, dbsession):
    """A duty's basis in a consolidated law: the dispatcher sees "已废止" and the article of
    the code that now applies (the look-up, the dispatch assistant, the duty page, the stale
    report all read this)."""
    from portal.catalogue.legal import CurrentArticle, LegalBasisResolver
    from portal.regulations.services import ArticleLookupService

    _old, code = repealed
    resolver = LegalBasisResolver(ArticleLookupService(dbsession))
    basis = resolver.resolve("《青石市夜间施工噪声管理条例》第二条", dt.date(2025, 6, 1))
    assert basis.status == "repealed"
    assert basis.replaced_by == CurrentArticle("《青石市生态环境条例》第三条", f"/regulations/{code}/articles/3")
    assert basis.as_dict()["replaced_by"] == {"citation": "《青石市生态环境条例》第三条",
                                              "url": f"/regulations/{code}/articles/3"}
    # In force then, or repealed without a successor: nothing to name.
    assert resolver.resolve("《青石市夜间施工噪声管理条例》第二条", dt.date(2020, 1, 1)).replaced_by is None
    assert resolver.resolve("《青石市夜间施工噪声管理条例》第一条", dt.date(2025, 6, 1)).replaced_by is None
