"""Which article of the text in force replaced an article of a repealed one.

When a code (法典) repeals the laws it consolidates, their articles live on, reworded, in the code:
《噪声污染防治法》第四十三条 became an article of 《生态环境法典》. A reader who lands on the
repealed article, in the search or by a link, must be shown the article that now applies.

The repealing text is known from its closing article (:func:`announced_repeals`); within it, the
successor of an article is the one with the most character bigrams in common (cosine over bigram
sets), when that similarity is at least ``MIN_SIMILARITY``. Reworded successors keep most of the
wording (about 0.6–0.9 on the environmental code); unrelated articles of the same field share
stock phrases only (about 0.2–0.35).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.regulations.models import Article, Regulation, RegulationVersion
from portal.regulations.versions import announced_repeals

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


def successors(session: Session, repealed_ids: Iterable[int] | None = None
               ) -> dict[int, dict[tuple[int, int], Successor]]:
    """repealed regulation id → {(article number, suffix) → its successor}, for the repealed
    texts among ``repealed_ids`` (all when None) whose repealing text is in the library."""
    wanted = None if repealed_ids is None else set(repealed_ids)
    by_repealing: dict[int, list[Regulation]] = defaultdict(list)
    repealing: dict[int, Regulation] = {}
    for repeal in announced_repeals(session):
        if wanted is not None and repeal.repealed.id not in wanted:
            continue
        by_repealing[repeal.by.id].append(repeal.repealed)
        repealing[repeal.by.id] = repeal.by
    found: dict[int, dict[tuple[int, int], Successor]] = {}
    for by_id, repealed in by_repealing.items():
        matcher = _Matcher(repealing[by_id], _current_articles(session, by_id))
        for regulation in repealed:
            mapping = {}
            for article in _current_articles(session, regulation.id):
                successor = matcher.best(article.text)
                if successor is not None:
                    mapping[(article.number, article.suffix)] = successor
            found[regulation.id] = mapping
    return found
