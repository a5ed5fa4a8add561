"""What a load balancer and API clients see of the scale-out features on one node."""

from __future__ import annotations

from sqlalchemy import select

from portal.accounts.models import ApiKey


def test_api_answers_say_how_much_of_the_limit_is_left(testapp, make_api_key, dbsession):
    secret = make_api_key("dispatcher")
    key = dbsession.scalars(select(ApiKey).order_by(ApiKey.id.desc())).first()
    key.rate_limit_per_minute = 2
    dbsession.flush()
    headers = {"Authorization": f"Bearer {secret}"}
    first = testapp.get("/api/v1/item-types", {"page_size": 1}, headers=headers)
    assert first.headers["RateLimit-Limit"] == "2" and first.headers["RateLimit-Remaining"] == "1"
    assert first.headers["RateLimit-Policy"] == "2;w=60"
    testapp.get("/api/v1/item-types", {"page_size": 1}, headers=headers)
    refused = testapp.get("/api/v1/item-types", {"page_size": 1}, headers=headers, status=429)
    assert refused.json["error"]["code"] == "rate_limited"
    assert refused.headers["RateLimit-Remaining"] == "0" and int(refused.headers["Retry-After"]) >= 29
    # pages for people carry no API rate-limit headers
    assert "RateLimit-Limit" not in testapp.get("/").headers


def test_a_forged_forwarded_for_does_not_escape_the_per_ip_limit(app, testapp):
    """Only a trusted proxy's X-Forwarded-For names the client; a client's own is dropped."""
    seen = []
    limiter = app.registry["portal.ratelimiter"]
    real_check = limiter.check

    def recording_check(bucket, per_minute):
        seen.append(bucket)
        return real_check(bucket, per_minute)

    limiter.check = recording_check
    try:
        testapp.get("/api/v1/item-types", {"page_size": 1}, headers={"X-Forwarded-For": "1.2.3.4"})
    finally:
        del limiter.check
    assert seen == ["ip:10.0.0.1"]


def test_health_stays_ready_but_says_degraded_when_redis_is_down(app, testapp):
    from portal.sharing import SharedState

    assert "redis" not in testapp.get("/healthz").json["checks"]  # not configured: not mentioned
    app.registry["portal.shared_state"] = SharedState("redis://127.0.0.1:1/0")  # nothing listens there
    try:
        response = testapp.get("/healthz")
    finally:
        del app.registry["portal.shared_state"]
    assert response.status_int == 200
    assert response.json["status"] == "degraded"
    redis = response.json["checks"]["redis"]
    assert redis["ok"] is False and redis["required"] is False and redis["where"] == "127.0.0.1:1"
    assert "polling" in redis["degraded"]
