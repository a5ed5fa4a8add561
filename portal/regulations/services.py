"""Services of the regulations library: reading and legal-basis look-ups. Storing texts (imports,
versions, repeals) lives in ``versions.py``."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session
from zope.interface import implementer

from portal import clock
from portal.errors import InvalidInput, NotFound
from portal.numerals import parse_article_label, parse_chinese_number
from portal.regulations.citations import NATIONAL_PREFIX, Citation, parse_citation, short_title
from portal.regulations.interfaces import IArticleLookup, IRegulationService
from portal.regulations.metadata import (
    LEVELS,
    NATIONAL,
    STATUSES,
    Status,
)
from portal.regulations.models import Article, Regulation, RegulationVersion
from portal.regulations.successors import Replacement, Successor, stored_successor

__all__ = [
    "ArticleLookupResult",
    "ArticleLookupService",
    "RegulationPage",
    "RegulationService",
    "parse_article_ref",
]



# --------------------------------------------------------------------------- helpers

_ARTICLE_REF = re.compile(r"^\s*(?P<number>\d+)\s*(?:[-_.]|之)\s*(?P<suffix>\d+)\s*$")


def parse_article_ref(value: Any) -> tuple[int, int]:
    """Read an article reference: 23, "23", "23-1", "23之1", "第二十三条之一", "二十三".

    Raises ``ValueError`` when it is none of those.
    """
    if isinstance(value, bool):
        raise ValueError(f"not an article number: {value!r}")  # ValueError, as for any junk
    if isinstance(value, int):
        number, suffix = value, 0
    else:
        text = str(value or "").strip()
        match = _ARTICLE_REF.match(text)
        if match:
            number, suffix = int(match.group("number")), int(match.group("suffix"))
        elif text.startswith("第"):
            number, suffix = parse_article_label(text)
        else:
            parts = re.split(r"之", text.removesuffix("条"), maxsplit=1)
            number = parse_chinese_number(parts[0])
            suffix = parse_chinese_number(parts[1]) if len(parts) > 1 else 0
    if number < 1 or suffix < 0:
        raise ValueError(f"not an article number: {value!r}")
    return number, suffix


def title_key(title: str) -> str:
    return re.sub(r"[\s\u3000《》〈〉]", "", title or "")


@dataclass(frozen=True)
class RegulationPage:
    items: list[Regulation]
    total: int
    page: int
    page_size: int
    #: facet → [(value, count)], values in their natural order.
    facets: dict[str, list[tuple[str, int]]]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


# ------------------------------------------------------------------------- reading


@implementer(IRegulationService)
class RegulationService:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- filters ---------------------------------------------------------------------
    @staticmethod
    def _in_force_on(on: dt.date) -> Any:
        return and_(
            or_(Regulation.effective_date.is_(None), Regulation.effective_date <= on),
            or_(
                Regulation.repealed_date > on,
                and_(Regulation.repealed_date.is_(None), Regulation.status != Status.REPEALED.value),
            ),
        )

    @staticmethod
    def status_on(on: dt.date) -> Any:
        """SQL for the status on a date; mirrors :func:`~portal.regulations.metadata.effective_status`."""
        repealed, not_yet = Status.REPEALED.value, Status.NOT_YET_EFFECTIVE.value
        return case(
            (and_(Regulation.repealed_date.is_not(None), Regulation.repealed_date <= on), repealed),
            (and_(Regulation.effective_date.is_not(None), Regulation.effective_date > on), not_yet),
            (and_(Regulation.status == repealed, Regulation.repealed_date.is_(None)), repealed),
            (and_(Regulation.status == not_yet, Regulation.effective_date.is_(None)), not_yet),
            (Regulation.status == Status.AMENDED.value, Status.AMENDED.value),
            else_=Status.IN_FORCE.value,
        )

    def _conditions(self, *, level: str | None = None, status: str | None = None, region: str | None = None,
                    authority: str | None = None, q: str | None = None, at: dt.date | None = None,
                    skip: str | None = None) -> list[Any]:
        conditions: list[Any] = []
        if level and skip != "level":
            conditions.append(Regulation.level == level)
        if status and skip != "status":
            # The status on the date asked (today by default), not the one declared at import:
            # a law becomes effective, or is repealed, without anyone touching its row.
            conditions.append(self.status_on(at or clock.today()) == status)
        if region and skip != "region":
            conditions.append(Regulation.region.startswith(region, autoescape=True))
        if authority and skip != "authority":
            conditions.append(Regulation.issuing_authority == authority)
        if q:
            text = q.strip()
            conditions.append(or_(Regulation.title.contains(text, autoescape=True),
                                  Regulation.short_title.contains(text, autoescape=True)))
        if at:
            conditions.append(self._in_force_on(at))
        return conditions

    def browse(self, level: str | None = None, status: str | None = None, region: str | None = None,
               authority: str | None = None, q: str | None = None, at: dt.date | None = None,
               page: int = 1, page_size: int = 50) -> RegulationPage:
        filters: dict[str, Any] = {"level": level, "status": status, "region": region, "authority": authority,
                                   "q": q, "at": at}
        conditions = self._conditions(**filters)
        total = self.session.scalar(select(func.count(Regulation.id)).where(*conditions)) or 0
        level_order = {name: index for index, name in enumerate(LEVELS)}
        rows = list(self.session.scalars(select(Regulation).where(*conditions)))
        # Level by authority, then national before local, then newest first: small enough to
        # order in Python, and the level order is not alphabetical in any collation.
        rows.sort(key=lambda r: (
            level_order.get(r.level or "", len(LEVELS)),
            r.region != NATIONAL,
            r.region or "",
            -(r.amended_date or r.promulgation_date or dt.date.min).toordinal(),
            r.title,
        ))
        start = (max(page, 1) - 1) * page_size
        return RegulationPage(rows[start:start + page_size], total, page, page_size, self.facets(**filters))

    def facets(self, **filters: Any) -> dict[str, list[tuple[str, int]]]:
        """Counts per level, status and region; each facet ignores its own filter."""
        out: dict[str, list[tuple[str, int]]] = {}
        for name, column, order in (
            ("level", Regulation.level, LEVELS),
            ("status", self.status_on(filters.get("at") or clock.today()), STATUSES),
            ("region", Regulation.region, ()),
        ):
            conditions = self._conditions(**filters, skip=name)
            rows = self.session.execute(
                select(column, func.count(Regulation.id)).where(*conditions).group_by(column)
            ).all()
            counts = [(value, count) for value, count in rows if value]
            rank = {value: index for index, value in enumerate(order)}
            if name == "region":
                counts.sort(key=lambda vc: (vc[0] != NATIONAL, -vc[1], vc[0]))
            else:
                counts.sort(key=lambda vc: (rank.get(vc[0], len(rank)), vc[0]))
            out[name] = counts
        return out

    # -- single items ----------------------------------------------------------------
    def get(self, regulation_id: int) -> Regulation:
        regulation = self.session.get(Regulation, regulation_id)
        if regulation is None:
            raise NotFound(f"法规 {regulation_id} 不存在。")
        return regulation

    def by_title(self, title: str) -> Regulation | None:
        key = title_key(title)
        # An edition note is not part of the title: 城市道路管理条例（2019年修订）.
        key = re.sub(r"[（(][^（）()]*\d{4}[^（）()]*[）)]$", "", key)
        if not key:
            return None
        candidates = {key, short_title(key)}
        if not key.startswith(NATIONAL_PREFIX):
            candidates.add(NATIONAL_PREFIX + key)
        found = list(self.session.scalars(
            select(Regulation).where(or_(Regulation.title.in_(candidates), Regulation.short_title.in_(candidates)))
        ))
        if not found:
            return None
        # An exact title beats a short-title match.
        found.sort(key=lambda r: (r.title != key, r.title))
        return found[0]

    def source_files(self, source: str = "corpus") -> dict[str, int]:
        """File name → regulation id of the regulations a folder import described last.

        The search evaluation maps judged ``<law-file>#<article>`` items to hits with it.
        """
        rows = self.session.execute(
            select(Regulation.source_ref, Regulation.id).where(Regulation.source == source,
                                                               Regulation.source_ref.is_not(None))
        )
        return {ref: regulation_id for ref, regulation_id in rows if ref is not None}

    def version_on(self, regulation: Regulation, on: dt.date | None = None) -> RegulationVersion | None:
        base = select(RegulationVersion).where(RegulationVersion.regulation_id == regulation.id)
        when = on or clock.today()
        version = self.session.scalars(
            base.where(
                or_(RegulationVersion.valid_from.is_(None), RegulationVersion.valid_from <= when),
                or_(RegulationVersion.valid_to.is_(None), RegulationVersion.valid_to > when),
            ).order_by(RegulationVersion.valid_from.desc(), RegulationVersion.version_no.desc())
        ).first()
        if version is None and on is None:
            # Nothing in force yet (a law not yet effective): show its newest text.
            version = self.session.scalars(base.order_by(RegulationVersion.version_no.desc())).first()
        return version

    def earliest_version(self, regulation: Regulation) -> RegulationVersion | None:
        return self.session.scalars(
            select(RegulationVersion)
            .where(RegulationVersion.regulation_id == regulation.id)
            .order_by(RegulationVersion.valid_from, RegulationVersion.version_no)
        ).first()

    def versions(self, regulation: Regulation) -> list[RegulationVersion]:
        return list(self.session.scalars(
            select(RegulationVersion)
            .where(RegulationVersion.regulation_id == regulation.id)
            .order_by(RegulationVersion.valid_from, RegulationVersion.version_no)
        ))

    def articles(self, version: RegulationVersion) -> list[Article]:
        return list(self.session.scalars(
            select(Article).where(Article.version_id == version.id).order_by(Article.position)
        ))

    def article(self, regulation_id: int, number: int, suffix: int = 0,
                on: dt.date | None = None) -> tuple[Regulation, RegulationVersion, Article]:
        regulation = self.get(regulation_id)
        version = self.version_on(regulation, on)
        if version is None:
            raise NotFound(f"《{regulation.title}》在 {on} 没有可用文本。")
        found = self.session.scalars(
            select(Article).where(Article.version_id == version.id, Article.number == number,
                                  Article.suffix == suffix)
        ).first()
        if found is None:
            from portal.numerals import article_label

            raise NotFound(f"《{regulation.title}》没有{article_label(number, suffix)}。")
        return regulation, version, found

    def replacement(self, regulation: Regulation, article: Article, on: dt.date | None = None) -> Replacement | None:
        """When ``regulation`` is repealed on ``on`` (default: today): its repeal date and the
        article of the repealing text that took ``article`` over, if one was identified;
        None while it is not repealed."""
        if regulation.status_on(on or clock.today()) != Status.REPEALED.value:
            return None
        return Replacement(regulation.repealed_date,
                           stored_successor(self.session, regulation.id, article.number, article.suffix))

    def neighbours(self, article: Article) -> tuple[Article | None, Article | None]:
        """The articles before and after ``article`` in its version."""
        previous = self.session.scalars(
            select(Article).where(Article.version_id == article.version_id, Article.position < article.position)
            .order_by(Article.position.desc())
        ).first()
        following = self.session.scalars(
            select(Article).where(Article.version_id == article.version_id, Article.position > article.position)
            .order_by(Article.position)
        ).first()
        return previous, following


def regulation_service_factory(context: Any, request: Any) -> RegulationService:
    return RegulationService(request.dbsession)


# ------------------------------------------------------------------ legal-basis check


@dataclass(frozen=True)
class ArticleLookupResult:
    """The answer to "does 《title》 article n exist, and is it in force on this date?"."""

    title: str
    number: int
    suffix: int
    on: dt.date
    regulation: Regulation | None = None
    version: RegulationVersion | None = None
    article: Article | None = None
    #: The regulation's status on ``on``, or None when it is unknown to the portal.
    status: str | None = None
    in_force: bool = False
    #: Why not in force: regulation_not_found | no_text_for_date | article_not_found |
    #: repealed | not_yet_effective; None when in force.
    reason: str | None = None
    #: The date from which a later text changes or drops this article, if one does.
    changed_on: dt.date | None = None
    #: True when no text is known for ``on`` and the earliest known text stood in.
    approximate: bool = False
    paragraph: int | None = None
    #: For a repealed article: the article of the repealing text that now applies, if identified.
    replaced_by: Successor | None = None

    @property
    def citation(self) -> Citation:
        title = self.regulation.title if self.regulation else self.title
        return Citation(title, self.number, self.suffix, self.paragraph)

    def render(self) -> str:
        return self.citation.render()

    @property
    def paragraph_text(self) -> str | None:
        if self.article is None or not self.paragraph:
            return None
        paragraphs = self.article.paragraphs
        return paragraphs[self.paragraph - 1] if self.paragraph <= len(paragraphs) else None


@implementer(IArticleLookup)
class ArticleLookupService:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.regulations = RegulationService(session)

    def lookup(self, title: str, article: Any, on: dt.date | None = None,
               paragraph: int | None = None) -> ArticleLookupResult:
        number, suffix = parse_article_ref(article)
        when = on or clock.today()
        result = ArticleLookupResult(title=title, number=number, suffix=suffix, on=when, paragraph=paragraph)
        regulation = self.regulations.by_title(title)
        if regulation is None:
            return replace(result, reason="regulation_not_found")
        status = regulation.status_on(when)
        result = replace(result, regulation=regulation, status=status)
        version = self.regulations.version_on(regulation, when)
        approximate = False
        if version is None:
            version = self.regulations.earliest_version(regulation)
            approximate = version is not None and (version.valid_from or when) > when
            if version is None or not approximate:
                return replace(result, reason="no_text_for_date")
        found = self.session.scalars(
            select(Article).where(Article.version_id == version.id, Article.number == number,
                                  Article.suffix == suffix)
        ).first()
        result = replace(result, version=version, article=found, approximate=approximate,
                         changed_on=self._changed_on(regulation, version, found, number, suffix))
        if found is None:
            return replace(result, reason="article_not_found")
        if paragraph and paragraph > len(found.paragraphs):
            return replace(result, reason="article_not_found")
        if status == Status.REPEALED.value:
            replacement = self.regulations.replacement(regulation, found, when)
            return replace(result, reason="repealed", replaced_by=replacement.successor if replacement else None)
        if status == Status.NOT_YET_EFFECTIVE.value:
            return replace(result, reason="not_yet_effective")
        return replace(result, in_force=True)

    def _changed_on(self, regulation: Regulation, version: RegulationVersion, article: Article | None,
                    number: int, suffix: int) -> dt.date | None:
        """The start of the first later version whose text of this article differs."""
        later = self.session.scalars(
            select(RegulationVersion)
            .where(RegulationVersion.regulation_id == regulation.id,
                   RegulationVersion.valid_from > (version.valid_from or dt.date.min))
            .order_by(RegulationVersion.valid_from)
        ).all()
        for candidate in later:
            other = self.session.scalars(
                select(Article).where(Article.version_id == candidate.id, Article.number == number,
                                      Article.suffix == suffix)
            ).first()
            if article is None or other is None or (other.paragraphs, other.items) != (
                article.paragraphs, article.items
            ):
                return candidate.valid_from
        return None

    def resolve(self, citation: Citation | str, on: dt.date | None = None) -> ArticleLookupResult:
        parsed = parse_citation(citation) if isinstance(citation, str) else citation
        if parsed is None:
            raise InvalidInput(f"无法识别的引用：{citation}", fields={"citation": ["格式如《城市道路管理条例》第二十三条"]})
        return self.lookup(parsed.regulation_title, (parsed.article_number, parsed.article_suffix)
                           if parsed.article_suffix else parsed.article_number, on, parsed.paragraph)


def article_lookup_factory(context: Any, request: Any) -> ArticleLookupService:
    return ArticleLookupService(request.dbsession)
