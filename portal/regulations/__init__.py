"""Regulations library: statutes (法规), their versions and articles (条/款/项).

Parsing of statute texts, the sidecar manifest and the national-law pack live in
:mod:`~portal.regulations.parsing`, :mod:`~portal.regulations.manifest` and
:mod:`~portal.regulations.lawpack` and need no database; :mod:`~portal.regulations.services`
reads, checks and imports; the pages and the JSON API are in :mod:`~portal.regulations.views`.
"""

from __future__ import annotations

from typing import Any


def includeme(config: Any) -> None:
    """Routes, services, search documents and the knowledge-base loader of the library."""
    from portal.regulations.documents import (
        RegulationDocumentProvider,
        keys_of_article,
        keys_of_regulation,
        keys_of_successor,
        keys_of_version,
    )
    from portal.regulations.importing import load_regulation_sources
    from portal.regulations.interfaces import IArticleLookup, IRegulationImporter, IRegulationService
    from portal.regulations.models import Article, ArticleSuccessor, Regulation, RegulationVersion
    from portal.regulations.services import article_lookup_factory, regulation_service_factory
    from portal.regulations.versions import regulation_importer_factory

    config.add_route("regulations.index", "/regulations")
    config.add_route("regulations.import", "/regulations/import")
    config.add_route("regulations.detail", r"/regulations/{id:\d+}")
    config.add_route("regulations.article", r"/regulations/{id:\d+}/articles/{n}")
    config.add_route("regulations.api.list", "/api/v1/regulations")
    config.add_route("regulations.api.lookup", "/api/v1/regulations/lookup")
    config.add_route("regulations.api.detail", r"/api/v1/regulations/{id:\d+}")
    config.add_route("regulations.api.article", r"/api/v1/regulations/{id:\d+}/articles/{n}")

    config.register_service_factory(regulation_service_factory, IRegulationService)
    config.register_service_factory(article_lookup_factory, IArticleLookup)
    config.register_service_factory(regulation_importer_factory, IRegulationImporter)
    config.include("portal.regulations.opendata")

    config.add_search_provider(RegulationDocumentProvider())
    config.add_search_source(Regulation, keys_of_regulation)
    config.add_search_source(RegulationVersion, keys_of_version)
    config.add_search_source(Article, keys_of_article)
    config.add_search_source(ArticleSuccessor, keys_of_successor)

    # Early: the catalogue's legal basis cites these regulations.
    config.add_kb_loader("regulations", load_regulation_sources, order=10)
    config.add_portal_section("regulations.index", "法规库",
                              "法律、行政法规和地方性法规全文，逐条链接，可查任一日期有效的文本。", order=20)
