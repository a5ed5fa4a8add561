"""State shared between the processes and nodes of a deployment, through Redis (optional).

With ``redis.url`` (``REDIS_URL``) set, three things stop being per process:

- rate limits: one GCRA bucket per client in Redis, updated atomically by a Lua script
  (``portal.accounts.ratelimit.SharedRateLimiter``);
- API-key last use: processes push what they saw into one Redis hash, and one of them at a time
  writes it to the database (``portal.accounts.usage``);
- change notices: every commit that wrote something is announced on a pub/sub channel, so every
  other process refreshes its catalogue snapshot and brings its search index replica up to date
  at once instead of polling the database (:class:`ChangeBus`).

Redis is an accelerator, never a dependency of a request: every call goes through
:meth:`SharedState.call`, which gives up after a short timeout and then stops trying for a few
seconds (a circuit breaker), so a Redis outage costs one slow call per process, a warning in the
log and a "degraded" line in /healthz. Meanwhile limits fall back to per-process buckets and
change notices to polling. Without ``redis.url`` none of this exists and nothing changes.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.db import ends_a_savepoint

log = logging.getLogger(__name__)

T = TypeVar("T")



class SharedStateUnavailable(Exception):
    """Redis did not answer (or answered recently that it is down): use the per-process fallback."""


class SharedState:
    """One Redis client per process, behind a circuit breaker."""

    def __init__(self, url: str, *, timeout: float = 0.5, retry_seconds: float = 5.0, prefix: str = "portal:") -> None:
        import redis

        self.url = url
        self.prefix = prefix
        self.timeout = timeout
        self.retry_seconds = retry_seconds
        self.client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._down_until = 0.0
        self._down_since: float | None = None
        self._last_error: str | None = None
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        """The server's address without credentials, for logs and /healthz."""
        parts = urlsplit(self.url)
        return f"{parts.hostname or 'localhost'}:{parts.port or 6379}"

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def call(self, operation: Callable[[Any], T]) -> T:
        """Run ``operation(client)``; raise :class:`SharedStateUnavailable` at once while Redis is
        known to be down, and after one failed attempt."""
        if not self.available:
            raise SharedStateUnavailable(self._last_error or "redis unavailable")
        try:
            result = operation(self.client)
        except self._errors as exc:
            self.mark_down(exc)
            raise SharedStateUnavailable(str(exc)) from exc
        self.mark_up()
        return result

    def mark_down(self, exc: BaseException) -> None:
        with self._lock:
            self._down_until = time.monotonic() + self.retry_seconds
            self._last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".strip()
            first = self._down_since is None
            if first:
                self._down_since = time.time()
        if first:
            log.warning("Redis at %s unavailable (%s): rate limits per process, changes followed by polling",
                        self.where, self._last_error)

    def mark_up(self) -> None:
        if self._down_since is None:
            return
        with self._lock:
            if self._down_since is None:
                return
            self._down_since = None
        log.warning("Redis at %s answers again: shared rate limits and change notices resumed", self.where)

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def health(self) -> dict[str, Any]:
        status: dict[str, Any] = {"where": self.where, "required": False}
        try:
            self.call(lambda client: client.ping())
            status["ok"] = True
        except SharedStateUnavailable:
            status["ok"] = False
        if self._down_since is not None:
            status["ok"] = False
            status["degraded"] = "per-process rate limits; changes followed by polling"
            status["error"] = self._last_error
            status["down_since"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._down_since))
        return status


