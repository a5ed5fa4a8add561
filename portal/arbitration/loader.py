"""Loading ``knowledge_base/arbitration/``: the expert pool and the demo district's rulings.

Idempotent: experts and dispute files are keyed by ``key``; one that exists is left as it is
(clerks may have edited it in the portal). A ruling is stored as the whole file the panel worked
on (parties, inspection, panel, votes) and published through the same service as in the portal,
so the catalogue answers from it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.arbitration.models import Dispute, Expert, Ruling, Vote
from portal.arbitration.services import ArbitrationService
from portal.catalogue.calendar import CHINA_TZ
from portal.catalogue.models import Agency, Duty
from portal.knowledge import read_yaml
from portal.workflow import State
from portal.workflow import transition as workflow_transition


class KnowledgeBaseError(ValueError):
    pass


_CJK = r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]"


def _prose(text: Any) -> str:
    """YAML folds lines with a space; between Chinese characters that space is not text."""
    return re.sub(rf"(?<={_CJK})\s+|\s+(?={_CJK})", "", " ".join(str(text).split()))


def _at(day: Any, hour: int = 10) -> dt.datetime:
    day = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day))
    return dt.datetime.combine(day, dt.time(hour), CHINA_TZ)


def load_experts(session: Session, entries: list[dict[str, Any]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for entry in entries:
        expert = session.scalar(select(Expert).where(Expert.kb_key == entry["key"]))
        if expert is None:
            affiliation = None
            if entry.get("affiliation"):
                affiliation = session.scalar(select(Agency).where(Agency.code == entry["affiliation"]))
                if affiliation is None:
                    raise KnowledgeBaseError(f"experts {entry['key']}: unknown agency {entry['affiliation']}")
            expert = Expert(kb_key=entry["key"], name=entry["name"], title=entry.get("title", ""),
                            affiliation=affiliation, specialties=[str(s) for s in entry.get("specialties", [])],
                            active=bool(entry.get("active", True)))
            session.add(expert)
            counts["experts"] += 1
        if expert.user_id is None and entry.get("username"):
            user = session.scalar(select(User).where(User.username == entry["username"]))
            if user is not None and "expert" in user.roles:
                expert.user_id = user.id
                counts["linked"] += 1
    session.flush()
    return counts


def load_ruling(service: ArbitrationService, entry: dict[str, Any], experts: dict[str, Expert]) -> str:
    session = service.session
    if session.scalar(select(Dispute.id).where(Dispute.kb_key == entry["key"])) is not None:
        return "kept"
    dispute = service.open_dispute({
        "item_type": str(entry["item"]), "area": str(entry["area"]), "title": entry["title"],
        "question": entry["question"], "location_note": entry.get("location_note", ""), "origin": "kb",
        "parties": entry.get("parties", []), "kb_key": entry["key"], "comment": "提出确权申请",
    }, at=_at(entry["filed"]))
    service._enter(dispute, "accepted", "受理", "accept", _at(entry["accepted"]))
    dispute.inspection_record = _prose(entry["inspection"])
    dispute.inspected_on = _at(entry["inspected"]).date()
    service._enter(dispute, "inspected", "完成现场勘查", "inspect", _at(entry["inspected"]))
    panel = [experts[key] for key in entry["panel"]]
    service.seat_panel(dispute, [e.id for e in panel], panel[0].id)
    for seat in dispute.panel:
        seat.seated_at = _at(entry["inspected"], 15)
    service._enter(dispute, "deliberating", "提交合议", "deliberate", _at(entry["deliberating"]))
    ruling = Ruling(
        dispute=dispute, state=State.DRAFT.value, round=1, title=entry["title"],
        decisions=service._decisions(entry["decisions"]), citations=service._citations(entry.get("citations", [])),
        reasoning=_prose(entry["reasoning"]), scope=entry.get("scope", "area"),
        scope_area=service.scope_area(dispute, entry.get("scope", "area"), entry.get("scope_area")),
        effective_date=dt.date.fromisoformat(str(entry["effective"])), kb_key=entry["key"],
    )
    session.add(ruling)
    ruled = _at(entry["ruled"])
    for vote in entry["votes"]:
        ruling.votes.append(Vote(expert=experts[vote["expert"]], round=1, choice=vote["choice"],
                                 opinion=vote["opinion"], cast_at=ruled - dt.timedelta(hours=2)))
    ruling.concur = sum(v["choice"] == "concur" for v in entry["votes"])
    ruling.dissent = len(entry["votes"]) - ruling.concur
    ruling.year, ruling.serial = entry["number"]
    ruling.ruled_at = dispute.ruled_at = ruled
    session.flush()
    workflow_transition(session, ruling, "submit", f"合议表决 {ruling.concur} : {ruling.dissent} 通过", at=ruled)
    service._enter(dispute, "ruled", f"合议表决 {ruling.concur} : {ruling.dissent}，按多数意见作出裁定", "rule", ruled)
    published = _at(entry["published"])
    workflow_transition(session, ruling, "publish", "公布裁定", at=published)
    reference = service.reference(ruling)
    if entry.get("adopt_catalogue"):
        # The catalogue already holds this ruling's duties (loaded before the module existed):
        # they are linked to the record, not created twice.
        for duty in session.scalars(select(Duty).where(Duty.source_kind == "ruling", Duty.source_ref == reference,
                                                       Duty.source_id.is_(None))):
            duty.source_id = str(ruling.id)
    else:
        service.duties.apply_ruling(ruling.id, reference, service.duty_inputs(ruling), comment=f"依裁定 {reference}")
    service._enter(dispute, "published", "公布裁定", "publish", published)
    return "created"


def load_arbitration(session: Session, root: str | Path, settings: dict[str, Any] | None = None) -> Counter[str]:
    folder = Path(root) / "arbitration"
    counts: Counter[str] = Counter()
    if not folder.is_dir():
        return counts
    experts_file, rulings_file = folder / "experts.yaml", folder / "rulings.yaml"
    if experts_file.exists():
        counts.update(load_experts(session, (read_yaml(experts_file) or {}).get("experts", [])))
    experts = {e.kb_key: e for e in session.scalars(select(Expert).where(Expert.kb_key.is_not(None))) if e.kb_key is not None}
    if rulings_file.exists():
        service = ArbitrationService(session, settings=settings)
        for entry in (read_yaml(rulings_file) or {}).get("rulings", []):
            try:
                counts[f"rulings {load_ruling(service, entry, experts)}"] += 1
            except KeyError as exc:
                raise KnowledgeBaseError(f"rulings {entry.get('key')}: unknown or missing {exc}") from exc
    session.flush()
    return counts


def kb_loader(context: Any) -> str:
    """The ``arbitration`` loader registered with ``config.add_kb_loader``."""
    counts = load_arbitration(context.session, context.knowledge_base, context.settings)
    return "，".join(f"{k} {v}" for k, v in sorted(counts.items())) or "无变化"
