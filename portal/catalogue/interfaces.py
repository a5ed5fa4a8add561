"""Contracts of the catalogue domain, registered with pyramid_services.

Views, the CLI and other domains (cases take deadlines from ``resolve``; arbitration publishes
rulings as duties) use these through ``request.find_service(...)``.
"""

from __future__ import annotations

from zope.interface import Interface


class ICatalogueService(Interface):
    """Reading the reference data: item types, agencies, areas, point location."""

    def snapshot():
        """The current in-memory :class:`~portal.catalogue.snapshot.CatalogueSnapshot`."""

    def item_types(kind=None, scheme=None, major_code=None, q=None):
        """Item types (ORM rows) matching the filters, ordered by scheme, kind and code."""

    def item_type(code, scheme=None, kind=None):
        """One item type by code (``0101``) or key (``gb47678:event:06001``); raises NotFound,
        or InvalidInput listing the candidates when the code is ambiguous."""

    def find_item_types(text, limit=10, kind=None, scheme=None):
        """Completion: item types whose code, name or alias matches ``text``."""

    def agencies(kind=None):
        """Agencies, ordered by kind and code."""

    def agency(code):
        """One agency; raises NotFound."""

    def area(code):
        """One area (ORM row); raises NotFound."""

    def area_tree(max_level="grid"):
        """The area hierarchy as nested dicts, down to ``max_level``."""

    def locate(lat, lon):
        """``(grid, ancestors)`` for a point (snapshot AreaInfo); raises NotFound outside."""


class IResponsibilityService(Interface):
    """The dispatch look-up."""

    def resolve(item_type, area=None, lat=None, lon=None, at=None, reported_at=None, urgency="normal"):
        """Who owns, maintains, supervises and enforces ``item_type`` at the place on ``at``.

        Returns the issue-4 response: ``{item_type, area, at, roles: [{role, agency, duty_id,
        legal_basis: [{citation, regulation_id, article_number, text, in_force}], time_limit,
        deadline, source: {kind, id}}], conflicts: [...]}``.
        """


class IDutyService(Interface):
    """Editing duties: drafts, revisions, review and publication, collisions, history."""

    def get(duty_id):
        """A duty; raises NotFound."""

    def create(data, force=False):
        """A new draft duty from validated ``data``."""

    def update(duty, data, force=False):
        """Change a draft in place, or open a draft revision of a published duty."""

    def transition(duty, name, comment=None, force=False):
        """submit / publish / reject / withdraw / redraft; publishing checks collisions."""

    def collisions(duty):
        """Published duties the given one would collide with."""

    def apply_ruling(ruling_id, ruling_ref, decisions, comment=None):
        """Publish the duties a ruling decides (source: the ruling), superseding earlier ruling
        duties of the same item type, area and role; returns them."""

    def revoke_ruling(ruling_id, ruling_ref, comment=None):
        """Withdraw a ruling's duties and reinstate the earlier ruling duties it superseded."""

    def history(duty, *, include_drafts=False):
        """The lineage's events, oldest first: with ``include_drafts`` every revision's changes and
        transitions (staff), otherwise only the publications of public revisions."""


class ICatalogueReports(Interface):
    """Integrity reports of the catalogue."""

    def stale_basis(on=None):
        """Published duties whose cited articles are repealed, missing or amended since review,
        plus citations the library does not hold (reported, but not stale)."""

    def coverage(at=None, kind=None, scheme=None):
        """Item types × streets × roles without an answer, a basis or a power on ``at`` (default:
        all three item lists), with the unresolved citations of the catalogue."""
