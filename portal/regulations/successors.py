"""Which article of the text in force replaced an article of a repealed one.

When a code (法典) repeals the laws it consolidates, their articles live on, reworded, in the code:
《噪声污染防治法》第四十三条 became an article of 《生态环境法典》. A reader who lands on the
repealed article, in the search or by a link, must be shown the article that now applies.

The repealing text is known from its closing article (:func:`announced_repeals`); within it, the
successor of an article is the one with the most character bigrams in common (cosine over bigram
sets), when that similarity is at least ``MIN_SIMILARITY``. Reworded successors keep most of the
wording (about 0.6–0.9 on the environmental code); unrelated articles of the same field share
stock phrases only (about 0.2–0.35).

Matching indexes the whole repealing text (2–4 s for the environmental code), so it is done when
repeals are applied (:func:`record_successors`, called by ``apply_repeals`` after every import and
by ``portal init`` / ``load-kb``) and stored in :class:`~portal.regulations.models.ArticleSuccessor`;
pages, the API and the search documents read the stored rows (:func:`stored_successors`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from portal.numerals import article_label
from portal.regulations.models import Article, ArticleSuccessor, Regulation, RegulationVersion

if TYPE_CHECKING:  # versions.py applies repeals and calls record_successors: no import cycle
    from portal.regulations.versions import Repeal

MIN_SIMILARITY = 0.5
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_COMMENCEMENT = re.compile(r"^[^。]{0,40}自[^。]{2,30}起(?:施行|生效)")


@dataclass(frozen=True)
class Successor:
    """The article of the text in force that took over a repealed article."""

    regulation_id: int
    regulation_title: str
    number: int
    suffix: int
    label: str
    similarity: float

    @property
    def citation(self) -> str:
        return f"《{self.regulation_title}》{self.label}"


def _bigrams(text: str) -> frozenset[str]:
    return frozenset(run[i:i + 2] for run in _CJK_RUN.findall(text) for i in range(len(run) - 1))


def _current_articles(session: Session, regulation_id: int) -> list[Article]:
    return list(session.scalars(
        select(Article).join(RegulationVersion, Article.version_id == RegulationVersion.id)
        .where(Article.regulation_id == regulation_id, RegulationVersion.is_current.is_(True))
        .order_by(Article.position)))


class _Matcher:
    """The articles of one repealing text, indexed by bigram for quick best matches."""

    def __init__(self, regulation: Regulation, articles: list[Article]) -> None:
        self.regulation = regulation
        self.articles = articles
        self.sizes = []
        self.postings: dict[str, list[int]] = defaultdict(list)
        for index, article in enumerate(articles):
            grams = _bigrams(article.text)
            self.sizes.append(len(grams))
            for gram in grams:
                self.postings[gram].append(index)

    def best(self, text: str) -> Successor | None:
        grams = _bigrams(text)
        if len(grams) < 4 or _COMMENCEMENT.search(text):
            # "（删除）" has nothing to carry over; a commencement clause ("本法自…起施行") is
            # about the old text itself, whatever clause of the new one looks like it.
            return None
        shared: dict[int, int] = defaultdict(int)
        for gram in grams:
            for index in self.postings.get(gram, ()):
                shared[index] += 1
        if not shared:
            return None
        index, similarity = max(((i, n / math.sqrt(len(grams) * self.sizes[i])) for i, n in shared.items()),
                                key=lambda pair: (pair[1], -pair[0]))
        if similarity < MIN_SIMILARITY:
            return None
        article = self.articles[index]
        return Successor(self.regulation.id, self.regulation.title, article.number, article.suffix,
                         article.standard_label, round(similarity, 3))


def _matched(session: Session, repeals: Iterable[Repeal]
             ) -> Iterator[tuple[Regulation, Regulation, list[Article], dict[tuple[int, int], Successor]]]:
    """(repealed, repealing, repealed's current articles, mapping) for each repeal, the repealing
    text indexed once for all the texts it repealed."""
    by_repealing: dict[int, list[Regulation]] = defaultdict(list)
    repealing: dict[int, Regulation] = {}
    for repeal in repeals:
        by_repealing[repeal.by.id].append(repeal.repealed)
        repealing[repeal.by.id] = repeal.by
    for by_id, repealed in by_repealing.items():
        matcher = _Matcher(repealing[by_id], _current_articles(session, by_id))
        for regulation in repealed:
            articles = _current_articles(session, regulation.id)
            mapping = {}
            for article in articles:
                successor = matcher.best(article.text)
                if successor is not None:
                    mapping[(article.number, article.suffix)] = successor
            yield regulation, repealing[by_id], articles, mapping


def successors(session: Session, repealed_ids: Iterable[int] | None = None
               ) -> dict[int, dict[tuple[int, int], Successor]]:
    """repealed regulation id → {(article number, suffix) → its successor}, for the repealed
    texts among ``repealed_ids`` (all when None) whose repealing text is in the library,
    matched now (seconds per repealing code: readers use :func:`stored_successors`)."""
    from portal.regulations.versions import announced_repeals

    wanted = None if repealed_ids is None else set(repealed_ids)
    repeals = _latest(r for r in announced_repeals(session) if wanted is None or r.repealed.id in wanted)
    return {regulation.id: mapping for regulation, _, _, mapping in _matched(session, repeals.values())}


def _latest(repeals: Iterable[Repeal]) -> dict[int, Repeal]:
    """repealed regulation id → its repeal; a text that two texts repeal takes the successors of
    the last one announced."""
    latest: dict[int, Repeal] = {}
    for repeal in repeals:
        latest[repeal.repealed.id] = repeal
    return latest


def _current_version_ids(session: Session, regulation_ids: Iterable[int]) -> dict[int, int]:
    return dict(session.execute(
        select(RegulationVersion.regulation_id, RegulationVersion.id)
        .where(RegulationVersion.regulation_id.in_(sorted(set(regulation_ids))),
               RegulationVersion.is_current.is_(True))
        .order_by(RegulationVersion.version_no)).all())


def record_successors(session: Session, repeals: Iterable[Repeal]) -> set[int]:
    """Bring the stored successors up to date with ``repeals`` (every repeal the library's texts
    announce: :func:`~portal.regulations.versions.announced_repeals`); returns the ids of the
    repealed texts whose rows were written or dropped.

    Only a repeal not yet matched against the current texts of both sides is matched again
    (a new repeal, a new text of the repealing code or of the repealed law): re-importing an
    unchanged library costs two queries. Rows of a text no longer repealed by anything go.
    Rows are changed through the ORM so the search projection re-reads the repealed articles."""
    wanted = _latest(repeals)
    stored: dict[int, set[tuple[int, int]]] = defaultdict(set)
    for regulation_id, repealed_version, repealing_version in session.execute(
            select(ArticleSuccessor.regulation_id, ArticleSuccessor.repealed_version_id,
                   ArticleSuccessor.repealing_version_id).distinct()):
        stored[regulation_id].add((repealed_version, repealing_version))
    current = _current_version_ids(
        session, [*wanted, *(repeal.by.id for repeal in wanted.values())]) if wanted else {}
    stale = [repeal for regulation_id, repeal in wanted.items()
             if stored.get(regulation_id) != {(current.get(regulation_id), current.get(repeal.by.id))}]
    changed = set(stored) - set(wanted)
    for regulation_id in sorted(changed):
        for row in session.scalars(select(ArticleSuccessor).where(ArticleSuccessor.regulation_id == regulation_id)):
            session.delete(row)
    for regulation, by, articles, mapping in _matched(session, stale):
        changed.add(regulation.id)
        rows = {(row.number, row.suffix): row for row in session.scalars(
            select(ArticleSuccessor).where(ArticleSuccessor.regulation_id == regulation.id))}
        repealing_version_id = current[by.id]
        for article in articles:
            successor = mapping.get((article.number, article.suffix))
            values = {
                "repealed_version_id": article.version_id,
                "repealing_version_id": repealing_version_id,
                "successor_regulation_id": successor.regulation_id if successor else None,
                "successor_number": successor.number if successor else None,
                "successor_suffix": successor.suffix if successor else None,
                "similarity": successor.similarity if successor else None,
            }
            existing = rows.pop((article.number, article.suffix), None)
            if existing is None:
                session.add(ArticleSuccessor(regulation_id=regulation.id, number=article.number,
                                             suffix=article.suffix, **values))
                continue
            for name, value in values.items():
                # Only real changes: an assignment marks the row dirty and its article re-indexed.
                if getattr(existing, name) != value:
                    setattr(existing, name, value)
        for dropped in rows.values():  # articles the repealed text's new version dropped
            session.delete(dropped)
    if changed:
        session.flush()
    return changed


def _stored(row: ArticleSuccessor, title: str) -> Successor:
    assert row.successor_regulation_id is not None and row.successor_number is not None
    suffix = row.successor_suffix or 0
    return Successor(row.successor_regulation_id, title, row.successor_number, suffix,
                     article_label(row.successor_number, suffix), row.similarity or 0.0)


def _stored_query() -> Select[ArticleSuccessor, str]:
    return (select(ArticleSuccessor, Regulation.title)
            .join(Regulation, Regulation.id == ArticleSuccessor.successor_regulation_id))


def stored_successors(session: Session, repealed_ids: Iterable[int]
                      ) -> dict[int, dict[tuple[int, int], Successor]]:
    """What :func:`successors` found when repeals were last applied, read from the stored rows:
    repealed regulation id → {(article number, suffix) → its successor}."""
    found: dict[int, dict[tuple[int, int], Successor]] = {}
    ids = sorted(set(repealed_ids))
    for start in range(0, len(ids), 500):
        stmt = _stored_query().where(ArticleSuccessor.regulation_id.in_(ids[start:start + 500]))
        for row, title in session.execute(stmt):
            found.setdefault(row.regulation_id, {})[(row.number, row.suffix)] = _stored(row, title)
    return found


def stored_successor(session: Session, regulation_id: int, number: int, suffix: int = 0) -> Successor | None:
    """The stored successor of one article (None when it has none, or its text is not repealed)."""
    found = session.execute(_stored_query().where(
        ArticleSuccessor.regulation_id == regulation_id, ArticleSuccessor.number == number,
        ArticleSuccessor.suffix == suffix)).first()
    return None if found is None else _stored(*found)


@dataclass(frozen=True)
class Replacement:
    """What a reader of a repealed article is told: when its text was repealed, and the article
    that now applies (None when no article of the repealing text is close enough, or the
    repealing text is not in the library)."""

    repealed_on: dt.date | None
    successor: Successor | None
