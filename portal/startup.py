"""What a freshly started process checks before serving."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def start_sharing(registry: Any) -> None:
    """With Redis configured: follow other processes' commits from their notices (the catalogue
    snapshot and the search index replica), and announce this process's own."""
    bus = registry.get("portal.change_bus")
    if bus is None:
        return
    from portal.catalogue.services import freshness_gate
    from portal.catalogue.snapshot import note_remote_commit

    gate = freshness_gate(registry)
    if gate is not None:
        gate.notified = lambda: bus.listening
    bus.on_change(lambda notice: note_remote_commit())
    projection = registry.get("portal.search.projection")
    if projection is not None:
        projection.notified = lambda: bus.listening

        def follow_search(notice: dict[str, Any]) -> None:
            if notice.get("search") or notice.get("resync"):
                projection.catch_up_quietly()

        bus.on_change(follow_search)
    bus.start()


def after_start(registry: Any) -> None:
    """Start following other processes' changes; apply a changed case disclosure policy; heal a
    missing or corrupt search index without blocking start-up.

    The index is derived data: when it is unusable, it is rebuilt from the database in a
    background thread while the portal serves (search answers 503 until it is ready).
    """
    from portal.cases.disclosure import apply_configured_policy
    from portal.settings import as_bool

    start_sharing(registry)
    apply_configured_policy(registry)
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
