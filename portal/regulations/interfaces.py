"""Contracts of the regulations library.

Views, the CLI and other domains (the catalogue checks its legal basis here) use
these interfaces through ``request.find_service(...)``; the SQL lives behind them.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from zope.interface import Interface

if TYPE_CHECKING:
    from portal.regulations.citations import Citation
    from portal.regulations.lawpack import LawPackRegulation
    from portal.regulations.models import Article, Regulation, RegulationVersion
    from portal.regulations.parsing import ParsedRegulation
    from portal.regulations.services import ArticleLookupResult, RegulationPage
    from portal.regulations.successors import Replacement
    from portal.regulations.versions import ImportMetadata, ImportOutcome, SubmittedImport


class IRegulationService(Interface):
    """Reading regulations, their versions and articles."""

    def browse(level: str | None = None, status: str | None = None, region: str | None = None,
               authority: str | None = None, q: str | None = None, at: dt.date | None = None,
               page: int = 1, page_size: int = 50) -> RegulationPage:
        """A page of regulations matching the filters (``RegulationPage``), with facet counts.

        ``region`` matches the region and everything below it (浙江省 finds 浙江省杭州市);
        ``at`` keeps regulations in force on that date.
        """

    def get(regulation_id: int) -> Regulation:
        """The regulation; raises ``NotFound``."""

    def by_title(title: str) -> Regulation | None:
        """The regulation with this full or short title (《》 optional), or None."""

    def version_on(regulation: Regulation, on: dt.date | None = None) -> RegulationVersion | None:
        """The version in force on ``on`` (default: today), else the latest one when ``on`` is
        None; None when no text is known for that date."""

    def source_files(source: str = "corpus") -> dict[str, int]:
        """``{file name: regulation id}`` of regulations imported from files of that source
        (the corpus folder); the search evaluation maps judged files to hits with it."""

    def article(regulation_id: int, number: int, suffix: int = 0,
                on: dt.date | None = None) -> tuple[Regulation, RegulationVersion, Article]:
        """``(regulation, version, article)`` of an article; raises ``NotFound``."""

    def replacement(regulation: Regulation, article: Article, on: dt.date | None = None) -> Replacement | None:
        """For an article of a text repealed on ``on`` (default: today), a ``Replacement``: the
        repeal date and the article of the repealing text that now applies (None when none was
        identified); None while the text is not repealed."""


class IArticleLookup(Interface):
    """Legal-basis checks for other domains: does this provision exist, and is it in force?"""

    def lookup(title: str, article: int | str, on: dt.date | None = None,
               paragraph: int | None = None) -> ArticleLookupResult:
        """Look up ``title`` (full or short) and ``article`` (23, "23-1", "第二十三条之一") on a date.

        Returns an ``ArticleLookupResult``: the regulation, version and article when found,
        whether it is in force on ``on`` and, if not, why (for a repealed one, the article that
        replaced it, when known); never raises for a missing one.
        """

    def resolve(citation: Citation | str, on: dt.date | None = None) -> ArticleLookupResult:
        """The same for a citation string (《城市道路管理条例》第二十三条第一款) or ``Citation``."""


class IRegulationImporter(Interface):
    """Storing parsed texts and the law pack as regulations and versions."""

    def import_text(parsed: ParsedRegulation, metadata: ImportMetadata | None = None, source: str = "file",
                    source_ref: str | None = None) -> ImportOutcome:
        """Store one parsed text: a new regulation, a new version of an existing one when its
        text changed, or nothing when it is unchanged. Returns an ``ImportOutcome``."""

    def import_submitted(text: str, name: str, options: ImportMetadata | None = None,
                         dry_run: bool = False) -> SubmittedImport:
        """Store one text an editor pasted or uploaded (``options``: an ``ImportMetadata``);
        ``dry_run`` only reports what would happen. Returns a ``SubmittedImport``; a malformed
        text raises ``InvalidInput`` naming the line, and nothing is stored."""

    def import_lawpack_regulation(pack: LawPackRegulation) -> list[ImportOutcome]:
        """Store one law of the national-law pack with all its versions."""
