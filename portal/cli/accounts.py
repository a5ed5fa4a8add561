"""``portal users …`` and ``portal apikeys …``."""

from __future__ import annotations

import sys

import click

from portal.cli import PortalEnv, pass_env
from portal.errors import PortalError


def _fail(exc: PortalError) -> click.ClickException:
    detail = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
    return click.ClickException(f"{exc.message}{' (' + detail + ')' if detail else ''}")


@click.group("users")
def users() -> None:
    """Staff accounts."""


@users.command("add")
@click.argument("username")
@click.option("--role", "roles", multiple=True, help="dispatcher, editor, expert, clerk or admin (repeatable)")
@click.option("--display-name", default="")
@click.option("--password", default=None, help="Prompted for when omitted (use --password-stdin in scripts).")
@click.option("--password-stdin", is_flag=True)
@pass_env
def users_add(env: PortalEnv, username: str, roles: tuple[str, ...], display_name: str,
              password: str | None, password_stdin: bool) -> None:
    """Create a user."""
    from portal.accounts.services import DatabaseUserService

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif password is None:
        password = click.prompt("密码", hide_input=True, confirmation_prompt=True)
    try:
        with env.session() as session:
            user = DatabaseUserService(session).create(username, password, roles, display_name)
            click.echo(f"已创建用户 {user.username}（角色：{', '.join(user.roles) or '无'}）")
    except PortalError as exc:
        raise _fail(exc) from exc


@users.command("list")
@pass_env
def users_list(env: PortalEnv) -> None:
    """List users."""
    from portal.accounts.services import DatabaseUserService

    with env.session() as session:
        for user in DatabaseUserService(session).list():
            state = "" if user.is_active else " (停用)"
            click.echo(f"{user.id}\t{user.username}\t{','.join(user.roles)}\t{user.display_name}{state}")


@users.command("set-roles")
@click.argument("username")
@click.argument("roles", nargs=-1)
@pass_env
def users_set_roles(env: PortalEnv, username: str, roles: tuple[str, ...]) -> None:
    """Replace a user's roles."""
    from portal.accounts.services import DatabaseUserService

    try:
        with env.session() as session:
            service = DatabaseUserService(session)
            user = service.by_username(username)
            if user is None:
                raise click.ClickException(f"用户 {username} 不存在")
            service.set_roles(user, roles)
            click.echo(f"{username}: {', '.join(user.roles) or '无角色'}")
    except PortalError as exc:
        raise _fail(exc) from exc


@click.group("apikeys")
def apikeys() -> None:
    """API keys (shown once, stored hashed)."""


@apikeys.command("create")
@click.option("--user", "username", required=True)
@click.option("--name", required=True, help="What the key is for, e.g. 联动中心对接")
@click.option("--rate-limit", type=click.IntRange(1, 1_000_000), default=None, help="Requests per minute")
@pass_env
def apikeys_create(env: PortalEnv, username: str, name: str, rate_limit: int | None) -> None:
    """Create an API key and print it once."""
    from portal.accounts.services import DatabaseApiKeyService, DatabaseUserService

    with env.session() as session:
        user = DatabaseUserService(session).by_username(username)
        if user is None:
            raise click.ClickException(f"用户 {username} 不存在")
        key, secret = DatabaseApiKeyService(session).create(user, name, rate_limit)
        click.echo(f"API 密钥 #{key.id}（{name}），只显示这一次，请妥善保存：", err=True)
        click.echo(secret)


@apikeys.command("list")
@click.option("--user", "username", default=None)
@pass_env
def apikeys_list(env: PortalEnv, username: str | None) -> None:
    """List API keys (never their secrets)."""
    from portal.accounts.services import DatabaseApiKeyService, DatabaseUserService
    from portal.accounts.usage import last_uses

    with env.session() as session:
        user = DatabaseUserService(session).by_username(username) if username else None
        keys = DatabaseApiKeyService(session).list_for(user)
        last_used = last_uses(env.registry, keys)
        for key in keys:
            # A disabled account's keys are refused like revoked ones: say so.
            state = "revoked" if key.revoked_at else "active" if key.user.is_active else "disabled (user)"
            used = f"last used {last_used[key.id]:%Y-%m-%d %H:%M} UTC" if key.id in last_used else "never used"
            click.echo(f"{key.id}\tcdp_{key.prefix}_…\t{key.user.username}\t{key.name}\t{state}\t{used}")


@apikeys.command("revoke")
@click.argument("key_id", type=int)
@pass_env
def apikeys_revoke(env: PortalEnv, key_id: int) -> None:
    """Revoke a key."""
    from portal.accounts.services import DatabaseApiKeyService

    try:
        with env.session() as session:
            DatabaseApiKeyService(session).revoke(key_id)
    except PortalError as exc:
        raise _fail(exc) from exc
    click.echo(f"API 密钥 #{key_id} 已撤销")


def register(group: click.Group) -> None:
    group.add_command(users)
    group.add_command(apikeys)
