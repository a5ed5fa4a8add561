"""``make run``: publish a bulletin for every whole month and quarter the demo cases cover."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from portal.bulletins.models import Bulletin
from portal.bulletins.periods import Period, months_between
from portal.catalogue.calendar import CHINA_TZ


def demo_bulletins_loader(context: Any) -> str:
    from portal.bulletins.services import BulletinService, pdf_renderer_of
    from portal.cases.models import Case
    from portal.cases.places import Places

    settings = context.settings
    if str(settings.get("bulletins.demo", "true")).lower() in {"0", "false", "no", "off"}:
        return "bulletins.demo = false，跳过"
    session = context.session
    first, last = session.execute(select(func.min(Case.reported_at), func.max(Case.reported_at))
                                  .where(Case.source == "demo")).one()
    if first is None:
        return "没有演示案件，跳过"
    months = [m for m in months_between(first.astimezone(CHINA_TZ).date(), last.astimezone(CHINA_TZ).date())
              if m.has_ended()]
    covered = {m.code for m in months}
    quarters = sorted({Period(m.year, "quarter", (m.number - 1) // 3 + 1) for m in months})
    months += [q for q in quarters
               if all(Period(q.year, "month", 3 * q.number - k).code in covered for k in range(3))]
    present = set(session.scalars(select(Bulletin.period)))
    missing = [m for m in months if m.code not in present]
    if not missing:
        return f"演示通报已齐全（{len(months)} 期）"
    service = BulletinService(session, Places.of(session, context.registry), settings,
                              pdf_renderer_of(context.registry), actor="demo-data")
    for period in missing:
        bulletin = service.generate(period)
        service.publish(bulletin, "演示数据自动发布")
        context.echo(f"  {bulletin.issue_label}（{period.label}）已发布")
    return f"发布演示通报 {len(missing)} 期（{'、'.join(p.label for p in missing[:2])}……{missing[-1].label}）"
