"""The arbitration service: the dispute file, its stages and deadlines, the panel, votes and ruling.

Stage deadlines count working days on the holiday calendar of the catalogue
(:class:`~portal.catalogue.calendar.WorkingCalendar`); how many days each stage may take is a
setting (``arbitration.stage_days.<stage>``). Recusal is decided here, once, and every surface
(web form, API, panel suggestion) goes through :meth:`ArbitrationService.conflict`.

Why one module of ~940 lines (left whole when the catalogue and regulations services were split):
it is one state machine. Filing, stages, evidence, panel, draft, votes, publication and revocation
all move the same dispute through ``_enter`` (stage clock, deadline, audit) and share the same
look-ups and recusal rule; split into files they would still change together. The sections are
marked ``# -- name --``. The seam if it grows: the read-only figures (bounce hotspots, bounces
around a ruling, ``stats``) could become their own service beside this one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import statistics
import unicodedata
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from zope.interface import implementer

from portal import audit
from portal.accounts.models import User
from portal.arbitration.interfaces import IArbitrationService
from portal.arbitration.models import (
    OPEN_STAGES,
    Dispute,
    DisputeCase,
    DisputeParty,
    Evidence,
    Expert,
    PanelSeat,
    Ruling,
    Vote,
)
from portal.catalogue.calendar import CHINA_TZ, WorkingCalendar
from portal.catalogue.models import Agency, Area, ItemType
from portal.catalogue.resolution import ROLES
from portal.db import utcnow
from portal.errors import Conflict, InvalidInput, NotFound, PortalError
from portal.regulations.citations import render_citations
from portal.workflow import State, WorkflowTransition
from portal.workflow import transition as workflow_transition

STAGE_LABELS = {
    "filed": "已申请", "accepted": "已受理", "inspected": "已勘查", "deliberating": "合议中",
    "ruled": "已裁定", "published": "已公布", "rejected": "不予受理", "withdrawn": "已撤回",
}
# Working days each open stage may take before the dispute is overdue.
DEFAULT_STAGE_DAYS = {"filed": 5, "accepted": 10, "inspected": 5, "deliberating": 15, "ruled": 5}
PANEL_SIZES = (3, 5, 7)
MAX_HOTSPOT_PARTIES = 6
SCOPE_LABELS = {"asset": "本处设施", "area": "本区域内该类设施", "district": "全区该类设施"}
CHOICE_LABELS = {"concur": "同意", "dissent": "反对"}
DEFAULT_PREFIX = "示例区城市管理权属争议裁定"


@dataclass(frozen=True)
class Move:
    name: str
    label: str
    source: tuple[str, ...]
    target: str


MOVES = {m.name: m for m in (
    Move("accept", "受理", ("filed",), "accepted"),
    Move("reject", "不予受理", ("filed", "accepted"), "rejected"),
    Move("inspect", "完成现场勘查", ("accepted",), "inspected"),
    Move("deliberate", "提交合议", ("inspected",), "deliberating"),
    Move("withdraw", "撤回申请", ("filed", "accepted", "inspected", "deliberating"), "withdrawn"),
)}


class Recused(PortalError):
    """An expert affiliated with a party: may neither sit nor vote."""

    status = 403
    code = "expert_conflicted"


class NotOnPanel(PortalError):
    status = 403
    code = "not_on_panel"


# ----------------------------------------------------------------------------- evidence files

# Accepted evidence: the type is read from the content, never trusted from the name or header.
EVIDENCE_TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    ".pdf": ("application/pdf", (b"%PDF-",)),
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (b"PK\x03\x04",)),
    ".txt": ("text/plain; charset=utf-8", ()),
}
DEFAULT_EVIDENCE_MAX_BYTES = 900 * 1024


def safe_filename(name: str) -> str:
    """A display name without paths, control characters or anything a header could misread."""
    name = unicodedata.normalize("NFC", str(name or "")).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r'[<>:"|?*;]', "_", name).strip(" .")
    if len(name) > 120:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 110] + dot + ext) if dot and len(ext) <= 8 else name[:120]
    return name or "证据"


def sniff_evidence(filename: str, data: bytes) -> str:
    """The content type of an acceptable evidence file; raises InvalidInput otherwise."""
    ext = Path(filename).suffix.lower()
    if ext not in EVIDENCE_TYPES:
        raise InvalidInput("不支持的文件类型：仅接受 PDF、PNG、JPEG、DOCX 和 TXT。", code="evidence_type",
                           fields={"file": [f"不支持的扩展名 {ext or '（无）'}。"]})
    content_type, magics = EVIDENCE_TYPES[ext]
    if magics and not any(data.startswith(m) for m in magics):
        raise InvalidInput("文件内容与扩展名不符。", code="evidence_type", fields={"file": ["文件内容与扩展名不符。"]})
    if ext == ".txt":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("文本文件须为 UTF-8 编码。", code="evidence_type",
                               fields={"file": ["文本文件须为 UTF-8 编码。"]}) from None
    return content_type


# ----------------------------------------------------------------------------- the service


def china_today() -> dt.date:
    return dt.datetime.now(CHINA_TZ).date()


@implementer(IArbitrationService)
class ArbitrationService:
    def __init__(self, session: Session, *, settings: dict[str, Any] | None = None, duties: Any = None,
                 cases: Any = None, calendar: WorkingCalendar | None = None, now: Any = None) -> None:
        self.session = session
        self.settings = settings or {}
        self._duties = duties
        self._cases = cases
        self.calendar = calendar or WorkingCalendar.default()
        self._now = now or utcnow

    # -- settings ---------------------------------------------------------------------------

    def now(self) -> dt.datetime:
        return self._now()

    @property
    def prefix(self) -> str:
        return str(self.settings.get("arbitration.document_prefix") or DEFAULT_PREFIX)

    def stage_days(self, stage: str) -> int | None:
        if stage not in DEFAULT_STAGE_DAYS:
            return None
        return int(self.settings.get(f"arbitration.stage_days.{stage}") or DEFAULT_STAGE_DAYS[stage])

    @property
    def evidence_max_bytes(self) -> int:
        limit = int(self.settings.get("arbitration.evidence_max_bytes") or DEFAULT_EVIDENCE_MAX_BYTES)
        return limit

    @property
    def evidence_dir(self) -> Path:
        return Path(self.settings.get("portal.var_dir") or "var") / "arbitration" / "evidence"

    @property
    def duties(self) -> Any:
        if self._duties is None:
            from portal.catalogue.editing import DutyService

            self._duties = DutyService(self.session)
        return self._duties

    @property
    def cases(self) -> Any:
        if self._cases is None:
            from portal.cases.services import CaseService

            self._cases = CaseService(self.session)
        return self._cases

    def reference(self, ruling: Ruling) -> str:
        """The full document number: 示例区城市管理权属争议裁定〔2026〕3号."""
        return f"{self.prefix}{ruling.number}"

    # -- lookups ----------------------------------------------------------------------------

    def _item(self, value: str) -> ItemType:
        from portal.catalogue.services import CatalogueService

        try:
            info = CatalogueService(self.session).resolve_item_info(value)
        except (NotFound, InvalidInput) as exc:
            raise InvalidInput(exc.message, fields={"item_type": [exc.message]}) from None
        item = self.session.get(ItemType, info.id)
        assert item is not None
        return item

    def _area(self, code: str, field: str = "area") -> Area:
        area = self.session.scalar(select(Area).where(Area.code == str(code or "").strip()))
        if area is None:
            raise InvalidInput("未知的区域编码。", fields={field: ["未知的区域编码。"]})
        return area

    def _agency(self, code: str, field: str = "agency") -> Agency:
        agency = self.session.scalar(select(Agency).where(Agency.code == str(code or "").strip()))
        if agency is None:
            raise InvalidInput(f"未知的单位编码 {code}。", fields={field: [f"未知的单位编码 {code}。"]})
        return agency

    def _street_of(self, area: Area) -> Area | None:
        node: Area | None = area
        while node is not None and node.level not in ("street", "district"):
            node = node.parent
        return node if node is not None and node.level == "street" else None

    def get_dispute(self, dispute_id: int) -> Dispute:
        dispute = self.session.get(Dispute, dispute_id)
        if dispute is None:
            raise NotFound(f"未找到争议 #{dispute_id}。", code="dispute_not_found")
        return dispute

    def get_ruling(self, ruling_id: int, *, public: bool = True) -> Ruling:
        ruling = self.session.get(Ruling, ruling_id)
        if ruling is None or (public and ruling.state != State.PUBLISHED.value):
            raise NotFound(f"未找到裁定 #{ruling_id}。", code="ruling_not_found")
        return ruling

    def get_expert(self, expert_id: int) -> Expert:
        expert = self.session.get(Expert, expert_id)
        if expert is None:
            raise NotFound(f"未找到专家 #{expert_id}。", code="expert_not_found")
        return expert

    # -- experts ----------------------------------------------------------------------------

    def workload(self) -> dict[int, int]:
        """Open panels per expert."""
        rows = self.session.execute(
            select(PanelSeat.expert_id, func.count()).join(Dispute, Dispute.id == PanelSeat.dispute_id)
            .where(PanelSeat.recused_at.is_(None), Dispute.stage.in_(OPEN_STAGES)).group_by(PanelSeat.expert_id)
        ).all()
        return dict(rows)

    def experts(self, active_only: bool = False) -> list[Expert]:
        stmt = select(Expert).options(selectinload(Expert.affiliation)).order_by(Expert.id)
        if active_only:
            stmt = stmt.where(Expert.active.is_(True))
        return list(self.session.scalars(stmt))

    def expert_for_user(self, user: User | None) -> Expert | None:
        if user is None:
            return None
        return self.session.scalar(select(Expert).where(Expert.user_id == user.id))

    def save_expert(self, data: dict[str, Any], expert: Expert | None = None) -> Expert:
        expert = expert or Expert()
        errors: dict[str, list[str]] = {}
        if "affiliation" in data:
            expert.affiliation_id = self._agency(data["affiliation"], "affiliation").id if data["affiliation"] else None
        if "username" in data:
            username = (data["username"] or "").strip()
            if username:
                user = self.session.scalar(select(User).where(User.username == username))
                if user is None:
                    errors["username"] = ["没有这个用户名。"]
                elif "expert" not in user.roles:
                    errors["username"] = ["该账号没有“专家”角色。"]
                else:
                    other = self.expert_for_user(user)
                    if other is not None and other is not expert:
                        errors["username"] = [f"该账号已关联专家 {other.name}。"]
                    expert.user_id = user.id
            else:
                expert.user_id = None
        if errors:
            raise InvalidInput("输入校验未通过，请查看各字段的说明。", fields=errors)
        for name in ("name", "title", "specialties", "active"):
            if name in data:
                setattr(expert, name, data[name])
        if expert.id is None:
            self.session.add(expert)
        self.session.flush()
        return expert

    # -- recusal ----------------------------------------------------------------------------

    def _family(self, agency_id: int) -> set[int]:
        """An agency with its parent and its direct subordinates: one organisation for recusal."""
        family = {agency_id}
        agency = self.session.get(Agency, agency_id)
        if agency is not None and agency.parent_id:
            family.add(agency.parent_id)
        family.update(self.session.scalars(select(Agency.id).where(Agency.parent_id == agency_id)))
        return family

    def conflict(self, expert: Expert, dispute: Dispute) -> str | None:
        if expert.affiliation_id is None:
            return None
        family = self._family(expert.affiliation_id)
        for party in dispute.parties:
            if party.agency_id in family:
                return f"{expert.name}任职于{expert.affiliation.name if expert.affiliation else ''}，与当事方{party.agency.name}存在关联，应当回避。"
        return None

    def _recuse_conflicted(self, dispute: Dispute) -> list[PanelSeat]:
        recused = []
        for seat in dispute.active_seats:
            reason = self.conflict(seat.expert, dispute)
            if reason:
                seat.recused_at = self.now()
                seat.recusal_reason = reason[:200]
                recused.append(seat)
        return recused

    # -- filing -----------------------------------------------------------------------------

    def _next_serial(self, model: Any, year: int) -> int:
        return (self.session.scalar(select(func.max(model.serial)).where(model.year == year)) or 0) + 1

    def _enter(self, dispute: Dispute, stage: str, comment: str | None, move: str, at: dt.datetime | None = None) -> None:
        at = at or self.now()
        previous = None if move == "file" else dispute.stage
        if previous is not None and dispute.stage_due is not None and at > dispute.stage_due:
            dispute.late_stages = (dispute.late_stages or 0) + 1
        dispute.stage = stage
        dispute.stage_since = at
        days = self.stage_days(stage)
        dispute.stage_due = self.calendar.add_working_days(at, days) if days is not None else None
        if stage not in OPEN_STAGES:
            dispute.closed_at = at
        self.session.flush()
        actor_id, actor_name = audit.actor_of(self.session)
        self.session.add(WorkflowTransition(
            content_type=Dispute.__tablename__, content_id=str(dispute.id), transition=move,
            from_state=previous or "", to_state=stage, actor_id=actor_id, actor_name=actor_name, at=at,
            comment=comment,
        ))

    def open_dispute(self, data: dict[str, Any], *, at: dt.datetime | None = None) -> Dispute:
        item = self._item(data["item_type"])
        area = self._area(data["area"])
        at = at or self.now()
        year = at.astimezone(CHINA_TZ).year
        title = data.get("title") or f"{area.name}{item.name}权属争议"
        _, actor_name = audit.actor_of(self.session)
        dispute = Dispute(
            year=year, serial=self._next_serial(Dispute, year), title=title, question=data.get("question") or
            f"{area.name}范围内的{item.name}由哪个单位负责权属、养护、监管与执法？",
            item_type=item, area=area, street=self._street_of(area), lat=data.get("lat"), lon=data.get("lon"),
            location_note=data.get("location_note") or "", origin=data.get("origin", "manual"),
            hotspot=data.get("hotspot"), filed_at=at, opened_by=actor_name, stage="filed", kb_key=data.get("kb_key"),
        )
        self.session.add(dispute)
        self.session.flush()
        for party in data.get("parties") or ():
            self.add_party(dispute, party["agency"], party.get("position", ""), bounces=party.get("bounces", 0))
        case_ids = [int(c) for c in data.get("case_ids") or ()]
        if case_ids:
            self.attach_cases(dispute, case_ids)
        self._enter(dispute, "filed", data.get("comment") or "提出确权申请", "file", at)
        return dispute

    def add_party(self, dispute: Dispute, agency_code: str, position: str = "", *, bounces: int = 0) -> DisputeParty:
        if dispute.stage not in OPEN_STAGES[:4]:
            raise Conflict("合议结束后不能再增加当事方。", code="invalid_stage")
        agency = self._agency(agency_code)
        if any(p.agency_id == agency.id for p in dispute.parties):
            raise Conflict(f"{agency.name}已是当事方。", code="party_exists", fields={"agency": ["已是当事方。"]})
        party = DisputeParty(agency=agency, position=position or "", bounces=bounces,
                             position_at=self.now() if position else None)
        dispute.parties.append(party)
        self.session.flush()
        # A new party can make a seated expert conflicted: recused at once, not at vote time only.
        self._recuse_conflicted(dispute)
        return party

    def set_position(self, dispute: Dispute, agency_code: str, position: str) -> DisputeParty:
        agency = self._agency(agency_code)
        party = next((p for p in dispute.parties if p.agency_id == agency.id), None)
        if party is None:
            raise NotFound(f"{agency.name}不是本争议的当事方。", code="party_not_found")
        if dispute.stage not in OPEN_STAGES[:4]:
            raise Conflict("合议结束后不能再修改当事方意见。", code="invalid_stage")
        party.position = position
        party.position_at = self.now()
        self.session.flush()
        return party

    def attach_cases(self, dispute: Dispute, case_ids: list[int]) -> int:
        from portal.cases.models import Case

        known = set(self.session.scalars(select(Case.id).where(Case.id.in_(case_ids))))
        missing = sorted(set(case_ids) - known)
        if missing:
            raise InvalidInput("未知的案件编号。", fields={"case_ids": [f"未找到案件 {m}。" for m in missing[:10]]})
        have = {c.case_id for c in dispute.cases}
        added = 0
        for case_id in sorted(known - have):
            dispute.cases.append(DisputeCase(case_id=case_id))
            added += 1
        self.session.flush()
        return added

    # -- hotspots ---------------------------------------------------------------------------

    def _bounce_criteria(self, item_type_id: int, area: Area, since: dt.datetime | None) -> list[Any]:
        from portal.cases.models import Case, CaseEvent

        criteria = [CaseEvent.kind == "bounce", CaseEvent.reason == "not_our_asset",
                    Case.item_type_id == item_type_id, *self._case_scope(area)]
        if since is not None:
            criteria.append(CaseEvent.at >= since)
        return criteria

    def _case_scope(self, area: Area) -> list[Any]:
        from portal.cases.models import Case

        if area.level == "grid":
            return [Case.grid_id == area.id]
        if area.level == "street":
            return [Case.street_id == area.id]
        if area.level == "district":
            return []
        return [Case.grid_id.in_(self._grids_under(area))]

    def _grids_under(self, area: Area) -> list[int]:
        frontier, grids = [area.id], []
        while frontier:
            rows = self.session.execute(select(Area.id, Area.level).where(Area.parent_id.in_(frontier))).all()
            grids += [i for i, level in rows if level == "grid"]
            frontier = [i for i, level in rows if level != "grid"]
        return grids

    def hotspots(self, days: int = 180, by: str = "grid", min_bounces: int = 3, limit: int = 50) -> list[dict[str, Any]]:
        since = self.now() - dt.timedelta(days=days)
        spots = self.cases.bounce_hotspots(since=since, by=by, min_bounces=min_bounces, limit=limit)
        open_disputes = {
            (item_id, area_id): dispute_id for dispute_id, item_id, area_id in self.session.execute(
                select(Dispute.id, Dispute.item_type_id, Dispute.area_id).where(Dispute.stage.in_(OPEN_STAGES)))
        }
        areas = {a.code: a for a in self.session.scalars(
            select(Area).where(Area.code.in_([s["area"]["code"] for s in spots if s.get("area")])))}
        items = {i.key: i for i in self.session.scalars(
            select(ItemType).where(ItemType.code.in_([s["item_type"]["code"] for s in spots if s.get("item_type")])))}
        rulings = self._published_rulings_by_place()
        for spot in spots:
            area = areas.get(spot["area"]["code"]) if spot.get("area") else None
            item = items.get(spot["item_type"]["key"]) if spot.get("item_type") else None
            spot["open_dispute_id"] = open_disputes.get((item.id, area.id)) if item and area else None
            ruling = rulings.get((item.id, area.id)) if item and area else None
            # A place already ruled on is offered again only if the cases keep bouncing after the ruling.
            spot["ruling_id"] = ruling.id if ruling is not None else None
            spot["bounces_since_ruling"] = (
                self._bounce_count(item.id, area, ruling.published_at) if ruling is not None and item and area else None)
            spot["since"] = since
        return spots

    def _published_rulings_by_place(self) -> dict[tuple[int, int], Ruling]:
        rows = self.session.execute(
            select(Dispute.item_type_id, Dispute.area_id, Ruling).join(Ruling, Ruling.dispute_id == Dispute.id)
            .where(Ruling.state == State.PUBLISHED.value).order_by(Ruling.published_at)).all()
        return {(item_id, area_id): ruling for item_id, area_id, ruling in rows}

    def _bounce_count(self, item_type_id: int, area: Area, since: dt.datetime | None) -> int:
        from portal.cases.models import Case, CaseEvent

        return self.session.scalar(
            select(func.count(CaseEvent.id)).join(Case, Case.id == CaseEvent.case_id)
            .where(*self._bounce_criteria(item_type_id, area, since))) or 0

    def open_from_hotspot(self, item_type: str, area: str, since: dt.datetime | None = None,
                          min_bounces: int = 3) -> Dispute:
        from portal.cases.models import Case, CaseEvent

        item, place = self._item(item_type), self._area(area)
        existing = self.session.scalar(select(Dispute).where(
            Dispute.item_type_id == item.id, Dispute.area_id == place.id, Dispute.stage.in_(OPEN_STAGES)))
        if existing is not None:
            raise Conflict(f"该热点已有进行中的争议 {existing.number}。", code="dispute_exists",
                           fields={"dispute_id": [str(existing.id)]})
        ruling = self._published_rulings_by_place().get((item.id, place.id))
        if ruling is not None and ruling.published_at is not None and (since is None or ruling.published_at > since):
            # Ruled here already: only the bounces since the ruling make a new dispute.
            since = ruling.published_at
        criteria = self._bounce_criteria(item.id, place, since)
        rows = self.session.execute(
            select(Case.id, CaseEvent.agency_id).join(Case, Case.id == CaseEvent.case_id).where(*criteria)
        ).all()
        if len(rows) < min_bounces:
            if ruling is not None:
                raise Conflict(f"该处已有裁定 {self.reference(ruling)}，裁定后的退单不足 {min_bounces} 次。",
                               code="already_ruled", fields={"ruling_id": [str(ruling.id)]})
            raise InvalidInput(f"该类型在该区域的退单不足 {min_bounces} 次，不构成争议热点。", code="not_a_hotspot")
        bounces: dict[int, int] = defaultdict(int)
        for _case_id, agency_id in rows:
            if agency_id is not None:
                bounces[agency_id] += 1
        agencies = {a.id: a for a in self.session.scalars(select(Agency).where(Agency.id.in_(list(bounces))))}
        ranked = [(agencies[a], n) for a, n in sorted(bounces.items(), key=lambda kv: (-kv[1], kv[0])) if a in agencies]
        # The parties are the agencies that keep returning the cases (twice or more; at least the
        # two that returned most, at most six); every bouncing agency stays on the hotspot record.
        chosen = [(a, n) for a, n in ranked if n >= 2][:MAX_HOTSPOT_PARTIES] or ranked[:2]
        if len(chosen) < 2:
            chosen = ranked[:2]
        parties = [{"agency": a.code, "bounces": n, "position": ""} for a, n in chosen]
        return self.open_dispute({
            "item_type": item.key, "area": place.code, "origin": "hotspot",
            "hotspot": {"bounces": len(rows), "cases": len({c for c, _ in rows}),
                        "since": since.isoformat() if since else None,
                        "agencies": [{"code": a.code, "name": a.name, "bounces": n} for a, n in ranked]},
            "parties": parties, "case_ids": sorted({c for c, _ in rows}),
            "question": f"{place.name}的{item.name}近期被{len(ranked)}个单位以“非本单位设施”退单 {len(rows)} 次，"
                        "请合议确定其权属、养护、监管与执法单位。",
            "comment": f"由退单热点发起（{len(rows)} 次退单）",
        })

    # -- stages -----------------------------------------------------------------------------

    def advance(self, dispute: Dispute, move: str, comment: str | None = None, **details: Any) -> Dispute:
        spec = MOVES.get(move)
        if spec is None or dispute.stage not in spec.source:
            allowed = "、".join(m.label for m in MOVES.values() if dispute.stage in m.source) or "无"
            raise Conflict(f"争议当前为“{STAGE_LABELS[dispute.stage]}”，不能执行该操作（可执行：{allowed}）。",
                           code="invalid_transition", fields={"move": [move]})
        if move == "reject" and not (comment or "").strip():
            raise InvalidInput("不予受理须说明理由。", fields={"comment": ["必填。"]})
        if move == "inspect":
            record = (details.get("inspection_record") or "").strip()
            if len(record) < 10:
                raise InvalidInput("请填写现场勘查记录（不少于 10 字）。", fields={"inspection_record": ["请填写勘查记录。"]})
            dispute.inspection_record = record
            dispute.inspected_on = details.get("inspected_on") or china_today()
        if move == "deliberate":
            size = len(dispute.active_seats)
            if size not in PANEL_SIZES:
                raise Conflict("请先组成 3、5 或 7 名专家的合议组。", code="panel_incomplete")
            if len(dispute.parties) < 1:
                raise Conflict("争议至少要有一个当事方。", code="no_parties")
        if move in ("reject", "withdraw"):
            dispute.closing_note = comment or ""
        self._enter(dispute, spec.target, comment, move)
        return dispute

    # -- evidence ---------------------------------------------------------------------------

    def add_evidence(self, dispute: Dispute, filename: str, data: bytes, description: str = "",
                     party: str | None = None) -> Evidence:
        if dispute.stage not in OPEN_STAGES:
            raise Conflict("争议已结束，不能再提交证据。", code="invalid_stage")
        if not data:
            raise InvalidInput("文件为空。", fields={"file": ["文件为空。"]})
        if len(data) > self.evidence_max_bytes:
            raise InvalidInput(f"文件超过 {self.evidence_max_bytes // 1024} KB 的上限。", code="evidence_too_large",
                               fields={"file": [f"不得超过 {self.evidence_max_bytes // 1024} KB。"]})
        name = safe_filename(filename)
        content_type = sniff_evidence(name, data)
        party_agency = None
        if party:
            party_agency = self._agency(party, "party")
            if not any(p.agency_id == party_agency.id for p in dispute.parties):
                raise InvalidInput("提交单位须为当事方。", fields={"party": ["不是当事方。"]})
        stored = f"{uuid.uuid4().hex}{Path(name).suffix.lower()}"
        folder = self.evidence_dir / str(dispute.id)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / stored
        path.write_bytes(data)
        _, actor_name = audit.actor_of(self.session)
        evidence = Evidence(filename=name, stored_name=stored, content_type=content_type, size=len(data),
                            sha256=hashlib.sha256(data).hexdigest(), description=description[:300],
                            party_agency=party_agency, uploaded_by=actor_name)
        dispute.evidence.append(evidence)
        try:
            self.session.flush()
        except Exception:
            path.unlink(missing_ok=True)
            raise
        return evidence

    def evidence_path(self, evidence: Evidence) -> Path:
        return self.evidence_dir / str(evidence.dispute_id) / evidence.stored_name

    def get_evidence(self, dispute: Dispute, evidence_id: int) -> Evidence:
        evidence = self.session.get(Evidence, evidence_id)
        if evidence is None or evidence.dispute_id != dispute.id:
            raise NotFound("未找到该证据。", code="evidence_not_found")
        return evidence

    # -- panel ------------------------------------------------------------------------------

    def suggest_panel(self, dispute: Dispute, size: int = 3) -> list[dict[str, Any]]:
        """Ranked candidates: specialty first, then fewest open panels; conflicted ones left out."""
        load = self.workload()
        major = dispute.item_type.major_code
        seated = {seat.expert_id for seat in dispute.active_seats}
        candidates: list[dict[str, Any]] = []
        for expert in self.experts(active_only=True):
            if self.conflict(expert, dispute):
                continue
            matches = major in (expert.specialties or [])
            own_load = load.get(expert.id, 0) - (1 if expert.id in seated else 0)
            candidates.append({"expert": expert, "specialty_match": matches, "workload": max(own_load, 0)})
        candidates.sort(key=lambda c: (not c["specialty_match"], c["workload"], c["expert"].id))
        return candidates[:size]

    def conflicted_experts(self, dispute: Dispute) -> list[tuple[Expert, str]]:
        return [(e, reason) for e in self.experts(active_only=True) if (reason := self.conflict(e, dispute))]

    def seat_panel(self, dispute: Dispute, expert_ids: list[int], chair_id: int | None = None) -> list[PanelSeat]:
        if dispute.stage not in ("accepted", "inspected"):
            raise Conflict("合议组须在受理后、提交合议前组成。", code="invalid_stage")
        ids = list(dict.fromkeys(int(i) for i in expert_ids))
        if len(ids) not in PANEL_SIZES:
            raise InvalidInput("合议组须由 3、5 或 7 名专家组成。", fields={"experts": ["须为 3、5 或 7 名。"]})
        experts = [self.get_expert(i) for i in ids]
        for expert in experts:
            if not expert.active:
                raise InvalidInput(f"{expert.name}已停止履职。", fields={"experts": [f"{expert.name}已停止履职。"]})
            reason = self.conflict(expert, dispute)
            if reason:
                raise Recused(reason, fields={"experts": [reason]})
        chair_id = chair_id if chair_id in ids else ids[0]
        for active in list(dispute.active_seats):
            if active.expert_id not in ids:
                dispute.panel.remove(active)
        have = {seat.expert_id: seat for seat in dispute.panel}
        for expert in experts:
            seat = have.get(expert.id)
            if seat is None:
                seat = PanelSeat(expert=expert, seated_at=self.now())
                dispute.panel.append(seat)
            elif seat.recused_at is not None:
                seat.recused_at, seat.recusal_reason = None, ""
            seat.chair = expert.id == chair_id
        self.session.flush()
        return dispute.active_seats

    def seat_of(self, dispute: Dispute, expert: Expert | None) -> PanelSeat | None:
        if expert is None:
            return None
        return next((s for s in dispute.active_seats if s.expert_id == expert.id), None)

    # -- ruling draft and votes -------------------------------------------------------------

    def _decisions(self, raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
        decisions, seen, errors = [], set(), []
        for entry in raw or ():
            role, code = entry.get("role"), (entry.get("agency") or "").strip()
            if not code:
                continue
            if role not in ROLES:
                errors.append(f"未知角色 {role}。")
                continue
            if role in seen:
                errors.append(f"角色 {role} 重复。")
                continue
            agency = self.session.scalar(select(Agency).where(Agency.code == code))
            if agency is None:
                errors.append(f"未知的单位编码 {code}。")
                continue
            seen.add(role)
            decisions.append({"role": role, "agency": agency.code, "note": (entry.get("note") or "").strip()})
        if errors:
            raise InvalidInput("裁定事项有误。", fields={"decisions": errors})
        if not any(d["role"] == "owner" for d in decisions):
            raise InvalidInput("裁定须至少确定权属单位。", fields={"decisions": ["须确定权属（owner）单位。"]})
        decisions.sort(key=lambda d: ROLES.index(d["role"]))
        return decisions

    def _citations(self, raw: list[str]) -> list[str]:
        rendered, unreadable = render_citations(raw)
        if unreadable:
            raise InvalidInput("法律依据有误。", fields={"citations": [f"无法识别的引用：{text}" for text in unreadable]})
        return rendered

    def scope_area(self, dispute: Dispute, scope: str, area_code: str | None = None) -> Area:
        if scope == "asset":
            return dispute.area
        if scope == "district":
            node = dispute.area
            while node.parent is not None:
                node = node.parent
            return node
        if area_code:
            area = self._area(area_code, "scope_area")
            # the scope must contain the disputed place
            place: Area | None = dispute.area
            while place is not None and place.id != area.id:
                place = place.parent
            if place is None:
                raise InvalidInput("裁定范围须包含争议所在区域。", fields={"scope_area": ["须包含争议所在区域。"]})
            return area
        return dispute.street or dispute.area

    def save_draft(self, dispute: Dispute, data: dict[str, Any]) -> Ruling:
        if dispute.stage not in ("inspected", "deliberating"):
            raise Conflict("勘查完成后、裁定作出前才能起草裁定。", code="invalid_stage")
        decisions = self._decisions(data.get("decisions") or [])
        citations = self._citations(data.get("citations") or [])
        reasoning = (data.get("reasoning") or "").strip()
        if len(reasoning) < 20:
            raise InvalidInput("请写明裁定理由（不少于 20 字）。", fields={"reasoning": ["不少于 20 字。"]})
        scope = data.get("scope") or "area"
        area = self.scope_area(dispute, scope, data.get("scope_area"))
        values = {
            "title": data.get("title") or f"关于{dispute.area.name}{dispute.item_type.name}权属争议的裁定",
            "decisions": decisions, "citations": citations, "reasoning": reasoning, "scope": scope,
            "scope_area": area, "effective_date": data.get("effective_date"),
        }
        ruling = dispute.ruling
        if ruling is None:
            ruling = Ruling(dispute=dispute, state=State.DRAFT.value, round=1, **values)
            self.session.add(ruling)
        elif ruling.state != State.DRAFT.value:
            raise Conflict("裁定已经作出，不能再修改草案。", code="invalid_state")
        else:
            if ruling.round_votes():
                # The votes of this round were cast on the old text: the new text needs a new round.
                ruling.round += 1
            for name, value in values.items():
                setattr(ruling, name, value)
        self.session.flush()
        return ruling

    def cast_vote(self, dispute: Dispute, expert: Expert | None, choice: str, opinion: str) -> Vote:
        if expert is None:
            raise NotOnPanel("您不是专家库成员，不能表决。")
        reason = self.conflict(expert, dispute)
        if reason:
            raise Recused(reason)
        seat = self.seat_of(dispute, expert)
        if seat is None:
            raise NotOnPanel("您不是本争议合议组成员，不能表决。")
        if dispute.stage != "deliberating":
            raise Conflict("争议不在合议阶段，不能表决。", code="invalid_stage")
        ruling = dispute.ruling
        if ruling is None or ruling.state != State.DRAFT.value:
            raise Conflict("裁定草案尚未提交，暂不能表决。", code="no_draft")
        if choice not in CHOICE_LABELS:
            raise InvalidInput("请选择同意或反对。", fields={"choice": ["须为 concur 或 dissent。"]})
        opinion = (opinion or "").strip()
        if len(opinion) < 10:
            raise InvalidInput("请写明表决意见（不少于 10 字）。", fields={"opinion": ["不少于 10 字。"]})
        if any(v.expert_id == expert.id for v in ruling.round_votes()):
            raise Conflict("您已就本轮草案表决。", code="already_voted")
        vote = Vote(expert=expert, round=ruling.round, choice=choice, opinion=opinion, cast_at=self.now())
        ruling.votes.append(vote)
        self.session.flush()
        self._tally(dispute, ruling)
        return vote

    def _tally(self, dispute: Dispute, ruling: Ruling) -> None:
        votes = ruling.round_votes()
        seated = {s.expert_id for s in dispute.active_seats}
        counted = [v for v in votes if v.expert_id in seated]
        if len(counted) < len(seated):
            return
        concur = sum(v.choice == "concur" for v in counted)
        dissent = len(counted) - concur
        if concur > dissent:
            at = self.now()
            year = at.astimezone(CHINA_TZ).year
            ruling.year, ruling.serial = year, self._next_serial(Ruling, year)
            ruling.concur, ruling.dissent = concur, dissent
            ruling.ruled_at = at
            if ruling.effective_date is None:
                ruling.effective_date = at.astimezone(CHINA_TZ).date()
            dispute.ruled_at = at
            workflow_transition(self.session, ruling, "submit", f"合议表决 {concur} : {dissent} 通过")
            self._enter(dispute, "ruled", f"合议表决 {concur} : {dissent}，按多数意见作出裁定", "rule", at)
        else:
            ruling.round += 1
            audit.record(self.session, "arbitration_rulings.rejected_round", Ruling.__tablename__, str(ruling.id),
                         after={"concur": concur, "dissent": dissent}, comment="草案未获多数通过，须修改后重新表决")
        self.session.flush()

    # -- publishing -------------------------------------------------------------------------

    def duty_inputs(self, ruling: Ruling) -> list[dict[str, Any]]:
        dispute = ruling.dispute
        note_place = f"（{dispute.location_note}）" if ruling.scope == "asset" and dispute.location_note else ""
        return [{
            "item_type": dispute.item_type.key, "area": ruling.scope_area.code, "role": d["role"],
            "agency": d["agency"], "citations": list(ruling.citations), "valid_from": ruling.effective_date,
            "note": (d.get("note") or f"依{self.reference(ruling)}确定") + note_place,
        } for d in ruling.decisions]

    def publish(self, dispute: Dispute, comment: str | None = None) -> Ruling:
        ruling = dispute.ruling
        if dispute.stage != "ruled" or ruling is None or ruling.state != State.PENDING.value:
            raise Conflict("只有已作出的裁定才能公布。", code="invalid_stage")
        workflow_transition(self.session, ruling, "publish", comment or "公布裁定")
        self.duties.apply_ruling(ruling.id, self.reference(ruling), self.duty_inputs(ruling),
                                 comment=f"依裁定 {self.reference(ruling)}")
        self._enter(dispute, "published", comment or "公布裁定", "publish")
        return ruling

    def revoke(self, ruling: Ruling, reason: str) -> Ruling:
        if ruling.state != State.PUBLISHED.value:
            raise Conflict("只有已公布的裁定才能撤销。", code="invalid_state")
        if not (reason or "").strip():
            raise InvalidInput("撤销裁定须说明理由。", fields={"reason": ["必填。"]})
        ruling.withdrawn_reason = reason.strip()
        workflow_transition(self.session, ruling, "withdraw", reason)
        self.duties.revoke_ruling(ruling.id, self.reference(ruling), comment=f"裁定 {self.reference(ruling)} 撤销：{reason}")
        self._enter(ruling.dispute, "withdrawn", f"撤销裁定：{reason}", "revoke")
        return ruling

    # -- listings ---------------------------------------------------------------------------

    def disputes(self, *, stage: str | None = None, expert: Expert | None = None, overdue: bool | None = None,
                 limit: int = 200) -> list[Dispute]:
        stmt = (select(Dispute).options(selectinload(Dispute.item_type), selectinload(Dispute.area),
                                        selectinload(Dispute.parties).selectinload(DisputeParty.agency),
                                        selectinload(Dispute.ruling))
                .order_by(Dispute.filed_at.desc(), Dispute.id.desc()))
        if stage:
            stmt = stmt.where(Dispute.stage == stage)
        if expert is not None:
            stmt = stmt.where(Dispute.id.in_(select(PanelSeat.dispute_id).where(
                PanelSeat.expert_id == expert.id, PanelSeat.recused_at.is_(None))))
        rows = list(self.session.scalars(stmt.limit(limit)))
        if overdue is not None:
            now = self.now()
            rows = [d for d in rows if d.overdue(now) == overdue]
        return rows

    def rulings(self, public: bool = True, item_type: str | None = None, street: str | None = None,
                page: int = 1, page_size: int = 20) -> tuple[list[Ruling], int]:
        stmt = select(Ruling).join(Dispute, Dispute.id == Ruling.dispute_id)
        if public:
            stmt = stmt.where(Ruling.state == State.PUBLISHED.value)
        else:
            stmt = stmt.where(Ruling.year.is_not(None))
        if item_type:
            stmt = stmt.where(Dispute.item_type_id == self._item(item_type).id)
        if street:
            stmt = stmt.where(Dispute.street_id == self._area(street, "street").id)
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = self.session.scalars(
            stmt.options(selectinload(Ruling.dispute).selectinload(Dispute.item_type),
                         selectinload(Ruling.scope_area))
            .order_by(Ruling.year.desc(), Ruling.serial.desc()).limit(page_size).offset((page - 1) * page_size))
        return list(rows), total

    def stage_history(self, dispute: Dispute) -> list[WorkflowTransition]:
        return list(self.session.scalars(
            select(WorkflowTransition).where(WorkflowTransition.content_type == Dispute.__tablename__,
                                             WorkflowTransition.content_id == str(dispute.id))
            .order_by(WorkflowTransition.at, WorkflowTransition.id)))

    def decided_duties(self, ruling: Ruling) -> list[Any]:
        from portal.catalogue.models import Duty

        return list(self.session.scalars(select(Duty).where(
            Duty.source_kind == "ruling", Duty.source_id == str(ruling.id)).order_by(Duty.role, Duty.id)))

    # -- figures ----------------------------------------------------------------------------

    def bounces_around(self, ruling: Ruling, days: int = 90) -> tuple[int, int]:
        """Bounces of the ruling's item type in its scope, ``days`` before and after it took effect."""
        from portal.cases.models import Case, CaseEvent

        start = ruling.effective_date or (ruling.published_at or self.now()).astimezone(CHINA_TZ).date()
        pivot = dt.datetime.combine(start, dt.time(), CHINA_TZ)
        criteria = self._bounce_criteria(ruling.dispute.item_type_id, ruling.scope_area, None)

        def count(lo: dt.datetime, hi: dt.datetime) -> int:
            return self.session.scalar(
                select(func.count(CaseEvent.id)).join(Case, Case.id == CaseEvent.case_id)
                .where(*criteria, CaseEvent.at >= lo, CaseEvent.at < hi)) or 0

        return count(pivot - dt.timedelta(days=days), pivot), count(pivot, pivot + dt.timedelta(days=days))

    def stats(self, on: dt.datetime | None = None) -> dict[str, Any]:
        now = on or self.now()
        disputes = list(self.session.scalars(select(Dispute).options(
            selectinload(Dispute.item_type), selectinload(Dispute.street), selectinload(Dispute.ruling))))
        groups: dict[str, dict[tuple[str, str], list[Dispute]]] = {"item_type": defaultdict(list),
                                                                    "street": defaultdict(list)}
        for d in disputes:
            groups["item_type"][(d.item_type.code, d.item_type.name)].append(d)
            street = d.street
            groups["street"][(street.code, street.name) if street else ("", "（区级）")].append(d)

        # Each dispute counts in three groups (its item type, its street, the total): count the
        # bounces around its ruling (two scans of case events) once, not three times.
        bounces: dict[int, tuple[int, int]] = {}

        def bounces_of(ruling: Ruling) -> tuple[int, int]:
            if ruling.id not in bounces:
                bounces[ruling.id] = self.bounces_around(ruling)
            return bounces[ruling.id]

        def figures(rows: list[Dispute]) -> dict[str, Any]:
            durations = [self.calendar.working_days_between(d.filed_at.astimezone(CHINA_TZ).date(),
                                                             d.ruled_at.astimezone(CHINA_TZ).date())
                         for d in rows if d.ruled_at is not None]
            overdue = sum(1 for d in rows if d.late_stages or d.overdue(now))
            before = after = 0
            for d in rows:
                if d.ruling is not None and d.ruling.state == State.PUBLISHED.value:
                    b, a = bounces_of(d.ruling)
                    before, after = before + b, after + a
            return {
                "opened": len(rows),
                "ruled": len(durations),
                "median_working_days": statistics.median(durations) if durations else None,
                "overdue_share": round(overdue / len(rows), 3) if rows else 0.0,
                "bounces_before": before,
                "bounces_after": after,
            }

        result: dict[str, Any] = {"generated_at": now, "window_days": 90}
        for key, by in groups.items():
            result[f"by_{key}"] = sorted(
                ({"code": code, "name": name, **figures(rows)} for (code, name), rows in by.items()),
                key=lambda r: (-r["opened"], r["code"]))
        result["total"] = figures(disputes)
        return result


def arbitration_service_factory(context: Any, request: Any) -> ArbitrationService:
    from portal.catalogue.interfaces import IDutyService

    return ArbitrationService(request.dbsession, settings=request.registry.settings,
                              duties=request.find_service(IDutyService))
