"""When each API key was last used: for admins deciding which keys to revoke.

Writing the time on every call would turn every GET of the open-data API into a database write
(and, on SQLite, into a wait for the single writer). Each process remembers the calls in memory
and a background thread writes them at most once per ``interval`` seconds, in one short
transaction of its own, so the recorded time is accurate to about a minute.

The write never happens on a request's thread: a request that writes holds SQLite's single write
lock until it commits, so a second write transaction opened from inside it would wait out the
whole busy timeout (30 s) and block every other writer meanwhile. The background writer simply
waits its turn.

With Redis (``shared``), the background writer pushes what this process saw into one Redis hash
every ``share_interval`` seconds (a Lua script keeps the later time), so every node reads a key's
last use within about a second (:meth:`last_used`); once per ``interval``, whichever process first
takes a short Redis lock copies the hash to the database, so a deployment of any size writes it
once a minute, not once per process. While Redis is down each process writes its own, as without.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.exc import SQLAlchemyError

from portal.accounts.models import ApiKey
from portal.db import utcnow

log = logging.getLogger(__name__)

# KEYS[1]: the hash; ARGV: key id, epoch microseconds, key id, ... Keeps each key's later time.
KEEP_LATEST_SCRIPT = """
for i = 1, #ARGV, 2 do
  local old = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if tonumber(ARGV[i + 1]) > old then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 1
