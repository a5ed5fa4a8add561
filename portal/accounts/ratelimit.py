"""Rate limits for the machine surfaces (/api/, /open311/) and the login form.

GCRA (the generic cell rate algorithm, as in ATM networks and redis-cell): each bucket is one
number, the theoretical arrival time (TAT) of the next request. A request is allowed when the
TAT, advanced by one emission interval (60 s / limit), is at most one window (60 s) ahead of now.
It allows bursts of up to the whole per-minute limit and then a steady rate, like a token bucket,
but needs a single value per client, which makes it easy to keep atomic in Redis.

:class:`RateLimiter` keeps the buckets in process memory (the default: each process limits on its
own). With Redis configured, :class:`SharedRateLimiter` keeps them in Redis, updated by one Lua
script, so the limit holds across every process and node; while Redis is unreachable it falls
back to the per-process buckets.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from pyramid.request import Request
from pyramid.response import Response

from portal.accounts.security import presented_api_key, uses_api_keys
from portal.errors import RateLimited, Unauthorized

WINDOW_SECONDS = 60.0


@dataclasses.dataclass(frozen=True, slots=True)
class RateDecision:
    """One request's fate under a limit of ``limit`` requests per minute."""

    allowed: bool
    limit: int
    remaining: int
    #: seconds until the bucket is full again (the whole limit available)
    reset_after: float
    #: seconds until one request would be allowed (0 when allowed)
    retry_after: float
    #: "redis" or "process": where the bucket lives (for tests and logs)
    scope: str = "process"

    @property
    def retry_after_seconds(self) -> int:
        return max(1, math.ceil(self.retry_after - 1e-6))


def ratelimit_headers(decision: RateDecision) -> dict[str, str]:
    """The rate-limit headers of a response (IETF httpapi draft): the limit, what is left of it,
    seconds until it is whole again, and the policy (limit per 60-second window); plus
    Retry-After when refused. The one place that spells these headers."""
    headers = {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(max(0, decision.remaining)),
        "RateLimit-Reset": str(max(0, math.ceil(decision.reset_after - 1e-6))),
        "RateLimit-Policy": f"{decision.limit};w={int(WINDOW_SECONDS)}",
    }
    if not decision.allowed:
        headers["Retry-After"] = str(decision.retry_after_seconds)
    return headers


def _decide(tat: float, now: float, per_minute: int, scope: str) -> tuple[RateDecision, float | None]:
    """GCRA on numbers: the decision, and the new TAT to store (None when refused)."""
    interval = WINDOW_SECONDS / per_minute
    tat = max(tat, now)
    new_tat = tat + interval
    if new_tat - now > WINDOW_SECONDS + 1e-9:
        return RateDecision(False, per_minute, 0, tat - now, new_tat - WINDOW_SECONDS - now, scope), None
    remaining = int((WINDOW_SECONDS - (new_tat - now)) / interval + 1e-9)
    return RateDecision(True, per_minute, remaining, new_tat - now, 0.0, scope), new_tat


def _unlimited(per_minute: int) -> RateDecision:
    return RateDecision(True, per_minute, per_minute, 0.0, 0.0)


class RateLimiter:
    """GCRA buckets in this process's memory, shared by the threads of a worker."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_buckets: int = 100_000) -> None:
        self._clock = clock
        self._tats: dict[str, float] = {}
        self._lock = threading.Lock()
        self._max_buckets = max_buckets

    def check(self, bucket: str, per_minute: int) -> RateDecision:
        """Count one request against ``bucket``."""
        if per_minute <= 0:
            return _unlimited(per_minute)
        now = self._clock()
        with self._lock:
            decision, new_tat = _decide(self._tats.get(bucket, now), now, per_minute, "process")
            if new_tat is not None:
                self._tats[bucket] = new_tat
                if len(self._tats) > self._max_buckets:
                    self._prune(now)
        return decision

    def hit(self, bucket: str, per_minute: int) -> int | None:
        """Take one request from ``bucket``; None if allowed, else the seconds until one is."""
        decision = self.check(bucket, per_minute)
        return None if decision.allowed else decision.retry_after_seconds

    def _prune(self, now: float) -> None:
        # A bucket whose TAT has passed is full again: forgetting it changes nothing.
        for key in [k for k, tat in self._tats.items() if tat <= now]:
            del self._tats[key]


# KEYS[1]: the bucket; ARGV[1]: emission interval, ARGV[2]: window, both in microseconds.
# Redis's own clock, so that the nodes' clocks need not agree; integers written with %.0f
# (Lua's default number format would round a microsecond timestamp).
GCRA_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
if new_tat - now > window then
  return {0, string.format('%.0f', tat - now), string.format('%.0f', new_tat - window - now)}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, string.format('%.0f', new_tat - now), '0'}
"""