class ChangeBus:
    """Announces this process's commits and hears the others'.

    A notice carries no data, only "something was committed" and whether searchable content
    changed: the database stays the source of truth, and a lost notice costs a delay (the
    pollers' longer fallback interval), never a wrong answer.
    """

    def __init__(self, shared: SharedState, channel: str | None = None, reconnect_seconds: float = 1.0) -> None:
        import redis

        self.shared = shared
        # Under the deployment's prefix: deployments sharing one Redis never hear each other.
        self.channel = channel or shared.key("changes")
        self.reconnect_seconds = reconnect_seconds
        self.sender = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        # The listener blocks on its socket; it gets its own client without a read timeout.
        self._listen_client = redis.Redis.from_url(shared.url, socket_connect_timeout=shared.timeout,
                                                   socket_keepalive=True, health_check_interval=10)
        self._handlers: list[Callable[[dict[str, Any]], None]] = []
        self._outbox: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._listening = threading.Event()
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self.received = 0

    @property
    def listening(self) -> bool:
        """True while notices from other processes arrive: pollers may then slow down."""
        return self._listening.is_set()

    def on_change(self, handler: Callable[[dict[str, Any]], None]) -> None:
        """``handler(notice)`` runs on the listener thread for every notice from another process,
        and with ``{"resync": True}`` after a reconnection (notices may have been missed)."""
        self._handlers.append(handler)

    def start(self) -> None:
        if self._threads:
            return
        for target, name in ((self._listen, "redis-change-listener"), (self._publish, "redis-change-publisher")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        _ACTIVE_BUSES.append(self)
        atexit.register(self.stop)

    def stop(self) -> None:
        self._stopping = True
        self._outbox.put(None)
        if self in _ACTIVE_BUSES:
            _ACTIVE_BUSES.remove(self)
        for thread in self._threads:
            if thread.name == "redis-change-publisher":
                thread.join(timeout=1.0)  # a CLI command's last notices still go out

    def announce(self, *, search: bool) -> None:
        """Queue a notice; never blocks the committing thread."""
        self._outbox.put({"search": search})

    # -- threads -----------------------------------------------------------------------------
    def _publish(self) -> None:
        while True:
            notice = self._outbox.get()
            if notice is None:
                return
            # Coalesce a burst of commits into one notice.
            search = notice["search"]
            while True:
                try:
                    more = self._outbox.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._stopping = True
                    break
                search = search or more["search"]
            payload = json.dumps({"from": self.sender, "search": search})
            try:
                self.shared.call(lambda client: client.publish(self.channel, payload))  # noqa: B023 - called at once
            except SharedStateUnavailable:
                pass  # the others fall back to polling and see the change a little later
            if self._stopping:
                return

    def _listen(self) -> None:
        missed = False
        while not self._stopping:
            pubsub = self._listen_client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.channel)
                self._listening.set()
                self.shared.mark_up()
                if missed:
                    self._dispatch({"resync": True})
                    missed = False
                while not self._stopping:
                    message = pubsub.get_message(timeout=1.0)
                    if message is None or message.get("type") != "message":
                        continue
                    try:
                        notice = json.loads(message["data"])
                    except (TypeError, ValueError):
                        continue
                    if notice.get("from") == self.sender:
                        continue
                    self.received += 1
                    self._dispatch(notice)
            except self.shared._errors as exc:  # the same error family as every call
                if self._listening.is_set() or not missed:
                    self.shared.mark_down(exc)
                self._listening.clear()
                missed = True
                time.sleep(self.reconnect_seconds)
            finally:
                try:
                    pubsub.close()
                except self.shared._errors:  # closing a dead connection
                    pass
        self._listening.clear()

    def _dispatch(self, notice: dict[str, Any]) -> None:
        for handler in self._handlers:
            try:
                handler(notice)
            except Exception:  # any fault: one handler's failure must not stop the listener (logged)
                log.exception("change notice handler failed")


#: buses of this process (normally one): every commit is announced on them
_ACTIVE_BUSES: list[ChangeBus] = []


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _context: Any) -> None:
    if _ACTIVE_BUSES:
        session.info["_bus_wrote"] = True


# insert=True: runs before the search projection's own after_commit hook consumes "_search_dirty".
@event.listens_for(Session, "after_commit", insert=True)
def _announce_commit(session: Session) -> None:
    if ends_a_savepoint(session) or not session.info.pop("_bus_wrote", False):
        return
    search = bool(session.info.get("_search_dirty"))
    for bus in _ACTIVE_BUSES:
        bus.announce(search=search)


@event.listens_for(Session, "after_rollback")
def _forget_flush(session: Session) -> None:
    if ends_a_savepoint(session):
        return
    session.info.pop("_bus_wrote", None)


def includeme(config: Any) -> None:
    """Set up Redis-backed sharing when ``redis.url`` is configured; otherwise do nothing."""
    url = (config.get_settings().get("redis.url") or "").strip()
    if not url:
        return
    settings = config.get_settings()
    shared = SharedState(url, timeout=float(settings.get("redis.timeout", 0.5)),
                         retry_seconds=float(settings.get("redis.retry_seconds", 5.0)),
                         prefix=settings.get("redis.prefix", "portal:"))
    config.registry["portal.shared_state"] = shared
    config.registry["portal.change_bus"] = ChangeBus(shared)
