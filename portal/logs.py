"""Structured logging: one JSON object per line, and one access line per request."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from pyramid.request import Request
from pyramid.response import Response

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
access_log = logging.getLogger("portal.access")


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        # Anything passed with extra={...} becomes a field of its own.
        payload.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False, default=str)


def raw_path(request: Request) -> str:
    """The requested path for logs, whatever bytes it holds (``/api/%ff`` is not UTF-8, and
    ``request.path`` would raise while the error is being logged)."""
    wsgi = request.environ.get("SCRIPT_NAME", "") + request.environ.get("PATH_INFO", "")
    return wsgi.encode("latin-1", "replace").decode("utf-8", "replace")


def access_log_tween_factory(handler: Callable[[Request], Response], registry: Any) -> Callable[[Request], Response]:
    def access_log_tween(request: Request) -> Response:
        request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex[:16]
        request.environ["portal.request_id"] = request_id
        started = time.perf_counter()
        status = 500
        try:
            response = handler(request)
            status = response.status_code
            response.headers["X-Request-Id"] = request_id
            return response
        finally:
            path = raw_path(request)
            access_log.info(
                "%s %s %s", request.method, path, status,
                extra={"request_id": request_id, "method": request.method, "path": path,
                       "status": status, "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                       "client": request.client_addr},
            )

    return access_log_tween
