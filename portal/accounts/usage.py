"""When each API key was last used: for admins deciding which keys to revoke.

Writing the time on every call would turn every GET of the open-data API into a database write
(and, on SQLite, into a wait for the single writer). Each process remembers the calls in memory
and writes them at most once per ``interval`` seconds, in one short transaction of its own, so
the recorded time is accurate to about a minute.
"""

from __future__ import annotations

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
                 clock: Callable[[], float] = time.monotonic, now: Callable[[], dt.datetime] = utcnow) -> None:
        self.session_factory = session_factory
        self.interval = interval
        self.clock = clock
        self.now = now
        self._seen: dict[int, dt.datetime] = {}
        self._lock = threading.Lock()
        self._last_write = clock()

    def seen(self, key_id: int) -> None:
        """Note a call with this key; writes what was noted when the interval has passed."""
        with self._lock:
            self._seen[key_id] = self.now()
            due = self.clock() - self._last_write >= self.interval
        if due:
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
        except SQLAlchemyError:
            log.warning("could not record API key usage; will retry", exc_info=True)
            with self._lock:
                for key_id, at in pending.items():
                    self._seen.setdefault(key_id, at)
            return 0
        return len(pending)
