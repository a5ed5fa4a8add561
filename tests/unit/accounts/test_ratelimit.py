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
