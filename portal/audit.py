"""The audit log: who changed what, when, with the before and after of every change.

Recording is automatic. Any model that mixes in :class:`Audited` is watched at flush time: new,
changed and deleted rows each leave an :class:`AuditEntry` with the actor taken from the session
(``session.info["actor"]``, set per request from the logged-in user or API key, and by the CLI).
A service therefore cannot forget to audit, and a change without an actor is recorded as
"system".
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import ForeignKey, Index, String, Text, event, inspect, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.db import Base, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Kept as text too, so the log still says who it was after a user is deleted.
    actor_name: Mapped[str] = mapped_column(String(100), default="system")
    action: Mapped[str] = mapped_column(String(64), index=True)
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    comment: Mapped[str | None] = mapped_column(Text)


class Audited:
    """Mixin: every insert, update and delete of this model is written to the audit log."""

    __audit_exclude__: frozenset[str] = frozenset({"updated_at"})
    if TYPE_CHECKING:  # given by the model that mixes this in
        __tablename__: str


def json_safe(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    return value


def snapshot(obj: Any) -> dict[str, Any]:
    """Column values of ``obj`` as JSON-safe data."""
    mapper = inspect(obj).mapper
    exclude: frozenset[str] = getattr(obj, "__audit_exclude__", frozenset())
    return {attr.key: json_safe(getattr(obj, attr.key)) for attr in mapper.column_attrs if attr.key not in exclude}


def _changes(obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    state = inspect(obj)
    exclude: frozenset[str] = getattr(obj, "__audit_exclude__", frozenset())
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        if attr.key in exclude:
            continue
        history = state.attrs[attr.key].history
        if history.has_changes():
            before[attr.key] = json_safe(history.deleted[0]) if history.deleted else None
            after[attr.key] = json_safe(history.added[0]) if history.added else None
    return before, after


def _entity_id(obj: Any) -> str:
    identity = inspect(obj).identity
    if identity:
        return ":".join(str(part) for part in identity)
    return str(getattr(obj, "id", ""))


def actor_of(session: Session) -> tuple[int | None, str]:
    actor = session.info.get("actor")
    if actor is None:
        request = session.info.get("request")
        identity = getattr(request, "identity", None) if request is not None else None
        actor = identity.user if identity is not None else None
    if actor is None:
        return None, str(session.info.get("actor_name", "system"))
    return actor.id, actor.label


def record(session: Session, action: str, entity_type: str, entity_id: str, *,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
           comment: str | None = None) -> AuditEntry:
    """Record an action that is not a plain row change (a workflow transition, a bulk load)."""
    actor_id, actor_name = actor_of(session)
    entry = AuditEntry(actor_id=actor_id, actor_name=actor_name, action=action, entity_type=entity_type,
                       entity_id=entity_id, before=before, after=after, comment=comment)
    session.add(entry)
    return entry


@event.listens_for(Session, "before_flush")
def _audit_updates_and_deletes(session: Session, _context: Any, _instances: Any) -> None:
    for obj in list(session.dirty):
        if isinstance(obj, Audited) and session.is_modified(obj, include_collections=False):
            before, after = _changes(obj)
            if after:
                record(session, f"{type(obj).__tablename__}.update", type(obj).__tablename__, _entity_id(obj),
                       before=before, after=after, comment=session.info.get("audit_comment"))
    for obj in list(session.deleted):
        if isinstance(obj, Audited):
            record(session, f"{type(obj).__tablename__}.delete", type(obj).__tablename__, _entity_id(obj),
                   before=snapshot(obj), comment=session.info.get("audit_comment"))


@event.listens_for(Session, "after_flush")
def _collect_inserts(session: Session, context: Any) -> None:
    # Ids exist only after the INSERT; the entries are added here and flushed in the same commit.
    created = [obj for obj in context.session.new if isinstance(obj, Audited)]
    if created:
        session.info.setdefault("_audit_created", []).extend(created)


@event.listens_for(Session, "after_flush_postexec")
def _audit_inserts(session: Session, _context: Any) -> None:
    for obj in session.info.pop("_audit_created", []):
        record(session, f"{type(obj).__tablename__}.create", type(obj).__tablename__, _entity_id(obj),
               after=snapshot(obj), comment=session.info.get("audit_comment"))


def entries_for(session: Session, entity_type: str, entity_id: str) -> list[AuditEntry]:
    """The history of one entity, oldest first."""
    stmt = (select(AuditEntry).where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == entity_id)
            .order_by(AuditEntry.at, AuditEntry.id))
    return list(session.scalars(stmt))


def diff(entry: AuditEntry) -> list[tuple[str, Any, Any]]:
    """(field, before, after) for the fields an entry changed."""
    before = entry.before or {}
    after = entry.after or {}
    keys = sorted(set(before) | set(after))
    return [(key, before.get(key), after.get(key)) for key in keys if before.get(key) != after.get(key)]


def query_entries(session: Session, *, entity_type: str | None = None, entity_id: str | None = None,
                  action: str | None = None, actor: str | None = None, page: int = 1,
                  page_size: int = 50) -> tuple[list[AuditEntry], int]:
    """A page of the audit log, newest first, and the total count of matching entries."""
    from sqlalchemy import func

    stmt = select(AuditEntry)
    if entity_type:
        stmt = stmt.where(AuditEntry.entity_type == entity_type)
    if entity_id:
        stmt = stmt.where(AuditEntry.entity_id == entity_id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if actor:
        stmt = stmt.where(AuditEntry.actor_name == actor)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    entries = session.scalars(
        stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(page_size).offset((page - 1) * page_size)
    )
    return list(entries), total


# -- reading the log as people do --------------------------------------------------------------

DISPLAY_TZ = ZoneInfo("Asia/Shanghai")

#: what each audited table holds, in the words of the people who read the log
ENTITY_LABELS: dict[str, str] = {
    "users": "用户",
    "api_keys": "API 密钥",
    "catalogue_duties": "权责条目",
    "catalogue_agencies": "责任单位",
    "catalogue_powers": "权力事项",
    "catalogue": "权责清单",
    "regulations": "法规",
    "regulation_versions": "法规版本",
    "cases": "案件",
}

#: the last part of an action name (``users.create`` → ``create``)
VERB_LABELS: dict[str, str] = {
    "create": "新建",
    "update": "修改",
    "delete": "删除",
    "import": "导入",
    "load": "载入",
    "password_reset": "重置密码",
    "revoke": "吊销",
    "submit": "提交审核",
    "publish": "审核发布",
    "reject": "退回修改",
    "withdraw": "撤回",
    "supersede": "以新版本取代",
    "redraft": "重新编辑",
    "four_eyes_override": "越过四眼原则发布",
}


def entity_label(entity_type: str) -> str:
    return ENTITY_LABELS.get(entity_type, entity_type)


def action_label(action: str) -> str:
    """``users.create`` → 新建用户; an action nobody named yet keeps its code rather than vanish."""
    entity, _, verb = action.rpartition(".")
    verb_label = VERB_LABELS.get(verb)
    if verb_label is None:
        return action
    return verb_label + (ENTITY_LABELS.get(entity, "") if entity else "")


def value_text(value: Any) -> str:
    """A logged value as a reader sees it: no Python reprs, no JSON quoting."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (list, tuple)):
        return "；".join(value_text(v) for v in value)
    if isinstance(value, dict):
        return "；".join(f"{k}：{value_text(v)}" for k, v in value.items())
    if isinstance(value, dt.datetime):
        return display_time(value)
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T" and value[4:5] == "-":
        # timestamps are logged as ISO strings (json_safe)
        try:
            return display_time(dt.datetime.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


def display_time(value: dt.datetime) -> str:
    """A stored timestamp (UTC; SQLite returns it naive) in the portal's time zone, to the minute."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    return aware.astimezone(DISPLAY_TZ).strftime("%Y-%m-%d %H:%M")
