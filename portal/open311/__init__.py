"""Open311 GeoReport v2 (``/open311/v2/``): services are item types, requests are cases.

Every answer comes in ``.json`` and ``.xml`` with the spec's field names and roots; errors are the
spec's ``[{"code", "description"}]`` array (``<errors><error>`` in XML) with 400, 403 or 404.
Requests are the same redacted cases the portal discloses everywhere (``portal.cases.public``).
"""

from __future__ import annotations

from typing import Any

FORMAT = "{format:json|xml}"


def includeme(config: Any) -> None:
    from portal.open311.views import open311_error_response

    base = "/open311/v2"
    config.add_route("open311.discovery", f"{base}/discovery.{FORMAT}")
    config.add_route("open311.discovery_root", f"/open311/discovery.{FORMAT}")
    config.add_route("open311.services", f"{base}/services.{FORMAT}")
    config.add_route("open311.service", f"{base}/services/{{code:[^/]+?}}.{FORMAT}")
    # Some clients ask for the singular form.
    config.add_route("open311.service_alias", f"{base}/service/{{code:[^/]+?}}.{FORMAT}")
    config.add_route("open311.requests", f"{base}/requests.{FORMAT}")
    config.add_route("open311.request", f"{base}/requests/{{id:[^/]+?}}.{FORMAT}")
    config.add_route("open311.token", f"{base}/tokens/{{token:[^/]+?}}.{FORMAT}")
    config.add_error_format("/open311/", open311_error_response)
