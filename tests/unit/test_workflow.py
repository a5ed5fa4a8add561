"""The publication workflow and the automatic audit log, on a real content table (users as actors)."""

from __future__ import annotations

import pytest
from sqlalchemy import String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from portal.audit import AuditEntry, entries_for
from portal.db import Base
from portal.errors import Conflict
from portal.workflow import Publishable, State, history, transition


class _TestBase(DeclarativeBase):
    # Kept out of the portal's metadata, so the models-match-migrations check never sees it.
    type_annotation_map = Base.type_annotation_map


class Notice(Publishable, _TestBase):
    """A throwaway publishable type; its table is created by the test itself."""

    __tablename__ = "test_notices"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))


@pytest.fixture
def notices(dbsession):
    Notice.__table__.create(dbsession.connection())
    return dbsession


def test_transitions_record_who_when_and_why(notices, make_user):
    editor = make_user("editor1", "editor")
    notices.info["actor"] = editor
    notice = Notice(title="井盖养护责任")
    notices.add(notice)
    notices.flush()
    transition(notices, notice, "submit", comment="请审核")
    transition(notices, notice, "publish", comment="同意发布")
    assert notice.state == State.PUBLISHED
    assert notice.published_at is not None
    steps = history(notices, notice)
    assert [(s.from_state, s.to_state) for s in steps] == [("draft", "pending"), ("pending", "published")]
    assert steps[0].actor_name == "editor1" and steps[0].comment == "请审核"


def test_forbidden_transitions_change_nothing(notices):
    notice = Notice(title="草稿")
    notices.add(notice)
    notices.flush()
    with pytest.raises(Conflict) as excinfo:
        transition(notices, notice, "publish")
    assert excinfo.value.code == "invalid_transition"
    assert notice.state == State.DRAFT
    assert history(notices, notice) == []


def test_only_published_content_is_public(notices):
    notices.add_all([Notice(title="a"), Notice(title="b", state="published"), Notice(title="c", state="withdrawn")])
    notices.flush()
    public = notices.scalars(select(Notice.title).where(Notice.is_public())).all()
    assert public == ["b"]


def test_every_change_is_audited_with_before_and_after(notices, make_user):
    notices.info["actor"] = make_user("auditor", "editor")
    notice = Notice(title="旧标题")
    notices.add(notice)
    notices.flush()
    notice.title = "新标题"
    notices.flush()
    notices.delete(notice)
    notices.flush()
    entries = entries_for(notices, "test_notices", str(notice.id))
    assert [e.action for e in entries] == ["test_notices.create", "test_notices.update", "test_notices.delete"]
    assert entries[0].after["title"] == "旧标题"
    assert entries[1].before == {"title": "旧标题"} and entries[1].after == {"title": "新标题"}
    assert entries[2].before["title"] == "新标题"
    assert all(e.actor_name == "auditor" for e in entries)
    # (creating the auditor account is itself audited, by "system": only the notices matter here)
    assert notices.scalar(select(AuditEntry).where(AuditEntry.actor_name == "system",
                                                   AuditEntry.entity_type == "test_notices")) is None
