"""Search documents of the regulations library: one per regulation, one per article.

The index holds, for each regulation, the text in force today (or, for a law not yet
effective, its newest text) under keys made of regulation and article number (``12-23``,
``12-23-1``), not rows, so a new version replaces the old text's documents and an article the new
text drops is deleted.  The articles of every other version are indexed too, keyed by version
(``12-23@1``) and marked historical: a search for a past date finds the text in force that day,
and a search without a date never sees them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session
from zope.interface import implementer

from portal import clock
from portal.numerals import article_slug
from portal.regulations.metadata import Status
from portal.regulations.models import Article, ArticleSuccessor, Regulation, RegulationVersion
from portal.regulations.successors import Successor, stored_successors
from portal.search.interfaces import IDocumentProvider, SearchDocument

REGULATION = "regulation"
ARTICLE = "article"
_CHUNK = 500
# The status in the index is the one on the day the document was (re)built; the "in force on
# date" filter uses valid_from / valid_to, which never go stale.


def article_doc_id(regulation_id: int, number: int, suffix: int, version_no: int | None = None) -> str:
    """``12-23`` (text in force), ``12-23-1`` (第二十三条之一), ``12-23@1`` (an older text's)."""
    doc_id = f"{regulation_id}-{number}-{suffix}" if suffix else f"{regulation_id}-{number}"
    return doc_id if version_no is None else f"{doc_id}@{version_no}"


def _parse_article_doc_id(doc_id: str) -> tuple[int, int, int, int | None] | None:
    base, _, version = doc_id.partition("@")
    try:
        numbers = [int(part) for part in base.split("-")]
        version_no = int(version) if version else None
    except ValueError:
        return None
    if len(numbers) == 2:
        return numbers[0], numbers[1], 0, version_no
    if len(numbers) == 3:
        return numbers[0], numbers[1], numbers[2], version_no
    return None


def regulation_path(regulation_id: int) -> str:
    return f"/regulations/{regulation_id}"


def article_path(regulation_id: int, number: int, suffix: int) -> str:
    return f"/regulations/{regulation_id}/articles/{article_slug(number, suffix)}"


def _chunks(values: list[Any], size: int = _CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


@implementer(IDocumentProvider)
class RegulationDocumentProvider:
    """Builds the ``regulation`` and ``article`` documents from the database."""

    doc_types = (REGULATION, ARTICLE)
    searched_by_default = doc_types

    def __init__(self, today: Any = clock.today) -> None:
        self._today = today

    # -- which text is indexed -----------------------------------------------------------
    def _indexed_versions(self, session: Session, regulation_ids: Iterable[int] | None) -> dict[int, int]:
        """regulation id → id of the version to index (in force today, else the newest)."""
        stmt = select(RegulationVersion.id, RegulationVersion.regulation_id, RegulationVersion.valid_from,
                      RegulationVersion.valid_to, RegulationVersion.version_no)
        rows: list[Any] = []
        if regulation_ids is None:
            rows = list(session.execute(stmt))
        else:
            for chunk in _chunks(sorted(set(regulation_ids))):
                rows.extend(session.execute(stmt.where(RegulationVersion.regulation_id.in_(chunk))))
        today = self._today()
        chosen: dict[int, tuple[tuple[int, Any, int], int]] = {}
        for row in rows:
            in_force = (row.valid_from is None or row.valid_from <= today) and (
                row.valid_to is None or today < row.valid_to)
            rank = (1 if in_force else 0, row.valid_from or dt.date.min, row.version_no)
            best = chosen.get(row.regulation_id)
            if best is None or rank > best[0]:
                chosen[row.regulation_id] = (rank, row.id)
        return {regulation_id: version_id for regulation_id, (_, version_id) in chosen.items()}

    def _regulations(self, session: Session, ids: Iterable[int] | None) -> dict[int, Regulation]:
        if ids is None:
            return {r.id: r for r in session.scalars(select(Regulation))}
        found: dict[int, Regulation] = {}
        for chunk in _chunks(sorted(set(ids))):
            found.update((r.id, r) for r in session.scalars(select(Regulation).where(Regulation.id.in_(chunk))))
        return found

    # -- documents -------------------------------------------------------------------------
    def documents(self, session: Session, doc_type: str, doc_ids: Iterable[str] | None = None) -> Iterator[SearchDocument]:
        if doc_type == REGULATION:
            yield from self._regulation_documents(session, doc_ids)
        elif doc_type == ARTICLE:
            yield from self._article_documents(session, doc_ids)

    def count(self, session: Session, doc_type: str) -> int:
        if doc_type == REGULATION:
            return session.scalar(select(func.count(Regulation.id))) or 0
        if doc_type == ARTICLE:  # every version's articles: older texts are indexed for dated searches
            return session.scalar(select(func.count(Article.id))) or 0
        return 0

    def changed_by_date(self, session: Session, doc_type: str, after: dt.date, through: dt.date) -> list[str]:
        """Documents of the regulations for which a day in (after, through] changed something: a
        text took effect or was replaced (which text is today's), the regulation took effect or
        was repealed (its status)."""
        def within(column: Any) -> Any:
            return (column > after) & (column <= through)

        regulation_ids = set(session.scalars(
            select(RegulationVersion.regulation_id).where(within(RegulationVersion.valid_from)
                                                          | within(RegulationVersion.valid_to))))
        regulation_ids.update(session.scalars(
            select(Regulation.id).where(within(Regulation.effective_date) | within(Regulation.repealed_date))))
        if not regulation_ids:
            return []
        if doc_type == REGULATION:
            return [str(regulation_id) for regulation_id in sorted(regulation_ids)]
        return sorted(_article_doc_ids(session.execute, regulation_ids))

    def _regulation_documents(self, session: Session, doc_ids: Iterable[str] | None) -> Iterator[SearchDocument]:
        ids: list[int] | None = None
        if doc_ids is not None:
            ids = [int(doc_id) for doc_id in doc_ids if doc_id.isdigit()]
        regulations = self._regulations(session, ids)
        versions = self._indexed_versions(session, regulations.keys())
        headings: dict[int, list[str]] = defaultdict(list)
        version_ids = list(versions.values())
        for chunk in _chunks(version_ids):
            for version_id, path in session.execute(
                select(Article.version_id, Article.chapter_path).where(Article.version_id.in_(chunk))
                .order_by(Article.version_id, Article.position)
            ):
                for heading in path or []:
                    if heading not in headings[version_id]:
                        headings[version_id].append(heading)
        for regulation in regulations.values():
            indexed_version_id = versions.get(regulation.id)
            body = " ".join(filter(None, [
                regulation.short_title, regulation.document_number, regulation.issuing_authority,
                " ".join(headings.get(indexed_version_id, [])) if indexed_version_id else "",
            ]))
            yield SearchDocument(
                doc_type=REGULATION,
                doc_id=str(regulation.id),
                title=regulation.title,
                body=body,
                url=regulation_path(regulation.id),
                regulation_id=regulation.id,
                regulation_title=regulation.title,
                regulation_short_title=regulation.short_title,
                level=regulation.level,
                status=regulation.status_on(self._today()),
                region=regulation.region,
                authority=regulation.issuing_authority,
                valid_from=regulation.effective_date,
                valid_to=regulation.repealed_date,
                extra=_extra(regulation),
            )

    def _article_documents(self, session: Session, doc_ids: Iterable[str] | None) -> Iterator[SearchDocument]:
        """The articles of the text in force today, plus those of every other version as
        historical documents (``…@version``), which only searches for a past date see."""
        wanted: dict[int, set[tuple[int, int, int | None]]] | None = None
        if doc_ids is not None:
            wanted = defaultdict(set)
            for doc_id in doc_ids:
                parsed = _parse_article_doc_id(doc_id)
                if parsed is not None:
                    wanted[parsed[0]].add(parsed[1:])
            if not wanted:
                return
        regulations = self._regulations(session, None if wanted is None else wanted.keys())
        indexed = self._indexed_versions(session, regulations.keys())
        versions: dict[int, RegulationVersion] = {}
        for chunk in _chunks(sorted(regulations)):
            versions.update((v.id, v) for v in session.scalars(
                select(RegulationVersion).where(RegulationVersion.regulation_id.in_(chunk))))
        first_version: dict[int, int] = {}  # regulation id -> its first version's id
        for version in sorted(versions.values(), key=lambda v: (v.valid_from or dt.date.min, v.version_no)):
            first_version.setdefault(version.regulation_id, version.id)
        today = self._today()
        statuses = {regulation_id: regulation.status_on(today) for regulation_id, regulation in regulations.items()}
        # A repealed text's articles name the articles of the text in force that took them over
        # (matched when the repeal was applied: matching here cost ~11 s of a full rebuild).
        repealed = [regulation_id for regulation_id, status in statuses.items() if status == Status.REPEALED.value]
        replaced = stored_successors(session, repealed) if repealed else {}
        for chunk in _chunks(sorted(versions)):
            stmt = select(Article).where(Article.version_id.in_(chunk)).order_by(Article.version_id, Article.position)
            for article in session.scalars(stmt):
                version = versions[article.version_id]
                regulation = regulations[version.regulation_id]
                historical = indexed.get(regulation.id) != version.id
                key = (article.number, article.suffix, version.version_no if historical else None)
                if wanted is not None and key not in wanted[regulation.id]:
                    continue
                successor = None if historical else replaced.get(regulation.id, {}).get((article.number, article.suffix))
                yield article_document(regulation, article, statuses[regulation.id], version=version,
                                       historical=historical, earliest=first_version[regulation.id] == version.id,
                                       today=today, successor=successor)


def _extra(regulation: Regulation) -> dict[str, str]:
    extra = {}
    if regulation.document_number:
        extra["document_number"] = regulation.document_number
    if regulation.effective_date:
        extra["effective_date"] = regulation.effective_date.isoformat()
    return extra


HISTORICAL = "历史版本"
NOT_YET_EFFECTIVE = "尚未生效"


def article_document(regulation: Regulation, article: Article, status: str | None = None, *,
                     version: RegulationVersion | None = None, historical: bool = False,
                     earliest: bool = True, today: dt.date | None = None,
                     successor: Successor | None = None) -> SearchDocument:
    """``status``: the regulation's status when indexed (default: its declared one).

    With its ``version``, the document is valid while that text was: from the version's start
    (the regulation's own start for its earliest known text, which stands in for any older one)
    to the day before the next text took over.  A ``historical`` text is keyed and linked by its
    version, and carries the status 历史版本 (尚未生效 for an amendment still to take effect)."""
    valid_from, valid_to = regulation.effective_date, regulation.repealed_date
    if historical:
        # Not today's text: an older one, or an amendment that takes effect later.
        later = version is not None and version.valid_from and version.valid_from > (today or clock.today())
        status = NOT_YET_EFFECTIVE if later else HISTORICAL
    if version is not None:
        if not earliest and version.valid_from:
            valid_from = version.valid_from
        if version.valid_to:
            ends = version.valid_to - dt.timedelta(days=1)
            valid_to = min(ends, valid_to) if valid_to else ends
    url = article_path(regulation.id, article.number, article.suffix)
    extra: dict[str, str] = {"suffix": str(article.suffix)} if article.suffix else {}
    if historical and version is not None:
        # Opens the text as it stood then (the day it took effect, or the last day it was in force).
        shown = valid_from or valid_to
        if shown:
            url += f"?at={shown.isoformat()}"
        extra.update(version=str(version.version_no), historical="1")
    if successor is not None:
        extra.update(replaced_by=f"{ARTICLE}:{article_doc_id(successor.regulation_id, successor.number, successor.suffix)}",
                     replaced_by_citation=successor.citation,
                     replaced_by_url=article_path(successor.regulation_id, successor.number, successor.suffix))
    return SearchDocument(
        doc_type=ARTICLE,
        doc_id=article_doc_id(regulation.id, article.number, article.suffix,
                              version.version_no if historical and version is not None else None),
        title=f"{regulation.title} {article.label}",
        body=article.text,
        url=url,
        regulation_id=regulation.id,
        regulation_title=regulation.title,
        regulation_short_title=regulation.short_title,
        article_number=article.number,
        article_label=article.label,
        chapter=" ".join(article.chapter_path) if article.chapter_path else None,
        level=regulation.level,
        status=status or regulation.status,
        region=regulation.region,
        authority=regulation.issuing_authority,
        valid_from=valid_from,
        valid_to=valid_to,
        extra=extra,
    )


# -- which documents a changed row affects (config.add_search_source) --------------------------


def _article_doc_ids(execute: Callable[[Any], Any], regulation_ids: Iterable[int]) -> set[str]:
    """Every article id the regulations may have in the index, today's text's and each
    version's (the provider decides which exist; the others leave the index)."""
    ids: set[str] = set()
    for chunk in _chunks(sorted(set(regulation_ids))):
        for regulation_id, number, suffix, version_no in execute(
            select(Article.regulation_id, Article.number, Article.suffix, RegulationVersion.version_no)
            .join(RegulationVersion, Article.version_id == RegulationVersion.id)
            .where(Article.regulation_id.in_(chunk))
        ):
            ids.add(article_doc_id(regulation_id, number, suffix))
            ids.add(article_doc_id(regulation_id, number, suffix, version_no))
    return ids


def _article_keys_of_regulation(obj: Any, regulation_id: int | None) -> list[tuple[str, str]]:
    """A new text changes which version is in force: all of the regulation's articles are re-read."""
    session = object_session(obj)
    if session is None or regulation_id is None:
        return []
    # A plain connection query: the session is mid-flush and must not autoflush.
    return [(ARTICLE, doc_id) for doc_id in sorted(_article_doc_ids(session.connection().execute, [regulation_id]))]


def keys_of_regulation(regulation: Regulation) -> list[tuple[str, str]]:
    if regulation.id is None:
        return []
    return [(REGULATION, str(regulation.id)), *_article_keys_of_regulation(regulation, regulation.id)]


def keys_of_version(version: RegulationVersion) -> list[tuple[str, str]]:
    if version.regulation_id is None:
        return []
    return [(REGULATION, str(version.regulation_id)), *_article_keys_of_regulation(version, version.regulation_id)]


def keys_of_successor(row: ArticleSuccessor) -> list[tuple[str, str]]:
    """A repealed article's document names its successor: re-read when the match changes."""
    if row.regulation_id is None:
        return []
    return [(ARTICLE, article_doc_id(row.regulation_id, row.number, row.suffix or 0))]


def keys_of_article(article: Article) -> list[tuple[str, str]]:
    if article.regulation_id is None:
        return []
    # The article may be of an older text: both its keys, the provider knows which one exists.
    # (Only a version already loaded: no lazy load in the middle of a flush; a new version's own
    # keys cover all of its regulation's articles anyway.)
    version = article.__dict__.get("version")
    keys = [(ARTICLE, article_doc_id(article.regulation_id, article.number, article.suffix))]
    if version is not None and version.version_no is not None:
        keys.append((ARTICLE, article_doc_id(article.regulation_id, article.number, article.suffix,
                                             version.version_no)))
    return keys
