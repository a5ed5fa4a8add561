"""Production serving: gunicorn, with the Pyramid app loaded from the ini file in every worker.

Why gunicorn rather than waitress behind a process manager: one master process supervises N
workers on one listening socket (the kernel spreads connections), restarts a worker that dies,
and replaces all workers gracefully on SIGHUP (new code, new settings) while the old ones finish
their requests; SIGTERM stops after ``graceful_timeout``. Waitress would need systemd or
supervisord around several processes, each on its own port, plus a local balancer in front.

The app is *not* preloaded in the master: each worker loads it after the fork, so no database
connection, Redis connection, background thread or Whoosh reader is ever shared across a fork,
and a SIGHUP reload really loads the new code.

Settings come from the ini's ``[server:main]`` section (gunicorn's own names: ``bind``,
``workers``, ``worker_class``, ``threads``, ``timeout``, ``graceful_timeout``, …);
``PORTAL_BIND`` and ``PORTAL_WORKERS`` (and ``portal serve --bind/--workers``) override them.
"""

from __future__ import annotations

import configparser
import logging
import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

# Keys of [server:main] that are for paste, not for gunicorn.
_NOT_GUNICORN = {"use", "here", "__file__"}
#: [server:main] keys the portal reads itself (gunicorn has no such setting).
PORTAL_SERVER_KEYS = {"max_requests_per_connection", "warm_up_paths"}

log = logging.getLogger(__name__)


class WorkerReadiness:
    """How many of the node's workers have loaded the app and warmed up, counted in memory the
    master shares with the workers it forks.

    Why: ``/healthz`` is answered by whichever worker is ready first. Had it said ok then, the
    balancer would send the whole load to that one worker while the others still load the app
    (20-40 s on a busy machine), and those others start slower still for sharing the CPU with it.
    The count only grows (a recycled worker adds one more), so after start-up a worker's restart
    never takes the node out of the pool."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self._ready = multiprocessing.Value("i", 0)

    def worker_ready(self) -> None:
        with self._ready.get_lock():
            self._ready.value += 1

    def health(self) -> dict[str, Any]:
        ready = min(int(self._ready.value), self.expected)
        return {"ok": ready >= self.expected, "ready": ready, "expected": self.expected}


#: Set in the master by ``portal serve`` before it forks; None in any other process.
readiness: WorkerReadiness | None = None


def workers_health() -> dict[str, Any] | None:
    """For ``/healthz``: whether every worker of this node is serving (None when not under gunicorn)."""
    return readiness.health() if readiness is not None else None


def worker_started(worker: Any, warm_up_paths: list[str]) -> None:
    """gunicorn's ``post_worker_init``: warm up, then count the worker as ready."""
    if warm_up_paths:
        warm_up_worker(worker, warm_up_paths)
    if readiness is not None:
        readiness.worker_ready()


def warm_up_worker(worker: Any, paths: list[str]) -> None:
    """gunicorn's ``post_worker_init``: the worker asks itself for ``paths`` (``[server:main]
    warm_up_paths``) after loading the app and before it accepts a connection.

    Why: the first answer of each kind in a fresh process pays for what is built on first use —
    Jinja2 compiling the page's templates, the catalogue snapshot and the grid locator, SQL
    statements compiled and cached, the pool's first connections. Under load that took seconds
    (the load bench saw 5 to 11 s inside the portal for the first catalogue look-ups while fifty
    clients queued behind them), and every new node and every recycled worker (``max_requests``)
    paid it again on live traffic. Read-only pages only; a failure is logged and skipped, so a
    worker still starts when, say, the database is down (it then answers 503 as before)."""
    from pyramid.request import Request

    started = time.monotonic()
    for path in paths:
        try:
            Request.blank(path, environ={"REMOTE_ADDR": "127.0.0.1"}).get_response(worker.wsgi)
        except Exception:  # warming is an optimisation, never a reason not to serve
            log.warning("warm-up request %s failed", path, exc_info=True)
        worker.notify()  # still alive for the master's timeout while warming
    compiled = compile_templates(worker.wsgi)
    worker.notify()
    log.info("worker warmed up: %d pages, %d templates in %.1f s", len(paths), compiled, time.monotonic() - started)


def compile_templates(app: Any) -> int:
    """Compile every Jinja2 template once, so that the first page of a kind the warm-up pages do
    not cover (an item type's, an article's, a case's …) does not compile its own on live traffic.
    Templates are cached by name, the name the renderers ask for; the count compiled."""
    from pyramid_jinja2 import IJinja2Environment

    registry = getattr(app, "registry", None)
    environment = registry.queryUtility(IJinja2Environment, name=".jinja2") if registry is not None else None
    if environment is None:
        return 0
    from jinja2 import FileSystemLoader

    # pyramid_jinja2's loader cannot list its templates: list the same search path's files.
    names = FileSystemLoader(getattr(environment.loader, "searchpath", [])).list_templates()
    compiled = 0
    for name in (name for name in names if name.endswith(".jinja2")):
        try:
            environment.get_template(name)
            compiled += 1
        except Exception:  # as for the pages: warming never stops a worker
            log.warning("warm-up could not compile %s", name, exc_info=True)
    return compiled


