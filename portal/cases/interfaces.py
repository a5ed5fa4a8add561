"""Contracts of the case domain, registered with pyramid_services."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from zope.interface import Attribute, Interface

if TYPE_CHECKING:
    from portal.cases.models import Case, CaseEvent, Feedback
    from portal.cases.public import PublicCase
    from portal.cases.services import IngestResult, PublicPage


class ICaseService(Interface):
    """Ingesting, advancing, disclosing and tracking cases."""

    places = Attribute("The catalogue helper (codes, grids, handling limits) for this request")

    def ingest(record: Mapping[str, Any], source: str = "api") -> IngestResult:
        """Create the case of a validated :class:`~portal.cases.schemas.CaseRecord`, or find it by
        its external id (a replay) and add only the steps it does not have yet.
        Returns an :class:`~portal.cases.services.IngestResult`."""

    def add_event(case: Case, step: Mapping[str, Any]) -> tuple[CaseEvent, bool]:
        """Apply one validated step to ``case``; a replay of a stored step returns it unchanged.
        Raises InvalidEvent / EventOutOfOrder (409) for a step the case cannot take."""

    def get(case_id: str | int) -> Case:
        """A case by portal id or external id (internal view); raises NotFound."""

    def public_page(filters: Mapping[str, Any]) -> PublicPage:
        """A page of disclosed cases (redacted), with a capped count and a keyset cursor."""

    def public_get(case_id: int | str, with_events: bool = True) -> PublicCase:
        """One disclosed case (redacted); raises NotFound for unknown or non-disclosable cases."""

    def iter_public(batch_size: int = 2000, with_events: bool = False,
                    updated_since: dt.datetime | None = None) -> Iterator[PublicCase]:
        """Every disclosed case (redacted :class:`~portal.cases.public.PublicCase`); with
        ``updated_since``, only the cases changed at or after it."""

    def public_rows(*, updated_since: dt.datetime | None = None, moment: Callable[[Any], Any] | None = None,
                    batch_size: int = 1000) -> Iterator[Sequence[Any]]:
        """Every disclosed case's public columns in batches from a server-side cursor, for bulk
        exports (each row goes through :func:`~portal.cases.public.public_fields`); with
        ``updated_since``, only the cases changed at or after it."""

    def grid_counts(filters: Mapping[str, Any]) -> dict[int, int]:
        """Disclosed cases per grid id under ``filters`` (the district map)."""

    def bounce_hotspots(since: dt.datetime | None = None, *, by: str = "grid", min_bounces: int = 3,
                        limit: int = 50) -> list[dict[str, Any]]:
        """Item types × grids (or streets) where cases keep bouncing as "not our asset", with the
        agencies that bounced them: candidates for arbitration."""

    def track(code: str) -> Case:
        """The case a tracking code belongs to; raises NotFound."""

    def rate(code: str, rating: str, comment: str = "") -> Feedback:
        """Record the reporter's one rating of a closed case; raises Conflict the second time."""

    def submit(record: Mapping[str, Any]) -> tuple[Case, str, Any]:
        """Create a reported case from an Open311 POST; returns (case, tracking_code, handling)."""
