"""Contracts of the portal's search: a derived, rebuildable projection of the database.

Every domain that has searchable content (regulations and articles today; rulings, catalogue
duties and public cases later) registers an :class:`IDocumentProvider` for its document types.
The projection asks the providers for documents when the change log says rows changed, and
when ``portal reindex`` rebuilds the whole index from the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from zope.interface import Attribute, Interface

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class SearchUnavailable(RuntimeError):
    """The index cannot be used right now (missing, corrupt, being rebuilt): try again later."""


@dataclass(frozen=True)
class SearchDocument:
    """One indexable unit: a regulation, an article, later a ruling, a duty or a public case.

    ``doc_type`` + ``doc_id`` is the unique key. Filter fields that a type does not have stay None.
    ``valid_from`` / ``valid_to`` bound the period the text is in force ("in force on date" filter);
    None means open-ended.
    """

    doc_type: str
    doc_id: str
    title: str
    body: str
    url: str
    # Regulation context; for an article, the regulation it belongs to.
    regulation_id: int | None = None
    regulation_title: str | None = None
    regulation_short_title: str | None = None
    article_number: int | None = None
    article_label: str | None = None
    chapter: str | None = None
    # Facets / filters.
    level: str | None = None
    status: str | None = None
    region: str | None = None
    authority: str | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    # Small stored extras returned with hits (never searched).
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.doc_type}:{self.doc_id}"


@dataclass(frozen=True)
class SearchQuery:
    text: str
    doc_types: Sequence[str] = ()
    level: str | None = None
    status: str | None = None
    region: str | None = None
    authority: str | None = None
    in_force_on: dt.date | None = None
    regulation_id: int | None = None
    page: int = 1
    page_size: int = 10


@dataclass(frozen=True)
class SearchHit:
    doc_type: str
    doc_id: str
    title: str
    url: str
    score: float
    # HTML-safe snippet: text escaped, matched terms wrapped in <mark>.
    snippet: str
    regulation_id: int | None = None
    regulation_title: str | None = None
    article_number: int | None = None
    article_label: str | None = None
    level: str | None = None
    status: str | None = None
    region: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchResults:
    query: SearchQuery
    total: int
    hits: list[SearchHit]
    # facet name ("doc_type", "level", "status", "region", "authority") -> [(value, count)], most first
    facets: dict[str, list[tuple[str, int]]]
    # Set when the query was read as an exact citation (e.g. 行政处罚法第63条).
    citation: dict[str, object] | None = None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.page_size))


class IDocumentProvider(Interface):
    """Builds search documents of some document types from the database."""

    doc_types = Attribute("Tuple of the doc_type names this provider builds.")
    searched_by_default = Attribute(
        "Optional: the doc types a query without a type filter searches (default: all of doc_types). "
        "Types left out are reached with type=… and shown beside the main results.")

    def documents(session: Session, doc_type: str, doc_ids: Iterable[str] | None = None) -> Iterator[SearchDocument]:
        """Documents of ``doc_type`` for ``doc_ids`` (all of them when None).

        An id whose row no longer exists, or is no longer public, is simply not yielded:
        the projection then deletes it from the index.
        """

    def count(session: Session, doc_type: str) -> int:
        """How many documents a full rebuild will yield (for progress display)."""

    # Optional:
    # def changed_by_date(session: Session, doc_type: str, after: dt.date, through: dt.date) -> Iterable[str]:
    #     """Ids of documents that differ only because days passed: built on ``after`` they are
    #     not what they would be on ``through`` (a new text took effect, a law was repealed).
    #     The projection re-reads them once a day."""


class ISearchService(Interface):
    """The full-text index. Implementations: Whoosh (portal.search.whoosh_index)."""

    default_doc_types = Attribute("Set of doc types searched when a query names none (empty: all).")

    def search(query: SearchQuery) -> SearchResults:
        """Run a query. Never raises for odd user input; an empty query returns no hits."""

    def index(documents: Iterable[SearchDocument]) -> int:
        """Add or replace documents by key; returns how many were written."""

    def delete(keys: Iterable[str]) -> int:
        """Remove documents by key (``doc_type:doc_id``)."""

    def rebuild(documents: Iterable[SearchDocument], progress: Callable[[int], None] | None = None) -> int:
        """Replace the whole index with ``documents`` (written aside and swapped in)."""

    def health() -> dict[str, object]:
        """Readiness: {"ok": bool, "documents": int, ...}; never raises."""
