"""Version tokens shared by several datasets."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session


def regulations_token(session: Session) -> tuple[Any, ...]:
    """Changes whenever a regulation, a version or an article is added or changed."""
    try:
        from portal.regulations.models import Regulation, RegulationVersion
    except ImportError:  # pragma: no cover - the library is part of every installation today
        return ()
    regs = session.execute(select(func.count(), func.max(Regulation.updated_at))).one()
    versions = session.execute(select(func.count(), func.max(RegulationVersion.id))).one()
    return (*regs, *versions)
