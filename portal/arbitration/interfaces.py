"""Contracts of the arbitration domain, registered with pyramid_services."""

from __future__ import annotations

from zope.interface import Interface


class IArbitrationService(Interface):
    """Experts, disputes, panels, votes and rulings (专家确权)."""

    def experts(active_only=False):
        """The expert pool, with each expert's open panels (workload)."""

    def expert_for_user(user):
        """The Expert linked to a staff account, or None."""

    def conflict(expert, dispute):
        """Why ``expert`` may not sit on ``dispute`` (affiliated with a party), or None."""

    def open_dispute(data):
        """File a dispute by hand: item type, place, parties with positions, related cases."""

    def open_from_hotspot(item_type, area, since=None, min_bounces=3):
        """File a dispute for a bounce hotspot, carrying its bounced cases and bouncing agencies."""

    def hotspots(days=180, by="grid", min_bounces=3):
        """Bounce hotspots not yet under an open dispute."""

    def advance(dispute, move, comment=None, **details):
        """Move a dispute one stage (accept, reject, inspect, deliberate, withdraw)."""

    def add_evidence(dispute, filename, data, description="", party=None):
        """Store an evidence file (type and size checked, safe name); returns the Evidence row."""

    def suggest_panel(dispute, size=3):
        """Experts for a panel of ``size``: matching specialty, least workload, never conflicted."""

    def seat_panel(dispute, expert_ids, chair_id=None):
        """Seat a panel of 3, 5 or 7 experts; a conflicted expert is refused (403)."""

    def save_draft(dispute, data):
        """Write the ruling the panel votes on (decisions per role, reasoning, citations, scope)."""

    def cast_vote(dispute, expert, choice, opinion):
        """Record a seated expert's vote; the last vote of a round decides by majority."""

    def publish(dispute, comment=None):
        """Publish an adopted ruling: its duties enter the catalogue (``apply_ruling``)."""

    def revoke(ruling, reason):
        """Withdraw a published ruling; the catalogue answers as before it."""

    def rulings(public=True, item_type=None, street=None, page=1, page_size=20):
        """Rulings (published only when ``public``) and their total."""

    def stats(on=None):
        """Figures per item type and per street: opened, median working days, overdue, bounces."""
