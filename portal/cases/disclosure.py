"""Keep incremental sync right when the set of non-disclosed item types changes.

Which cases the public sees depends on a setting (``cases.nondisclosable``), not on the rows: an
operator who adds an item type to it withdraws its cases from every public surface, and one who
removes a type discloses them. A client syncing with ``updated_since`` only hears of cases whose
``changed_at`` moved, so a policy change must move it for exactly the cases it affects: they then
come as tombstones (withdrawn) or as items (disclosed) on the next incremental page and export.

The policy last applied is kept in one row (:class:`~portal.cases.models.DisclosurePolicy`);
every process compares it with its own at start and, when they differ, touches the cases of the
item types that moved. Starting processes of one deployment agree on the setting, so the first one
does the work and the others find it done.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.cases.models import Case, DisclosurePolicy
from portal.db import utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult

log = logging.getLogger(__name__)


def recorded_policy(session: Session, *, lock: bool = False) -> frozenset[int] | None:
    """The hidden item type ids last applied (None: never recorded)."""
    stmt = select(DisclosurePolicy.hidden_item_ids).where(DisclosurePolicy.id == 1)
    ids = session.scalar(stmt.with_for_update() if lock else stmt)
    return None if ids is None else frozenset(int(i) for i in ids)


def apply_disclosure_policy(session: Session, hidden: frozenset[int]) -> int:
    """Record ``hidden`` as the policy in force; when it differs from the one recorded, mark the
    cases of every item type that entered or left it as changed now. Returns how many cases were
    marked. The first record of a database marks nothing: there is no earlier policy to differ
    from (its cases were published under this one)."""
    before = recorded_policy(session, lock=True)
    if before == hidden:
        return 0
    now = utcnow()
    moved = sorted(hidden ^ before) if before is not None else []
    touched = 0
    if moved:
        result = session.execute(
            update(Case).where(Case.item_type_id.in_(moved)).values(changed_at=now)
            .execution_options(synchronize_session=False))
        touched = cast("CursorResult[Any]", result).rowcount or 0
    policy = session.get(DisclosurePolicy, 1)
    if policy is None:  # the first start on this database
        policy = DisclosurePolicy(id=1)
        session.add(policy)
    policy.hidden_item_ids = sorted(hidden)
    policy.applied_at = now
    return touched


def apply_configured_policy(registry: Any) -> None:
    """At a process's start: apply the configured policy if the database records another one.
    A read first, so that the usual start (nothing changed) takes no write lock; never fatal
    (a start with the database down serves what it can and applies the policy next time)."""
    from portal.cases.places import Places
    from portal.cases.services import nondisclosable_ids

    try:
        with registry["dbsession_factory"]() as session:
            hidden = nondisclosable_ids(Places.of(session, registry), registry.settings)
            if recorded_policy(session) == hidden:
                return
        with registry["dbsession_writer_factory"]() as session, session.begin():
            touched = apply_disclosure_policy(session, hidden)
    except IntegrityError:
        return  # another process of a new deployment recorded the first policy at the same moment
    except Exception:  # a start never fails over it (logged); retried at the next start
        log.warning("could not apply the case disclosure policy (cases.nondisclosable); retried at the next start",
                    exc_info=True)
        return
    if touched:
        log.info("case disclosure policy changed: %d cases marked as changed for incremental sync", touched)
