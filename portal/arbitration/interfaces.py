"""Contracts of the arbitration domain, registered with pyramid_services."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from zope.interface import Interface

if TYPE_CHECKING:
    from portal.accounts.models import User
    from portal.arbitration.models import Dispute, Evidence, Expert, PanelSeat, Ruling, Vote


class IArbitrationService(Interface):
    """Experts, disputes, panels, votes and rulings (专家确权)."""

    def experts(active_only: bool = False) -> list[Expert]:
        """The expert pool, with each expert's open panels (workload)."""

    def expert_for_user(user: User | None) -> Expert | None:
        """The Expert linked to a staff account, or None."""

    def conflict(expert: Expert, dispute: Dispute) -> str | None:
        """Why ``expert`` may not sit on ``dispute`` (affiliated with a party), or None."""

    def open_dispute(data: dict[str, Any]) -> Dispute:
        """File a dispute by hand: item type, place, parties with positions, related cases."""

    def open_from_hotspot(item_type: str, area: str, since: dt.datetime | None = None, min_bounces: int = 3) -> Dispute:
        """File a dispute for a bounce hotspot, carrying its bounced cases and bouncing agencies."""

    def hotspots(days: int = 180, by: str = "grid", min_bounces: int = 3) -> list[dict[str, Any]]:
        """Bounce hotspots not yet under an open dispute."""

    def advance(dispute: Dispute, move: str, comment: str | None = None, **details: Any) -> Dispute:
        """Move a dispute one stage (accept, reject, inspect, deliberate, withdraw)."""

    def add_evidence(dispute: Dispute, filename: str, data: bytes, description: str = "",
                     party: str | None = None) -> Evidence:
        """Store an evidence file (type and size checked, safe name); returns the Evidence row."""

    def suggest_panel(dispute: Dispute, size: int = 3) -> list[dict[str, Any]]:
        """Experts for a panel of ``size``: matching specialty, least workload, never conflicted."""

    def seat_panel(dispute: Dispute, expert_ids: list[int], chair_id: int | None = None) -> list[PanelSeat]:
        """Seat a panel of 3, 5 or 7 experts; a conflicted expert is refused (403)."""

    def save_draft(dispute: Dispute, data: dict[str, Any]) -> Ruling:
        """Write the ruling the panel votes on (decisions per role, reasoning, citations, scope)."""

    def cast_vote(dispute: Dispute, expert: Expert | None, choice: str, opinion: str) -> Vote:
        """Record a seated expert's vote; the last vote of a round decides by majority."""

    def publish(dispute: Dispute, comment: str | None = None) -> Ruling:
        """Publish an adopted ruling: its duties enter the catalogue (``apply_ruling``)."""

    def revoke(ruling: Ruling, reason: str) -> Ruling:
        """Withdraw a published ruling; the catalogue answers as before it."""

    def rulings(public: bool = True, item_type: str | None = None, street: str | None = None, page: int = 1,
                page_size: int = 20) -> tuple[list[Ruling], int]:
        """Rulings (published only when ``public``) and their total."""

    def stats(on: dt.datetime | None = None) -> dict[str, Any]:
        """Figures per item type and per street: opened, median working days, overdue, bounces."""
