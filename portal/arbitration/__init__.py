"""Expert arbitration of disputed ownership (专家确权).

Experts registry; disputes filed by clerks by hand or from a bounce hotspot of the cases; the
stages filed → accepted → inspected → deliberating → ruled → published (or rejected / withdrawn)
with working-day deadlines; panels of 3, 5 or 7 experts with automatic recusal; votes with
written opinions; the ruling (裁定书) in HTML and PDF, which on publication decides duties of the
catalogue (``DutyService.apply_ruling``) and is found by the search (doc type ``ruling``).
"""

from __future__ import annotations

from typing import Any


def includeme(config: Any) -> None:
    """Routes, services, the search provider and the knowledge-base loader of arbitration."""
    from portal.arbitration.documents import keys_of_dispute, keys_of_ruling, provider_for
    from portal.arbitration.interfaces import IArbitrationService
    from portal.arbitration.loader import kb_loader
    from portal.arbitration.models import Dispute, Ruling
    from portal.arbitration.services import arbitration_service_factory

    workbench = "portal.arbitration.resources.ArbitrationRoot"
    dispute = "portal.arbitration.resources.DisputeResource"
    # Public pages
    config.add_route("arbitration.rulings", "/rulings")
    config.add_route("arbitration.stats", "/rulings/stats")
    config.add_route("arbitration.ruling", r"/rulings/{id:\d+}")
    config.add_route("arbitration.ruling_pdf", r"/rulings/{id:\d+}.pdf")
    config.add_route("arbitration.experts", "/experts")
    # Staff workbench
    config.add_route("arbitration.index", "/arbitration", factory=workbench)
    config.add_route("arbitration.hotspots", "/arbitration/hotspots", factory=workbench)
    config.add_route("arbitration.dispute_new", "/arbitration/disputes/new", factory=workbench)
    config.add_route("arbitration.dispute", r"/arbitration/disputes/{id:\d+}", factory=dispute)
    config.add_route("arbitration.evidence", r"/arbitration/disputes/{id:\d+}/evidence/{evidence_id:\d+}",
                     factory=dispute)
    config.add_route("arbitration.dispute_action", r"/arbitration/disputes/{id:\d+}/{action:[a-z]+}",
                     factory=dispute)
    # JSON
    config.add_route("arbitration.api.rulings", "/api/v1/rulings")
    config.add_route("arbitration.api.stats", "/api/v1/rulings/stats")
    config.add_route("arbitration.api.ruling", r"/api/v1/rulings/{id:\d+}")
    config.add_route("arbitration.api.experts", "/api/v1/experts")
    config.add_route("arbitration.api.disputes", "/api/v1/disputes", factory=workbench)
    config.add_route("arbitration.api.hotspots", "/api/v1/disputes/hotspots", factory=workbench)
    config.add_route("arbitration.api.dispute", r"/api/v1/disputes/{id:\d+}", factory=dispute)
    config.add_route("arbitration.api.transitions", r"/api/v1/disputes/{id:\d+}/transitions", factory=dispute)
    config.add_route("arbitration.api.parties", r"/api/v1/disputes/{id:\d+}/parties", factory=dispute)
    config.add_route("arbitration.api.panel", r"/api/v1/disputes/{id:\d+}/panel", factory=dispute)
    config.add_route("arbitration.api.draft", r"/api/v1/disputes/{id:\d+}/ruling", factory=dispute)
    config.add_route("arbitration.api.evidence", r"/api/v1/disputes/{id:\d+}/evidence", factory=dispute)
    config.add_route("arbitration.api.votes", r"/api/v1/disputes/{id:\d+}/votes", factory=dispute)
    config.add_route("arbitration.api.revoke", r"/api/v1/disputes/{id:\d+}/ruling/withdraw", factory=dispute)

    config.register_service_factory(arbitration_service_factory, IArbitrationService)

    config.add_search_provider(provider_for(config.get_settings()))
    config.add_search_source(Ruling, keys_of_ruling)
    config.add_search_source(Dispute, keys_of_dispute)

    # After the catalogue (20): rulings decide its duties; before the demo cases (90), which
    # bounce most where ownership needed a ruling.
    config.add_kb_loader("arbitration", kb_loader, order=30)
    from portal.arbitration.opendata import RULINGS

    config.add_opendata_dataset(RULINGS)
    config.add_portal_section("arbitration.rulings", "专家裁定",
                              "权属争议的专家合议裁定书、专家库与确权统计。", order=40)
