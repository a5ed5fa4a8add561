"""Contracts of the dispatch assistant, registered with pyramid_services."""

from __future__ import annotations

from zope.interface import Interface


class IDispatchService(Interface):
    """Suggestions for a complaint, and the examples dispatchers teach the assistant."""

    def suggest(text, lat=None, lon=None, area=None, at=None, limit=5, with_answer=True):
        """``{item_types, place, responsibility, regulations}`` for a reporter's text and an
        optional place (a point, an area code, or the names in the text). Raises InvalidInput for
        an empty or over-long text, an unknown area or a point outside the district."""

    def record_example(text, code, suggested_code="", source="screen", case_id=None, area_code=None):
        """Store a dispatcher's confirmation or correction (text → code) as evidence."""

    def discard_example(example_id, reason):
        """An editor's verdict that an example is wrong: it stops counting as evidence."""

    def examples(include_discarded=False, limit=100, offset=0):
        """Stored examples, newest first: ``(rows, total)``."""
