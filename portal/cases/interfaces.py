"""Contracts of the case domain, registered with pyramid_services."""

from __future__ import annotations

from zope.interface import Attribute, Interface


class ICaseService(Interface):
    """Ingesting, advancing, disclosing and tracking cases."""

    places = Attribute("The catalogue helper (codes, grids, handling limits) for this request")

    def ingest(record, source="api"):
        """Create the case of a validated :class:`~portal.cases.schemas.CaseRecord`, or find it by
        its external id (a replay) and add only the steps it does not have yet.
        Returns an :class:`~portal.cases.services.IngestResult`."""

    def add_event(case, record):
        """Apply one validated step to ``case``; a replay of a stored step returns it unchanged.
        Raises InvalidEvent / EventOutOfOrder (409) for a step the case cannot take."""

    def get(case_id):
        """A case by portal id or external id (internal view); raises NotFound."""

    def public_page(filters):
        """A page of disclosed cases (redacted), with a capped count and a keyset cursor."""

    def public_get(case_id, with_events=True):
        """One disclosed case (redacted); raises NotFound for unknown or non-disclosable cases."""

    def iter_public(batch_size=2000, with_events=False, updated_since=None):
        """Every disclosed case (redacted :class:`~portal.cases.public.PublicCase`); with
        ``updated_since``, only the cases changed at or after it."""

    def public_rows(updated_since=None, moment=None, batch_size=1000):
        """Every disclosed case's public columns in batches from a server-side cursor, for bulk
        exports (each row goes through :func:`~portal.cases.public.public_fields`); with
        ``updated_since``, only the cases changed at or after it."""

    def grid_counts(filters):
        """Disclosed cases per grid id under ``filters`` (the district map)."""

    def bounce_hotspots(since=None, by="grid", min_bounces=3, limit=50):
        """Item types × grids (or streets) where cases keep bouncing as "not our asset", with the
        agencies that bounced them: candidates for arbitration."""

    def track(code):
        """The case a tracking code belongs to; raises NotFound."""

    def rate(code, rating, comment=""):
        """Record the reporter's one rating of a closed case; raises Conflict the second time."""

    def submit(record):
        """Create a reported case from an Open311 POST; returns (case, tracking_code, handling)."""
