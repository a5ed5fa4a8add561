"""Views of the dispatch assistant: the JSON API and the dispatcher's screen."""

from __future__ import annotations

from typing import Any

from portal.dispatch.interfaces import IDispatchService


def dispatch(request: Any) -> Any:
    return request.find_service(IDispatchService)
