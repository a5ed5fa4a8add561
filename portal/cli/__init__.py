"""The ``portal`` command for operators.

``portal --config development.ini init`` creates or upgrades the database, loads the knowledge base
and brings the search index up to date; ``make run`` calls it before serving. Domains add their
own subcommands in ``portal/<domain>/cli.py`` with a ``register(group)`` function.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging.config
import os
import sys
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session


class PortalEnv:
    """Lazily built pieces of the application, so ``portal db upgrade`` never needs the full app."""

    def __init__(self, config_path: str) -> None:
        self.config_path = config_path

    @cached_property
    def settings(self) -> dict[str, Any]:
        from pyramid.paster import get_appsettings

        from portal.settings import complete_settings, ensure_var_dir

        path = Path(self.config_path)
        if not path.exists():
            raise click.ClickException(f"配置文件不存在：{path}")
        from pyramid.exceptions import ConfigurationError

        try:
            settings = dict(complete_settings(dict(get_appsettings(str(path)))))
        except ConfigurationError as exc:
            raise click.ClickException(str(exc)) from exc
        ensure_var_dir(settings)
        return settings

    @cached_property
    def registry(self) -> Any:
        from portal.config import configure
        from portal.startup import start_sharing

        settings = dict(self.settings)
        registry = configure(settings).make_wsgi_app().registry
        start_sharing(registry)  # a command's commits reach the serving nodes at once
        return registry

    @property
    def projection(self) -> Any:
        return self.registry["portal.search.projection"]

    @contextlib.contextmanager
    def session(self, actor_name: str = "cli") -> Iterator[Session]:
        """One writing transaction: committed on success, rolled back on any error."""
        session: Session = self.registry["dbsession_writer_factory"](
            info={"projection": self.projection, "actor_name": f"{actor_name}:{os.environ.get('USER', 'root')}"}
        )
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


pass_env = click.make_pass_decorator(PortalEnv)


@click.group()
@click.option("--config", "config_path", default=lambda: os.environ.get("PORTAL_CONFIG", "development.ini"),
              show_default="development.ini or $PORTAL_CONFIG", help="Pyramid ini file")
@click.pass_context
def main(ctx: click.Context, config_path: str) -> None:
    """城市管理权责知识门户 operator commands."""
    if Path(config_path).exists():
        with contextlib.suppress(Exception):
            logging.config.fileConfig(config_path, disable_existing_loggers=False)
    ctx.obj = PortalEnv(config_path)


def progressbar(length: int | None, label: str) -> Any:
    """A progress bar on stderr (shown only on a terminal; CI logs get the summary lines)."""
    return click.progressbar(length=length, label=label, file=sys.stderr, show_pos=True, show_percent=True)


def _register_commands() -> None:
    from portal.cli import accounts, backup, database, knowledge, serve
    from portal.config import present_domains

    for module in (database, knowledge, accounts, backup, serve):
        module.register(main)
    for domain in present_domains():
        name = f"{domain}.cli"
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).register(main)


_register_commands()
