"""The dispute workflow, its working-day deadlines, panels, votes and the permission matrix,
on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pyramid.authorization import ACLHelper, Authenticated, Everyone
from sqlalchemy import func, select

from portal.arbitration.loader import load_arbitration
from portal.arbitration.models import Dispute, Expert
from portal.arbitration.resources import ArbitrationPermissions as P
from portal.arbitration.resources import DisputeResource
from portal.arbitration.services import ArbitrationService, Recused, safe_filename, sniff_evidence
from portal.audit import AuditEntry
from portal.catalogue.calendar import CHINA_TZ
from portal.errors import Conflict, InvalidInput
from portal.workflow import WorkflowTransition

ROOT = Path(__file__).resolve().parents[3]
GRID = "3301990010100101"


@pytest.fixture(scope="module")
def experts_loaded(catalogue_connection):
    from sqlalchemy.orm import Session

    session = Session(bind=catalogue_connection, join_transaction_mode="create_savepoint")
    load_arbitration(session, ROOT / "knowledge_base")
    session.commit()
    session.close()


@pytest.fixture
def session(catalogue_session, experts_loaded):
    return catalogue_session


@pytest.fixture
def dbsession(session):
    """make_user and friends write on the catalogue's connection too."""
    return session


class Clock:
    def __init__(self, start: dt.datetime) -> None:
        self.at = start

    def __call__(self) -> dt.datetime:
        return self.at


def service_at(session, clock, tmp_path=None):
    return ArbitrationService(session, settings={"portal.var_dir": str(tmp_path or "/tmp")}, now=clock)


def expert(session, name):
    return session.scalar(select(Expert).where(Expert.name == name))


def new_dispute(service, parties=("DX", "YD")):
    return service.open_dispute({"item_type": "0107", "area": GRID, "parties": [{"agency": p} for p in parties]})


def through_inspection(service, dispute):
    service.advance(dispute, "accept")
    service.advance(dispute, "inspect", inspection_record="开井勘查：通信管道，井盖无产权标识。")


def draft(service, dispute, owner="DX"):
    return service.save_draft(dispute, {"decisions": [{"role": "owner", "agency": owner}],
                                        "reasoning": "竣工资料显示该通信管道由中国电信建设，井盖属其附属设施。",
                                        "citations": ["《城市道路管理条例》第二十三条"], "scope": "asset"})


def test_stage_deadlines_count_working_days_on_the_holiday_calendar(session):
    filed = dt.datetime(2026, 9, 30, 10, 0, tzinfo=CHINA_TZ)
    clock = Clock(filed)
    service = service_at(session, clock)
    dispute = new_dispute(service)
    # 5 working days from the eve of National Day: 10-08, 10-09, 10-10 (make-up day), 10-12, 10-13
    assert dispute.stage == "filed"
    assert dispute.stage_due.astimezone(CHINA_TZ) == dt.datetime(2026, 10, 13, 10, 0, tzinfo=CHINA_TZ)
    clock.at = dt.datetime(2026, 10, 13, 9, 0, tzinfo=CHINA_TZ)
    assert not dispute.overdue(clock.at)
    clock.at = dt.datetime(2026, 10, 13, 11, 0, tzinfo=CHINA_TZ)
    assert dispute.overdue(clock.at)
    assert dispute in service.disputes(overdue=True)
    # accepting late is counted, and the next stage gets its own deadline (10 working days)
    service.advance(dispute, "accept", "受理")
    assert dispute.late_stages == 1 and not dispute.overdue(clock.at)
    assert service.calendar.working_days_between(clock.at.date(), dispute.stage_due.astimezone(CHINA_TZ).date()) == 10


