"""Contracts of the bulletins domain."""

from __future__ import annotations

from zope.interface import Interface


class IBulletinService(Interface):
    """Computing, generating, publishing and reading bulletins."""

    def compute(period):
        """The indicator data of a :class:`~portal.bulletins.periods.Period` (with 环比/同比, trend,
        commentary and watermark): the same cases always give the same dict."""

    def generate(period, correction_note=""):
        """A draft bulletin for ``period`` (regenerating the draft if there is one; a correction
        revision if the period is published already). Returns the Bulletin."""

    def publish(bulletin, comment=None):
        """Publish a draft; a correction supersedes the revision it corrects."""

    def public_list():
        """Every public bulletin (published or superseded), newest period first."""

    def get(period, revision=None, public=True):
        """One bulletin; raises NotFound."""
