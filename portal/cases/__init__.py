"""Cases (案件): the life cycle of reported problems, their public disclosure and ingestion.

- ``POST /api/v1/cases`` and ``POST /api/v1/cases/{id}/events``: the linkage centre's feed,
  idempotent by its own case id (a replay never duplicates);
- ``GET /api/v1/cases`` and ``/cases``: disclosed cases, redacted the same way everywhere
  (``portal.cases.public``);
- ``/track``: a reporter follows and rates their own case with its tracking code;
- ``portal import-cases`` and ``portal demo-data``: bulk ingestion through the same validation.
"""

from __future__ import annotations

from typing import Any

from portal.settings import as_bool


def includeme(config: Any) -> None:
    from portal.cases.interfaces import ICaseService
    from portal.cases.loader import demo_cases_loader
    from portal.cases.services import case_service_factory

    config.add_route("cases.index", "/cases")
    config.add_route("cases.detail", r"/cases/{id:\d+}")
    config.add_route("cases.track", "/track")
    config.add_route("cases.api.list", "/api/v1/cases")
    config.add_route("cases.api.detail", r"/api/v1/cases/{id:\d+}")
    config.add_route("cases.api.events", "/api/v1/cases/{id}/events")
    config.add_route("cases.api.feedback", "/api/v1/cases/{id}/feedback")
    config.register_service_factory(case_service_factory, ICaseService)
    config.include("portal.cases.opendata")
    # After the catalogue (order 20): demo cases need its item types, grids and duties.
    config.add_kb_loader("demo-cases", demo_cases_loader, order=90)
    config.add_portal_section("cases.index", "案件公开",
                              "已办结与在办案件的类型、网格、责任单位、时限与办理结果；凭查询码跟踪并评价自己的案件。",
                              order=40)
    if as_bool(config.get_settings().get("portal.search.warm_up", True)):
        # The name detector's dictionary tags (half a second) load now, not in the first
        # request that stores a case.
        from portal.cases.names import warm_up

        warm_up()