def test_the_workflow_refuses_steps_out_of_order_and_records_every_step(session):
    service = service_at(session, Clock(dt.datetime(2026, 11, 2, 9, 0, tzinfo=CHINA_TZ)))
    dispute = new_dispute(service)
    with pytest.raises(Conflict) as exc:
        service.advance(dispute, "deliberate")
    assert exc.value.code == "invalid_transition" and "受理" in exc.value.message
    with pytest.raises(InvalidInput):
        service.advance(dispute, "reject")  # a rejection needs its reason
    service.advance(dispute, "accept")
    with pytest.raises(InvalidInput):
        service.advance(dispute, "inspect", inspection_record="太短")
    service.advance(dispute, "inspect", inspection_record="开井勘查：通信管道，井盖无产权标识。")
    with pytest.raises(Conflict) as exc:
        service.advance(dispute, "deliberate")  # no panel yet
    assert exc.value.code == "panel_incomplete"
    with pytest.raises(InvalidInput):
        service.seat_panel(dispute, [expert(session, "周立群").id, expert(session, "李雪梅").id])  # even sizes refused
    service.seat_panel(dispute, [expert(session, n).id for n in ("周立群", "李雪梅", "马春燕")])
    service.advance(dispute, "deliberate")
    service.advance(dispute, "withdraw", "申请人撤回")
    assert dispute.stage == "withdrawn" and dispute.closed_at is not None
    steps = session.scalars(select(WorkflowTransition.to_state).where(
        WorkflowTransition.content_type == "arbitration_disputes", WorkflowTransition.content_id == str(dispute.id))
        .order_by(WorkflowTransition.id)).all()
    assert steps == ["filed", "accepted", "inspected", "deliberating", "withdrawn"]
    audited = session.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.entity_type == "arbitration_disputes", AuditEntry.entity_id == str(dispute.id)))
    assert audited >= 5


def test_the_majority_decides_and_a_rejected_draft_opens_a_new_round(session):
    service = service_at(session, Clock(dt.datetime(2026, 11, 2, 9, 0, tzinfo=CHINA_TZ)))
    dispute = new_dispute(service)
    through_inspection(service, dispute)
    panel = [expert(session, n) for n in ("周立群", "李雪梅", "马春燕")]
    service.seat_panel(dispute, [e.id for e in panel])
    ruling = draft(service, dispute)
    service.advance(dispute, "deliberate")
    service.cast_vote(dispute, panel[0], "concur", "同意草案，事实清楚。")
    with pytest.raises(Conflict):
        service.cast_vote(dispute, panel[0], "dissent", "改变主意，反对草案。")
    service.cast_vote(dispute, panel[1], "dissent", "反对：管道租用关系未查清。")
    service.cast_vote(dispute, panel[2], "dissent", "反对：应补充竣工资料。")
    assert dispute.stage == "deliberating" and ruling.round == 2 and ruling.number == ""
    # the draft is revised; the new round is voted from scratch, and the old votes are kept
    draft(service, dispute, owner="YD")
    assert ruling.round == 2
    for e, choice in zip(panel, ("concur", "concur", "dissent"), strict=True):
        service.cast_vote(dispute, e, choice, "第二轮表决意见，理由见附件。")
    assert dispute.stage == "ruled" and ruling.state == "pending"
    assert (ruling.concur, ruling.dissent) == (2, 1) and len(ruling.votes) == 6
    assert ruling.year == 2026 and ruling.serial >= 1
    with pytest.raises(Conflict):
        draft(service, dispute)  # an adopted ruling is not edited any more


def test_a_draft_is_written_on_a_freshly_loaded_dispute(session):
    # A request loads the dispute anew: the draft must not be flushed half-built by a lazy load.
    service = service_at(session, Clock(dt.datetime(2026, 11, 2, 9, 0, tzinfo=CHINA_TZ)))
    dispute = new_dispute(service)
    through_inspection(service, dispute)
    session.flush()
    session.expire_all()
    ruling = draft(service, session.get(Dispute, dispute.id))
    assert ruling.id is not None and ruling.scope_area.code == GRID


def test_recusal_covers_the_party_its_parent_and_its_subordinates(session):
    service = service_at(session, Clock(dt.datetime(2026, 11, 2, 9, 0, tzinfo=CHINA_TZ)))
    wang = expert(session, "王建华")  # 区市政设施管理中心 (SZZX), under 住建局 (ZJJ), over the road company (SZYH)
    for party in ("SZZX", "ZJJ", "SZYH"):
        dispute = new_dispute(service, parties=("DX", party))
        assert service.conflict(wang, dispute), party
        service.advance(dispute, "accept")
        with pytest.raises(Recused):
            service.seat_panel(dispute, [wang.id, expert(session, "周立群").id, expert(session, "李雪梅").id])
        assert wang.id not in [c["expert"].id for c in service.suggest_panel(dispute, 7)]
    unrelated = new_dispute(service, parties=("DX", "YD"))
    assert service.conflict(wang, unrelated) is None


