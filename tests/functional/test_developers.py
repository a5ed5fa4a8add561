"""The /developers page: its curl and Python examples run, as printed, against the application."""

from __future__ import annotations

import html
import os
import re
import shlex
import sys
import types
from urllib.parse import urlencode, urlsplit

import pytest

BASE = "http://example.com"
_BLOCK = re.compile(r'<code data-example="(?P<key>[^"]+)" data-language="(?P<lang>[^"]+)">(?P<code>.*?)</code>', re.S)


@pytest.fixture
def dbsession(catalogue_session):
    return catalogue_session


@pytest.fixture
def page_examples(testapp, make_api_key, monkeypatch):
    monkeypatch.setenv("PORTAL_API_KEY", make_api_key("dispatcher", username="example-client"))
    text = testapp.get("/developers").text
    blocks = [(m["key"], m["lang"], html.unescape(m["code"])) for m in _BLOCK.finditer(text)]
    assert {key for key, _, _ in blocks} >= {"lookup", "search", "cases", "open311", "exports"}
    return blocks


def _path(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == BASE, url
    return parts.path + (f"?{parts.query}" if parts.query else "")


def run_curl(testapp, line: str) -> bytes:
    """The curl options the page uses: -s -G -X -d --data-urlencode -H --compressed -o."""
    args = [os.path.expandvars(a) for a in shlex.split(line)]
    assert args[0] == "curl"
    method, data, headers, url, get = None, [], {}, None, False
    i = 1
    while i < len(args):
        arg = args[i]
        if arg in ("-s", "--compressed"):
            pass
        elif arg == "-G":
            get = True
        elif arg == "-X":
            method = args[i + 1]
            i += 1
        elif arg in ("-d", "--data-urlencode"):
            data.append(tuple(args[i + 1].split("=", 1)))
            i += 1
        elif arg == "-H":
            name, value = args[i + 1].split(":", 1)
            headers[name] = value.strip()
            i += 1
        elif arg == "-o":
            i += 1  # the body is checked instead of written
        else:
            assert url is None, f"unexpected argument {arg}"
            url = arg
        i += 1
    path = _path(url)
    if data and (get or method == "GET"):
        path += ("&" if "?" in path else "?") + urlencode(data)
        data = []
    if data or method == "POST":
        response = testapp.post(path, params=data, headers=headers)
    else:
        response = testapp.get(path, headers=headers)
    assert response.status_int < 400, (line, response.text[:300])
    return response.body


class FakeResponse:
    def __init__(self, response):
        self._response = response
        self.status_code = response.status_int
        self.headers = response.headers
        self.text = response.text

    def json(self):
        return self._response.json

    def raise_for_status(self):
        assert self.status_code < 400, self.text[:300]

    def iter_lines(self):
        return iter(self._response.body.splitlines())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def fake_requests(testapp):
    module = types.ModuleType("requests")

    def get(url, params=None, headers=None, timeout=None, stream=False):
        assert timeout, "examples set a timeout"
        path = _path(url) + (("&" if "?" in url else "?") + urlencode(params) if params else "")
        return FakeResponse(testapp.get(path, headers=headers or {}, status="*"))

    def post(url, data=None, json=None, headers=None, timeout=None):
        assert timeout, "examples set a timeout"
        if json is not None:
            return FakeResponse(testapp.post_json(_path(url), json, headers=headers or {}, status="*"))
        return FakeResponse(testapp.post(_path(url), params=data, headers=headers or {}, status="*"))

    module.get, module.post = get, post
    return module


def test_every_curl_example_runs(testapp, page_examples):
    ran = 0
    for key, lang, code in page_examples:
        if lang != "shell":
            continue
        for line in code.replace("\\\n", " ").splitlines():
            if line.strip():
                body = run_curl(testapp, line)
                assert body, (key, line)
                ran += 1
    assert ran >= 6


def test_every_python_example_runs(testapp, page_examples, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "requests", fake_requests(testapp))
    outputs = {}
    for key, lang, code in page_examples:
        if lang != "python":
            continue
        exec(compile(code, f"<developers:{key}>", "exec"), {"__name__": "__example__"})
        outputs[key] = capsys.readouterr().out
    assert outputs["lookup"].strip()
    assert "件公开案件" in outputs["cases"] and "条结果" in outputs["search"]
    assert outputs["open311"].strip()
    assert outputs["exports"].rstrip().endswith("304")


def test_the_page_states_limits_and_change_policy(testapp):
    text = testapp.get("/developers").text
    for words in ("获取 API 密钥", "Authorization: Bearer", "RateLimit-Remaining", "Retry-After", "/api/v2/",
                  "12 个月", "Sunset", "每分钟 100000 次"):
        assert words in text
