"""Bad input gets a clear 4xx in the format of its surface, never a 500 (audit findings)."""

from __future__ import annotations

import pytest

NESTED = "[" * 100_000


@pytest.fixture
def keys(make_api_key, catalogue_connection):
    return {"dispatcher": {"Authorization": f"Bearer {make_api_key('dispatcher')}"},
            "editor": {"Authorization": f"Bearer {make_api_key('editor')}"}}


@pytest.fixture
def dbsession(catalogue_session):
    return catalogue_session


def _assert_clear_4xx(response, path):
    assert 400 <= response.status_int < 500, (path, response.status, response.text[:200])
    if path.startswith("/api/"):
        error = response.json["error"]
        assert error["code"] and error["message"]
    elif path.startswith("/open311/"):
        assert response.json[0]["code"] == response.status_int and response.json[0]["description"]


@pytest.mark.parametrize("method,path,role", [
    ("post", "/api/v1/cases", "dispatcher"),
    ("post", "/api/v1/duties", "editor"),
    ("patch", "/api/v1/duties/1", "editor"),
    ("post", "/open311/v2/requests.json", "dispatcher"),
])
def test_deeply_nested_json_is_refused(testapp, keys, method, path, role):
    response = getattr(testapp, method)(path, NESTED, headers={**keys[role], "Content-Type": "application/json"},
                                        expect_errors=True)
    _assert_clear_4xx(response, path)


@pytest.mark.parametrize("path", ["/api/%ff", "/open311/v2/tokens/%ff.json", "/catalogue/item-types/%ff", "/%c3%28"])
def test_paths_that_are_not_utf8_are_refused(testapp, path):
    response = testapp.get(path, expect_errors=True)
    _assert_clear_4xx(response, path)
    testapp.reset()


@pytest.mark.parametrize("path", [
    "/api/v1/regulations/1/articles/9999999999999999999999999",
    "/api/v1/responsibility?item_type=0101&area=3301990010100101&reported_at=9999-12-31T23:59:59-14:00",
    "/api/v1/responsibility?item_type=0101&area=3301990010100101&reported_at=0001-01-01T00:00:00%2B14:00",
    "/open311/v2/requests.json?start_date=9999-12-31",
    "/api/v1/cases?cursor=AAAAAAAAAAAA",
    "/api/v1/search?q=%00",
    "/open311/v2/requests.json?service_code=%00",
])
def test_numbers_dates_and_nul_beyond_range_are_refused(testapp, path):
    _assert_clear_4xx(testapp.get(path, expect_errors=True), path.split("?")[0])


def test_huge_ids_are_not_found(testapp):
    for path in ("/api/v1/cases/99999999999", "/api/v1/duties/99999999999", "/api/v1/regulations/99999999999"):
        _assert_clear_4xx(testapp.get(path, expect_errors=True), path)


def test_nul_in_a_json_body_is_refused_and_nothing_stored(testapp, keys, dbsession):
    from sqlalchemy import func, select

    from portal.cases.models import Case

    before = dbsession.scalar(select(func.count()).select_from(Case))
    body = {"external_id": "NUL-1", "channel": "hotline_12345", "item_type": "0103", "description": "井盖\u0000缺失",
            "reported_at": "2026-11-20T10:00:00+08:00", "lat": 30.2336, "lon": 120.0860}
    response = testapp.post_json("/api/v1/cases", body, headers=keys["dispatcher"], expect_errors=True)
    assert response.status_int == 400 and response.json["error"]["code"] == "invalid_character"
    assert dbsession.scalar(select(func.count()).select_from(Case)) == before


@pytest.mark.parametrize("method,path", [
    ("patch", "/api/v1/duties/1"), ("post", "/api/v1/cases/1/events"), ("post", "/api/v1/cases/1/feedback"),
    ("post", "/api/v1/duties/1/transitions"),
])
def test_multipart_without_a_boundary_is_refused(testapp, keys, method, path):
    headers = {**keys["editor" if "duties" in path else "dispatcher"], "Content-Type": "multipart/form-data"}
    response = getattr(testapp, method)(path, b"--x\r\nbroken", headers=headers, expect_errors=True)
    _assert_clear_4xx(response, path)


@pytest.mark.parametrize("reported_at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1899-12-31T23:00:00+08:00",
                                         "2101-01-01T00:00:00+08:00"])
def test_case_dates_outside_1900_to_2100_are_refused(testapp, keys, reported_at):
    body = {"external_id": f"EDGE-{reported_at[:4]}", "channel": "hotline_12345", "item_type": "0103",
            "description": "井盖缺失", "reported_at": reported_at, "lat": 30.2336, "lon": 120.0860}
    response = testapp.post_json("/api/v1/cases", body, headers=keys["dispatcher"], status=400)
    assert "reported_at" in response.json["error"]["fields"]


def test_an_unreachable_database_is_503_with_retry_after(app_settings, tmp_path):
    import webtest

    from portal import main

    # A database that cannot be opened: the server still starts, and says "not now", not 500.
    settings = dict(app_settings, **{"sqlalchemy.url": f"sqlite:///{tmp_path}/missing/dir/portal.sqlite",
                                     "portal.var_dir": str(tmp_path / "var")})
    app = webtest.TestApp(main({}, **settings), extra_environ={"HTTP_HOST": "example.com"})
    for path in ("/api/v1/cases", "/open311/v2/requests.json", "/regulations"):
        response = app.get(path, headers={"Authorization": "Bearer cdp_x_y"} if path.startswith("/api/") else {},
                           expect_errors=True)
        assert response.status_int == 503, (path, response.status, response.text[:200])
        assert int(response.headers["Retry-After"]) > 0


def test_a_huge_form_field_quoted_in_a_flash_does_not_overflow_the_session(testapp, login_as, dbsession):
    from sqlalchemy import select

    from portal.catalogue.models import Duty

    login_as("editor", username="long-typist")
    duty_id = dbsession.scalar(select(Duty.id).order_by(Duty.id).limit(1))
    page = testapp.get(f"/catalogue/duties/{duty_id}")
    token = page.html.find("input", attrs={"name": "csrf_token"})["value"]
    response = testapp.post(f"/catalogue/duties/{duty_id}/transition",
                            {"transition": "x" * 10_000, "csrf_token": token}, status=303)
    cookie = response.headers.get("Set-Cookie", "")
    assert len(cookie) < 4096
    after = testapp.get(f"/catalogue/duties/{duty_id}")
    assert "long-typist" in after.text or after.html.find("form", action=lambda a: a and a.endswith("/logout"))
