"""Bulletins (考评通报): monthly, quarterly and annual performance bulletins on the case data.

- ``/bulletins``: the public archive (HTML page, PDF, CSV and JSON of every published bulletin,
  corrections beside the revisions they correct); ``/bulletins/indicators`` defines every number;
- ``/api/v1/bulletins`` and ``/api/v1/bulletins/{period}``: the same as JSON, with hashes;
- ``/bulletins/manage``: staff generate, preview and publish; ``portal bulletin generate``;
- the ``bulletins-demo`` knowledge-base loader publishes the demo months on ``make run``.
"""

from __future__ import annotations

from typing import Any

PERIOD = r"{period:\d\d\d\d(?:-\d\d|-Q[1-4])?}"


def includeme(config: Any) -> None:
    from portal.bulletins.interfaces import IBulletinService
    from portal.bulletins.loader import demo_bulletins_loader
    from portal.bulletins.resources import BulletinAdmin
    from portal.bulletins.services import bulletin_service_factory

    config.add_route("bulletins.index", "/bulletins")
    config.add_route("bulletins.indicators", "/bulletins/indicators")
    config.add_route("bulletins.manage", "/bulletins/manage", factory=BulletinAdmin)
    config.add_route("bulletins.publish", r"/bulletins/manage/{id:\d+}/publish", factory=BulletinAdmin)
    config.add_route("bulletins.preview", r"/bulletins/manage/{id:\d+}", factory=BulletinAdmin)
    config.add_route("bulletins.preview_pdf", r"/bulletins/manage/{id:\d+}.pdf", factory=BulletinAdmin)
    config.add_route("bulletins.file", f"/bulletins/{PERIOD}/r{{revision:\\d+}}.{{ext:pdf|csv|json}}")
    config.add_route("bulletins.revision", f"/bulletins/{PERIOD}/r{{revision:\\d+}}")
    config.add_route("bulletins.latest_file", f"/bulletins/{PERIOD}.{{ext:pdf|csv|json}}")
    config.add_route("bulletins.detail", f"/bulletins/{PERIOD}")
    config.add_route("bulletins.api.list", "/api/v1/bulletins")
    config.add_route("bulletins.api.detail", f"/api/v1/bulletins/{PERIOD}")
    config.register_service_factory(bulletin_service_factory, IBulletinService)
    # After the demo cases (order 90): the demo months' bulletins are computed from them.
    config.add_kb_loader("bulletins-demo", demo_bulletins_loader, order=95)
    from portal.bulletins.opendata import BULLETIN_INDICATORS

    config.add_opendata_dataset(BULLETIN_INDICATORS)
    config.add_portal_section("bulletins.index", "考评通报",
                              "每月、每季度、每年的城市管理考评通报：各街道、各部门的处置、结案、返工与满意率排名，"
                              "PDF 与开放数据下载。", order=50)
