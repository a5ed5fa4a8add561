"""Site-wide pages a newcomer meets first: the home page's two boxes, favicon, robots.txt."""

from __future__ import annotations


def test_home_page_asks_the_two_questions_at_once(testapp):
    page = testapp.get("/")
    forms = {form.action: form for form in page.forms.values()}
    lookup = next(f for action, f in forms.items() if action.endswith("/catalogue/lookup"))
    search = next(f for action, f in forms.items() if action.endswith("/search"))
    assert lookup.method.lower() == "get" and "item" in lookup.fields
    assert search.method.lower() == "get" and "q" in search.fields


def test_favicon_and_robots_are_served(testapp):
    icon = testapp.get("/favicon.ico", status=200)
    assert icon.content_type == "image/x-icon" and icon.body[:4] == b"\x00\x00\x01\x00"
    robots = testapp.get("/robots.txt", status=200)
    assert robots.content_type == "text/plain"
    assert "Disallow: /admin/" in robots.text and "Disallow: /track" in robots.text


def test_every_response_carries_the_security_headers(testapp):
    for response in (testapp.get("/"), testapp.get("/api/v1/openapi.json"), testapp.get("/nowhere", status=404)):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp


def test_the_public_health_check_does_not_say_where_the_index_lies(testapp, app_settings):
    body = testapp.get("/healthz", expect_errors=True).json
    assert "index_dir" not in body["checks"]["search_index"]
    assert app_settings["portal.var_dir"] not in str(body)
