"""Bulletin services: compute a period's indicators, render HTML and PDF, publish frozen snapshots."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy import func, select
from sqlalchemy.orm import Session, undefer
from zope.interface import implementer

from portal.bulletins import indicators
from portal.bulletins.charts import bar_chart, trend_chart
from portal.bulletins.commentary import commentary, pct
from portal.bulletins.interfaces import IBulletinService
from portal.bulletins.models import PUBLIC_STATES, Bulletin
from portal.bulletins.periods import Period
from portal.cases.places import Places
from portal.cases.services import nondisclosable_ids
from portal.errors import Conflict, InvalidInput, NotFound
from portal.workflow import State, transition

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
TREND_LENGTH = {"month": 6, "quarter": 4, "year": 3}
PUBLISHER = "数字化城市管理监督指挥中心"


def canonical_json(data: Any) -> str:
    """The one serialisation whose hash a bulletin publishes: sorted keys, no whitespace."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def sha256(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.globals.update(pct=pct)
    return env


_ENV: jinja2.Environment | None = None


def environment() -> jinja2.Environment:
    global _ENV
    if _ENV is None:
        _ENV = _environment()
    return _ENV


def charts(data: Mapping[str, Any]) -> dict[str, str]:
    """The SVG charts of a bulletin, drawn from its data."""
    streets = [r for r in data["streets"] if r["rank"]]
    agencies = [r for r in data["agencies"] if r["rank"]]
    district = data["district"] or {"values": {}}
    reference = district["values"].get("timely_resolution_rate")
    trend = data.get("trend") or []
    short = [t["short_label"] for t in trend]
    return {
        "streets": bar_chart([(r["name"], r["score"]) for r in streets], title="各街道综合得分", unit="",
                             maximum=100, width=340, label_width=70),
        "streets_timely": bar_chart([(r["name"], r["values"]["timely_resolution_rate"]) for r in streets],
                                    title="各街道问题及时解决率", unit="%", maximum=100, width=340, label_width=70,
                                    reference=reference, reference_label="全区"),
        "agencies": bar_chart([(r["name"], r["score"]) for r in agencies], title="各部门综合得分", maximum=100),
        "trend": trend_chart(short, [("问题及时解决率", [t["timely_resolution_rate"] for t in trend]),
                                     ("按期处置率", [t["on_time_handling_rate"] for t in trend]),
                                     ("按期结案率", [t["on_time_closure_rate"] for t in trend])],
                             title="全区主要指标走势"),
    }


def render_document(data: Mapping[str, Any], *, link: Any = None, for_pdf: bool = True) -> str:
    """The bulletin as a standalone HTML document (what the PDF is printed from)."""
    return environment().get_template("pdf/bulletin.jinja2").render(
        **page_context(data, link=link, for_pdf=for_pdf))


def page_context(data: Mapping[str, Any], *, link: Any = None, for_pdf: bool = False) -> dict[str, Any]:
    """What ``bulletins/_body.jinja2`` needs, for the PDF and the web page alike."""
    return {"data": data, "charts": charts(data), "indicators": indicators.INDICATORS, "by_key": indicators.BY_KEY,
            "link": link, "for_pdf": for_pdf, "publisher": PUBLISHER, "pct": pct}


def case_list_query(period: Mapping[str, Any], level: str, code: str | None, measure: str) -> dict[str, str]:
    """The public case list's parameters that count what ``measure`` counts for one row:
    ``/cases?…`` shows exactly the cases behind a bulletin's number."""
    from portal.cases.measures import MEASURES

    query: dict[str, str] = {}
    if MEASURES[measure].basis == "due":
        query.update(due_from=period["first_day"], due_to=period["last_day"])
    else:
        query.update({"from": period["first_day"], "to": period["last_day"]})
    if level == "agency" and code:
        key = {"dispatched": "dispatched_to", "bounced": "bounced_by"}.get(measure, "agency")
        query[key] = code
        if key != "agency":
            measure = "reported"
    elif level == "street" and code:
        query["street"] = code
    if measure != "reported":
        query["measure"] = measure
    return query


