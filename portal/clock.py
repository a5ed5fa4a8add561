"""The portal's one clock: what "now" and "today" mean, in the configured time zone.

Everything that defaults a date to today (in-force status, the lookup's date, deadlines, searches,
demo data, Open311's default window) asks this module. A server runs in UTC, and at 05:23 in
Beijing the UTC date is still yesterday: asking the operating system for "today" gave two answers
in one portal. The zone is ``portal.timezone`` (default Asia/Shanghai); China has no daylight
saving time, so the default is a fixed offset and needs no tz database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

#: The default zone of a Chinese city's portal.
CHINA_TZ = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")

_zone: dt.tzinfo = CHINA_TZ


def _utcnow() -> dt.datetime:
    """The system clock; tests replace it to stand at a chosen moment."""
    return dt.datetime.now(dt.UTC)


def zone() -> dt.tzinfo:
    return _zone


def now() -> dt.datetime:
    """The current moment, aware, in the portal's zone."""
    return _utcnow().astimezone(_zone)


def today() -> dt.date:
    """Today's date in the portal's zone (not the server's)."""
    return now().date()


def zone_from_name(name: str) -> dt.tzinfo:
    if name in ("", "Asia/Shanghai", "Asia/Chongqing", "PRC"):
        return CHINA_TZ
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"portal.timezone: unknown time zone {name!r}") from exc


def configure(settings: Mapping[str, Any]) -> None:
    """Set the zone from ``portal.timezone`` (called once by the app factory and the CLI)."""
    global _zone
    _zone = zone_from_name(str(settings.get("portal.timezone") or "Asia/Shanghai"))
