"""Version tokens shared by several datasets, and the cache of stamps that are costly to count."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.opendata.registry import Stamp


def regulations_token(session: Session) -> tuple[Any, ...]:
    """Changes whenever a regulation, a version or an article is added or changed."""
    try:
        from portal.regulations.models import Regulation, RegulationVersion
    except ImportError:  # pragma: no cover - the library is part of every installation today
        return ()
    regs = session.execute(select(func.count(), func.max(Regulation.updated_at))).one()
    versions = session.execute(select(func.count(), func.max(RegulationVersion.id))).one()
    return (*regs, *versions)


class StampCache:
    """Stamps by version token: what a stamp counts (a million cases, every bulletin's snapshot)
    is counted once per version, not on every request."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._stamps: dict[str, Stamp] = {}
        self._lock = threading.Lock()

    def get(self, token: str, compute: Callable[[], Stamp]) -> Stamp:
        stamp = self._stamps.get(token)
        if stamp is None:
            stamp = compute()
            with self._lock:
                if len(self._stamps) >= self.size:
                    self._stamps.clear()
                self._stamps[token] = stamp
        return stamp
