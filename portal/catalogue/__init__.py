"""Responsibility catalogue (权责清单) and the dispatch lookup (权属查询).

Item types of the two classification schemes, agencies, the area tree with grid polygons,
duties and powers, and ``resolve(item_type, place, at)``: who owns, maintains, supervises and
enforces against an item at a place on a date, on what legal basis and within what time limit.
"""

from __future__ import annotations

from typing import Any


def includeme(config: Any) -> None:
    """Routes, services and the knowledge-base loader of the catalogue."""
    from portal.catalogue.editing import duty_service_factory
    from portal.catalogue.interfaces import (
        ICatalogueReports,
        ICatalogueService,
        IDutyService,
        IResponsibilityService,
    )
    from portal.catalogue.loader import kb_loader
    from portal.catalogue.reports import reports_factory
    from portal.catalogue.resources import duty_factory
    from portal.catalogue.services import catalogue_service_factory, responsibility_service_factory

    # HTML
    config.add_route("catalogue.index", "/catalogue")
    config.add_route("catalogue.lookup", "/catalogue/lookup")
    config.add_route("catalogue.item_type", "/catalogue/item-types/{code}")
    config.add_route("catalogue.agencies", "/catalogue/agencies")
    config.add_route("catalogue.areas", "/catalogue/areas")
    config.add_route("catalogue.powers", "/catalogue/powers")
    config.add_route("catalogue.power", "/catalogue/powers/{code}")
    config.add_route("catalogue.duties", "/catalogue/duties")
    config.add_route("catalogue.duty_new", "/catalogue/duties/new")
    config.add_route("catalogue.duty", r"/catalogue/duties/{id:\d+}", factory=duty_factory)
    config.add_route("catalogue.duty_edit", r"/catalogue/duties/{id:\d+}/edit")
    config.add_route("catalogue.duty_transition", r"/catalogue/duties/{id:\d+}/transition")
    config.add_route("catalogue.stale", "/catalogue/reports/stale-basis")
    config.add_route("catalogue.coverage", "/catalogue/reports/coverage")
    # JSON
    config.add_route("catalogue.api.item_types", "/api/v1/item-types")
    config.add_route("catalogue.api.complete", "/api/v1/item-types/complete")
    config.add_route("catalogue.api.item_type", "/api/v1/item-types/{code}")
    config.add_route("catalogue.api.agencies", "/api/v1/agencies")
    config.add_route("catalogue.api.agency", "/api/v1/agencies/{code}")
    config.add_route("catalogue.api.areas", "/api/v1/areas")
    config.add_route("catalogue.api.locate", "/api/v1/areas/locate")
    config.add_route("catalogue.api.area", r"/api/v1/areas/{code:\d+}")
    config.add_route("catalogue.api.responsibility", "/api/v1/responsibility")
    config.add_route("catalogue.api.duties", "/api/v1/duties")
    config.add_route("catalogue.api.duty", r"/api/v1/duties/{id:\d+}", factory=duty_factory)
    config.add_route("catalogue.api.duty_transitions", r"/api/v1/duties/{id:\d+}/transitions")
    config.add_route("catalogue.api.duty_history", r"/api/v1/duties/{id:\d+}/history", factory=duty_factory)
    config.add_route("catalogue.api.powers", "/api/v1/powers")
    config.add_route("catalogue.api.stale", "/api/v1/catalogue/stale-basis")
    config.add_route("catalogue.api.coverage", "/api/v1/catalogue/coverage")

    config.register_service_factory(catalogue_service_factory, ICatalogueService)
    config.register_service_factory(responsibility_service_factory, IResponsibilityService)
    # The dispatch hot path reaches the same service through a request property: building
    # pyramid_services' per-request container would cost more than the whole answer.
    config.add_request_method(lambda request: responsibility_service_factory(None, request),
                              "responsibility_service", reify=True)
    config.register_service_factory(duty_service_factory, IDutyService)
    config.register_service_factory(reports_factory, ICatalogueReports)
    config.include("portal.catalogue.opendata")

    from portal.catalogue.documents import CatalogueDocumentProvider, keys_of_duty, keys_of_item_type
    from portal.catalogue.models import Duty, ItemType

    config.add_search_provider(CatalogueDocumentProvider())
    config.add_search_source(Duty, keys_of_duty)
    config.add_search_source(ItemType, keys_of_item_type)

    # After the regulations (order 10): duties cite them, but loading does not depend on them.
    config.add_kb_loader("catalogue", kb_loader, order=20)
    config.add_portal_section("catalogue.index", "权责清单",
                              "部件事件分类、责任单位、权责条目与权力事项；按类型和位置查询权属。", order=10)
