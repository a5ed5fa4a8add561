"""The history of a duty's lineage, as its readers need it.

Staff read every revision: what changed, field by field in Chinese, who did it, each workflow
transition once (a transition writes a workflow record *and* an audit row for the state column:
the two are shown as one event), with review comments. The public reads the published
revisions only: when each was published and what it changed against the one before, without
names or internal comments. Drafts never reach the public history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit import AuditEntry, diff, json_safe, value_text
from portal.catalogue.models import Agency, Area, Duty, ItemType
from portal.catalogue.resolution import ROLE_LABELS, SOURCE_LABELS
from portal.workflow import STATE_LABELS, TRANSITIONS, State, WorkflowTransition

#: states in which a duty is (or was) public content
PUBLIC_STATES = (State.PUBLISHED.value, State.SUPERSEDED.value)

FIELD_LABELS: dict[str, str] = {
    "item_type_id": "部件/事件类型",
    "area_id": "适用区域",
    "role": "角色",
    "agency_id": "责任单位",
    "citations": "法律依据",
    "note": "说明",
    "urgent_hours": "紧急处置时限（小时）",
    "normal_working_days": "一般处置时限（工作日）",
    "valid_from": "生效日期",
    "valid_to": "失效日期",
    "source_kind": "来源",
    "source_id": "来源编号",
    "source_ref": "来源文号",
    "basis_reviewed_on": "依据审核日期",
    "state": "状态",
    "conflict_forced": "确认冲突强制发布",
    "conflict_note": "冲突说明",
    "revision_of_id": "修订自",
}
# Bookkeeping columns nobody reviews: identifiers, stamps, the knowledge-base loader's fingerprint.
_HIDDEN = frozenset({"id", "lineage_id", "created_at", "updated_at", "published_at", "kb_key", "kb_hash"})
# What the public history compares between published revisions.
_PUBLIC_FIELDS = ("item_type_id", "area_id", "role", "agency_id", "citations", "note", "urgent_hours",
                  "normal_working_days", "valid_from", "valid_to", "source_kind", "source_id", "source_ref")
STAFF_LABEL = "工作人员"


class _Names:
    """Display names of the rows a duty refers to, read once per history."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._cache: dict[tuple[type, int], str] = {}

    def __call__(self, model: type, key: Any) -> str:
        if key is None:
            return "—"
        try:
            ident = int(key)
        except (TypeError, ValueError):
            return str(key)
        if (model, ident) not in self._cache:
            row = self.session.get(model, ident)
            if row is None:
                text = f"#{ident}"
            elif model is ItemType:
                text = f"{row.code} {row.name}"
            elif model is Area:
                text = f"{row.name}（{row.code}）"
            else:
                text = row.name
            self._cache[(model, ident)] = text
        return self._cache[(model, ident)]


def _text(names: _Names, field: str, value: Any) -> str:
    if value is None:
        return "—"
    match field:
        case "item_type_id":
            return names(ItemType, value)
        case "area_id":
            return names(Area, value)
        case "agency_id":
            return names(Agency, value)
        case "role":
            return ROLE_LABELS.get(value, value)
        case "source_kind":
            return SOURCE_LABELS.get(value, value)
        case "state":
            return STATE_LABELS.get(State(value), value) if value in State._value2member_map_ else value
        case "revision_of_id":
            return f"#{value}"
    return value_text(value)


def _change(names: _Names, field: str, before: Any, after: Any) -> dict[str, Any]:
    return {"field": field, "label": FIELD_LABELS.get(field, field), "before": before, "after": after,
            "before_text": None if before is None else _text(names, field, before),
            "after_text": _text(names, field, after)}


