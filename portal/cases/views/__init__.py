"""Views of the case domain: the JSON API (``api``) and the public pages (``html``)."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request

from portal.cases.interfaces import ICaseService


def cases(request: Request) -> Any:
    return request.find_service(ICaseService)
