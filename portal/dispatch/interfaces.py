"""Contracts of the dispatch assistant, registered with pyramid_services."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from zope.interface import Interface

if TYPE_CHECKING:
    from portal.dispatch.models import DispatchExample


class IDispatchService(Interface):
    """Suggestions for a complaint, and the examples dispatchers teach the assistant."""

    def suggest(text: str, lat: float | None = None, lon: float | None = None, area: str | None = None,
                at: dt.date | None = None, limit: int = 5, with_answer: bool = True) -> dict[str, Any]:
        """``{item_types, place, responsibility, regulations}`` for a reporter's text and an
        optional place (a point, an area code, or the names in the text). Raises InvalidInput for
        an empty or over-long text, an unknown area or a point outside the district."""

    def record_example(text: str, code: str, suggested_code: str = "", source: str = "screen",
                       case_id: int | None = None, area_code: str | None = None) -> DispatchExample:
        """Store a dispatcher's confirmation or correction (text → code) as evidence."""

    def discard_example(example_id: int, reason: str) -> DispatchExample:
        """An editor's verdict that an example is wrong: it stops counting as evidence."""

    def examples(include_discarded: bool = False, limit: int = 100,
                 offset: int = 0) -> tuple[list[DispatchExample], int]:
        """Stored examples, newest first: ``(rows, total)``."""
