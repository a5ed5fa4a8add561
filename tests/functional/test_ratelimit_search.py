"""Rate limits on every surface a client can flood: the search page for people, and the API and
Open311 for clients that present an API key (a key's own limit, or the default for keys)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import transaction
import webtest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import ApiKey


def limited_app(app_settings: dict[str, Any], dbsession: Session, tm: transaction.TransactionManager,
                **limits: str) -> webtest.TestApp:
    """A fresh app (its own rate-limit buckets) with low limits, as a client at 10.7.7.7 meets it."""
    from portal import main

    settings = dict(app_settings, **{f"ratelimit.{name}": value for name, value in limits.items()})
    return webtest.TestApp(main({}, **settings), extra_environ={
        "HTTP_HOST": "example.com", "REMOTE_ADDR": "10.7.7.7",
        "tm.active": True, "tm.manager": tm, "app.dbsession": dbsession})


def test_the_search_page_refuses_a_flood_with_a_chinese_429_and_retry_after(app, app_settings, dbsession, tm):
    client = limited_app(app_settings, dbsession, tm, search_per_minute="2")
    first = client.get("/search", {"q": "井盖"}, status=200)
    assert first.headers["RateLimit-Limit"] == "2" and first.headers["RateLimit-Remaining"] == "1"
    client.get("/search", {"q": "占道经营"}, status=200)

    refused = client.get("/search", {"q": "夜间施工噪声"}, status=429)
    assert refused.content_type == "text/html"
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert refused.headers["RateLimit-Remaining"] == "0"
    page = refused.html
    assert "请求过于频繁" in page.find("h1").text
    assert f"请在 {retry_after} 秒后重试" in page.text
    # The same address still reads everything else, and another address still searches.
    client.get("/", status=200)
    client.get("/regulations", status=200)
    client.get("/search", {"q": "井盖"}, extra_environ={"REMOTE_ADDR": "10.7.7.8"}, status=200)


def test_malformed_search_queries_count_against_the_limit_too(app, app_settings, dbsession, tm):
    client = limited_app(app_settings, dbsession, tm, search_per_minute="1")
    client.get("/search", {"q": "井盖", "page": "not a number"}, status=400)
    client.get("/search", {"q": "井盖"}, status=429)


def test_without_its_own_setting_the_search_page_uses_the_anonymous_limit(app, app_settings, dbsession, tm):
    client = limited_app(app_settings, dbsession, tm, anonymous_per_minute="1")
    assert "ratelimit.search_per_minute" not in app_settings
    client.get("/search", {"q": "井盖"}, status=200)
    client.get("/search", {"q": "井盖"}, status=429)


def test_signed_in_staff_search_in_a_bucket_of_their_own(app, app_settings, dbsession, tm, make_user):
    """Colleagues behind one office address do not share the anonymous bucket of that address."""
    client = limited_app(app_settings, dbsession, tm, search_per_minute="1", apikey_per_minute="3")
    make_user("searching-dispatcher", "dispatcher")
    client.get("/search", {"q": "井盖"}, status=200)
    client.get("/search", {"q": "井盖"}, status=429)  # the address's anonymous bucket is empty
    form = client.get("/login").forms[0]
    form["username"], form["password"] = "searching-dispatcher", "correct horse battery"
    form.submit(status=303)
    signed_in = client.get("/search", {"q": "井盖"}, status=200)
    assert signed_in.headers["RateLimit-Limit"] == "3"


# Every surface that takes an API key: the JSON API (v1) and Open311 in both formats, with the
# key as a Bearer token or (Open311 only) as the api_key parameter.
KEYED_SURFACES: list[tuple[str, str, bool]] = [
    ("/api/v1/item-types", "json", False),
    ("/api/v1/search?q=%E4%BA%95%E7%9B%96", "json", False),
    ("/open311/v2/services.json", "json", False),
    ("/open311/v2/requests.xml", "xml", False),
    ("/open311/v2/services.xml", "xml", True),
]


def keyed_get(client: webtest.TestApp, url: str, secret: str, as_parameter: bool, status: int) -> webtest.TestResponse:
    if as_parameter:
        joiner = "&" if "?" in url else "?"
        return client.get(f"{url}{joiner}api_key={secret}", status=status)
    return client.get(url, headers={"Authorization": f"Bearer {secret}"}, status=status)


@pytest.mark.parametrize(("url", "body", "as_parameter"), KEYED_SURFACES)
def test_a_key_without_its_own_limit_gets_the_default_for_keys(app, app_settings, dbsession, tm,
                                                               make_api_key: Callable[..., str],
                                                               url: str, body: str, as_parameter: bool):
    client = limited_app(app_settings, dbsession, tm, apikey_per_minute="2", anonymous_per_minute="1000")
    secret = make_api_key("dispatcher")
    first = keyed_get(client, url, secret, as_parameter, 200)
    assert first.headers["RateLimit-Limit"] == "2"
    keyed_get(client, url, secret, as_parameter, 200)
    refused = keyed_get(client, url, secret, as_parameter, 429)
    assert int(refused.headers["Retry-After"]) >= 1 and refused.headers["RateLimit-Remaining"] == "0"
    if not url.startswith("/open311/"):
        assert refused.json["error"]["code"] == "rate_limited"
    elif body == "json":
        [error] = refused.json
        assert error["code"] == 429 and "请求过于频繁" in error["description"]
    else:
        assert b"<errors>" in refused.body and "请求过于频繁" in refused.text
    # The key's bucket is its own: the same address without the key is still served.
    client.get(url, status=200)


@pytest.mark.parametrize(("url", "body", "as_parameter"), KEYED_SURFACES)
def test_a_keys_own_limit_holds_on_every_surface(app, app_settings, dbsession, tm,
                                                 make_api_key: Callable[..., str],
                                                 url: str, body: str, as_parameter: bool):
    client = limited_app(app_settings, dbsession, tm, apikey_per_minute="1000")
    secret = make_api_key("dispatcher")
    key = dbsession.scalars(select(ApiKey).order_by(ApiKey.id.desc())).first()
    assert key is not None
    key.rate_limit_per_minute = 1
    dbsession.flush()
    assert keyed_get(client, url, secret, as_parameter, 200).headers["RateLimit-Limit"] == "1"
    keyed_get(client, url, secret, as_parameter, 429)
