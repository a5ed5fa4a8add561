"""Editing duties: drafts, revisions, review with a second person, publication, collisions with
published duties, rulings that publish or withdraw duties, and the history of a lineage.

Split from ``services.py`` (reading and the dispatch look-up) because it changes for other reasons:
the editorial workflow, not the look-up's speed or the reports' rules.
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload
from zope.interface import implementer

from portal import clock
from portal.audit import AuditEntry, actor_of
from portal.audit import record as record_audit
from portal.catalogue.interfaces import IDutyService
from portal.catalogue.models import Agency, Area, Duty, ItemType
from portal.catalogue.resolution import Candidate, collisions
from portal.catalogue.services import CatalogueService, caches
from portal.errors import Conflict, InvalidInput, NotFound, PortalError
from portal.regulations.citations import render_citations
from portal.settings import as_bool
from portal.workflow import State, WorkflowTransition, reinstate
from portal.workflow import transition as workflow_transition

EDITABLE_FIELDS = (
    "item_type_id", "area_id", "role", "agency_id", "citations", "note", "urgent_hours",
    "normal_working_days", "valid_from", "valid_to", "source_kind", "source_id", "source_ref",
    "basis_reviewed_on", "conflict_note",
)
OPEN_STATES = (State.DRAFT.value, State.PENDING.value)


def _candidate(duty: Duty, depth: int | None = None) -> Candidate:
    return Candidate(duty.id, duty.role, duty.agency_id, depth if depth is not None else 0, duty.source_kind,
                     duty.valid_from, duty.valid_to, duty)


class SecondPersonRequired(PortalError):
    status = 403
    code = "second_person_required"


# Columns a workflow transition sets: changing them is reviewing, not writing the change.
_TRANSITION_COLUMNS = frozenset({"state", "published_at", "conflict_forced", "conflict_note"})


@implementer(IDutyService)
class DutyService:
    def __init__(self, session: Session, catalogue: CatalogueService | None = None, *,
                 four_eyes: bool = True) -> None:
        self.session = session
        self.catalogue = catalogue or CatalogueService(session)
        # Four eyes (setting catalogue.four_eyes, on by default): whoever wrote or submitted a
        # change may not publish it too.
        self.four_eyes = four_eyes

    def get(self, duty_id: int) -> Duty:
        duty = self.session.get(Duty, duty_id)
        if duty is None:
            raise NotFound(f"未找到权责条目 #{duty_id}。", code="duty_not_found")
        return duty

    # (Below this method, annotations spell `builtins.list`: the name `list` is the method here.)
    def list(self, *, item_type_id: int | None = None, area_id: int | None = None, state: str | None = None,
             agency_id: int | None = None, role: str | None = None, source_kind: str | None = None,
             within_area: str | None = None, text: str | None = None, limit: int = 200,
             offset: int = 0, states: tuple[str, ...] | None = None, updated_since: dt.datetime | None = None,
             after_id: int | None = None) -> tuple[list[Duty], int]:
        """Duties by any of: item type, area (exactly, or ``within_area``: that area and the areas
        below it), state (or ``states``), agency, role, source, and ``text`` (every word must occur
        in the item type's code or name, the agency, the area, a citation, the note or the source
        reference). Newest change first; with ``after_id`` (a cursor) or ``updated_since`` in id
        order instead, so paging through stays stable while duties are added or edited."""
        from sqlalchemy import func

        stmt = select(Duty)
        if states is not None:
            stmt = stmt.where(Duty.state.in_(states))
        if updated_since is not None:
            stmt = stmt.where(Duty.updated_at >= updated_since)
        if item_type_id:
            stmt = stmt.where(Duty.item_type_id == item_type_id)
        if area_id:
            stmt = stmt.where(Duty.area_id == area_id)
        if state:
            stmt = stmt.where(Duty.state == state)
        if agency_id:
            stmt = stmt.where(Duty.agency_id == agency_id)
        if role:
            stmt = stmt.where(Duty.role == role)
        if source_kind:
            stmt = stmt.where(Duty.source_kind == source_kind)
        if within_area or text:
            stmt = stmt.join(Area, Duty.area_id == Area.id)
        if within_area:
            # area codes nest by prefix (district 330199 → street 330199001 → …)
            stmt = stmt.where(Area.code.startswith(within_area, autoescape=True))
        for word in (text or "").split():
            stmt = stmt.where(self._mentions(word))
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        stmt = stmt.options(joinedload(Duty.item_type), joinedload(Duty.area), joinedload(Duty.agency))
        if after_id is not None or updated_since is not None:
            stmt = stmt.where(Duty.id > (after_id or 0)).order_by(Duty.id)
        else:
            stmt = stmt.order_by(Duty.updated_at.desc(), Duty.id.desc())
        return list(self.session.scalars(stmt.limit(limit).offset(offset))), total

    @staticmethod
    def _mentions(word: str) -> Any:
        from sqlalchemy import String, cast, exists

        # Citations are stored as JSON, whose serialiser escapes non-ASCII (\uXXXX): compare with
        # the word in that form.
        escaped = json.dumps(word)[1:-1]
        return or_(
            Duty.note.contains(word, autoescape=True),
            Duty.source_ref.contains(word, autoescape=True),
            cast(Duty.citations, String).contains(escaped, autoescape=True),
            Area.name.contains(word, autoescape=True),
            Area.code == word,
            exists().where(ItemType.id == Duty.item_type_id,
                           or_(ItemType.code == word, ItemType.name.contains(word, autoescape=True))),
            exists().where(Agency.id == Duty.agency_id,
                           or_(Agency.code == word, Agency.name.contains(word, autoescape=True))),
        )

    # -- input ------------------------------------------------------------------------------

    def _resolve_refs(self, data: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        if "item_type" in data:
            try:
                values["item_type_id"] = self.catalogue.resolve_item_info(
                    data["item_type"], data.get("scheme"), data.get("kind")).id
            except (NotFound, InvalidInput) as exc:
                errors["item_type"] = [exc.message]
        if "area" in data:
            area = self.session.scalar(select(Area).where(Area.code == data["area"]))
            if area is None:
                errors["area"] = ["未知的区域编码。"]
            else:
                values["area_id"] = area.id
        if "agency" in data:
            agency = self.session.scalar(select(Agency).where(Agency.code == data["agency"]))
            if agency is None:
                errors["agency"] = ["未知的单位编码。"]
            else:
                values["agency_id"] = agency.id
        if "citations" in data:
            rendered, unreadable = render_citations(data["citations"])
            if unreadable:
                errors["citations"] = [f"无法识别的引用：{text}" for text in unreadable]
            values["citations"] = rendered
        for name in ("role", "note", "urgent_hours", "normal_working_days", "valid_from", "valid_to",
                     "source_kind", "source_id", "source_ref", "basis_reviewed_on", "conflict_note"):
            if name in data:
                values[name] = data[name]
        if values.get("source_kind") == "ruling" and not (data.get("source_id") or data.get("source_ref")):
            errors.setdefault("source_id", []).append("来源为裁定时须给出裁定编号或文号。")
        if errors:
            raise InvalidInput("输入校验未通过，请查看各字段的说明。", fields=errors)
        return values

    @staticmethod
    def _check_dates(duty: Duty) -> None:
        if duty.valid_from and duty.valid_to and duty.valid_to < duty.valid_from:
            raise InvalidInput("失效日期不能早于生效日期。", fields={"valid_to": ["须不早于 valid_from。"]})

    # -- writes -----------------------------------------------------------------------------

    def create(self, data: dict[str, Any], force: bool = False) -> Duty:
        values = self._resolve_refs(data)
        missing = [f for f in ("item_type_id", "area_id", "role", "agency_id") if f not in values]
        if missing:
            names = {"item_type_id": "item_type", "area_id": "area", "agency_id": "agency", "role": "role"}
            raise InvalidInput("缺少必填字段。", fields={names[f]: ["必填。"] for f in missing})
        values.setdefault("basis_reviewed_on", clock.today())
        values.setdefault("citations", [])
        duty = Duty(state=State.DRAFT.value, **values)
        self._check_dates(duty)
        self.session.add(duty)
        self.session.flush()
        duty.lineage_id = duty.id
        self.session.flush()
        return duty

    def open_revision(self, duty: Duty) -> Duty | None:
        return self.session.scalar(
            select(Duty).where(Duty.revision_of_id == duty.id, Duty.state.in_(OPEN_STATES))
        )

    def update(self, duty: Duty, data: dict[str, Any], force: bool = False) -> Duty:
        values = self._resolve_refs(data)
        if "citations" in values and "basis_reviewed_on" not in values and values["citations"] != duty.citations:
            values["basis_reviewed_on"] = clock.today()
        if duty.state == State.DRAFT.value:
            for name, value in values.items():
                if getattr(duty, name) != value:
                    setattr(duty, name, value)
            self._check_dates(duty)
            self.session.flush()
            return duty
        if duty.state == State.PUBLISHED.value:
            existing = self.open_revision(duty)
            if existing is not None:
                raise Conflict(f"该条目已有未发布的修订 #{existing.id}，请在修订上继续编辑。",
                               code="revision_exists", fields={"revision_id": [str(existing.id)]})
            revision = Duty(
                state=State.DRAFT.value,
                lineage_id=duty.lineage_id or duty.id,
                revision_of_id=duty.id,
                **{name: getattr(duty, name) for name in EDITABLE_FIELDS},
            )
            for name, value in values.items():
                setattr(revision, name, value)
            revision.conflict_forced = False
            self._check_dates(revision)
            self.session.add(revision)
            self.session.flush()
            return revision
        raise Conflict(f"状态为“{duty.state_label}”的条目不能直接修改。", code="invalid_state")

    def collisions(self, duty: Duty) -> builtins.list[Duty]:
        stmt = select(Duty).where(
            Duty.item_type_id == duty.item_type_id,
            Duty.area_id == duty.area_id,
            Duty.role == duty.role,
            Duty.state == State.PUBLISHED.value,
            Duty.id != duty.id,
        )
        if duty.revision_of_id:
            stmt = stmt.where(Duty.id != duty.revision_of_id)
        others = list(self.session.scalars(stmt))
        hits = collisions(_candidate(duty), [_candidate(o) for o in others])
        return [c.payload for c in hits]

    def authors(self, duty: Duty) -> set[tuple[int | None, str]]:
        """Who wrote this revision or submitted it for review, as (user id, name)."""
        people: set[tuple[int | None, str]] = set()
        for actor_id, actor_name, action, after in self.session.execute(
            select(AuditEntry.actor_id, AuditEntry.actor_name, AuditEntry.action, AuditEntry.after)
            .where(AuditEntry.entity_type == Duty.__tablename__, AuditEntry.entity_id == str(duty.id))
        ):
            if action.endswith(".create") or set(after or ()) - _TRANSITION_COLUMNS:
                people.add((actor_id, actor_name))
        people.update((actor_id, actor_name) for actor_id, actor_name in self.session.execute(
            select(WorkflowTransition.actor_id, WorkflowTransition.actor_name)
            .where(WorkflowTransition.content_type == Duty.__tablename__,
                   WorkflowTransition.content_id == str(duty.id), WorkflowTransition.transition == "submit")))
        return people

    def _check_second_person(self, duty: Duty, override_reason: str | None) -> str | None:
        """Refuse a publication by the change's own author; returns the note an admin's override leaves."""
        actor_id, actor_name = actor_of(self.session)
        # The rule is about people: operators' CLI runs and loaders act as no one in particular.
        if not self.four_eyes or actor_id is None:
            return None
        if actor_id not in {author_id for author_id, _ in self.authors(duty)}:
            return None
        if not override_reason:
            raise SecondPersonRequired(
                "发布须由另一位工作人员审核（四眼原则）：您编写或提交了这项修改，请由其他有发布权限的人员审核发布。"
                "管理员可填写理由越过此规则。", fields={"transition": ["须由另一位工作人员发布。"]})
        note = f"四眼原则豁免（{actor_name}）：{override_reason}"
        record_audit(self.session, f"{Duty.__tablename__}.four_eyes_override", Duty.__tablename__, str(duty.id),
                     comment=override_reason)
        return note

    def transition(self, duty: Duty, name: str, comment: str | None = None, force: bool = False, *,
                   override_reason: str | None = None, reviewed_elsewhere: bool = False) -> Duty:
        """Apply workflow transition ``name``. Publishing needs a second person unless
        ``override_reason`` is given (admins only: the views check) or the change was
        ``reviewed_elsewhere`` (a ruling's panel)."""
        if name == "publish":
            if not reviewed_elsewhere:
                note = self._check_second_person(duty, override_reason)
                if note:
                    comment = f"{comment}；{note}" if comment else note
            hits = self.collisions(duty)
            if hits and not force:
                raise Conflict(
                    "与已发布的权责条目冲突：同一类型、同一区域、同一角色、有效期重叠，但责任单位不同。"
                    "请调整，或确认后强制发布（将作为冲突在查询中显示）。",
                    code="duty_collision",
                    fields={"collisions": [f"#{d.id} {d.agency.name}" for d in hits]},
                )
            if hits:
                duty.conflict_forced = True
                if comment:
                    duty.conflict_note = comment
        workflow_transition(self.session, duty, name, comment)
        if name == "publish" and duty.revision_of_id:
            previous = self.session.get(Duty, duty.revision_of_id)
            if previous is not None and previous.state == State.PUBLISHED.value:
                workflow_transition(self.session, previous, "supersede", f"由修订 #{duty.id} 取代")
        self.session.flush()
        return duty

    def apply_ruling(self, ruling_id: Any, ruling_ref: str, decisions: builtins.list[dict[str, Any]],
                     comment: str | None = None) -> builtins.list[Duty]:
        """Publish the duties a ruling decides, with the ruling as their source.

        ``decisions`` are duty inputs (``item_type``, ``area``, ``role``, ``agency``,
        ``citations``, ``valid_from`` …). A ruling outranks every general entry within its scope,
        so those stay as they are; an earlier *ruling* duty for the same item type, area and role
        is superseded by the new one. The ruling was reviewed by the panel, so its duties are
        published at once (the transitions are still recorded).
        """
        created = []
        for decision in decisions:
            data = {**decision, "source_kind": "ruling", "source_id": str(ruling_id),
                    "source_ref": ruling_ref}
            duty = self.create(data)
            for earlier in self.session.scalars(select(Duty).where(
                Duty.item_type_id == duty.item_type_id, Duty.area_id == duty.area_id, Duty.role == duty.role,
                Duty.state == State.PUBLISHED.value, Duty.source_kind == "ruling", Duty.id != duty.id,
            )):
                workflow_transition(self.session, earlier, "supersede", f"由裁定 {ruling_ref} 取代")
            self.transition(duty, "submit", comment or f"依裁定 {ruling_ref}")
            self.transition(duty, "publish", comment or f"依裁定 {ruling_ref}", reviewed_elsewhere=True)
            created.append(duty)
        return created

    def revoke_ruling(self, ruling_id: Any, ruling_ref: str, comment: str | None = None) -> tuple[builtins.list[Duty], builtins.list[Duty]]:
        """Withdraw the duties a ruling decided and put back in force the earlier ruling duties it
        superseded (found through the supersede transitions :meth:`apply_ruling` recorded).
        General entries were never touched by the ruling, so they answer again by themselves."""
        withdrawn = list(self.session.scalars(select(Duty).where(
            Duty.source_kind == "ruling", Duty.source_id == str(ruling_id), Duty.state == State.PUBLISHED.value)))
        for duty in withdrawn:
            workflow_transition(self.session, duty, "withdraw", comment or f"裁定 {ruling_ref} 撤销")
        superseded_ids = self.session.scalars(select(WorkflowTransition.content_id).where(
            WorkflowTransition.content_type == Duty.__tablename__, WorkflowTransition.transition == "supersede",
            WorkflowTransition.comment == f"由裁定 {ruling_ref} 取代"))
        restored = []
        for content_id in set(superseded_ids):
            earlier = self.session.get(Duty, int(content_id))
            if earlier is not None and earlier.state == State.SUPERSEDED.value:
                reinstate(self.session, earlier, comment or f"裁定 {ruling_ref} 撤销，恢复原裁定条目")
                restored.append(earlier)
        self.session.flush()
        return withdrawn, restored

    # -- history ----------------------------------------------------------------------------

    def lineage(self, duty: Duty) -> builtins.list[Duty]:
        lineage_id = duty.lineage_id or duty.id
        return list(self.session.scalars(
            select(Duty).where(or_(Duty.lineage_id == lineage_id, Duty.id == lineage_id)).order_by(Duty.id)
        ))

    def history(self, duty: Duty, *, include_drafts: bool = False) -> builtins.list[dict[str, Any]]:
        """The lineage's history: everything for staff (``include_drafts``), else the published
        revisions only (see :mod:`portal.catalogue.history`)."""
        from portal.catalogue.history import public_history, staff_history

        lineage = self.lineage(duty)
        return staff_history(self.session, lineage) if include_drafts else public_history(self.session, lineage)


def duty_service_factory(context: Any, request: Any) -> DutyService:
    snapshot_cache, _ = caches(request.registry)
    four_eyes = as_bool(request.registry.settings.get("catalogue.four_eyes", True))
    return DutyService(request.dbsession, CatalogueService(request.dbsession, snapshot_cache), four_eyes=four_eyes)

