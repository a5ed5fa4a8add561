"""``portal check-catalogue`` and ``portal catalogue-coverage``."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

# ``portal.cli`` imports this module while it registers its commands; importing it back here would
# be circular, so the environment (``PortalEnv``) arrives as the click context object.
pass_env = click.pass_obj


def _date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("日期格式应为 YYYY-MM-DD") from None


@click.command("check-catalogue")
@click.option("--at", "at", help="Check as of this date (YYYY-MM-DD); default today.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.option("--show-info", is_flag=True, help="Also list unresolved citations and duties without basis.")
@pass_env
def check_catalogue(env: Any, at: str | None, as_json: bool, show_info: bool) -> None:
    """Check the legal basis of published duties; exit 1 when any cited article is stale.

    Stale: the cited regulation is repealed or not yet effective, the article does not exist, or
    the article was amended after the duty's basis was last reviewed. Citations of regulations the
    library does not hold are reported as unresolved, which is not a failure.
    """
    from portal import clock
    from portal.catalogue.calendar import WorkingCalendar
    from portal.catalogue.legal import article_lookup_for_session
    from portal.catalogue.reports import PROBLEM_LABELS, CatalogueReports

    on = _date(at) or clock.today()
    with env.registry["dbsession_factory"]() as session:
        reports = CatalogueReports(session, article_lookup=article_lookup_for_session(session))
        findings = reports.stale_basis(on)
    stale = [f for f in findings if f.stale]
    info = [f for f in findings if not f.stale]
    calendar = WorkingCalendar.default()
    warnings = [f"节假日日历未包含 {year} 年的放假安排（期限按法定节假日推算，未计调休）"
                for year in (on.year, on.year + 1) if year not in calendar.years]
    if as_json:
        click.echo(json.dumps({"at": on.isoformat(), "stale": [f.as_dict() for f in stale],
                               "info": [f.as_dict() for f in info], "warnings": warnings},
                              ensure_ascii=False, indent=2))
    else:
        for f in stale:
            click.echo(f"失效  #{f.duty_id} {f.item} | {f.area} | {f.role} {f.agency} | {f.citation} | "
                       f"{PROBLEM_LABELS[f.problem]} {f.detail}".rstrip())
        if show_info:
            for f in info:
                click.echo(f"提示  #{f.duty_id} {f.item} | {f.citation or '—'} | {PROBLEM_LABELS[f.problem]}")
        for warning in warnings:
            click.echo(f"警告  {warning}", err=True)
        unresolved = sum(1 for f in info if f.problem == "unresolved")
        click.echo(f"{on.isoformat()}：{len(stale)} 处依据失效；{unresolved} 处引用法规库未收录（不计失效）。")
    if stale:
        raise SystemExit(1)


@click.command("catalogue-coverage")
@click.option("--at", "at", help="Date (YYYY-MM-DD); default today.")
@click.option("--scheme", default=None, type=click.Choice(["gbt30428", "gb47678"]),
              help="Only this scheme (default: all three item lists).")
@click.option("--kind", default=None, type=click.Choice(["component", "event"]), help="Only this kind.")
@click.option("--json", "as_json", is_flag=True, help="Print the report (without the per-street grid) as JSON.")
@pass_env
def catalogue_coverage(env: Any, at: str | None, scheme: str | None, kind: str | None, as_json: bool) -> None:
    """Item types × streets lacking a required role, a basis or a power; unresolved citations.

    Components need an owner, a maintainer and a supervisor; events a supervisor and a unit that
    handles them, and a penalty power when they name an enforcer. Exit 1 on any gap or
    unresolved citation.
    """
    from portal.catalogue.legal import article_lookup_for_session
    from portal.catalogue.reports import CatalogueReports

    with env.registry["dbsession_factory"]() as session:
        report = CatalogueReports(session, article_lookup=article_lookup_for_session(session)).coverage(
            _date(at), kind=kind, scheme=scheme)
    if as_json:
        report = {k: v for k, v in report.items() if k != "rows"}
        report["lists"] = [{k: v for k, v in lst.items() if k != "rows"} for lst in report["lists"]]
        click.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    else:
        for gap in report["missing"]:
            click.echo(f"{gap['list']} {gap['item']['code']} {gap['item']['name']} | {gap['street_name']} | "
                       f"{gap['role_label']} | {gap['problem_label']}")
        for item in report["unresolved"]:
            click.echo(f"未解析引用 {item['citation']}（{item['uses']} 处：{'、'.join(item['used_by'])}）")
        for lst in report["lists"]:
            click.echo(f"{lst['label']}：{lst['items']} 类 × {len(report['streets'])} 街道，{lst['gaps']} 处缺口"
                       f"（{lst['incomplete_items']} 类不完整）。")
        routes = "，".join(f"{k} {v}" for k, v in sorted(report["routes"].items()))
        click.echo(f"{report['at']}：共 {report['gaps']} 处缺口，{len(report['unresolved'])} 条未解析引用；"
                   f"已发布权责条目 {report['duties']} 条，权力事项 {report['powers']} 项；作答途径：{routes}。")
    if report["gaps"] or report["unresolved"]:
        raise SystemExit(1)


def register(group: click.Group) -> None:
    group.add_command(check_catalogue)
    group.add_command(catalogue_coverage)