def staff_history(session: Session, lineage: Sequence[Duty]) -> list[dict[str, Any]]:
    """Every event of every revision in ``lineage``, oldest first."""
    names = _Names(session)
    ids = [str(d.id) for d in lineage]
    transitions = list(session.scalars(
        select(WorkflowTransition)
        .where(WorkflowTransition.content_type == Duty.__tablename__, WorkflowTransition.content_id.in_(ids))
        .order_by(WorkflowTransition.at, WorkflowTransition.id)))
    entries = list(session.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity_type == Duty.__tablename__, AuditEntry.entity_id.in_(ids))
        .order_by(AuditEntry.at, AuditEntry.id)))

    events: list[dict[str, Any]] = []
    workflow_events: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for record in transitions:
        spec = TRANSITIONS.get(record.transition)
        event = {
            "at": record.at, "actor": record.actor_name, "action": record.transition,
            "action_label": spec.label if spec else record.transition, "duty_id": int(record.content_id),
            "changes": [_change(names, "state", record.from_state, record.to_state)],
            "comment": record.comment, "kind": "workflow",
        }
        events.append(event)
        workflow_events.setdefault((record.content_id, record.from_state, record.to_state), []).append(event)

    for entry in entries:
        verb = entry.action.rsplit(".", 1)[-1]
        changes = [(f, b, a) for f, b, a in diff(entry) if f not in _HIDDEN]
        if verb == "update":
            state = next(((b, a) for f, b, a in changes if f == "state"), None)
            # The audit row a transition leaves belongs to that transition: its other changes
            # (a forced publication's conflict flag) are shown there, the state change once.
            owner = workflow_events.get((entry.entity_id, *state), []) if state else []
            if owner:
                target = owner.pop(0)
                target["changes"] += [_change(names, f, b, a) for f, b, a in changes if f != "state"]
                continue
        if not changes:
            continue  # a change of bookkeeping columns only (the loader's fingerprint)
        revision_of = (entry.after or {}).get("revision_of_id")
        label = {"create": "新建修订" if revision_of else "新建", "update": "修改", "delete": "删除"}.get(verb, verb)
        events.append({
            "at": entry.at, "actor": entry.actor_name, "action": verb, "action_label": label,
            "duty_id": int(entry.entity_id), "comment": entry.comment, "kind": "audit",
            "changes": [_change(names, f, None if verb == "create" else b, a) for f, b, a in changes
                        if not (verb == "create" and a in (None, "", []))],
        })
    events.sort(key=lambda e: (_aware(e["at"]), 0 if e["kind"] == "audit" else 1))
    return events


def public_history(session: Session, lineage: Sequence[Duty]) -> list[dict[str, Any]]:
    """The published revisions of ``lineage``: each publication with what it changed against the
    previous one, and each replacement. No names, no comments, nothing of a draft."""
    names = _Names(session)
    public = [d for d in lineage if d.state in PUBLIC_STATES]
    ids = [str(d.id) for d in public]
    records = list(session.scalars(
        select(WorkflowTransition)
        .where(WorkflowTransition.content_type == Duty.__tablename__, WorkflowTransition.content_id.in_(ids),
               WorkflowTransition.transition.in_(("publish", "supersede")))
        .order_by(WorkflowTransition.at, WorkflowTransition.id))) if ids else []
    superseded_at = {int(r.content_id): r.at for r in records if r.transition == "supersede"}
    events: list[dict[str, Any]] = []
    previous: Duty | None = None
    for duty in sorted(public, key=lambda d: (_aware(d.published_at or d.created_at), d.id)):
        changes = [] if previous is None else [
            _change(names, f, json_safe(getattr(previous, f)), json_safe(getattr(duty, f)))
            for f in _PUBLIC_FIELDS if getattr(previous, f) != getattr(duty, f)]
        events.append({"at": duty.published_at or duty.created_at, "actor": STAFF_LABEL, "action": "publish",
                       "action_label": "发布", "duty_id": duty.id, "changes": changes, "comment": None,
                       "kind": "workflow"})
        if duty.id in superseded_at:
            events.append({"at": superseded_at[duty.id], "actor": STAFF_LABEL, "action": "supersede",
                           "action_label": TRANSITIONS["supersede"].label, "duty_id": duty.id,
                           "changes": [_change(names, "state", State.PUBLISHED.value, State.SUPERSEDED.value)],
                           "comment": None, "kind": "workflow"})
        previous = duty
    events.sort(key=lambda e: _aware(e["at"]))
    return events


def public_lineage(lineage: Iterable[Duty]) -> list[Duty]:
    return [d for d in lineage if d.state in PUBLIC_STATES]


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite hands timestamps back naive (they are stored in UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