def csv_text(data: Mapping[str, Any]) -> str:
    """One row per district, street and agency: every count and every indicator value."""
    out = io.StringIO()
    keys = [i.key for i in indicators.INDICATORS]
    counts = sorted(data["district"]["counts"]) if data.get("district") else []
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["period", "level", "code", "name", "rank", "score", "score_mom_delta", *keys,
                     *[f"count_{c}" for c in counts]])
    rows = [("district", data["district"])] if data.get("district") else []
    rows += [("street", r) for r in data["streets"]] + [("agency", r) for r in data["agencies"]]
    for level, row in rows:
        mom = (row.get("mom") or {}).get("delta") or {}
        writer.writerow([data["period"]["code"], level, row["code"], row["name"], row.get("rank") or "",
                         "" if row.get("score") is None else row["score"],
                         "" if mom.get("score") is None else mom["score"],
                         *["" if row["values"].get(k) is None else row["values"][k] for k in keys],
                         *[row["counts"].get(c, "") for c in counts]])
    return out.getvalue()


@implementer(IBulletinService)
class BulletinService:
    def __init__(self, session: Session, places: Places | None = None, settings: Mapping[str, Any] | None = None,
                 pdf_renderer: Any = None, actor: str = "") -> None:
        self.session = session
        self._places = places
        self.settings = settings or {}
        self.pdf_renderer = pdf_renderer
        self.actor = actor or "system"

    @property
    def places(self) -> Places:
        if self._places is None:
            self._places = Places.of(self.session)
        return self._places

    # -- computing --------------------------------------------------------------------

    def indicators(self, period: Period) -> dict[str, Any]:
        """One period's indicators, without comparisons (what the benchmark times)."""
        return indicators.compute(self.session, period, self.places, sorted(nondisclosable_ids(self.places, self.settings)))

    def compute(self, period: Period) -> dict[str, Any]:
        current = self.indicators(period)
        previous = self.indicators(period.previous())
        year_ago = self.indicators(period.year_ago())
        data = indicators.compare(current, previous, year_ago)
        trend = []
        cache = {period.code: current, period.previous().code: previous, period.year_ago().code: year_ago}
        for point in period.trailing(TREND_LENGTH[period.kind]):
            known = cache.get(point.code) or self.indicators(point)
            values = (known["district"] or {"values": {}})["values"]
            trend.append({"period": point.code, "label": point.label,
                          "short_label": f"{point.number}月" if point.kind == "month" else point.label[-4:],
                          **{k: values.get(k) for k in ("timely_resolution_rate", "on_time_handling_rate",
                                                        "on_time_closure_rate", "reported")}})
        data.update({
            "schema": indicators.SCHEMA_VERSION,
            "issue": period.issue_label,
            "district_name": self.places.district.name if self.places.district else "全区",
            "previous_period": period.previous().as_dict(),
            "year_ago_period": period.year_ago().as_dict(),
            "trend": trend,
            "weights": {i.key: i.weight for i in indicators.WEIGHTED},
            "min_due_for_ranking": indicators.MIN_DUE_FOR_RANKING,
            "watermark": indicators.watermark(self.session),
        })
        data["commentary"] = commentary(data)
        return data

    def render_pdf(self, data: Mapping[str, Any]) -> bytes:
        if self.pdf_renderer is None:
            raise RuntimeError("no PDF renderer configured")
        return self.pdf_renderer.render(render_document(data), base_url=str(TEMPLATES_DIR))

    # -- the workflow -----------------------------------------------------------------

    def revisions(self, period: Period | str) -> list[Bulletin]:
        code = period.code if isinstance(period, Period) else period
        return list(self.session.scalars(select(Bulletin).where(Bulletin.period == code)
                                         .order_by(Bulletin.revision)))

    def generate(self, period: Period, correction_note: str = "", *, now: dt.datetime | None = None) -> Bulletin:
        if not period.has_ended(now):
            raise InvalidInput(f"统计期 {period.label} 尚未结束，不能生成通报。", code="period_not_ended",
                               fields={"period": ["统计期尚未结束。"]})
        existing = self.revisions(period)
        latest = existing[-1] if existing else None
        correction_note = (correction_note or "").strip()
        if latest is not None and latest.state in (State.DRAFT.value, State.PENDING.value):
            bulletin = latest
            bulletin.state = State.DRAFT.value
        else:
            corrects = None
            if latest is not None:
                corrects = next((b for b in reversed(existing) if b.state == State.PUBLISHED.value), latest)
                if not correction_note:
                    raise InvalidInput(f"{period.label}的通报已发布，只能生成更正版：请填写更正说明。",
                                       code="correction_note_required", fields={"correction_note": ["必须填写。"]})
            bulletin = Bulletin(period=period.code, period_kind=period.kind, issue_label=period.issue_label,
                                revision=(latest.revision + 1) if latest else 1,
                                corrects_id=corrects.id if corrects else None)
        if correction_note:
            bulletin.correction_note = correction_note
        data = self.compute(period)
        corrected = self.session.get(Bulletin, bulletin.corrects_id) if bulletin.corrects_id else None
        if corrected is not None:
            data["correction"] = {"corrects_revision": corrected.revision, "note": bulletin.correction_note}
        data["revision"] = bulletin.revision
        text = canonical_json(data)
        pdf = self.render_pdf(data)
        bulletin.correction_note = bulletin.correction_note or ""
        bulletin.data_json = text
        bulletin.data_sha256 = sha256(text)
        bulletin.pdf = pdf
        bulletin.pdf_sha256 = sha256(pdf)
        bulletin.watermark = data["watermark"]
        bulletin.generated_at = dt.datetime.now(dt.UTC)
        bulletin.generated_by = self.actor
        self.session.add(bulletin)
        self.session.flush()
        return bulletin

    def publish(self, bulletin: Bulletin, comment: str | None = None) -> Bulletin:
        if bulletin.state not in (State.DRAFT.value, State.PENDING.value):
            raise Conflict("只有草稿或待审核的通报可以发布。", code="invalid_transition")
        if bulletin.state == State.DRAFT.value:
            transition(self.session, bulletin, "submit", comment)
        transition(self.session, bulletin, "publish", comment)
        if bulletin.corrects_id is not None:
            corrected = self.session.get(Bulletin, bulletin.corrects_id)
            if corrected is not None and corrected.state == State.PUBLISHED.value:
                transition(self.session, corrected, "supersede", f"由第{bulletin.revision}版更正")
        self.session.flush()
        return bulletin

    # -- reading ----------------------------------------------------------------------

    def public_list(self) -> list[Bulletin]:
        return list(self.session.scalars(
            select(Bulletin).where(Bulletin.state.in_(PUBLIC_STATES))
            .order_by(Bulletin.period_kind, Bulletin.period.desc(), Bulletin.revision.desc())))

    def all(self) -> list[Bulletin]:
        return list(self.session.scalars(select(Bulletin).order_by(Bulletin.period.desc(), Bulletin.revision.desc())))

    def get(self, period: str, revision: int | None = None, public: bool = True) -> Bulletin:
        stmt = select(Bulletin).where(Bulletin.period == period).options(undefer(Bulletin.data_json))
        if public:
            stmt = stmt.where(Bulletin.state.in_(PUBLIC_STATES))
        if revision is not None:
            stmt = stmt.where(Bulletin.revision == revision)
        else:
            # The current text: the newest published revision (else the newest visible one).
            stmt = stmt.order_by((Bulletin.state == State.PUBLISHED.value).desc(), Bulletin.revision.desc())
        bulletin = self.session.scalars(stmt.limit(1)).first()
        if bulletin is None:
            raise NotFound(f"没有 {period} 的通报" + (f"第{revision}版" if revision else "") + "。",
                           code="bulletin_not_found")
        return bulletin

    def by_id(self, bulletin_id: int) -> Bulletin:
        bulletin = self.session.get(Bulletin, bulletin_id)
        if bulletin is None:
            raise NotFound("通报不存在。", code="bulletin_not_found")
        return bulletin

    def corrections_of(self, bulletin: Bulletin) -> list[Bulletin]:
        return list(self.session.scalars(select(Bulletin).where(Bulletin.corrects_id == bulletin.id,
                                                                Bulletin.state.in_(PUBLIC_STATES))))

    @staticmethod
    def data(bulletin: Bulletin) -> dict[str, Any]:
        return json.loads(bulletin.data_json)

    def public_count(self) -> int:
        return self.session.scalar(select(func.count()).select_from(Bulletin).where(
            Bulletin.state.in_(PUBLIC_STATES))) or 0


def pdf_renderer_of(registry: Any) -> Any:
    """The registered IPdfRenderer outside a request (CLI, knowledge-base loaders)."""
    from types import SimpleNamespace

    from pyramid_services import find_service_factory

    from portal.pdf.interfaces import IPdfRenderer

    return find_service_factory(SimpleNamespace(registry=registry), IPdfRenderer)(None, None)


def bulletin_service_factory(context: Any, request: Any) -> BulletinService:
    from portal.pdf.interfaces import IPdfRenderer

    identity = getattr(request, "identity", None)
    return BulletinService(request.dbsession, Places.of(request.dbsession, request.registry),
                           request.registry.settings, request.find_service(IPdfRenderer),
                           actor=identity.user.label if identity is not None else "")
