"""``portal serve``: the production entry point (gunicorn, several worker processes)."""

from __future__ import annotations

from typing import Any

import click


def register(main: Any) -> None:
    @main.command("serve")
    @click.option("--bind", default=None, help="address:port (default: [server:main] bind, or $PORTAL_BIND)")
    @click.option("--workers", type=int, default=None, help="worker processes (default: [server:main] workers)")
    @click.option("--pid", "pidfile", default=None, help="write the master's pid here (for kill -HUP)")
    @click.pass_obj
    def serve_command(env: Any, bind: str | None, workers: int | None, pidfile: str | None) -> None:
        """Serve with gunicorn: N workers, each loading the app; SIGHUP reloads them gracefully."""
        from pyramid.exceptions import ConfigurationError

        from portal.serving import serve

        try:
            serve(env.config_path, bind=bind, workers=workers, pidfile=pidfile)
        except ConfigurationError as exc:
            raise click.ClickException(str(exc)) from exc
