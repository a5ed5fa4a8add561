"""The public pages on a phone, looked at in a real browser (issue 10, defect 6).

The portal is served on a loopback port from a database of its own, built the way `make run`
builds one (`portal init`: catalogue, regulations of the shared corpus when present, demo cases),
and headless Chromium (Debian `chromium` + `chromium-driver`, installed by `make test`) loads each
page at 390 px and at 1280 px. A page passes when nothing runs off the right edge and no table
cell, definition or paragraph is squeezed to fewer than three characters a line (the "one
character per line" failure). Screenshots are kept under ``var/screenshots/`` (printed at the end) for
people to look at.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus" / "laws"
SHOTS = Path(os.environ.get("PORTAL_SCREENSHOT_DIR", ROOT / "var" / "screenshots"))
PHONE, DESKTOP = 390, 1280

selenium = pytest.importorskip("selenium", reason="selenium is a test extra (make install-test)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                reason="needs Debian chromium and chromium-driver (make install-test)")

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


def _ini(path: Path, database: Path, var: Path) -> Path:
    corpus = str(CORPUS) if CORPUS.is_dir() else ""
    path.write_text(
        "[app:main]\nuse = egg:city-duty-portal\n"
        f"sqlalchemy.url = sqlite:///{database}\nportal.var_dir = {var}\n"
        f"portal.knowledge_base = {ROOT / 'knowledge_base'}\nportal.corpus_dir = {corpus}\n"
        "portal.lawpack = false\nportal.search.warm_up = false\nportal.search.heal_on_start = false\n"
        "cases.demo_count = 150\ncases.demo_seed = 7\nsession.secret = browser-test\nsession.secure = false\n"
        "ratelimit.anonymous_per_minute = 100000\napikeys.usage_write_interval = 1000000\n",
        encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The portal on http://127.0.0.1:<port>/, with an admin account ``phone-admin``."""
    from pyramid.paster import get_app
    from waitress.server import create_server

    from portal.cli import main as cli

    home = tmp_path_factory.mktemp("browser-portal")
    ini = _ini(home / "portal.ini", home / "portal.sqlite", home / "var")
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(ini), "init"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["--config", str(ini), "users", "add", "phone-admin", "--role", "admin",
                                 "--password-stdin"], input="correct horse battery\n", catch_exceptions=False)
    assert result.exit_code == 0, result.output
    app = get_app(str(ini), "main")
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="portal-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 f"--user-data-dir={profile}", "--hide-scrollbars", "--lang=zh-CN"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _look(browser, url: str, name: str, width: int) -> dict:
    # the window's outer size: set it so that the page (inner width) is exactly ``width`` wide
    browser.set_window_size(width, 900)
    inner = browser.execute_script("return window.innerWidth")
    browser.set_window_size(width + (width - inner), 900)
    browser.get(url)
    assert browser.execute_script("return window.innerWidth") == width
    height = browser.execute_script("return Math.min(document.documentElement.scrollHeight, 6000)")
    browser.set_window_size(width + (width - inner), max(900, height))
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / f"{name}-{width}.png"))
    return browser.execute_script(MEASURE)


def _first_link(browser, base: str, path: str, selector: str) -> str:
    from selenium.webdriver.common.by import By

    browser.get(base + path)
    return browser.find_element(By.CSS_SELECTOR, selector).get_attribute("href")


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
def test_public_pages_fit_a_phone_and_a_desktop(served, browser, width):
    pages = dict(PUBLIC_PAGES)
    pages["case"] = _first_link(browser, served, "/cases", "table.case-table tbody a")
    regulation = _first_link(browser, served, "/regulations", "table.data tbody a")
    pages["regulation"] = regulation
    pages["duty"] = _first_link(browser, served, "/catalogue/item-types/0101?scheme=gbt30428&kind=component",
                                "a[href*='/catalogue/duties/']")
    problems = {}
    for name, path in pages.items():
        url = path if path.startswith("http") else served + path
        found = _look(browser, url, name, width)
        if found["overflow"] > 0 or found["squeezed"] or found["wide"]:
            problems[name] = found
    print(f"\nscreenshots: {SHOTS}")
    assert problems == {}, json.dumps(problems, ensure_ascii=False, indent=1)


def test_staff_screens_fit_the_page(served, browser):
    from selenium.webdriver.common.by import By

    browser.set_window_size(DESKTOP, 900)
    browser.get(served + "/login")
    browser.find_element(By.NAME, "username").send_keys("phone-admin")
    browser.find_element(By.NAME, "password").send_keys("correct horse battery")
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    problems = {}
    for width in (DESKTOP, PHONE):
        for name, path in {"audit": "/admin/audit", "duties": "/catalogue/duties", "users": "/admin/users"}.items():
            found = _look(browser, served + path, f"staff-{name}", width)
            if found["overflow"] > 0 or found["wide"]:
                problems[f"{name}@{width}"] = found
    print(f"\nscreenshots: {SHOTS}")
    assert problems == {}, json.dumps(problems, ensure_ascii=False, indent=1)