def test_panel_suggestions_follow_specialty_then_workload(session):
    service = service_at(session, Clock(dt.datetime(2026, 11, 2, 9, 0, tzinfo=CHINA_TZ)))
    dispute = new_dispute(service)
    suggested = service.suggest_panel(dispute, 5)
    assert len(suggested) == 5 and all(c["specialty_match"] for c in suggested)  # 0107 is in class 01
    loads = [c["workload"] for c in suggested]
    assert loads == sorted(loads)
    tree = service.open_dispute({"item_type": "0402", "area": GRID, "parties": [{"agency": "SZZX"}]})
    assert {"郑海涛"} <= {c["expert"].name for c in service.suggest_panel(tree, 3)}


def test_evidence_is_checked_by_content_and_stored_under_a_generated_name(session, tmp_path):
    service = service_at(session, Clock(dt.datetime(2026, 11, 2, 9, 0, tzinfo=CHINA_TZ)), tmp_path)
    dispute = new_dispute(service)
    with pytest.raises(InvalidInput):
        service.add_evidence(dispute, "照片.png", b"MZ\x90\x00 not a picture")
    with pytest.raises(InvalidInput):
        service.add_evidence(dispute, "脚本.exe", b"MZ\x90\x00")
    with pytest.raises(InvalidInput):
        service.add_evidence(dispute, "大.pdf", b"%PDF-" + b"0" * service.evidence_max_bytes)
    evidence = service.add_evidence(dispute, "C:\\Users\\x\\现场 照片<1>.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    assert evidence.filename == "现场 照片_1_.png" and evidence.content_type == "image/png"
    path = service.evidence_path(evidence)
    assert path.is_file() and path.parent.parent == tmp_path / "arbitration" / "evidence"
    assert evidence.stored_name != evidence.filename and len(evidence.sha256) == 64
    assert safe_filename("../../etc/passwd") == "passwd" and safe_filename("\x00") == "证据"
    assert sniff_evidence("a.txt", "中文".encode()) .startswith("text/plain")


# ----------------------------------------------------------------------------- permission matrix


class _Request:
    def __init__(self, service):
        self._service = service
        self.matchdict = {}

    def find_service(self, _iface):
        return self._service


@pytest.mark.parametrize("principals,allowed", [
    ([Everyone], set()),
    ([Everyone, Authenticated, "role:dispatcher"], set()),
    ([Everyone, Authenticated, "role:editor"], set()),
    ([Everyone, Authenticated, "role:expert", "user:seated"], {P.VIEW, P.VOTE, P.EVIDENCE}),
    ([Everyone, Authenticated, "role:expert", "user:outsider"], set()),
    ([Everyone, Authenticated, "role:expert", "user:recused"], set()),
    ([Everyone, Authenticated, "role:clerk"], {P.VIEW, P.MANAGE, P.PUBLISH, P.EVIDENCE}),
    ([Everyone, Authenticated, "role:admin"], {P.VIEW, P.MANAGE, P.PUBLISH, P.EVIDENCE, P.VOTE}),
])
def test_dispute_permission_matrix(session, make_user, principals, allowed):
    service = service_at(session, Clock(dt.datetime(2026, 11, 2, 9, 0, tzinfo=CHINA_TZ)))
    dispute = new_dispute(service)
    service.advance(dispute, "accept")
    seated, recused, outsider = expert(session, "周立群"), expert(session, "王建华"), expert(session, "郑海涛")
    users = {}
    for tag, e in (("seated", seated), ("recused", recused), ("outsider", outsider)):
        user = make_user(f"matrix-{tag}", "expert")
        e.user_id = user.id
        users[f"user:{tag}"] = f"user:{user.id}"
    service.seat_panel(dispute, [seated.id, recused.id, expert(session, "李雪梅").id])
    service.add_party(dispute, "SZZX")  # 王建华 is recused from here on
    context = DisputeResource.__new__(DisputeResource)
    context.request, context.service, context.dispute = None, service, dispute
    principals = [users.get(p, p) for p in principals]
    helper = ACLHelper()
    granted = {p for p in P if helper.permits(context, principals, p)}
    assert granted == allowed
