"""A real portal on a loopback port and a headless Chromium to use it: the set-up every browser test shares.

The portal is built the way `make run` builds one (`portal init`: catalogue, the regulations of the
shared corpus when present, demo cases) in a directory of its own, served by waitress in a thread,
once per test session: building it takes the better part of two minutes, so the phone-layout
checks and the end-to-end journeys use the same one. Chromium is Debian's `chromium` driven
through `chromium-driver` (installed by `make test`), headless, with a fresh profile.

Screenshots go under ``$PORTAL_TEST_ARTIFACTS`` (default ``var/test-artifacts/``), one directory
per suite, for people (and CI) to look at; a failing test leaves one of the page it failed on.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus" / "laws"
ARTIFACTS = Path(os.environ.get("PORTAL_TEST_ARTIFACTS", ROOT / "var" / "test-artifacts"))
PHONE, DESKTOP = 390, 1280
WINDOW_HEIGHT = 900
#: the tallest full-page screenshot (a long list is cut there: its top is what people look at)
MAX_SHOT_HEIGHT = 6000
ADMIN = "phone-admin"
PASSWORD = "correct horse battery"

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
requires_chromium = pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="needs Debian chromium and chromium-driver (make install-test)")
requires_corpus = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"needs the regulations of the shared corpus ({CORPUS})")


@dataclass
class ServedPortal:
    """A running portal: its address, its ini (for the `portal` command) and what `portal init` said."""

    url: str
    ini: Path
    init_output: str
    users: set[str] = field(default_factory=set)

    def cli(self, *args: str, input: str | None = None) -> str:
        """Run ``portal --config <ini> ARGS`` in this process, as an operator would; its standard output."""
        from click.testing import CliRunner

        from portal.cli import main as cli

        result = CliRunner().invoke(cli, ["--config", str(self.ini), *args], input=input, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    def add_user(self, username: str, *roles: str) -> str:
        """A staff account with ``roles`` and the password :data:`PASSWORD` (made once per session)."""
        if username not in self.users:
            role_args = [arg for role in roles for arg in ("--role", role)]
            self.cli("users", "add", username, *role_args, "--password-stdin", input=PASSWORD + "\n")
            self.users.add(username)
        return username

    def api_key(self, username: str, name: str) -> str:
        """A new API key of ``username`` (printed once, on the last line)."""
        return self.cli("apikeys", "create", "--user", username, "--name", name).strip().splitlines()[-1]


def _ini(path: Path, database: Path, var: Path) -> Path:
    corpus = str(CORPUS) if CORPUS.is_dir() else ""
    path.write_text(
        "[app:main]\nuse = egg:city-duty-portal\n"
        f"sqlalchemy.url = sqlite:///{database}\nportal.var_dir = {var}\n"
        f"portal.knowledge_base = {ROOT / 'knowledge_base'}\nportal.corpus_dir = {corpus}\n"
        "portal.lawpack = false\nportal.search.warm_up = false\nportal.search.heal_on_start = false\n"
        "cases.demo_count = 150\ncases.demo_seed = 7\nsession.secret = browser-test\nsession.secure = false\n"
        "catalogue.four_eyes = true\n"
        # every browser comes from 127.0.0.1: the per-address limits would count all tests as one person
        "ratelimit.anonymous_per_minute = 100000\nratelimit.login_per_minute = 100000\n"
        "apikeys.usage_write_interval = 1000000\n",
        encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def served_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedPortal]:
    """The portal on http://127.0.0.1:<port>, built by `portal init`, with the admin :data:`ADMIN`."""
    from pyramid.paster import get_app
    from waitress.server import create_server

    home = tmp_path_factory.mktemp("browser-portal")
    ini = _ini(home / "portal.ini", home / "portal.sqlite", home / "var")
    portal = ServedPortal(url="", ini=ini, init_output="")
    portal.init_output = portal.cli("init")
    portal.add_user(ADMIN, "admin")
    app = get_app(str(ini), "main")
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    portal.url = f"http://127.0.0.1:{server.effective_port}"
    yield portal
    server.close()


@pytest.fixture(scope="session")
def chromium() -> Iterator[WebDriver]:
    """Headless Chromium with a fresh profile, for the whole session (starting one takes seconds)."""
    if not (CHROMIUM and DRIVER):
        pytest.skip("needs Debian chromium and chromium-driver (make install-test)")
    pytest.importorskip("selenium", reason="selenium is a test extra (make install-test)")
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


