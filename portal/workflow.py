"""The publication workflow, Plone style: draft → pending → published → withdrawn / superseded.

Content types mix in :class:`Publishable`; every transition goes through
:func:`transition`, which checks it is allowed, stamps the content and records who, when and why
in ``workflow_transitions`` (plus the audit log, through :class:`portal.audit.Audited`).
Anonymous readers see only published content: queries use :meth:`Publishable.is_public`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, Text, select
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column

from portal.audit import Audited, actor_of
from portal.db import Base, utcnow
from portal.errors import Conflict


class State(StrEnum):
    DRAFT = "draft"
    PENDING = "pending"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"
    SUPERSEDED = "superseded"


STATE_LABELS: dict[State, str] = {
    State.DRAFT: "草稿",
    State.PENDING: "待审核",
    State.PUBLISHED: "已发布",
    State.WITHDRAWN: "已撤回",
    State.SUPERSEDED: "已被取代",
}


@dataclass(frozen=True)
class Transition:
    name: str
    label: str
    source: frozenset[State]
    target: State


TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in (
        Transition("submit", "提交审核", frozenset({State.DRAFT}), State.PENDING),
        Transition("publish", "审核发布", frozenset({State.PENDING}), State.PUBLISHED),
        Transition("reject", "退回修改", frozenset({State.PENDING}), State.DRAFT),
        Transition("withdraw", "撤回", frozenset({State.PUBLISHED}), State.WITHDRAWN),
        Transition("supersede", "以新版本取代", frozenset({State.PUBLISHED}), State.SUPERSEDED),
        Transition("redraft", "重新编辑", frozenset({State.WITHDRAWN}), State.DRAFT),
    )
}


class WorkflowTransition(Base):
    __tablename__ = "workflow_transitions"
    __table_args__ = (Index("ix_workflow_transitions_content", "content_type", "content_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    content_type: Mapped[str] = mapped_column(String(64))
    content_id: Mapped[str] = mapped_column(String(64))
    transition: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_name: Mapped[str] = mapped_column(String(100), default="system")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    comment: Mapped[str | None] = mapped_column(Text)


class Publishable(Audited):
    """Mixin for content that goes through the publication workflow."""

    if TYPE_CHECKING:  # given by the model that mixes this in
        id: Any

    @declared_attr
    def state(cls) -> Mapped[str]:
        return mapped_column(String(16), default=State.DRAFT.value, index=True)

    @declared_attr
    def published_at(cls) -> Mapped[dt.datetime | None]:
        return mapped_column(default=None)

    @classmethod
    def is_public(cls) -> Any:
        """SQL criterion for what anonymous readers may see."""
        return cls.state == State.PUBLISHED.value

    @property
    def state_label(self) -> str:
        return STATE_LABELS[State(self.state)]

    def available_transitions(self) -> list[Transition]:
        return [t for t in TRANSITIONS.values() if State(self.state) in t.source]


def transition(session: Session, content: Publishable, name: str, comment: str | None = None,
               at: dt.datetime | None = None) -> WorkflowTransition:
    """Apply transition ``name`` to ``content``; raises Conflict when the current state forbids it."""
    spec = TRANSITIONS.get(name)
    current = State(content.state)
    if spec is None or current not in spec.source:
        allowed = "、".join(t.label for t in content.available_transitions()) or "无"
        raise Conflict(
            f"当前状态“{STATE_LABELS[current]}”不能执行该操作（可执行：{allowed}）。",
            code="invalid_transition",
            fields={"transition": [name]},
        )
    at = at or utcnow()
    content.state = spec.target.value
    if spec.target is State.PUBLISHED:
        content.published_at = at
    actor_id, actor_name = actor_of(session)
    session.flush()
    record = WorkflowTransition(
        content_type=type(content).__tablename__,
        content_id=str(content.id),
        transition=name,
        from_state=current.value,
        to_state=spec.target.value,
        actor_id=actor_id,
        actor_name=actor_name,
        at=at,
        comment=comment,
    )
    session.add(record)
    return record


def reinstate(session: Session, content: Publishable, comment: str | None = None) -> WorkflowTransition:
    """Put superseded content back in force, when what superseded it is withdrawn (a ruling
    revoked). Not a transition offered on editing pages: only the domain that superseded it may."""
    if content.state != State.SUPERSEDED.value:
        raise Conflict("只有已被取代的内容才能恢复生效。", code="invalid_transition")
    actor_id, actor_name = actor_of(session)
    content.state = State.PUBLISHED.value
    session.flush()
    record = WorkflowTransition(
        content_type=type(content).__tablename__, content_id=str(content.id),
        transition="reinstate", from_state=State.SUPERSEDED.value, to_state=State.PUBLISHED.value,
        actor_id=actor_id, actor_name=actor_name, at=utcnow(), comment=comment,
    )
    session.add(record)
    return record


def history(session: Session, content: Publishable) -> list[WorkflowTransition]:
    stmt = (
        select(WorkflowTransition)
        .where(WorkflowTransition.content_type == type(content).__tablename__,
               WorkflowTransition.content_id == str(content.id))
        .order_by(WorkflowTransition.at, WorkflowTransition.id)
    )
    return list(session.scalars(stmt))