class SharedRateLimiter:
    """GCRA buckets in Redis, one atomic script call per request; per-process while Redis is down."""

    def __init__(self, shared: Any, fallback: RateLimiter | None = None) -> None:
        self.shared = shared
        self.fallback = fallback or RateLimiter()
        self._script = shared.client.register_script(GCRA_SCRIPT)

    def check(self, bucket: str, per_minute: int) -> RateDecision:
        if per_minute <= 0:
            return _unlimited(per_minute)
        from portal.sharing import SharedStateUnavailable

        interval_us = round(WINDOW_SECONDS * 1_000_000 / per_minute)
        window_us = interval_us * per_minute
        try:
            allowed, ahead_us, retry_us = self.shared.call(
                lambda client: self._script(keys=[self.shared.key("rl", bucket)], args=[interval_us, window_us],
                                            client=client))
        except SharedStateUnavailable:
            return self.fallback.check(bucket, per_minute)
        ahead = int(ahead_us) / 1_000_000
        if int(allowed):
            remaining = int((window_us - int(ahead_us)) // interval_us)
            return RateDecision(True, per_minute, remaining, ahead, 0.0, "redis")
        return RateDecision(False, per_minute, 0, ahead, int(retry_us) / 1_000_000, "redis")

    def hit(self, bucket: str, per_minute: int) -> int | None:
        decision = self.check(bucket, per_minute)
        return None if decision.allowed else decision.retry_after_seconds


def make_rate_limiter(registry: Any) -> RateLimiter | SharedRateLimiter:
    shared = registry.get("portal.shared_state")
    return SharedRateLimiter(shared) if shared is not None else RateLimiter()


def api_guard_tween_factory(handler: Callable[[Request], Response], registry: Any) -> Callable[[Request], Response]:
    """Reject bad API keys with 401 and over-eager clients with 429 before any view runs."""
    settings = registry.settings
    anonymous_limit = int(settings.get("ratelimit.anonymous_per_minute", 600))
    key_limit = int(settings.get("ratelimit.apikey_per_minute", 3000))
    limiter: RateLimiter | SharedRateLimiter = registry["portal.ratelimiter"]

    def api_guard_tween(request: Request) -> Response:
        if not uses_api_keys(request):
            return handler(request)
        identity = request.identity
        if identity is None and presented_api_key(request) is not None:
            raise Unauthorized("API 密钥无效或已撤销。", code="invalid_api_key")
        if identity is not None and identity.api_key is not None:
            key = identity.api_key
            decision = limiter.check(f"key:{key.id}", key.rate_limit_per_minute or key_limit)
        else:
            decision = limiter.check(f"ip:{request.client_addr}", anonymous_limit)
        headers = ratelimit_headers(decision)
        if not decision.allowed:
            raise RateLimited("请求过于频繁，请稍后再试。", retry_after=decision.retry_after_seconds,
                              headers=headers)
        response = handler(request)
        response.headers.update(headers)
        return response

    return api_guard_tween


def client_address_tween_factory(handler: Callable[[Request], Response], registry: Any) -> Callable[[Request], Response]:
    """Make ``request.client_addr`` the real client, whom per-IP limits count.

    WebOb believes any X-Forwarded-For, so a client could pick a new address per request and
    escape its limit. The header is believed only from ``portal.trusted_proxies`` (the load
    balancers; space-separated), and then its last address not itself a trusted proxy is taken."""
    trusted = set(str(registry.settings.get("portal.trusted_proxies") or "").split())

    def client_address_tween(request: Request) -> Response:
        environ = request.environ
        forwarded = environ.pop("HTTP_X_FORWARDED_FOR", None)
        if forwarded and environ.get("REMOTE_ADDR") in trusted:
            hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
            while hops and hops[-1] in trusted:
                hops.pop()
            if hops:
                environ["REMOTE_ADDR"] = hops[-1]
        return handler(request)

    return client_address_tween


def body_size_tween_factory(handler: Callable[[Request], Response], registry: Any) -> Callable[[Request], Response]:
    """413 for bodies over ``portal.max_body_bytes``, before anything reads them."""
    from portal.errors import PayloadTooLarge

    limit = int(registry.settings["portal.max_body_bytes"])

    def body_size_tween(request: Request) -> Response:
        length = request.content_length
        if length is not None and length > limit:
            raise PayloadTooLarge(f"请求内容超过上限 {limit} 字节。")
        if length is None and request.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = request.body_file.read(limit + 1)
            if len(body) > limit:
                raise PayloadTooLarge(f"请求内容超过上限 {limit} 字节。")
            request.body = body
        return handler(request)

    return body_size_tween
