"""A populated portal for tests that walk every route: one of each thing, incl. what is not public.

:func:`populate` puts on a connection (inside the module's catalogue transaction, so it is rolled
back with it): the demo experts and rulings; one user per role, each with an API key; a plain API
client; a disabled user; a revoked key; a draft duty; a dispute with an internal party position,
an evidence file, a panel seating one expert and an unpublished draft ruling; an unpublished
bulletin; and a case with internal data (address, reporter, the raw note of a step). Every piece
of non-public text carries one of :data:`MARKERS`, so a response that shows any of it is easy to find.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
#: Planted in every piece of text only its own roles may read, one marker per kind of secret.
MARKERS = {"duty": "草稿标记QX7D", "dispute": "争议标记QX7A", "bulletin": "通报标记QX7B", "case": "案件标记QX7C"}


@dataclasses.dataclass
class Populated:
    """Ids and secrets of what :func:`populate` created."""

    usernames: dict[str, str]
    api_keys: dict[str, str]
    user_ids: dict[str, int]
    key_ids: dict[str, int]
    draft_duty_id: int
    published_duty_id: int
    dispute_id: int
    evidence_id: int
    draft_ruling_id: int
    published_ruling_id: int
    bulletin_id: int
    bulletin_period: str
    published_bulletin_period: str | None
    case_id: int
    regulation_id: int
    article_number: int
    item_code: str
    agency_code: str
    area_code: str
    power_code: str | None
    dispatch_example_id: int | None


RULE = """\
青石市矩阵测试管理办法
【发布部门】青石市人民政府　【发文字号】青石市人民政府令第99号
第一条　为了测试权限，制定本办法。
第二条　本办法自2019年3月1日起施行。
"""

#: Staff roles and the roles their user holds.
STAFF = {
    "dispatcher": ("dispatcher",),
    "editor": ("editor",),
    "expert_on_panel": ("expert",),
    "expert_off_panel": ("expert",),
    "clerk": ("clerk",),
    "admin": ("admin",),
    "api_client": (),
    "disabled": ("editor", "clerk", "dispatcher"),
}


class _FakePdf:
    """Bulletins need a PDF; this test reads none, so it need not spend seconds in WeasyPrint."""

    def render(self, html: str, base_url: str = "") -> bytes:
        return b"%PDF-1.4\n% " + MARKERS["bulletin"].encode() + b"\n%%EOF\n"


def populate(session: Session, settings: dict[str, Any]) -> Populated:
    from portal.accounts.services import DatabaseApiKeyService, DatabaseUserService
    from portal.arbitration.loader import load_arbitration
    from portal.arbitration.models import Expert, PanelSeat, Ruling
    from portal.arbitration.services import ArbitrationService
    from portal.bulletins.models import Bulletin
    from portal.bulletins.periods import Period
    from portal.bulletins.services import BulletinService
    from portal.cases.services import CaseService
    from portal.catalogue.models import Agency, Area, Duty, ItemType, Power
    from portal.regulations.models import Article, RegulationVersion
    from portal.regulations.parsing import parse_regulation_text
    from portal.regulations.versions import RegulationImporter, build_metadata

    load_arbitration(session, ROOT / "knowledge_base")
    session.flush()
    users = DatabaseUserService(session)
    keys = DatabaseApiKeyService(session)
    usernames: dict[str, str] = {}
    api_keys: dict[str, str] = {}
    user_ids: dict[str, int] = {}
    key_ids: dict[str, int] = {}
    for role, roles in STAFF.items():
        user = users.create(f"matrix-{role}", PASSWORD, list(roles), display_name=role)
        key, secret = keys.create(user, f"matrix {role}")
        usernames[role], api_keys[role], user_ids[role], key_ids[role] = user.username, secret, user.id, key.id
    revoked_owner = users.create("matrix-revoked", PASSWORD, ["dispatcher", "editor", "clerk"], display_name="r")
    revoked, api_keys["revoked"] = keys.create(revoked_owner, "matrix revoked")
    keys.revoke(revoked.id)
    session.flush()

    # The catalogue: a published duty and a draft one with an internal note.
    published = session.scalar(select(Duty).where(Duty.state == "published").order_by(Duty.id))
    assert published is not None
    draft = Duty(state="draft", item_type_id=published.item_type_id, area_id=published.area_id, role=published.role,
                 agency_id=published.agency_id, citations=[], note=f"草稿备注 {MARKERS['duty']}",
                 basis_reviewed_on=published.basis_reviewed_on)
    for column in ("urgent_hours", "normal_working_days", "valid_from", "source_kind"):
        setattr(draft, column, getattr(published, column))
    session.add(draft)
    session.flush()
    draft.lineage_id = draft.id

    # Arbitration: a dispute between two agencies, its evidence, its panel and a draft ruling.
    arbitration = ArbitrationService(session, settings=settings)
    item = session.get_one(ItemType, published.item_type_id)
    area = session.get_one(Area, published.area_id)
    agencies = list(session.scalars(select(Agency.code).order_by(Agency.id).limit(2)))
    dispute = arbitration.open_dispute({
        "item_type": item.code, "area": area.code, "title": f"矩阵测试争议 {MARKERS['dispute']}",
        "parties": [{"agency": agencies[0], "position": f"我方意见 {MARKERS['dispute']}"}, {"agency": agencies[1]}],
    })
    evidence = arbitration.add_evidence(dispute, "现场.txt", f"现场记录 {MARKERS['dispute']}".encode(), description="现场记录")
    experts = [e for e in session.scalars(select(Expert).where(Expert.active.is_(True)).order_by(Expert.id))
               if not arbitration.conflict(e, dispute)]
    experts[0].user_id = user_ids["expert_on_panel"]
    experts[-1].user_id = user_ids["expert_off_panel"]
    for expert in experts[:3]:
        session.add(PanelSeat(dispute=dispute, expert_id=expert.id, chair=expert is experts[0]))
    dispute.stage = "deliberating"
    ruling = Ruling(dispute=dispute, state="draft", round=1, title="矩阵测试裁定草案", decisions=[], citations=[],
                    reasoning=f"裁定理由草稿 {MARKERS['dispute']}", scope="area", scope_area_id=area.id)
    session.add(ruling)
    session.flush()
    published_ruling = session.scalar(select(Ruling).where(Ruling.state == "published").order_by(Ruling.id))
    assert published_ruling is not None

    # An unpublished bulletin (a closed period: last year's December).
    period = Period.parse(f"{dt.date.today().year - 1}-12")
    bulletin = BulletinService(session, settings=settings, pdf_renderer=_FakePdf(), actor="matrix").generate(
        period, correction_note="")
    bulletin.correction_note = f"内部说明 {MARKERS['bulletin']}"
    session.flush()
    published_bulletin = session.scalar(select(Bulletin).where(Bulletin.state == "published"))

    # A case whose internal data (exact address, reporter, raw notes) carries the marker.
    china = dt.timezone(dt.timedelta(hours=8))
    reported = dt.datetime.now(china).replace(microsecond=0) - dt.timedelta(days=1)
    case_service = CaseService(session)
    result = case_service.ingest({
        "external_id": "MATRIX-1", "channel": "hotline_12345", "item_type": "0103",
        "description": "雨水井盖缺失", "reported_at": reported, "lat": 30.2336, "lon": 120.0860,
        "address": f"滨湖路 {MARKERS['case']}", "urgency": "normal", "grid_code": None, "tracking_code": None,
        "reporter": {"name": "报告人", "phone": "", "email": "", "id_number": "", "account_id": MARKERS["case"]},
        "events": [], "feedback": None,
    }, source="api")
    session.flush()

    # A regulation of its own: the portal runs without the shared corpus.
    parsed = parse_regulation_text(RULE)
    regulation = RegulationImporter(session).import_text(parsed, build_metadata(parsed, None, None)).regulation
    session.flush()
    regulation_id = regulation.id
    article_number = session.scalar(select(Article.number).join(RegulationVersion, Article.version_id == RegulationVersion.id)
                                    .where(RegulationVersion.regulation_id == regulation_id)
                                    .order_by(Article.number))
    assert article_number is not None
    power = session.scalar(select(Power.code).order_by(Power.id))
    return Populated(
        usernames=usernames, api_keys=api_keys, user_ids=user_ids, key_ids=key_ids,
        draft_duty_id=draft.id, published_duty_id=published.id, dispute_id=dispute.id, evidence_id=evidence.id,
        draft_ruling_id=ruling.id, published_ruling_id=published_ruling.id, bulletin_id=bulletin.id,
        bulletin_period=bulletin.period, published_bulletin_period=published_bulletin.period if published_bulletin else None,
        case_id=result.case.id, regulation_id=regulation_id, article_number=article_number, item_code=item.code, agency_code=agencies[0],
        area_code=area.code, power_code=power, dispatch_example_id=None,
    )


def disable(session: Session, user_id: int) -> None:
    """Disable a user the way an administrator does (its sessions and keys stop working)."""
    from portal.accounts.models import User

    user = session.get_one(User, user_id)
    user.is_active = False
    session.flush()