class RebalancingThreadWorker(ThreadWorker):
    """gunicorn's ``gthread`` worker that closes a keep-alive connection after
    ``max_requests_per_connection`` requests (as nginx's ``keepalive_requests`` does).

    Why: a keep-alive connection stays for its whole life with the worker process that accepted
    it, and one worker can use one core (the GIL). Connections are made in bursts — when the node
    enters the pool, when a balancer or a client pool opens its connections, when a recycled
    worker (``max_requests``) drops its own and they all reconnect to the worker still running —
    and whichever worker is free at that instant takes them all: the load bench saw 49 of 50
    connections on one worker of two, one core busy, the other idle, and latencies queueing to
    seconds. Closing after a bounded number of requests makes the client reconnect, and the accept
    goes to the worker that is free first (a busy worker's loop waits for the GIL), so the
    connections spread over the workers within seconds. The cost is one loopback or LAN handshake
    per ``max_requests_per_connection`` requests.
    """

    max_requests_per_connection = 0  # set by the master from [server:main] before it forks

    def handle_request(self, req: Any, conn: Any) -> bool:
        served = getattr(conn, "portal_requests_served", 0) + 1
        conn.portal_requests_served = served
        if 0 < self.max_requests_per_connection <= served:
            req.must_close = True  # gunicorn answers "Connection: close" and closes after this one
        return bool(super().handle_request(req, conn))


def server_options(config_path: str | Path, section: str = "server:main") -> dict[str, str]:
    """gunicorn settings from the ini file's server section, with environment overrides."""
    path = Path(config_path).resolve()
    parser = configparser.ConfigParser(defaults={"here": str(path.parent), "__file__": str(path)})
    parser.read(path)
    options: dict[str, str] = {}
    if parser.has_section(section):
        for key, value in parser.items(section):
            if key not in _NOT_GUNICORN and value != "":
                options[key] = value
    if "listen" in options and "bind" not in options:
        options["bind"] = options.pop("listen")  # waitress's name, for ini files written for it
    options.pop("listen", None)
    for key, envvar in (("bind", "PORTAL_BIND"), ("workers", "PORTAL_WORKERS")):
        if os.environ.get(envvar):
            options[key] = os.environ[envvar]
    return options


class PortalServer(BaseApplication):
    """gunicorn's master for the portal: every worker loads the app from ``config_path``."""

    def __init__(self, config_path: str | Path, options: dict[str, Any]) -> None:
        self.config_path = str(Path(config_path).resolve())
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("default_proc_name", f"portal:{Path(self.config_path).name}")
        RebalancingThreadWorker.max_requests_per_connection = int(
            self.options.get("max_requests_per_connection") or 0)
        warm_up_paths = str(self.options.get("warm_up_paths") or "").split()
        self.cfg.set("post_worker_init", lambda worker: worker_started(worker, warm_up_paths))
        parser = configparser.ConfigParser()
        parser.read(self.config_path)
        if parser.has_section("loggers"):
            self.cfg.set("logconfig", self.config_path)
        for key, value in self.options.items():
            if key.lower() in PORTAL_SERVER_KEYS:
                continue
            if key.lower() not in self.cfg.settings:
                # e.g. waitress's own keys in an ini written for pserve + waitress
                print(f"portal serve: [server:main] {key} is not a gunicorn setting; ignored", file=sys.stderr)
                continue
            self.cfg.set(key.lower(), value)
        global readiness
        readiness = WorkerReadiness(int(self.cfg.workers))

    def load(self) -> Any:
        from pyramid.paster import get_app

        return get_app(self.config_path, "main")


def check_config(config_path: str | Path) -> dict[str, Any]:
    """Fail in the master, with the reason, before any worker starts (a missing secret or
    database URL would otherwise make every worker die at boot)."""
    from pyramid.paster import get_appsettings

    from portal.settings import complete_settings

    return dict(complete_settings(dict(get_appsettings(str(config_path)))))


def serve(config_path: str | Path, **overrides: Any) -> None:
    settings = check_config(config_path)
    options = server_options(config_path)
    options.update({k: str(v) for k, v in overrides.items() if v is not None})
    # Per node (var directory), not gunicorn's per-user default: two nodes on one machine must
    # not take each other's pid file or control socket (gunicornc).
    var_dir = Path(settings["portal.var_dir"])
    var_dir.mkdir(parents=True, exist_ok=True)
    options.setdefault("pidfile", str(var_dir / "gunicorn.pid"))
    options.setdefault("control_socket", str(var_dir / "gunicorn.ctl"))
    PortalServer(config_path, options).run()


def paste_server_runner(app: Any, global_conf: dict[str, Any], **local_conf: Any) -> None:
    """``[server:main] use = egg:city-duty-portal#gunicorn``, so that ``pserve production.ini``
    also serves with gunicorn. pserve has already loaded the app once in this process; it is
    dropped, and every worker loads its own after the fork (see the module docstring)."""
    del app
    serve(global_conf["__file__"])
