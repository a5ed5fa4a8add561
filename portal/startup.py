"""What a freshly started process checks before serving."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def after_start(registry: Any) -> None:
    """Heal a missing or corrupt search index without blocking start-up.

    The index is derived data: when it is unusable, it is rebuilt from the database in a
    background thread while the portal serves (search answers 503 until it is ready).
    """
    from portal.settings import as_bool

    projection = registry.get("portal.search.projection")
    if projection is None or not as_bool(registry.settings.get("portal.search.heal_on_start", True)):
        return
    try:
        healthy = bool(projection.service.health().get("ok"))
    except Exception:  # noqa: BLE001 - treat any failure to open as a corrupt index
        healthy = False
    if not healthy:
        log.warning("search index missing or unreadable: rebuilding it from the database in the background")
        projection.rebuild_in_background()
    else:
        projection.catch_up_quietly()
