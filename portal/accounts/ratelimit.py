"""Rate limits for the machine surfaces (/api/, /open311/) and the login form.

Token buckets kept in process memory: cheap and lock-protected, so a WSGI worker's threads share
them. With several workers or nodes, each holds its own buckets, so the effective limit is the
configured one times the number of workers; the README says so.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

from pyramid.request import Request
from pyramid.response import Response

from portal.accounts.security import presented_api_key, uses_api_keys
from portal.errors import RateLimited, Unauthorized


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic, max_buckets: int = 100_000) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._max_buckets = max_buckets

    def hit(self, bucket: str, per_minute: int) -> int | None:
        """Take one token from ``bucket``; None if allowed, else the seconds until one is free."""
        if per_minute <= 0:
            return None
        rate = per_minute / 60.0
        now = self._clock()
        with self._lock:
            tokens, stamp = self._buckets.get(bucket, (float(per_minute), now))
            tokens = min(float(per_minute), tokens + (now - stamp) * rate)
            if tokens < 1.0:
                self._buckets[bucket] = (tokens, now)
                return max(1, math.ceil((1.0 - tokens) / rate))
            self._buckets[bucket] = (tokens - 1.0, now)
            if len(self._buckets) > self._max_buckets:
                self._prune(now)
        return None

    def state(self, bucket: str, per_minute: int) -> tuple[int, int]:
        """(requests left now, seconds until the bucket is full again), for the RateLimit-* headers."""
        if per_minute <= 0:
            return 0, 0
        rate = per_minute / 60.0
        now = self._clock()
        with self._lock:
            tokens, stamp = self._buckets.get(bucket, (float(per_minute), now))
        tokens = min(float(per_minute), tokens + (now - stamp) * rate)
        return int(tokens), math.ceil((per_minute - tokens) / rate)

    def _prune(self, now: float) -> None:
        # Buckets idle for two minutes are full again: forgetting them changes nothing.
        for key in [k for k, (_, stamp) in self._buckets.items() if now - stamp > 120]:
            del self._buckets[key]


def api_guard_tween_factory(handler: Callable[[Request], Response], registry: Any) -> Callable[[Request], Response]:
    """Reject bad API keys with 401 and over-eager clients with 429 before any view runs."""
    settings = registry.settings
    anonymous_limit = int(settings.get("ratelimit.anonymous_per_minute", 600))
    key_limit = int(settings.get("ratelimit.apikey_per_minute", 3000))
    limiter: RateLimiter = registry["portal.ratelimiter"]

    def api_guard_tween(request: Request) -> Response:
        if not uses_api_keys(request):
            return handler(request)
        identity = request.identity
        if identity is None and presented_api_key(request) is not None:
            raise Unauthorized("API 密钥无效或已撤销。", code="invalid_api_key")
        if identity is not None and identity.api_key is not None:
            key = identity.api_key
            bucket, limit = f"key:{key.id}", key.rate_limit_per_minute or key_limit
        else:
            bucket, limit = f"ip:{request.client_addr}", anonymous_limit
        retry_after = limiter.hit(bucket, limit)
        headers = ratelimit_headers(limiter, bucket, limit)
        request.add_response_callback(lambda req, response: response.headers.update(headers))
        if retry_after is not None:
            raise RateLimited("请求过于频繁，请稍后再试。", retry_after=retry_after)
        return handler(request)

    return api_guard_tween


def ratelimit_headers(limiter: RateLimiter, bucket: str, limit: int) -> dict[str, str]:
    """RateLimit-* headers (IETF httpapi draft) for every answer of a rate-limited surface, as the
    bucket stands right after this request took its token."""
    if limit <= 0:
        return {}
    remaining, reset = limiter.state(bucket, limit)
    return {"RateLimit-Limit": str(limit), "RateLimit-Remaining": str(remaining),
            "RateLimit-Reset": str(reset), "RateLimit-Policy": f"{limit};w=60"}


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
