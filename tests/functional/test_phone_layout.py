"""The public pages on a phone, looked at in a real browser (issue 10, defect 6).

The portal is served on a loopback port from a database of its own, built the way `make run`
builds one (`portal init`: catalogue, regulations of the shared corpus when present, demo cases),
and headless Chromium (Debian `chromium` + `chromium-driver`, installed by `make test`) loads each
page at 390 px and at 1280 px. A page passes when nothing runs off the right edge and no table
cell, definition or paragraph is squeezed to fewer than three characters a line (the "one
character per line" failure). Screenshots are kept under ``$PORTAL_TEST_ARTIFACTS/phone-layout/``
(``var/test-artifacts/`` by default; printed at the end) for people to look at. The server and the browser
are tests/functional/browser.py's, shared with the end-to-end journeys.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.functional.browser import ADMIN, DESKTOP, PASSWORD, PHONE, Browser, requires_chromium

pytestmark = requires_chromium

# What a narrow layout must not do, measured in the page: the page is wider than the window, an
# element runs past the right edge, or a text is squeezed to fewer than three characters a line.
MEASURE = r"""
const width = window.innerWidth;
const overflow = document.documentElement.scrollWidth - width;
const squeezed = [];
for (const el of document.querySelectorAll('main td, main th, main dd, main li, main p')) {
  const text = (el.innerText || '').trim();
  if (text.length < 4 || el.offsetParent === null) continue;
  const hidden = el.closest('thead, .visually-hidden');  // headers kept for screen readers only
  if (el.querySelector('details:not([open])')) continue;  // folded text has no lines to count
  if (hidden && hidden.getBoundingClientRect().width <= 1) continue;
  // lines the text itself takes (a range measures the text, not the row-high cell around it)
  const style = getComputedStyle(el);
  const range = document.createRange();
  range.selectNodeContents(el);
  const lineHeight = parseFloat(style.lineHeight) || 1.2 * parseFloat(style.fontSize);
  const lines = Math.max(1, Math.round(range.getBoundingClientRect().height / lineHeight));
  if (lines >= 2 && text.replace(/\s+/g, '').length / lines < 3)
    squeezed.push(el.tagName + ': ' + text.slice(0, 20) + ' (' + lines + ' lines)');
}
const wide = [];
for (const el of document.querySelectorAll('main *')) {
  const rect = el.getBoundingClientRect();
  if (rect.right > width + 1 && el.offsetParent !== null && getComputedStyle(el).position !== 'absolute') {
    let scroller = el.parentElement, inside = false;
    while (scroller && scroller !== document.body) {
      const o = getComputedStyle(scroller).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') { inside = true; break; }
      scroller = scroller.parentElement;
    }
    if (!inside) wide.push(el.tagName + '.' + el.className + ' right=' + Math.round(rect.right));
  }
}
return {overflow: overflow, squeezed: squeezed.slice(0, 10), wide: wide.slice(0, 10)};
"""


def _look(browser: Browser, path: str, name: str, width: int) -> dict[str, Any]:
    browser.resize(width)
    browser.open(path)
    assert browser.driver.execute_script("return window.innerWidth") == width
    browser.screenshot(name)
    found: dict[str, Any] = browser.driver.execute_script(MEASURE)
    return found


def _first_link(browser: Browser, path: str, selector: str) -> str:
    browser.open(path)
    return str(browser.find(selector).get_attribute("href"))


PUBLIC_PAGES = {
    "home": "/",
    "cases": "/cases",
    "track": "/track",
    "regulations": "/regulations",
    "search": "/search?q=%E4%BA%95%E7%9B%96",  # 井盖
    "catalogue": "/catalogue",
    "lookup": "/catalogue/lookup?item=%E4%B8%8A%E6%B0%B4%E4%BA%95%E7%9B%96&area=3301990010100101",
    "agencies": "/catalogue/agencies",
    "api-docs": "/api/docs",
    "rulings": "/rulings",
    "ruling-stats": "/rulings/stats",
    "bulletins": "/bulletins",
    "indicators": "/bulletins/indicators",
    "opendata": "/opendata/",
    "developers": "/developers",
}


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_public_pages_fit_a_phone_and_a_desktop(browser: Browser, width: int) -> None:
    pages = dict(PUBLIC_PAGES)
    pages["case"] = _first_link(browser, "/cases", "table.case-table tbody a")
    regulation = _first_link(browser, "/regulations", "table.data tbody a")
    pages["regulation"] = regulation
    pages["duty"] = _first_link(browser, "/catalogue/item-types/0101?scheme=gbt30428&kind=component",
                                "a[href*='/catalogue/duties/']")
    problems = {}
    for name, path in pages.items():
        found = _look(browser, path, name, width)
        if found["overflow"] > 0 or found["squeezed"] or found["wide"]:
            problems[name] = found
    print(f"\nscreenshots: {browser.shots}")
    assert problems == {}, json.dumps(problems, ensure_ascii=False, indent=1)


def test_staff_screens_fit_the_page(browser: Browser) -> None:
    browser.open("/")
    browser.sign_in(ADMIN, PASSWORD)
    problems = {}
    for width in (DESKTOP, PHONE):
        for name, path in {"audit": "/admin/audit", "duties": "/catalogue/duties", "users": "/admin/users"}.items():
            found = _look(browser, path, f"staff-{name}", width)
            if found["overflow"] > 0 or found["wide"]:
                problems[f"{name}@{width}"] = found
    print(f"\nscreenshots: {browser.shots}")
    assert problems == {}, json.dumps(problems, ensure_ascii=False, indent=1)


PIGEONS = """\
# 青石市信鸽放飞管理办法

