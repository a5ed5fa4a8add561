"""Site-wide pages: home and health."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pyramid.request import Request
from pyramid.response import FileResponse, Response
from pyramid.view import view_config

from portal.migrate import current_revision

STATIC = Path(__file__).resolve().parent / "static"
PRIVATE_HEALTH_KEYS = frozenset({"index_dir", "error", "path"})

# Crawlers may read everything public; not the staff screens, the sign-in, personal tracking
# pages, or endless search and filter combinations.
ROBOTS = """User-agent: *
Disallow: /admin/
Disallow: /login
Disallow: /track
Disallow: /search
Disallow: /api/v1/search
Disallow: /catalogue/duties/new
Allow: /
"""


@view_config(route_name="home", renderer="home.jinja2", request_method="GET")
def home(request: Request) -> dict[str, Any]:
    return {"sections": request.registry.get("portal.sections", [])}


@view_config(route_name="favicon", request_method="GET")
def favicon(request: Request) -> Response:
    return FileResponse(str(STATIC / "favicon.ico"), request=request, content_type="image/x-icon",
                        cache_max_age=86400)


@view_config(route_name="robots", request_method="GET")
def robots(request: Request) -> Response:
    return Response(ROBOTS, content_type="text/plain", charset="utf-8", cache_control="max-age=86400")


@view_config(route_name="healthz", request_method="GET")
def healthz(request: Request) -> Response:
    """Readiness for load balancers: database answering and migrated, search index usable.
    Redis, when configured, is reported but never makes a node unready."""
    checks: dict[str, Any] = {}
    try:
        revision = current_revision(request.dbsession.connection())
        checks["database"] = {"ok": revision is not None, "revision": revision}
    except Exception as exc:  # noqa: BLE001 - a health check reports, it does not raise
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    projection = request.registry.get("portal.search.projection")
    if projection is not None:
        try:
            # Where the index lies on disk, and errors that name it, are for operators
            # (`portal index`), not for whoever can reach the load balancer's probe.
            health = projection.health()
            checks["search_index"] = {k: v for k, v in health.items() if k not in PRIVATE_HEALTH_KEYS}
            if not health.get("ok"):
                checks["search_index"]["error"] = "unavailable"
        except Exception as exc:  # noqa: BLE001
            checks["search_index"] = {"ok": False, "error": type(exc).__name__}
    # Under `portal serve` (gunicorn, which only it imports): ready once every worker is
    # (portal.serving.WorkerReadiness).
    serving = sys.modules.get("portal.serving")
    workers = serving.workers_health() if serving is not None else None
    if workers is not None:
        checks["workers"] = workers
    ready = all(check.get("ok") for check in checks.values())
    status = "ok" if ready else "unavailable"
    shared = request.registry.get("portal.shared_state")
    if shared is not None:
        # Optional: without Redis the node still serves (per-process limits, polling), so it
        # stays in the load balancer's pool; the details say it is degraded.
        checks["redis"] = shared.health()
        bus = request.registry.get("portal.change_bus")
        if bus is not None:
            checks["redis"]["listening"] = bus.listening
        if ready and not checks["redis"]["ok"]:
            status = "degraded"
    return Response(json_body={"status": status, "checks": checks},
                    status=200 if ready else 503, charset="utf-8")
