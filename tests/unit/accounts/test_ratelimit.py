from __future__ import annotations

from portal.accounts.ratelimit import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_allows_the_limit_then_says_when_to_retry():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    assert all(limiter.hit("key:1", 60) is None for _ in range(60))
    retry_after = limiter.hit("key:1", 60)
    assert retry_after == 1
    clock.now += 1.0
    assert limiter.hit("key:1", 60) is None


def test_buckets_are_independent():
    limiter = RateLimiter(clock=FakeClock())
    for _ in range(3):
        limiter.hit("ip:a", 3)
    assert limiter.hit("ip:a", 3) is not None
    assert limiter.hit("ip:b", 3) is None


def test_decisions_carry_what_the_ratelimit_headers_say():
    from portal.accounts.ratelimit import ratelimit_headers

    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    first = limiter.check("key:1", 10)
    assert first.allowed and first.remaining == 9
    assert ratelimit_headers(first) == {"RateLimit-Limit": "10", "RateLimit-Remaining": "9",
                                        "RateLimit-Reset": "6", "RateLimit-Policy": "10;w=60"}
    for _ in range(9):
        last = limiter.check("key:1", 10)
    assert last.allowed and last.remaining == 0
    refused = limiter.check("key:1", 10)
    headers = ratelimit_headers(refused)
    assert not refused.allowed and headers["Retry-After"] == "6" and headers["RateLimit-Remaining"] == "0"
    clock.now += 6.0  # one emission interval later, exactly one more request
    assert limiter.check("key:1", 10).allowed and not limiter.check("key:1", 10).allowed


def test_a_zero_limit_means_unlimited():
    limiter = RateLimiter(clock=FakeClock())
    assert all(limiter.hit("key:1", 0) is None for _ in range(1000))


def _shared(url, prefix):
    from portal.sharing import SharedState

    return SharedState(url, prefix=prefix)


def test_redis_buckets_are_shared_between_limiters(redis_url):
    """Two limiters standing for two processes (or nodes) draw on one bucket."""
    import uuid

    from portal.accounts.ratelimit import SharedRateLimiter

    prefix = f"portal-test-{uuid.uuid4().hex[:8]}:"
    one, two = SharedRateLimiter(_shared(redis_url, prefix)), SharedRateLimiter(_shared(redis_url, prefix))
    decisions = [(one if i % 2 else two).check("key:7", 5) for i in range(8)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 3
    assert {d.scope for d in decisions} == {"redis"}
    assert [d.remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
    assert 11 <= decisions[-1].retry_after <= 12  # one emission interval (12 s), minus elapsed time
    assert one.check("key:8", 5).allowed  # another client's bucket
    one.shared.client.delete(*one.shared.client.keys(prefix + "*"))


def test_redis_down_falls_back_to_the_process_bucket_with_a_warning(caplog):
    from portal.accounts.ratelimit import SharedRateLimiter

    shared = _shared("redis://127.0.0.1:1/0", "portal-test:")  # nothing listens on port 1
    limiter = SharedRateLimiter(shared, RateLimiter(clock=FakeClock()))
    with caplog.at_level("WARNING", logger="portal.sharing"):
        decisions = [limiter.check("key:1", 3) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert {d.scope for d in decisions} == {"process"}
    assert sum("Redis at 127.0.0.1:1 unavailable" in r.getMessage() for r in caplog.records) == 1
    health = shared.health()
    assert health["ok"] is False and health["required"] is False and "degraded" in health