2002年4月1日 青石市人民政府发布

<!-- INFO END -->

第一条 为了规范信鸽放飞活动，制定本办法。

第二条 信鸽放飞活动的组织者应当提前十日向所在地的街道办事处报告放飞的时间、地点和规模，并在放飞结束后清理放飞场地。

第三条 本办法自2002年5月1日起施行。
"""

PIGEONS_CODE = """\
# 青石市城乡社区治理办法

2024年9月1日 青石市人民政府发布

<!-- INFO END -->

第一条 为了加强城乡社区治理，制定本办法。

第二条 信鸽放飞活动的组织者应当提前十日向所在地的街道办事处或者乡镇人民政府报告放飞的时间、地点和规模，并在放飞结束后及时清理放飞场地。

第三条 本办法自2025年1月1日起施行。《青石市信鸽放飞管理办法》同时废止。
"""


def test_a_repealed_articles_notice_fits_a_phone(browser: Browser, served_portal: Any, tmp_path: Any) -> None:
    # A repealing text of its own (the shared corpus repeals nothing it holds), on a topic no other
    # browser test searches for.
    for name, text in (("pigeons.md", PIGEONS), ("pigeons-code.md", PIGEONS_CODE)):
        (tmp_path / name).write_text(text, encoding="utf-8")
    served_portal.cli("import-regulations", "--no-index", str(tmp_path / "pigeons.md"), str(tmp_path / "pigeons-code.md"))
    browser.open("/regulations?q=%E4%BF%A1%E9%B8%BD")  # 信鸽
    repealed = next(a.get_attribute("href") for a in browser.find_all("table.data tbody a") if "信鸽" in a.text)
    problems = {}
    for width in (PHONE, DESKTOP):
        for article in ("2", "1"):
            found = _look(browser, f"{repealed}/articles/{article}", f"repealed-article-{article}", width)
            notice = browser.text("p.replaced-by")
            assert notice.startswith("本条所在法规已于2025年1月1日废止，")
            assert ("《青石市城乡社区治理办法》第二条" in notice) == (article == "2"), notice
            if found["overflow"] > 0 or found["squeezed"] or found["wide"]:
                problems[f"{article}@{width}"] = found
    browser.open(f"{repealed}/articles/2")
    browser.follow(lambda: browser.find("p.replaced-by a").click())
    assert browser.find("h1").text == "青石市城乡社区治理办法 第二条"
    assert problems == {}, json.dumps(problems, ensure_ascii=False, indent=1)
