"""Standing proof: every route answers every kind of bad input with a clear 4xx (issue 15).

The routes come from Pyramid's route mapper and the methods from the views registered for them,
so a new route is covered the day it is added. Each is sent, on SQLite and PostgreSQL, as an API
client holding every role (under /api/ and /open311/) or as a signed-in member of staff with a
valid CSRF token (elsewhere), so the input reaches validation rather than stopping at the door:

- its path placeholders filled with real ids, and with huge, negative and fractional numbers,
  traversal (``../``, ``%2e%2e``), NUL, bytes that are not UTF-8, SQL and script;
- for reading methods, every category in every common query parameter: oversized, invalid
  UTF-8, huge/negative/float numbers, dates at the calendar's edge, NUL, traversal, SQL, script;
- for writing methods, bodies: oversized, deeply nested, invalid UTF-8 (JSON and form), NUL,
  absurd numbers and dates, SQL and script, a JSON document that is not an object, wrong content
  types, multipart without a boundary, an upload whose file name climbs out of its directory;
- an undeclared method (TRACE).

Expected: never a 5xx; an error in the format of its surface (the JSON envelope under /api/, the
Open311 error array under /open311/, a page elsewhere); a 2xx or 3xx only where the input is
plain text a person may type (a search for ``' OR 1=1``); and when the answer is an error that
the transaction commits (no exception was raised), not one row more or less in any table.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import webtest
from pyramid.interfaces import IRoutesMapper
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from webob import Request as WebObRequest
from webob import Response

from portal.errors import allowed_methods
from tests.functional import fuzz_world
from tests.functional.fuzz_world import IsolatedApp, World, row_counts

# The populated world and its isolating app (fixtures shared with test_api_fuzz.py).
catalogue_laws, world, isolated_app = fuzz_world.catalogue_laws, fuzz_world.world, fuzz_world.isolated_app

PLACEHOLDER = re.compile(r"\{(\w+)(?::[^}]*)?\}|\*(\w+)$")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

#: Values put into path placeholders (already percent-encoded: they reach PATH_INFO decoded).
BAD_PATH_VALUES = ("99999999999999999999999999", "-1", "1.5", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "%00", "%ff%fe",
                   "'%20OR%201%3D1--", "%3Cscript%3Ealert(1)%3C%2Fscript%3E")

#: Query parameters the portal's pages and APIs read (unknown ones are ignored: no harm sending them).
QUERY_PARAMS = ("q", "page", "page_size", "at", "from", "to", "cursor", "before", "area", "item_type", "lat", "lon",
                "start_date", "end_date", "service_code", "fields", "citation", "reported_at", "status", "id",
                "code", "limit", "days", "text", "kind", "next", "agency", "period", "level", "by", "state")

#: Query categories: one raw (percent-encoded) value sent in every parameter at once.
QUERY_VALUES = {
    "oversized": "x" * 100_000,
    "invalid_utf8": "%ff%fe%c3%28",
    "huge_number": "9" * 40,
    "negative_number": "-99999999999",
    "float": "1.5e308",
    "not_a_number": "NaN",
    "date_low": "0001-01-01T00:00:00%2B14:00",
    "date_high": "9999-12-31T23:59:59-14:00",
    "nul": "a%00b",
    "traversal": "..%2F..%2F..%2Fetc%2Fpasswd",
    "sql": "'%20OR%201%3D1--%20",
    "script": "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
}

#: Body fields the portal's forms and APIs read.
BODY_FIELDS = ("external_id", "channel", "item_type", "description", "reported_at", "lat", "lon", "area", "at",
               "kind", "note", "rating", "comment", "transition", "agency", "role", "title", "question", "text",
               "citation", "service_code", "q", "valid_from", "valid_to", "reason", "filename", "content",
               "username", "password", "roles", "status", "period", "choice", "opinion", "experts", "grid_code")


def _json(values: dict[str, Any]) -> bytes:
    return json.dumps(values, ensure_ascii=False).encode("utf-8")


def _all_fields(value: Any) -> dict[str, Any]:
    return dict.fromkeys(BODY_FIELDS, value)


def _multipart(filename: str) -> tuple[str, bytes]:
    boundary = "corpusboundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="description"\r\n\r\nevidence\r\n',
             f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
             "Content-Type: application/pdf\r\n\r\n%PDF-1.4 not really\r\n",
             f"--{boundary}--\r\n"]
    return f"multipart/form-data; boundary={boundary}", "".join(parts).encode("utf-8")


#: Body categories: (content type, body). Forms get the CSRF token added when sent as staff.
BODIES: dict[str, tuple[str, bytes]] = {
    "oversized_json": ("application/json", b'{"description": "' + b"x" * 1_200_000 + b'"}'),
    "oversized_form": ("application/x-www-form-urlencoded", b"description=" + b"x" * 1_200_000),
    "deep_json": ("application/json", b"[" * 100_000),
    "deep_object_json": ("application/json", b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
    "invalid_utf8_json": ("application/json", b'{"description": "\xff\xfe\xc3\x28"}'),
    "invalid_utf8_form": ("application/x-www-form-urlencoded", b"description=%ff%fe&title=\xff\xfe&text=%c3%28"),
    "nul_json": ("application/json", _json(_all_fields("a\u0000b"))),
    "nul_form": ("application/x-www-form-urlencoded", "&".join(f"{f}=a%00b" for f in BODY_FIELDS).encode()),
    "numbers_json": ("application/json", b'{"id": 1e999, "page": -1, "lat": 1e308, "lon": -1e308, "rating": 1.5, '
                     b'"normal_working_days": 99999999999999999999999, "days": -5, "item_type": 12345678901234567890}'),
    "dates_json": ("application/json", _json({"reported_at": "0001-01-01T00:00:00+14:00",
                                              "at": "9999-12-31T23:59:59-14:00", "valid_from": "0000-00-00",
                                              "valid_to": "99999-01-01", "effective_date": "1899-12-31"})),
    "dates_form": ("application/x-www-form-urlencoded",
                   b"reported_at=0001-01-01T00%3A00%3A00%2B14%3A00&at=9999-12-31T23%3A59%3A59-14%3A00"
                   b"&valid_from=0000-00-00&valid_to=99999-01-01"),
    "sql_script_json": ("application/json", _json(_all_fields("' OR 1=1-- <script>alert(1)</script>"))),
    "traversal_json": ("application/json", _json(_all_fields("../../../etc/passwd"))),
    "json_not_an_object": ("application/json", b'"just a string"'),
    "json_array": ("application/json", b"[1, 2, 3]"),
    "wrong_type_text": ("text/plain", b"description=hello"),
    "wrong_type_xml": ("application/xml", b"<case><description>x</description></case>"),
    "multipart_without_boundary": ("multipart/form-data", b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb"),
    "upload_traversal": _multipart("../../../etc/passwd.pdf"),
    "upload_encoded_traversal": _multipart("%2e%2e%2f%2e%2e%2fportal.ini"),
    "upload_nul_name": _multipart("evil.pdf\u0000.sh"),
}


@dataclass(frozen=True)
class Probe:
    method: str
    path: str  # raw: percent-encoded where the category says so
    category: str
    content_type: str | None = None
    body: bytes = b""


def _real_value(route_name: str, pattern: str, name: str, ids: dict[str, str]) -> str:
    """A real value for placeholder ``name`` of a route, from the world."""
    fixed = {"n": ids["article"], "evidence_id": ids["evidence"], "key_id": "1", "action": "accept",
             "period": ids["period"], "revision": "1", "ext": "json", "name": "cases",
             "format": "csv" if pattern.startswith("/opendata/") else "json",
             "token": "unknown-token", "subpath": "portal.css"}
    if name in fixed:
        return fixed[name]
    if name == "code":
        for segment, kind in (("item-types", "item_type"), ("agencies", "agency"), ("areas", "area"),
                              ("powers", "power"), ("services", "item_type"), ("service", "item_type")):
            if f"/{segment}/" in pattern:
                return ids[kind]
    if name == "id":
        if "/evidence/" in pattern:
            return ids["evidence_dispute"]
        for segment, kind in (("cases", "case"), ("duties", "duty"), ("regulations", "regulation"),
                              ("rulings", "ruling"), ("disputes", "dispute"), ("users", "user"),
                              ("manage", "bulletin_id"), ("requests", "case")):
            if f"/{segment}/" in pattern:
                return ids[kind]
        return "1"
    raise AssertionError(f"no real value for {{{name}}} of route {route_name}: add one")


def _fill(pattern: str, values: dict[str, str]) -> str:
    path = PLACEHOLDER.sub(lambda m: values[m.group(1) or m.group(2)], pattern)
    return path if path.startswith("/") else "/" + path


def probes(app: Any, ids: dict[str, str]) -> Iterator[Probe]:
    """Every route × every method it answers × every category that applies."""
    from pyramid.request import Request

    request = Request.blank("/")
    request.registry = app.registry
    mapper = app.registry.queryUtility(IRoutesMapper)
    for route in mapper.get_routes():
        names = [m.group(1) or m.group(2) for m in PLACEHOLDER.finditer(route.pattern)]
        real = {name: _real_value(route.name, route.pattern, name, ids) for name in names}
        methods = sorted(allowed_methods(request, route.name) or {"GET", "POST"})
        path = _fill(route.pattern, real)
        yield Probe("TRACE", path, "undeclared_method")
        for bad in BAD_PATH_VALUES if names else ():
            yield Probe(methods[0], _fill(route.pattern, dict.fromkeys(names, bad)), f"path:{bad[:12]}")
        for method in methods:
            if method in WRITE_METHODS:
                for category, (content_type, body) in BODIES.items():
                    yield Probe(method, path, category, content_type, body)
            elif method != "HEAD":
                for category, value in QUERY_VALUES.items():
                    query = "&".join(f"{param}={value}" for param in QUERY_PARAMS)
                    yield Probe(method, f"{path}?{query}", category)


@dataclass
class Outcome:
    status: int
    stored: dict[str, tuple[int, int]]


class CorpusClient:
    """Sends probes as an API client (with every role) or as signed-in staff (with CSRF token)."""

    def __init__(self, isolated: IsolatedApp, world: World, baseline: dict[str, int]) -> None:
        self.isolated = isolated
        self.api_headers = {"Authorization": f"Bearer {world.api_key}"}
        self.baseline = baseline
        self.client = webtest.TestApp(isolated, extra_environ={"HTTP_HOST": "example.com"})
        form = self.client.get("/login").forms[0]
        form["username"], form["password"] = "fuzz-all-roles", "correct horse battery"
        form.submit(status=303)
        self.cookies = dict(self.client.cookies)
        page = self.client.get("/catalogue/duties/new", status=200)
        self.csrf_token: str = page.html.find("input", attrs={"name": "csrf_token"})["value"]
        self.last: Outcome | None = None
        isolated.after_request = self._after_request

    def _after_request(self, environ: dict[str, Any], status: int, session: Session) -> None:
        stored: dict[str, tuple[int, int]] = {}
        raised = environ.get("webob.adhoc_attrs", {}).get("exception") is not None
        if environ["REQUEST_METHOD"] in WRITE_METHODS and status >= 400 and not raised:
            # An error answered without an exception is committed by pyramid_tm: it must hold nothing.
            try:
                after = row_counts(session)
            except DBAPIError:
                after = self.baseline  # the database aborted the transaction: nothing can be committed
            stored = {t: (self.baseline.get(t, 0), n) for t, n in after.items() if n != self.baseline.get(t, 0)}
        self.last = Outcome(status, stored)

    def send(self, probe: Probe) -> Response:
        machine = probe.path.startswith(("/api/", "/open311/"))
        headers = dict(self.api_headers) if machine else {}
        body = probe.body
        if not machine and probe.content_type == "application/x-www-form-urlencoded":
            body = body + b"&csrf_token=" + self.csrf_token.encode()
        if not machine:
            headers["X-CSRF-Token"] = self.csrf_token
        # Straight to the WSGI app, as a server would pass it: webtest's cookie jar cannot build
        # a URL from a path that is not UTF-8, and would refuse to send such a request at all.
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        if probe.content_type:
            headers["Content-Type"] = probe.content_type
        path, _, query = probe.path.partition("?")
        request = WebObRequest.blank("/", method=probe.method, headers=headers)
        request.environ.update({"PATH_INFO": _raw_path(path), "QUERY_STRING": query, "HTTP_HOST": "example.com"})
        if body:
            request.body = body
        return request.get_response(self.isolated)


def _raw_path(path: str) -> str:
    """PATH_INFO as a WSGI server makes it: percent-decoded bytes, as latin-1."""
    from urllib.parse import unquote_to_bytes

    return unquote_to_bytes(path).decode("latin-1")


def _format_problem(probe: Probe, response: Response) -> str | None:
    """What is wrong with an error answer's format, if anything."""
    if probe.method == "HEAD" or response.status_int < 400:
        return None
    content_type = response.content_type or ""
    text = response.body.decode("utf-8", "replace")
    if probe.path.startswith("/api/"):
        try:
            error = json.loads(text)["error"]
            assert error["code"] and error["message"] and isinstance(error["fields"], dict)
        except (ValueError, KeyError, TypeError, AssertionError):
            return "not the JSON error envelope"
        return None
    if probe.path.startswith("/open311/"):
        if "xml" in content_type:
            return None if "<error" in text else "Open311 XML without <error>"
        try:
            errors = json.loads(text)
            assert errors[0]["code"] and errors[0]["description"]
        except (ValueError, KeyError, TypeError, IndexError, AssertionError):
            return "not the Open311 error array"
        return None
    if "json" in content_type:
        try:
            assert json.loads(text)["error"]["message"]
        except (ValueError, KeyError, TypeError, AssertionError):
            return "a JSON error without a message"
        return None
    if "html" not in content_type or "<html" not in text.lower():
        return f"not an HTML page ({content_type})"
    return None


