"""The application's composition: a fixed include order, one scan, one commit (warehouse style)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyramid.config import Configurator
from pyramid.renderers import JSON
from pyramid.tweens import INGRESS

from portal.settings import complete_settings, ensure_var_dir

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

# Domain packages, in the order they build on each other. A domain that is not written yet is
# simply absent: it is skipped here, so its section is not linked and its routes do not exist.
DOMAINS: tuple[str, ...] = (
    "portal.regulations",
    "portal.catalogue",
    "portal.arbitration",
    "portal.cases",
    "portal.dispatch",
    "portal.open311",
    "portal.opendata",
    "portal.bulletins",
)


@dataclass(frozen=True)
class Section:
    """A top-level section linked from the home page and the navigation."""

    route_name: str
    title: str
    description: str
    order: int


def add_portal_section(config: Any, route_name: str, title: str, description: str, order: int = 100) -> None:
    sections: list[Section] = config.registry.setdefault("portal.sections", [])
    sections.append(Section(route_name, title, description, order))
    sections.sort(key=lambda section: section.order)


def query_with(request: Any, **overrides: Any) -> str:
    """The current URL's query string with some parameters replaced (pagination, facet links)."""
    from urllib.parse import urlencode

    params = [(k, v) for k, v in request.GET.items() if k not in overrides]
    params += [(k, v) for k, v in overrides.items() if v is not None and v != ""]
    return "?" + urlencode(params)


def add_template_globals(event: Any) -> None:
    """What every template may call besides ``request``."""
    from pyramid.csrf import get_csrf_token

    request = event.get("request")
    if request is not None:
        event["get_csrf_token"] = lambda: get_csrf_token(request)


def _is_command_module(name: str) -> bool:
    return name == "portal.cli" or name.startswith("portal.cli.") or name.endswith(".cli")


def present_domains() -> list[str]:
    """Domains whose package exists and is ready to be included (has ``includeme``)."""
    present = []
    for name in DOMAINS:
        if importlib.util.find_spec(name) is None:
            continue
        if hasattr(importlib.import_module(name), "includeme"):
            present.append(name)
    return present


def _json_renderer() -> JSON:
    import datetime as dt
    import decimal

    renderer = JSON(ensure_ascii=False)
    renderer.add_adapter(dt.datetime, lambda value, request: value.isoformat())
    renderer.add_adapter(dt.date, lambda value, request: value.isoformat())
    renderer.add_adapter(decimal.Decimal, lambda value, request: str(value))
    return renderer


def configure(settings: dict[str, Any]) -> Configurator:
    settings = dict(complete_settings(settings))
    ensure_var_dir(settings)
    config = Configurator(settings=settings, root_factory="portal.resources.root_factory")
    config.add_directive("add_portal_section", add_portal_section)
    config.add_request_method(query_with, "query_with")
    config.add_subscriber(add_template_globals, "pyramid.events.BeforeRender")

    config.include("pyramid_jinja2")
    config.add_jinja2_renderer(".jinja2")
    config.add_jinja2_search_path(str(TEMPLATES_DIR), name=".jinja2")
    config.include("pyramid_services")
    config.add_renderer("json", _json_renderer())

    config.include("portal.db")
    config.include("portal.sharing")
    config.include("portal.errors")
    config.include("portal.headers")
    config.include("portal.validation")
    config.include("portal.knowledge")
    config.include("portal.accounts")
    config.include("portal.search")
    config.include("portal.pdf")
    # Outermost: requests nothing may read (a path that is not UTF-8) are refused before any
    # other tween looks at them; then the access log, then the domains' tweens.
    config.add_tween("portal.errors.request_guard_tween_factory", under=INGRESS, over="pyramid_tm.tm_tween_factory")
    config.add_tween("portal.logs.access_log_tween_factory", under="portal.errors.request_guard_tween_factory",
                     over="pyramid_tm.tm_tween_factory")

    config.add_static_view("static", "portal:static", cache_max_age=3600)
    config.add_route("home", "/")
    config.add_route("healthz", "/healthz")
    config.add_route("favicon", "/favicon.ico")
    config.add_route("robots", "/robots.txt")
    config.include("portal.openapi")
    config.include("portal.audit_views")
    # Before any domain: each registers its open-data datasets with config.add_opendata_dataset.
    config.include("portal.opendata.registry")
    for domain in present_domains():
        config.include(domain)

    # Command modules import the CLI package, which builds the app: never scan them.
    config.scan("portal", ignore=[_is_command_module])
    return config
