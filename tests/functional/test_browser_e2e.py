"""The portal's main journeys, walked in a real browser (issue 15, standing proof 7).

Each test is one person's errand from the first page they open, done the way they would do it:
typing into the labelled boxes, choosing from the drop-downs, pressing the buttons and following the
links the pages offer, and checking what the page then says. The server and headless Chromium are
tests/functional/browser.py's (one portal for the session, built by `portal init`); JavaScript is
on, as in people's browsers (the pages also work without it). Screenshots of each journey's key
steps, and of any page a test failed on, go to ``$PORTAL_TEST_ARTIFACTS/browser-e2e/``
(``var/test-artifacts/`` by default).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.functional.browser import (
    DESKTOP,
    PHONE,
    Browser,
    ServedPortal,
    requires_chromium,
    requires_corpus,
)

pytestmark = requires_chromium

CHINA = dt.timezone(dt.timedelta(hours=8))
ARTICLE_PATH = re.compile(r"^/regulations/\d+/articles/[^/?#]+")


def _signed_in_staff(served_portal: ServedPortal, username: str, *roles: str) -> str:
    return served_portal.add_user(username, *roles)


# ----------------------------------------------------------------------------- 1. the dispatcher's look-up


@requires_corpus
@pytest.mark.parametrize("width", [DESKTOP, PHONE])
def test_a_dispatcher_looks_up_who_answers_for_a_manhole_cover_and_reads_the_law(
        browser: Browser, served_portal: ServedPortal, width: int) -> None:
    dispatcher = _signed_in_staff(served_portal, "e2e-dispatcher", "dispatcher")
    browser.resize(width)
    browser.open("/")
    browser.sign_in(dispatcher)

    # The home page's look-up box takes an item's everyday name; the look-up page then asks where.
    browser.type_into("权属查询", "上水井盖")
    browser.press("查询")
    assert browser.path.startswith("/catalogue/lookup")
    assert "已选：" in browser.text() and "0101 上水井盖" in browser.text()
    browser.choose("区域", "府前社区第一网格")
    browser.press("查询")
    browser.screenshot("lookup-answer")

    answer = browser.text("section[aria-labelledby=answer-title]")
    assert "0101 上水井盖 @ 府前社区第一网格" in answer
    roles = {element.text.split("：", 1)[0]: element.text.split("：", 1)[1]
             for element in browser.find_all(".answer h3") if "：" in element.text}
    assert "示例区自来水有限公司" in roles["权属"]
    assert "示例区自来水有限公司" in roles["养护"]
    assert "示例区综合行政执法局" in roles["执法"]
    owner = browser.find(".answer.role-owner")
    # the time limit of the type (2 hours urgent, 2 working days otherwise) and the deadline it gives now
    assert "处置时限：紧急 2小时；一般 2个工作日" in owner.text
    assert re.search(r"一般案件截止 \d{4}-\d{2}-\d{2} \d{2}:\d{2}", owner.text)
    basis = owner.find_element("partial link text", "《城市道路管理条例》第二十三条")
    assert "现行有效" in owner.text

    # The basis is a link to the article itself, whose text says what the owner must do.
    browser.follow(basis.click)
    assert ARTICLE_PATH.match(browser.path), browser.path
    assert browser.text("h1") == "城市道路管理条例 第二十三条"
    article = browser.text("article.article")
    assert "检查井" in article and "产权单位" in article
    assert "现行有效" in browser.text()
    # the breadcrumb above the title is not glued to the site header
    assert browser.space_below_header() >= 16
    browser.screenshot("lookup-article")


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
def test_a_dispatcher_pastes_a_complaint_and_the_screen_suggests_the_type_and_answers_who_owns_it(
        browser: Browser, served_portal: ServedPortal, width: int) -> None:
    dispatcher = _signed_in_staff(served_portal, "e2e-dispatcher", "dispatcher")
    browser.resize(width)
    browser.open("/")
    browser.follow(browser.link("派遣助手").click)
    browser.sign_in(dispatcher)
    assert browser.path == "/dispatch"

    # The reporter's own words: with JavaScript on, suggestions come while typing, before any button.
    browser.choose("区域（可选）", "府前社区")
    browser.type_into("群众反映内容", "府前社区门口路上那个自来水井盖不见了，晚上很危险")
    suggestions = browser.wait_for("#suggestions li")
    assert browser.path == "/dispatch", "suggested in place, without leaving the page"
    assert "上水井盖" in suggestions[0].text or "供水井盖" in suggestions[0].text, suggestions[0].text
    assert "理由：" in suggestions[0].text
    browser.screenshot("dispatch-suggestions")

    browser.follow(suggestions[0].find_element("link text", "选择").click)
    answer = browser.text("section[aria-labelledby=answer-h]")
    assert "权属与法律依据" in answer
    owner = browser.find(".answer.role-owner").text
    assert "示例区自来水有限公司" in owner
    assert re.search(r"时限：紧急 \d+小时，一般 \d+个工作日", owner) and "现在上报，截止" in owner
    assert "《城市道路管理条例》第二十三条" in owner
    # signed in as a dispatcher, the case can be created right there (the form; not sent here)
    assert browser.find("#case-h").text == "建案" and browser.field("网格").is_displayed()
    browser.screenshot("dispatch-answer")


# ----------------------------------------------------------------------------- 2. search and a permalink


@requires_corpus
def test_a_search_from_the_home_page_finds_the_article_and_its_permalink_shows_it_again(browser: Browser) -> None:
    browser.open("/")
    browser.type_into("法规检索", "夜间施工噪声谁来管")
    browser.press("检索")
    assert browser.path.startswith("/search?")
    total = int(re.search(r"共找到 (\d+) 条结果", browser.text()).group(1))  # type: ignore[union-attr]
    hits = browser.find_all("ol.hits li.hit h3 a")
    assert total > 0 and hits
    assert any("噪声" in hit.text for hit in hits[:5]), [hit.text for hit in hits[:5]]
    browser.screenshot("search-results")

    article_hits = [hit for hit in hits if "噪声污染防治法" in hit.text]
    assert article_hits, [hit.text for hit in hits]
    title = article_hits[0].text
    browser.follow(article_hits[0].click)
    assert ARTICLE_PATH.match(browser.path), browser.path
    heading, body = browser.text("h1"), browser.text("article.article")
    # the hit's title names the same regulation and article as the page it leads to
    regulation, label = re.fullmatch(r"《(.+)》(第.+条)", title).groups()  # type: ignore[union-attr]
    assert heading == f"{regulation} {label}"
    assert "噪声" in body
    assert "现行有效" in browser.text("main > p")
    browser.screenshot("search-article")

    # The address is a permalink: opened afresh in a new tab, it shows the same article.
    permalink = browser.driver.current_url
    first_tab = browser.driver.current_window_handle
    browser.driver.switch_to.new_window("tab")
    try:
        browser.open(permalink)
        assert browser.text("h1") == heading
        assert browser.text("article.article") == body
        assert "现行有效" in browser.text("main > p")
        browser.screenshot("search-permalink")
    finally:
        browser.driver.close()
        browser.driver.switch_to.window(first_tab)


# ----------------------------------------------------------------------------- 3. tracking and rating a case


@dataclass(frozen=True)
class ReportedCase:
    """A case the linkage centre recorded, closed, and whose code the reporter was told."""

    tracking_code: str
    personal_data: tuple[str, ...]


def _post_json(url: str, body: dict[str, object], key: str) -> dict[str, object]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        result: dict[str, object] = json.loads(response.read())
    return result


@pytest.fixture(scope="module")
def closed_case(served_portal: ServedPortal) -> Callable[[], ReportedCase]:
    """Makes a closed case, as the linkage centre sends it over the API: the reporter's name, phone,
    ID number and address on record (and in the words of the complaint and a step's note)."""
    served_portal.add_user("e2e-centre", "dispatcher")
    key = served_portal.api_key("e2e-centre", "linkage centre")

    def make() -> ReportedCase:
        name, phone, id_number, address = "林晓峰", "13912345678", "330102198001011234", "府前路88号3幢2单元"
        reported = dt.datetime.now(CHINA).replace(microsecond=0) - dt.timedelta(days=3)
        steps = [("dispatch", 1, ""), ("handle", 20, f"已电话联系{name}，{phone}"), ("verify", 22, ""),
                 ("close", 24, "")]
        created = _post_json(served_portal.url + "/api/v1/cases", {
            "external_id": f"E2E-{uuid.uuid4().hex[:10]}", "channel": "hotline_12345", "item_type": "0103",
            "description": f"雨水井盖缺失，很危险。我是{name}，电话{phone}，身份证{id_number}，住{address}",
            "reported_at": reported.isoformat(), "grid_code": "3301990010100101", "address": address,
            "reporter": {"name": name, "phone": phone, "id_number": id_number},
            "events": [{"kind": kind, "at": (reported + dt.timedelta(hours=hours)).isoformat(), "note": note}
                       for kind, hours, note in steps],
        }, key)
        assert created["status"] == "closed", created
        return ReportedCase(str(created["tracking_code"]), (name, phone, id_number, address, "府前路88号"))

    return make


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
def test_a_reporter_tracks_a_closed_case_by_its_code_and_rates_it(
        browser: Browser, closed_case: Callable[[], ReportedCase], width: int) -> None:
    case = closed_case()
    browser.resize(width)
    browser.open("/")
    browser.follow(browser.link("案件公开").click)
    browser.follow(browser.link("查询并评价自己的案件").click)
    assert browser.path == "/track"
    browser.type_into("查询码", case.tracking_code.lower())  # as read out on the phone: case does not matter
    box, button = browser.field("查询码").rect, browser.find("main form button").rect
    assert abs((box["y"] + box["height"]) - (button["y"] + button["height"])) <= 2, "the button sits beside the box"
    browser.press("查询")
    browser.screenshot("track-case")

    facts = browser.text(".case-facts")
    assert "0103 雨水井盖" in facts and "已结案" in facts and "府前社区第一网格" in facts
    steps = [element.text for element in browser.find_all("ol.timeline li")]
    assert [step.split(" ", 1)[0] for step in steps] == ["发现上报", "指挥派遣", "处置反馈", "任务核查", "结单归档"]
    assert "评价办理结果" in browser.text()

    browser.driver.find_element("xpath", "//main//label[normalize-space()='满意']").click()
    browser.type_into("意见（选填，请勿填写个人信息）", "处理及时，井盖已经装好")
    browser.press("提交评价")
    browser.screenshot("track-rated")

    assert "感谢您的评价！" in browser.text()
    assert "您已评价：满意" in browser.text()
    assert "回访评价" in browser.text(".case-facts") and "满意：处理及时，井盖已经装好" in browser.text(".case-facts")
    assert not browser.find_all("input[name=rating]"), "a case can be rated only once"
    page = browser.html()
    leaked = [value for value in case.personal_data if value in page]
    assert leaked == [], f"personal data on the tracking page: {leaked}"

    # Looked up again later, the rating is still there and cannot be given twice.
    browser.open("/track")
    browser.type_into("查询码", case.tracking_code)
    browser.press("查询")
    assert "您已评价：满意" in browser.text() and not browser.find_all("input[name=rating]")


# ----------------------------------------------------------------------------- 4. a duty change through review


def _lookup_role_text(browser: Browser, item: str, area: str, role: str) -> str:
    """What the public look-up says for ``role`` of ``item`` ("0103 雨水井盖") in ``area``, asked
    through its form: the name typed, the area chosen, and the type picked where the name is shared."""
    name = item.split(" ", 1)[1]
    browser.open("/catalogue/lookup")
    browser.type_into("部件/事件", name)
    browser.choose("区域", area)
    browser.press("查询")
    if "请选择具体类型" in browser.text():
        browser.follow(browser.link(item).click)
    assert f"{item} @ {area}" in browser.text("#answer-title")
    return browser.text(f".answer.role-{role}")


def test_an_editors_change_to_a_duty_is_published_only_after_a_second_person_reviews_it(
        browser: Browser, served_portal: ServedPortal) -> None:
    editor = _signed_in_staff(served_portal, "e2e-editor", "editor")
    reviewer = _signed_in_staff(served_portal, "e2e-reviewer", "editor")
    item, area = "0103 雨水井盖", "滨湖街道"
    before = _lookup_role_text(browser, item, area, "maintainer")
    assert "一般 2个工作日" in before

    # The editor finds the maintainer's entry from the look-up's answer and revises its time limit.
    browser.sign_in(editor)
    browser.follow(browser.find(".answer.role-maintainer a[href*='/catalogue/duties/']").click)
    published_path = browser.path
    browser.follow(browser.link("修订（生成待审草稿）").click)
    browser.type_into("一般时限（工作日）", "5")
    browser.type_into("紧急时限（小时）", "4")
    browser.press("保存")
    assert "审核发布后生效" in browser.text()
    draft_path = browser.path
    assert draft_path != published_path
    assert "草稿" in browser.text("h1")
    browser.press("提交审核")
    assert "待审" in browser.text("h1")
    # four eyes: the author may not publish their own change
    assert "按四眼原则，须由另一位有发布权限的工作人员审核发布" in browser.text()
    assert not [b for b in browser.find_all("main button") if b.text == "审核发布"]
    browser.screenshot("duty-submitted")

    # Before publication the public sees neither the draft nor its values.
    browser.sign_out()
    browser.forget()
    assert "一般 2个工作日" in _lookup_role_text(browser, item, area, "maintainer")
    browser.open(draft_path)
    assert "一般 5" not in browser.text() and "紧急 4" not in browser.text()
    assert "审核发布" not in browser.text()
    browser.screenshot("duty-draft-public")

    # A second editor finds it among the entries waiting for review and publishes it.
    browser.open("/")
    browser.sign_in(reviewer)
    browser.open("/catalogue/duties")
    browser.choose("状态", "待审核")
    browser.press("筛选")
    browser.follow(browser.find(f"main a[href$='{draft_path}']").click)
    browser.type_into("说明", "时限按新的养护合同调整")
    browser.press("审核发布")
    assert "已发布" in browser.text("h1")
    browser.screenshot("duty-published")

    # The public look-up now answers with the new time limit.
    browser.sign_out()
    browser.forget()
    after = _lookup_role_text(browser, item, area, "maintainer")
    assert "处置时限：紧急 4小时；一般 5个工作日" in after
    browser.screenshot("duty-lookup-after")