"""


def _to_micros(at: dt.datetime) -> int:
    return int(at.timestamp() * 1_000_000)


def _from_micros(value: Any) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(value) / 1_000_000, dt.UTC)


class ApiKeyUsage:
    def __init__(self, session_factory: Callable[[], Any], interval: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, now: Callable[[], dt.datetime] = utcnow,
                 background: bool = True, shared: Any = None, share_interval: float = 0.5) -> None:
        self.session_factory = session_factory
        self.interval = interval
        self.shared = shared
        self.share_interval = share_interval
        self._keep_latest = shared.client.register_script(KEEP_LATEST_SCRIPT) if shared is not None else None
        self._last_db_write = clock()
        self.clock = clock
        self.now = now
        self._seen: dict[int, dt.datetime] = {}
        self._lock = threading.Lock()
        self._last_write = clock()
        self._wake = threading.Event()
        self._writer: threading.Thread | None = None
        self._stopping = False
        # Without a background writer (tests), the owner calls write_if_due() itself.
        self.background = background

    def seen(self, key_id: int) -> None:
        """Note a call with this key, in memory only: the background writer stores it later."""
        with self._lock:
            first = not self._seen
            self._seen[key_id] = self.now()
            if self.background and (self._writer is None or not self._writer.is_alive()):
                self._start_writer()
        if first:
            self._wake.set()  # the writer computes when this one is due

    def _start_writer(self) -> None:
        self._writer = threading.Thread(target=self._run, name="apikey-usage-writer", daemon=True)
        self._writer.start()
        # Keys noted in the last interval before a process ends (a CLI run, a restart) are kept.
        atexit.register(self.stop)

    def due_in(self) -> float | None:
        """Seconds until the noted calls are due to be written; None when nothing is noted."""
        with self._lock:
            if not self._seen:
                return None
            interval = self.share_interval if self.shared is not None and self.shared.available else self.interval
            return max(0.0, interval - (self.clock() - self._last_write))

    def write_if_due(self) -> int:
        """Write the noted calls if the interval has passed; returns keys written."""
        return self.write() if self.due_in() == 0.0 else 0

    def _run(self) -> None:
        while not self._stopping:
            wait = self.due_in()
            if wait == 0.0:
                self.write()
                continue
            self._wake.wait(wait)
            self._wake.clear()

    def stop(self) -> None:
        """Write what is noted and end the writer thread."""
        self._stopping = True
        self._wake.set()
        self.write()
        if self.shared is not None:
            self._copy_shared_to_database_if_due(force=True)

    def write(self) -> int:
        """Store the noted times (never moving a key's time backwards); returns keys written.
        A failure is logged and the times are kept for the next attempt: usage never fails a call."""
        with self._lock:
            pending, self._seen = self._seen, {}
            self._last_write = self.clock()
        if self.shared is not None and self._share(pending):
            self._copy_shared_to_database_if_due()
            return len(pending)
        return self._write_to_database(pending)

    def _share(self, pending: dict[int, dt.datetime]) -> bool:
        """Push noted times to Redis; False when Redis is unavailable (the caller writes them)."""
        from portal.sharing import SharedStateUnavailable

        if not pending:
            return True
        args: list[Any] = []
        for key_id, at in pending.items():
            args += [key_id, _to_micros(at)]
        keep_latest = self._keep_latest
        if keep_latest is None:  # no Redis: the caller writes to the database
            return False
        try:
            self.shared.call(lambda client: keep_latest(keys=[self._hash_key], args=args, client=client))
        except SharedStateUnavailable:
            return False
        return True

    @property
    def _hash_key(self) -> str:
        return self.shared.key("apikey", "last_used")

    def _copy_shared_to_database_if_due(self, force: bool = False) -> int:
        from portal.sharing import SharedStateUnavailable

        if not force and self.clock() - self._last_db_write < self.interval:
            return 0
        self._last_db_write = self.clock()
        lock_ms = max(1, int(self.interval * 1000 * 0.9))
        try:
            # One writer per interval across the deployment; the others skip this round.
            if not force and not self.shared.call(
                    lambda client: client.set(self.shared.key("apikey", "writer"), "1", nx=True, px=lock_ms)):
                return 0
            shared = self.shared.call(lambda client: client.hgetall(self._hash_key))
        except SharedStateUnavailable:
            return 0
        return self._write_to_database({int(k): _from_micros(v) for k, v in shared.items()}, keep=False)

    def last_used(self, key_ids: list[int]) -> dict[int, dt.datetime]:
        """Last uses known to Redis (fresher than the database by up to ``interval``); empty
        without Redis or while it is down."""
        from portal.sharing import SharedStateUnavailable

        if self.shared is None or not key_ids:
            return {}
        try:
            values = self.shared.call(lambda client: client.hmget(self._hash_key, [str(i) for i in key_ids]))
        except SharedStateUnavailable:
            return {}
        return {key_id: _from_micros(value) for key_id, value in zip(key_ids, values, strict=True) if value is not None}

    def _write_to_database(self, pending: dict[int, dt.datetime], keep: bool = True) -> int:
        if not pending:
            return 0
        try:
            with self.session_factory() as session:
                for key_id, at in pending.items():
                    session.execute(
                        update(ApiKey)
                        .where(ApiKey.id == key_id, or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < at))
                        .values(last_used_at=at)
                    )
                session.commit()
        except SQLAlchemyError as exc:
            if self._stopping:
                # At exit (a CLI run, the end of a test session) the database may be gone, and
                # there is no next attempt: the last minute of last-use times is all that is lost.
                log.debug("API key usage not recorded at exit: %s", str(exc).splitlines()[0])
                return 0
            log.warning("could not record API key usage; will retry: %s", str(exc).splitlines()[0])
            if not keep:
                return 0  # still in Redis: the next round copies it
            with self._lock:
                for key_id, at in pending.items():
                    self._seen.setdefault(key_id, at)
            return 0
        return len(pending)


def last_uses(registry: Any, keys: list[ApiKey]) -> dict[int, dt.datetime]:
    """Each key's last use: the database's, or Redis's when that is later (other nodes' uses
    reach Redis within a second, the database within ``interval``)."""
    usage = registry.get("portal.apikey_usage") if registry is not None else None
    shared = usage.last_used([key.id for key in keys]) if usage is not None else {}
    result: dict[int, dt.datetime] = {}
    for key in keys:
        stored = key.last_used_at
        if stored is not None and stored.tzinfo is None:
            stored = stored.replace(tzinfo=dt.UTC)
        times = [t for t in (stored, shared.get(key.id)) if t is not None]
        if times:
            result[key.id] = max(times)
    return result
