"""``portal db …`` and ``portal init``."""

from __future__ import annotations

import click

from portal.cli import PortalEnv, pass_env


@click.group("db")
def db() -> None:
    """Database schema (Alembic)."""


@db.command("upgrade")
@click.argument("revision", default="head")
@pass_env
def db_upgrade(env: PortalEnv, revision: str) -> None:
    """Create or upgrade the database schema."""
    from portal.migrate import upgrade

    upgrade(env.settings, revision)
    click.echo(f"数据库已升级到 {revision}")


@db.command("current")
@pass_env
def db_current(env: PortalEnv) -> None:
    """Show the database's schema revision and the code's."""
    from portal.db import get_engine
    from portal.migrate import current_revision, head_revision

    engine = get_engine(env.settings)
    with engine.connect() as connection:
        current = current_revision(connection)
    engine.dispose()
    click.echo(f"database: {current or '(empty)'}\ncode head: {head_revision(env.settings)}")


@db.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--rev-id", default=None)
@pass_env
def db_revision(env: PortalEnv, message: str, rev_id: str | None) -> None:
    """Autogenerate a migration from the models (developers)."""
    from alembic import command

    from portal.migrate import alembic_config

    command.revision(alembic_config(env.settings), message=message, autogenerate=True, rev_id=rev_id)


@click.command("init")
@click.option("--skip-kb", is_flag=True, help="Do not load the knowledge base.")
@click.pass_context
def init(ctx: click.Context, skip_kb: bool) -> None:
    """Upgrade the database, load the knowledge base, bring the search index up to date."""
    ctx.invoke(db_upgrade)
    if not skip_kb:
        from portal.cli.knowledge import load_kb

        ctx.invoke(load_kb)
    from portal.cli.knowledge import index_status

    ctx.invoke(index_status, repair=True)


def register(group: click.Group) -> None:
    group.add_command(db)
    group.add_command(init)
