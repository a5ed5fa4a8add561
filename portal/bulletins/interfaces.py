"""Contracts of the bulletins domain."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zope.interface import Interface

if TYPE_CHECKING:
    from portal.bulletins.models import Bulletin
    from portal.bulletins.periods import Period


class IBulletinService(Interface):
    """Computing, generating, publishing and reading bulletins."""

    def compute(period: Period) -> dict[str, Any]:
        """The indicator data of a :class:`~portal.bulletins.periods.Period` (with 环比/同比, trend,
        commentary and watermark): the same cases always give the same dict."""

    def generate(period: Period, correction_note: str = "") -> Bulletin:
        """A draft bulletin for ``period`` (regenerating the draft if there is one; a correction
        revision if the period is published already). Returns the Bulletin."""

    def publish(bulletin: Bulletin, comment: str | None = None) -> Bulletin:
        """Publish a draft; a correction supersedes the revision it corrects."""

    def public_list() -> list[Bulletin]:
        """Every public bulletin (published or superseded), newest period first."""

    def get(period: str, revision: int | None = None, public: bool = True) -> Bulletin:
        """One bulletin; raises NotFound."""