def test_every_route_refuses_every_kind_of_bad_input(app: Any, isolated_app: IsolatedApp, world: World,
                                                    catalogue_connection: Any) -> None:
    baseline = row_counts(Session(bind=catalogue_connection))
    client = CorpusClient(isolated_app, world, baseline)
    problems: list[str] = []
    sent = 0
    routes = set()
    started = time.perf_counter()
    for probe in probes(app, world.ids):
        routes.add(probe.path.split("?")[0])
        response = client.send(probe)
        sent += 1
        outcome = client.last
        where = f"{probe.method} {probe.path[:120]} [{probe.category}] -> {response.status}"
        if response.status_int >= 500:
            problems.append(f"{where}: server error {response.body[:200]!r}")
            continue
        problem = _format_problem(probe, response)
        if problem:
            problems.append(f"{where}: {problem}: {response.body[:160]!r}")
        if outcome is not None and outcome.stored:
            problems.append(f"{where}: stored rows although refused: {outcome.stored}")
        if b"root:x:0:0" in response.body:
            problems.append(f"{where}: a file outside the application was served")
    elapsed = time.perf_counter() - started

    assert sent > 1000 and len(routes) > 100, (sent, len(routes))
    assert not problems, f"{len(problems)} of {sent} probes failed ({elapsed:.0f} s):\n" + "\n".join(problems[:80])


def test_the_corpus_covers_every_route_and_method(app: Any, world: World) -> None:
    """A route added tomorrow is probed by the same table, whatever its placeholders."""
    mapper = app.registry.queryUtility(IRoutesMapper)
    all_probes = list(probes(app, world.ids))
    probed = {(p.method, p.path.split("?")[0]) for p in all_probes}
    for route in mapper.get_routes():
        assert any(route.match(path.split("?")[0] if path.startswith("/") else path) is not None
                   for _, path in probed), route.name
    categories = {p.category for p in all_probes}
    assert set(BODIES) | set(QUERY_VALUES) | {"undeclared_method"} <= categories
