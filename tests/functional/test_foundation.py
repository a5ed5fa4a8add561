"""The skeleton as users and client systems meet it: pages, errors, login, API keys, health, docs."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from openapi_spec_validator import validate

from portal.audit import AuditEntry


def test_home_page_is_chinese_accessible_and_links_only_existing_sections(testapp, app):
    page = testapp.get("/")
    assert '<html lang="zh-CN">' in page.text
    assert 'id="main"' in page.text and "跳到正文" in page.text
    assert page.html.find("nav", attrs={"aria-label": "主导航"}) is not None
    for section in app.registry.get("portal.sections", []):
        href = app.routes_mapper.get_route(section.route_name).generate({})
        assert f'href="http://example.com{href}"' in page.text
    # Every link on the home page leads somewhere that answers.
    for anchor in page.html.select("main a[href]"):
        assert testapp.get(anchor["href"]).status_int == 200


def test_health_reports_database_and_index(testapp):
    response = testapp.get("/healthz", expect_errors=True)
    assert response.content_type == "application/json"
    assert response.json["checks"]["database"]["ok"] is True
    assert "search_index" in response.json["checks"]


def test_openapi_document_is_valid_and_generated_from_the_views(testapp):
    spec = testapp.get("/api/v1/openapi.json").json
    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/audit" in spec["paths"]
    audit = spec["paths"]["/api/v1/audit"]["get"]
    assert {p["name"] for p in audit["parameters"]} >= {"entity_type", "page", "page_size"}


def test_api_docs_page_works_without_any_external_resource(testapp):
    page = testapp.get("/api/docs")
    assert "/api/v1/openapi.json" in page.text
    assert "cdn" not in page.text.lower()
    for tag in page.html.find_all(["script", "link", "img"]):
        source = tag.get("src") or tag.get("href") or ""
        assert source.startswith(("http://example.com/", "/")), source


def test_unknown_api_path_gets_the_json_error_envelope(testapp):
    response = testapp.get("/api/v1/anything-unknown", status=404)
    assert response.content_type == "application/json"
    assert response.json["error"]["code"] == "not_found"
    assert set(response.json["error"]) == {"code", "message", "fields", "message_en"}


def test_unknown_page_gets_a_friendly_chinese_page(testapp):
    response = testapp.get("/no-such-page", status=404)
    assert response.content_type == "text/html"
    assert "不存在" in response.text and "返回首页" in response.text


def test_oversized_bodies_are_refused_with_413(testapp):
    response = testapp.post("/api/v1/audit", params=b"x" * (1024 * 1024 + 1),
                            headers={"Content-Type": "application/json"}, status=413)
    assert response.json["error"]["code"] == "payload_too_large"


def test_invalid_query_parameters_get_400_with_field_messages(testapp, make_api_key):
    key = make_api_key("admin")
    response = testapp.get("/api/v1/audit", params={"page": "zero"},
                           headers={"Authorization": f"Bearer {key}"}, status=400)
    assert response.json["error"]["code"] == "validation_failed"
    assert "page" in response.json["error"]["fields"]


@pytest.mark.parametrize("query", ["page=-1", "page_size=100000", "page=%FF%FE", "entity_type=" + quote("长" * 500)])
def test_hostile_query_strings_never_cause_a_500(testapp, make_api_key, query):
    key = make_api_key("admin")
    response = testapp.get(f"/api/v1/audit?{query}", headers={"Authorization": f"Bearer {key}"},
                           expect_errors=True)
    assert 400 <= response.status_int < 500


def test_invalid_api_key_is_401_not_anonymous(testapp):
    response = testapp.get("/api/v1/audit", headers={"Authorization": "Bearer cdp_nothing_here"}, status=401)
    assert response.json["error"]["code"] == "invalid_api_key"


def test_audit_log_is_for_admins_only(testapp, make_api_key):
    anonymous = testapp.get("/api/v1/audit", status=401)
    assert anonymous.json["error"]["code"] == "authentication_required"
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    testapp.get("/api/v1/audit", headers={"Authorization": f"Bearer {make_api_key('editor')}"}, status=403)
    response = testapp.get("/api/v1/audit", headers={"Authorization": f"Bearer {make_api_key('admin')}"})
    assert response.json["total"] >= 0


def test_anonymous_staff_page_redirects_to_login_and_back(testapp):
    response = testapp.get("/admin/audit", status=302)
    assert "/login?next=%2Fadmin%2Faudit" in response.location


def test_login_requires_csrf_token(testapp, make_user):
    make_user("clerk1", "clerk")
    testapp.get("/login")
    response = testapp.post("/login", {"username": "clerk1", "password": "correct horse battery"}, status=400)
    assert "text/html" in response.content_type


def test_login_wrong_password_shows_message_and_sets_no_identity(testapp, make_user):
    make_user("clerk2", "clerk")
    form = testapp.get("/login").forms[0]
    form["username"] = "clerk2"
    form["password"] = "not the password"
    response = form.submit(status=400)
    assert "用户名或密码不正确" in response.text
    assert "工作人员登录" in testapp.get("/").text


def test_login_and_logout_round_trip(testapp, login_as, dbsession):
    login_as("admin", username="root-admin")
    page = testapp.get("/admin/audit")
    assert "审计日志" in page.text and "root-admin" in page.text
    # Log out through the form in the header (POST + CSRF).
    home = testapp.get("/")
    logout_form = next(f for f in home.forms.values() if f.action.endswith("/logout"))
    logout_form.submit(status=303)
    testapp.get("/admin/audit", status=302)


def test_login_refuses_to_redirect_off_site(testapp, make_user):
    make_user("clerk3", "clerk")
    form = testapp.get("/login?next=https://evil.example/").forms[0]
    form["username"] = "clerk3"
    form["password"] = "correct horse battery"
    response = form.submit(status=303)
    assert response.location in {"http://example.com/", "/"}


def test_api_requests_ignore_the_session_cookie(testapp, login_as):
    """A logged-in browser session must not authorise API calls (no CSRF surface)."""
    login_as("admin", username="browser-admin")
    testapp.get("/admin/audit", status=200)
    testapp.get("/api/v1/audit", status=401)


def test_rate_limited_callers_get_429_with_retry_after(app_settings, engine, dbsession, tm):
    import webtest

    from portal import main

    settings = dict(app_settings, **{"ratelimit.anonymous_per_minute": "3"})
    app = webtest.TestApp(main({}, **settings), extra_environ={
        "HTTP_HOST": "example.com", "REMOTE_ADDR": "10.9.9.9",
        "tm.active": True, "tm.manager": tm, "app.dbsession": dbsession})
    for _ in range(3):
        app.get("/api/v1/openapi.json")
    response = app.get("/api/v1/openapi.json", status=429)
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json["error"]["code"] == "rate_limited"
    # Another client is not affected.
    app.get("/api/v1/openapi.json", extra_environ={"REMOTE_ADDR": "10.9.9.10"}, status=200)


def test_audit_entries_render_with_diffs_for_admins(testapp, login_as, dbsession):
    login_as("admin", username="diff-admin")
    dbsession.add(AuditEntry(actor_name="someone", action="duties.update", entity_type="duties", entity_id="7",
                             before={"agency": "排水公司"}, after={"agency": "市政养护中心"}))
    dbsession.flush()
    page = testapp.get("/admin/audit", params={"entity_type": "duties"})
    row = page.html.find("dl", class_="diff")
    assert row.find("del").text == "排水公司" and row.find("ins").text == "市政养护中心"


def test_logout_ends_every_copy_of_the_session(testapp, login_as):
    login_as("admin", username="copied-admin")
    stolen = dict(testapp.cookies)  # a copy of the cookie: another tab, or someone else's hands
    home = testapp.get("/")
    next(f for f in home.forms.values() if f.action.endswith("/logout")).submit(status=303)
    testapp.reset()
    for name, value in stolen.items():
        testapp.set_cookie(name, value)
    testapp.get("/admin/audit", status=302)


def test_a_password_reset_ends_the_users_sessions(testapp, login_as, dbsession):
    from portal.accounts.services import DatabaseUserService

    user = login_as("admin", username="reset-admin")
    testapp.get("/admin/audit", status=200)
    DatabaseUserService(dbsession).reset_password(user, "a brand new secret")
    dbsession.flush()
    testapp.get("/admin/audit", status=302)


def test_sign_in_attempts_are_limited_per_address(app_settings, engine, dbsession, tm):
    import webtest

    from portal import main

    settings = dict(app_settings, **{"ratelimit.login_per_minute": "2"})
    app = webtest.TestApp(main({}, **settings), extra_environ={
        "HTTP_HOST": "example.com", "REMOTE_ADDR": "10.9.8.7",
        "tm.active": True, "tm.manager": tm, "app.dbsession": dbsession})
    for _ in range(2):
        form = app.get("/login").forms[0]
        form["username"], form["password"] = "nobody", "wrong password"
        form.submit(status=400)
    form = app.get("/login").forms[0]
    form["username"], form["password"] = "nobody", "wrong password"
    refused = form.submit(status=429)
    assert int(refused.headers["Retry-After"]) >= 1
