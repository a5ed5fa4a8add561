"""The dispatch assistant (派遣助手): from a reporter's own words and a place to the item type, the
owner and the legal basis.

Ranked item types from the reviewed vocabulary (``knowledge_base/dispatch/``) and dispatchers'
confirmed examples; the place from a point, an area or the names in the text; then the
catalogue's own answer (it never invents an owner) and the articles the search finds.
"""

from __future__ import annotations

from typing import Any


def includeme(config: Any) -> None:
    """Routes, the service and the case-creation hook of the dispatch assistant."""
    from portal.dispatch.interfaces import IDispatchService
    from portal.dispatch.services import dispatch_service_factory

    factory = "portal.dispatch.resources.DispatchRoot"
    config.add_route("dispatch.screen", "/dispatch", factory=factory)
    config.add_route("dispatch.choose", "/dispatch/choose", factory=factory)
    config.add_route("dispatch.examples", "/dispatch/examples", factory=factory)
    config.add_route("dispatch.discard", r"/dispatch/examples/{id:\d+}/discard", factory=factory)
    config.add_route("dispatch.api.suggest", "/api/v1/dispatch/suggest", factory=factory)
    config.add_route("dispatch.api.examples", "/api/v1/dispatch/examples", factory=factory)
    config.add_route("dispatch.api.discard", r"/api/v1/dispatch/examples/{id:\d+}/discard", factory=factory)
    config.register_service_factory(dispatch_service_factory, IDispatchService)
    config.include("portal.dispatch.subscribers")
    from pyramid.settings import asbool

    if asbool(config.get_settings().get("portal.search.warm_up", True)):
        # Like the search: the ranker and the index's first answers are ready before the first
        # reporter's words arrive (the same setting turns both off, e.g. in the tests).
        config.add_subscriber(_warm_up, "pyramid.events.ApplicationCreated")
    config.add_portal_section("dispatch.screen", "派遣助手",
                              "输入群众原话，推荐事件类型、地点、权属单位与法律依据，一键建案。", order=15)


def _warm_up(event: Any) -> None:
    import threading

    from portal.dispatch.services import dispatch_engine

    registry = event.app.registry
    engine = dispatch_engine(registry)
    threading.Thread(target=engine.warm_up, args=(registry,), name="dispatch-warm-up", daemon=True).start()