class Browser:
    """One person at the portal in Chromium: opens pages, signs in, and keeps screenshots of them."""

    def __init__(self, driver: WebDriver, base_url: str, shots: Path) -> None:
        self.driver = driver
        self.base_url = base_url
        self.shots = shots
        self.width = DESKTOP

    # --- the window

    def resize(self, width: int) -> None:
        """Make the page (the window's inner width) exactly ``width`` CSS pixels wide."""
        self.width = width
        self.driver.set_window_size(width, WINDOW_HEIGHT)
        inner = self.driver.execute_script("return window.innerWidth")
        self.driver.set_window_size(width + (width - inner), WINDOW_HEIGHT)

    def screenshot(self, name: str) -> Path:
        """The whole page (up to :data:`MAX_SHOT_HEIGHT`) as ``<shots>/<name>-<width>.png``."""
        size = self.driver.get_window_size()
        height, frame = self.driver.execute_script(
            f"return [Math.min(document.documentElement.scrollHeight, {MAX_SHOT_HEIGHT}),"
            " window.outerHeight - window.innerHeight]")
        self.driver.set_window_size(size["width"], max(size["height"], height + frame))
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{name}-{self.width}.png"
        self.driver.save_screenshot(str(path))
        self.driver.set_window_size(size["width"], size["height"])
        return path

    # --- pages

    def open(self, path_or_url: str) -> None:
        self.driver.get(path_or_url if path_or_url.startswith("http") else self.base_url + path_or_url)

    @property
    def path(self) -> str:
        """The current address without the server part (``/regulations/3/articles/23``)."""
        url: str = self.driver.current_url
        return url.removeprefix(self.base_url)

    def find(self, css: str) -> WebElement:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[WebElement]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def link(self, text: str) -> WebElement:
        """The first link on view whose text contains ``text``."""
        from selenium.webdriver.common.by import By

        links = [a for a in self.driver.find_elements(By.PARTIAL_LINK_TEXT, text) if a.is_displayed()]
        assert links, f"no link {text!r} on view at {self.path}"
        return links[0]

    def text(self, css: str = "main") -> str:
        """What the reader sees of ``css`` (the main content by default)."""
        return str(self.find(css).text)

    def space_below_header(self) -> float:
        """CSS pixels between the site header and the first thing on the page (a breadcrumb, a notice)."""
        gap: float = self.driver.execute_script(
            "const main = document.querySelector('main');"
            "const first = [...main.children].find(el => el.getBoundingClientRect().height > 0);"
            "return first.getBoundingClientRect().top - document.querySelector('header').getBoundingClientRect().bottom;")
        return gap

    def wait_for(self, css: str, seconds: float = 30) -> list[WebElement]:
        """The elements ``css`` once a script has put them on view (a page's own updates, no reload)."""
        from selenium.webdriver.support.wait import WebDriverWait

        WebDriverWait(self.driver, seconds).until(
            lambda driver: any(element.is_displayed() for element in self.find_all(css)))
        return self.find_all(css)

    def html(self) -> str:
        return str(self.driver.page_source)

    def type_into(self, label: str, value: str) -> None:
        """Type into the field whose label says ``label``, as a user would after clicking it."""
        box = self.field(label)
        box.clear()
        box.send_keys(value)

    def field(self, label: str) -> WebElement:
        from selenium.webdriver.common.by import By

        # the label's own words: a required field's marker (*) is not part of them
        element = self.driver.find_element(
            By.XPATH, f"//main//label[normalize-space(text()[1])={_xpath_literal(label)}]")
        return self.find(f"#{element.get_attribute('for')}")

    def choose(self, label: str, option: str) -> None:
        """Pick the option shown as ``option`` (indentation aside) in the drop-down labelled ``label``."""
        from selenium.webdriver.support.select import Select

        select = Select(self.field(label))
        for index, element in enumerate(select.options):
            if element.text.strip("\u3000 ") == option:
                select.select_by_index(index)
                return
        raise AssertionError(f"no option {option!r} in {label!r}")

    def press(self, text: str, within: str = "main") -> None:
        """Click the button saying ``text`` (inside ``within``), and wait for the page it leads to."""
        from selenium.webdriver.common.by import By

        buttons = [b for b in self.find(within).find_elements(By.CSS_SELECTOR, "button, input[type=submit]")
                   if (b.text or b.get_attribute("value") or "").strip() == text and b.is_displayed()]
        assert buttons, f"no button {text!r} on {self.path}"
        self.follow(buttons[0].click)

    def follow(self, action: Any) -> None:
        """Do ``action`` (a click) and wait until the page it started has loaded."""
        from selenium.webdriver.support.wait import WebDriverWait

        old = self.find("html")
        action()
        WebDriverWait(self.driver, 30).until(
            lambda driver: _is_stale(old) and driver.execute_script("return document.readyState") == "complete")

    # --- people

    def sign_in(self, username: str, password: str = PASSWORD) -> None:
        """Sign in from the header's link on the current page, as staff do; back on that page after."""
        self.follow(self.link("工作人员登录").click)
        self.type_into("用户名", username)
        self.type_into("密码", password)
        self.press("登录")
        assert username in self.text("header"), f"not signed in as {username}: {self.text('main')[:200]}"

    def sign_out(self) -> None:
        self.press("退出", within="header")

    def forget(self) -> None:
        """A new visitor: no cookies of the last one."""
        self.driver.delete_all_cookies()


def _is_stale(element: WebElement) -> bool:
    from selenium.common.exceptions import WebDriverException

    try:
        element.tag_name  # noqa: B018 - any access tells whether the page is gone
    except WebDriverException:
        # stale, or (mid-navigation) "Node with given id does not belong to the document": gone either way
        return True
    return False


def _xpath_literal(text: str) -> str:
    return f'"{text}"' if '"' not in text else "concat('" + text.replace("'", "', \"'\", '") + "')"


@pytest.fixture
def browser(request: pytest.FixtureRequest, served_portal: ServedPortal, chromium: WebDriver) -> Iterator[Browser]:
    """A fresh visitor in the shared Chromium at desktop width; a failing test leaves a screenshot of
    the page it failed on (``FAILED-<test>-<width>.png``) beside the suite's others."""
    suite = request.node.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "-")
    shots = ARTIFACTS / suite
    person = Browser(chromium, served_portal.url, shots)
    person.forget()
    person.resize(DESKTOP)
    yield person
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        name = re.sub(r"[^\w.-]+", "-", request.node.originalname)
        path = person.screenshot(f"FAILED-{name}")
        print(f"\nscreenshot of the failure: {path}")
    person.forget()
