"""Contracts of the catalogue domain, registered with pyramid_services.

Views, the CLI and other domains (cases take deadlines from ``resolve``; arbitration publishes
rulings as duties) use these through ``request.find_service(...)``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from zope.interface import Interface

if TYPE_CHECKING:
    from portal.catalogue.models import Agency, Area, Duty, ItemType
    from portal.catalogue.reports import StaleFinding
    from portal.catalogue.snapshot import AreaInfo, CatalogueSnapshot, ItemInfo


class ICatalogueService(Interface):
    """Reading the reference data: item types, agencies, areas, point location."""

    def snapshot() -> CatalogueSnapshot:
        """The current in-memory :class:`~portal.catalogue.snapshot.CatalogueSnapshot`."""

    def item_types(kind: str | None = None, scheme: str | None = None, major_code: str | None = None,
                   q: str | None = None) -> list[ItemType]:
        """Item types (ORM rows) matching the filters, ordered by scheme, kind and code."""

    def item_type(code: str, scheme: str | None = None, kind: str | None = None) -> ItemType:
        """One item type by code (``0101``) or key (``gb47678:event:06001``); raises NotFound,
        or InvalidInput listing the candidates when the code is ambiguous."""

    def find_item_types(text: str, limit: int = 10, kind: str | None = None,
                        scheme: str | None = None) -> list[ItemInfo]:
        """Completion: item types whose code, name or alias matches ``text``."""

    def agencies(kind: str | None = None) -> list[Agency]:
        """Agencies, ordered by kind and code."""

    def agency(code: str) -> Agency:
        """One agency; raises NotFound."""

    def area(code: str) -> Area:
        """One area (ORM row); raises NotFound."""

    def area_tree(max_level: str = "grid") -> list[dict[str, Any]]:
        """The area hierarchy as nested dicts, down to ``max_level``."""

    def locate(lat: float, lon: float) -> tuple[AreaInfo, list[AreaInfo]]:
        """``(grid, ancestors)`` for a point (snapshot AreaInfo); raises NotFound outside."""


class IResponsibilityService(Interface):
    """The dispatch look-up."""

    def resolve(item_type: str | ItemInfo, area: str | None = None, lat: float | None = None,
                lon: float | None = None, at: dt.date | None = None, reported_at: dt.datetime | None = None,
                urgency: str = "normal") -> dict[str, Any]:
        """Who owns, maintains, supervises and enforces ``item_type`` at the place on ``at``.

        Returns the issue-4 response: ``{item_type, area, at, roles: [{role, agency, duty_id,
        legal_basis: [{citation, regulation_id, article_number, text, in_force}], time_limit,
        deadline, source: {kind, id}}], conflicts: [...]}``.
        """


class IDutyService(Interface):
    """Editing duties: drafts, revisions, review and publication, collisions, history."""

    def get(duty_id: int) -> Duty:
        """A duty; raises NotFound."""

    def create(data: dict[str, Any], force: bool = False) -> Duty:
        """A new draft duty from validated ``data``."""

    def update(duty: Duty, data: dict[str, Any], force: bool = False) -> Duty:
        """Change a draft in place, or open a draft revision of a published duty."""

    def transition(duty: Duty, name: str, comment: str | None = None, force: bool = False) -> Duty:
        """submit / publish / reject / withdraw / redraft; publishing checks collisions."""

    def collisions(duty: Duty) -> list[Duty]:
        """Published duties the given one would collide with."""

    def apply_ruling(ruling_id: int, ruling_ref: str, decisions: list[dict[str, Any]],
                     comment: str | None = None) -> list[Duty]:
        """Publish the duties a ruling decides (source: the ruling), superseding earlier ruling
        duties of the same item type, area and role; returns them."""

    def revoke_ruling(ruling_id: int, ruling_ref: str, comment: str | None = None) -> tuple[list[Duty], list[Duty]]:
        """Withdraw a ruling's duties and reinstate the earlier ruling duties it superseded."""

    def history(duty: Duty, *, include_drafts: bool = False) -> list[dict[str, Any]]:
        """The lineage's events, oldest first: with ``include_drafts`` every revision's changes and
        transitions (staff), otherwise only the publications of public revisions."""


class ICatalogueReports(Interface):
    """Integrity reports of the catalogue."""

    def stale_basis(on: dt.date | None = None) -> list[StaleFinding]:
        """Published duties whose cited articles are repealed, missing or amended since review,
        plus citations the library does not hold (reported, but not stale)."""

    def coverage(at: dt.date | None = None, kind: str | None = None, scheme: str | None = None) -> dict[str, Any]:
        """Item types × streets × roles without an answer, a basis or a power on ``at`` (default:
        all three item lists), with the unresolved citations of the catalogue."""
