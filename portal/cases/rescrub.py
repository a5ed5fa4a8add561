"""Re-scrub the stored public texts of every case after the scrubber learnt something new.

Public texts are scrubbed once, when a case is stored (so lists stay fast), and the scrubber gets
better over time (names in free text, zero-width characters): texts stored before an improvement
keep what it would now remove. This walks every case, event and rating in batches and rewrites the
public text only where the current scrubber gives another one. It reads the tables through their
columns alone (no ORM models), so a migration can run it too.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from portal.cases.privacy import scrub

_cases = sa.table("cases", sa.column("id"), sa.column("description"), sa.column("public_description"),
                  sa.column("address"))
_reporters = sa.table("case_reporters", sa.column("case_id"), sa.column("name"), sa.column("phone"),
                      sa.column("email"), sa.column("id_number"))
_events = sa.table("case_events", sa.column("id"), sa.column("case_id"), sa.column("note"),
                   sa.column("public_note"))
_feedback = sa.table("case_feedback", sa.column("case_id"), sa.column("comment"), sa.column("public_comment"))

BATCH = 2_000


def known_personal(name: str | None, phone: str | None, email: str | None, id_number: str | None,
                   address: str | None) -> tuple[str, ...]:
    """The strings of one case that are personal wherever they occur: the reporter's own data and
    the exact address."""
    return tuple(v for v in (name, phone, email, id_number, address) if v)


def rescrub_public_text(connection: Connection) -> int:
    """Rewrite every stored public text the current scrubber would write otherwise; returns how
    many texts changed."""
    changed = 0
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(_cases.c.id, _cases.c.description, _cases.c.public_description, _cases.c.address,
                      _reporters.c.name, _reporters.c.phone, _reporters.c.email, _reporters.c.id_number)
            .select_from(_cases.outerjoin(_reporters, _reporters.c.case_id == _cases.c.id))
            .where(_cases.c.id > last_id).order_by(_cases.c.id).limit(BATCH)
        ).all()
        if not rows:
            return changed
        last_id = rows[-1].id
        known = {row.id: known_personal(row.name, row.phone, row.email, row.id_number, row.address)
                 for row in rows}
        changed += _rewrite(connection, _cases, _cases.c.id, "public_description",
                            ((row.id, row.description, row.public_description, known[row.id]) for row in rows))
        ids = list(known)
        events = connection.execute(
            sa.select(_events.c.id, _events.c.case_id, _events.c.note, _events.c.public_note)
            .where(_events.c.case_id.in_(ids))).all()
        changed += _rewrite(connection, _events, _events.c.id, "public_note",
                            ((e.id, e.note, e.public_note, known[e.case_id]) for e in events))
        ratings = connection.execute(
            sa.select(_feedback.c.case_id, _feedback.c.comment, _feedback.c.public_comment)
            .where(_feedback.c.case_id.in_(ids))).all()
        changed += _rewrite(connection, _feedback, _feedback.c.case_id, "public_comment",
                            ((f.case_id, f.comment, f.public_comment, known[f.case_id]) for f in ratings))


def _rewrite(connection: Connection, table: sa.TableClause, key: sa.ColumnClause, column: str,
             rows: Iterable[tuple[int, str | None, str | None, tuple[str, ...]]]) -> int:
    updates = []
    for row_id, private, public, known in rows:
        fresh = scrub(private, known)
        if fresh != (public or ""):
            updates.append({"row_id": row_id, "text": fresh})
    if updates:
        connection.execute(table.update().where(key == sa.bindparam("row_id"))
                           .values({column: sa.bindparam("text")}), updates)
    return len(updates)
