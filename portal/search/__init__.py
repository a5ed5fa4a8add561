"""Search: one index over every public document type, kept as a projection of the database.

Domains plug in with two directives:

- ``config.add_search_provider(provider)``: an :class:`IDocumentProvider` for some doc types;
- ``config.add_search_source(Model, keys_of)``: rows of ``Model`` affect the documents
  ``keys_of(row)`` returns, so changing them logs a search change.

The Whoosh service is process-wide (its searcher is reused across requests and threads) and is
reached through ``request.find_service(ISearchService)``.
"""

from __future__ import annotations

from typing import Any

from portal.search.interfaces import IDocumentProvider, ISearchService
from portal.search.projection import SearchProjection, add_search_source
from portal.settings import as_bool


def _add_search_provider(config: Any, provider: Any) -> None:
    config.registry["portal.search.projection"].add_provider(provider)
    default = getattr(provider, "searched_by_default", provider.doc_types)
    config.registry.getUtility(ISearchService).default_doc_types.update(default)


def _add_search_source(config: Any, model: type, keys_of: Any) -> None:
    add_search_source(model, keys_of)


def make_search_service(settings: dict[str, Any]) -> Any:
    """The search service with every ``portal.search.*`` setting the README documents applied."""
    from portal.search.whoosh_index import from_settings

    return from_settings(settings)


def includeme(config: Any) -> None:
    settings = config.get_settings()
    service = make_search_service(settings)
    config.registry.registerUtility(service, ISearchService)
    config.register_service(service, ISearchService)
    projection = SearchProjection(
        service,
        config.registry["dbsession_factory"],
        settings["portal.index_dir"],
        poll_seconds=float(settings.get("portal.search.poll_seconds", 2.0)),
    )
    config.registry["portal.search.projection"] = projection
    config.add_directive("add_search_provider", _add_search_provider)
    config.add_directive("add_search_source", _add_search_source)
    config.add_route("search", "/search")
    config.add_route("search.api", "/api/v1/search")
    config.add_portal_section("search", "检索", "一个检索框查法规条文，支持口语问题、同义词和条文引用。", order=20)
    if as_bool(settings.get("portal.search.warm_up", True)):
        # jieba's dictionary (about a second) and the index itself load at start-up, so the first
        # query is as fast as any other.
        service.warm_up()


__all__ = ["IDocumentProvider", "ISearchService", "SearchProjection"]
