"""``portal bulletin generate --period 2026-10 [--publish]``, ``portal bulletin publish``, ``portal bulletin list``."""

from __future__ import annotations

import time
from pathlib import Path

import click


def _service(env, session):  # type: ignore[no-untyped-def]
    from portal.bulletins.services import BulletinService, pdf_renderer_of
    from portal.cases.places import Places

    return BulletinService(session, Places.of(session, env.registry), env.settings, pdf_renderer_of(env.registry),
                           actor="cli")


def _period(value: str):  # type: ignore[no-untyped-def]
    from portal.bulletins.periods import Period
    from portal.errors import InvalidInput

    try:
        return Period.parse(value)
    except InvalidInput as exc:
        raise click.BadParameter(exc.message) from None


@click.group("bulletin")
def bulletin() -> None:
    """考评通报：生成、发布、列出。"""


@bulletin.command("generate")
@click.option("--period", required=True, help="2026-10 (month), 2026-Q3 (quarter) or 2026 (year)")
@click.option("--publish", is_flag=True, help="Publish at once (otherwise a draft to preview).")
@click.option("--correction-note", default="", help="Required when the period is published already: why it is corrected.")
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the PDF to this file.")
@click.pass_obj
def generate(env, period: str, publish: bool, correction_note: str, pdf_path: Path | None) -> None:  # type: ignore[no-untyped-def]
    """Compute a period's indicators and render the bulletin (HTML and PDF)."""
    from portal.errors import PortalError

    wanted = _period(period)
    started = time.perf_counter()
    try:
        with env.session(actor_name="bulletin") as session:
            service = _service(env, session)
            result = service.generate(wanted, correction_note)
            if publish:
                service.publish(result, "portal bulletin generate --publish")
            state, revision, issue = result.state, result.revision, result.issue_label
            data_sha, pdf_sha = result.data_sha256, result.pdf_sha256
            if pdf_path is not None:
                pdf_path.write_bytes(result.pdf)
    except PortalError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{issue}（{wanted.label}）第{revision}版：{state}；用时 {time.perf_counter() - started:.1f} 秒")
    click.echo(f"  JSON sha256 {data_sha}")
    click.echo(f"  PDF  sha256 {pdf_sha}" + (f" → {pdf_path}" if pdf_path else ""))


@bulletin.command("publish")
@click.option("--period", required=True)
@click.option("--comment", default="")
@click.pass_obj
def publish(env, period: str, comment: str) -> None:  # type: ignore[no-untyped-def]
    """Publish the draft of a period (a correction supersedes the revision it corrects)."""
    from portal.errors import PortalError
    from portal.workflow import State

    wanted = _period(period)
    try:
        with env.session(actor_name="bulletin") as session:
            service = _service(env, session)
            drafts = [b for b in service.revisions(wanted) if b.state in (State.DRAFT.value, State.PENDING.value)]
            if not drafts:
                raise click.ClickException(f"{wanted.label}没有待发布的草稿。")
            service.publish(drafts[-1], comment or None)
            click.echo(f"已发布 {drafts[-1].issue_label} 第{drafts[-1].revision}版。")
    except PortalError as exc:
        raise click.ClickException(exc.message) from None


@bulletin.command("list")
@click.pass_obj
def list_bulletins(env) -> None:  # type: ignore[no-untyped-def]
    """Every bulletin with its state and hashes."""
    with env.session(actor_name="bulletin") as session:
        for b in _service(env, session).all():
            click.echo(f"{b.period:8} r{b.revision} {b.state:10} {b.issue_label}  json {b.data_sha256[:12]}  "
                       f"pdf {b.pdf_sha256[:12]}  cases {b.watermark.get('cases')}")


def register(group: click.Group) -> None:
    group.add_command(bulletin)
