"""When each API key was last used: for admins deciding which keys to revoke.

Writing the time on every call would turn every GET of the open-data API into a database write
(and, on SQLite, into a wait for the single writer). Each process remembers the calls in memory
and a background thread writes them at most once per ``interval`` seconds, in one short
transaction of its own, so the recorded time is accurate to about a minute.

The write never happens on a request's thread: a request that writes holds SQLite's single write
lock until it commits, so a second write transaction opened from inside it would wait out the
whole busy timeout (30 s) and block every other writer meanwhile. The background writer simply
waits its turn.
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


class ApiKeyUsage:
    def __init__(self, session_factory: Callable[[], Any], interval: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, now: Callable[[], dt.datetime] = utcnow,
                 background: bool = True) -> None:
        self.session_factory = session_factory
        self.interval = interval
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
            return max(0.0, self.interval - (self.clock() - self._last_write))

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

    def write(self) -> int:
        """Store the noted times (never moving a key's time backwards); returns keys written.
        A failure is logged and the times are kept for the next attempt: usage never fails a call."""
        with self._lock:
            pending, self._seen = self._seen, {}
            self._last_write = self.clock()
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
            # One line, not a traceback: at exit (tests, a CLI run) the database may be gone.
            log.warning("could not record API key usage; will retry: %s", str(exc).splitlines()[0])
            with self._lock:
                for key_id, at in pending.items():
                    self._seen.setdefault(key_id, at)
            return 0
        return len(pending)
