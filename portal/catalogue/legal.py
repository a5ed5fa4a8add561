"""Legal basis of duties, resolved through the regulations library.

The catalogue stores citations as text (``《城市道路管理条例》第二十三条``); the library answers
whether the article exists and is in force on a date, and gives its text. A citation the library
cannot resolve (the regulation is not held, e.g. on a machine without ``../shared``) is shown as
**unresolved**, with its title and article number: never an error.

Look-ups are cached per process, keyed by the newest search-change id: every write to searchable
content (regulations included) moves it, so the cache is dropped exactly when the library changes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from typing import Any

from portal.numerals import article_slug
from portal.regulations.citations import Citation, parse_citation
from portal.regulations.documents import article_path

log = logging.getLogger(__name__)

#: status values of a resolved citation
IN_FORCE = "in_force"
UNRESOLVED = "unresolved"  # the library does not hold the regulation (or has no text for the date)
MISSING = "missing"  # the regulation is held but has no such article
REPEALED = "repealed"
NOT_YET_EFFECTIVE = "not_yet_effective"
INVALID = "invalid"  # not a citation at all

STATUS_LABELS = {
    IN_FORCE: "现行有效",
    UNRESOLVED: "法规库未收录",
    MISSING: "条文不存在",
    REPEALED: "已废止/已失效",
    NOT_YET_EFFECTIVE: "尚未施行",
    INVALID: "引用格式有误",
}

_REASONS = {
    None: IN_FORCE,
    "regulation_not_found": UNRESOLVED,
    "no_text_for_date": UNRESOLVED,
    "article_not_found": MISSING,
    "repealed": REPEALED,
    "not_yet_effective": NOT_YET_EFFECTIVE,
}


@dataclasses.dataclass(frozen=True, slots=True)
class CurrentArticle:
    """The article that now applies in place of a repealed one: its citation and page."""

    citation: str
    url: str


@dataclasses.dataclass(frozen=True, slots=True)
class LegalBasis:
    citation: str
    title: str
    article_number: int | None
    article_label: str | None
    paragraph: int | None
    status: str
    in_force: bool
    regulation_id: int | None = None
    text: str | None = None
    changed_on: dt.date | None = None
    url: str | None = None
    # For a repealed article: the article of the repealing text that now applies (a code that
    # consolidated the law), when the library identified one.
    replaced_by: CurrentArticle | None = None

    @property
    def resolved(self) -> bool:
        return self.status not in (UNRESOLVED, INVALID)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    def as_dict(self) -> dict[str, Any]:
        return {
            "citation": self.citation,
            "regulation_title": self.title,
            "regulation_id": self.regulation_id,
            "article_number": self.article_number,
            "article_label": self.article_label,
            "paragraph": self.paragraph,
            "text": self.text,
            "in_force": self.in_force,
            "status": self.status,
            "status_label": self.status_label,
            "changed_on": self.changed_on.isoformat() if self.changed_on else None,
            "url": self.url,
            "replaced_by": dataclasses.asdict(self.replaced_by) if self.replaced_by else None,
        }


def _article_text(result: Any) -> str | None:
    paragraph_text = getattr(result, "paragraph_text", None)
    if paragraph_text:
        return paragraph_text
    article = getattr(result, "article", None)
    if article is None:
        return None
    for name in ("text", "body", "content"):
        value = getattr(article, name, None)
        if isinstance(value, str) and value:
            return value
    paragraphs = getattr(article, "paragraphs", None)
    if paragraphs:
        return "\n".join(str(p) for p in paragraphs)
    return None


def unresolved(citation: Citation | None, text: str) -> LegalBasis:
    if citation is None:
        return LegalBasis(text, "", None, None, None, INVALID, False)
    return LegalBasis(citation.render(), citation.regulation_title, citation.article_number,
                      citation.article_label, citation.paragraph, UNRESOLVED, False)


class LegalBasisResolver:
    """Turns citation strings into :class:`LegalBasis` through an ``IArticleLookup``.

    ``lookup`` may be None (the regulations library is not installed): everything is unresolved.
    """

    def __init__(self, lookup: Any | None, cache: LegalBasisCache | None = None, stamp: int = 0,
                 request: Any = None) -> None:
        self.lookup = lookup
        self.cache = cache
        self.stamp = stamp
        self.request = request

    def resolve(self, text: str, on: dt.date) -> LegalBasis:
        if self.cache is not None:
            hit = self.cache.get(self.stamp, text, on)
            if hit is not None:
                return hit
        basis = self._resolve(text, on)
        if self.cache is not None:
            self.cache.put(self.stamp, text, on, basis)
        return basis

    def resolve_dict(self, text: str, on: dt.date) -> dict[str, Any]:
        """:meth:`resolve` as the API's dict, cached too (callers must not change it)."""
        if self.cache is not None:
            hit = self.cache.get_dict(self.stamp, text, on)
            if hit is not None:
                return hit
        result = self.resolve(text, on).as_dict()
        if self.cache is not None:
            self.cache.put_dict(self.stamp, text, on, result)
        return result

    def _resolve(self, text: str, on: dt.date) -> LegalBasis:
        citation = parse_citation(text)
        if citation is not None and self.lookup is not None and not hasattr(self.lookup, "lookup"):
            self.lookup = self.lookup()  # a provider: resolved only now, on a cache miss
        if citation is None or self.lookup is None:
            return unresolved(citation, text)
        try:
            result = self.lookup.lookup(citation.regulation_title, citation.article_number
                                        if not citation.article_suffix
                                        else f"{citation.article_number}-{citation.article_suffix}",
                                        on=on, paragraph=citation.paragraph)
        except Exception:  # any fault: a library fault must not break dispatch (logged)
            log.exception("legal basis lookup failed for %s", text)
            return unresolved(citation, text)
        reason = getattr(result, "reason", None)
        status = _REASONS.get(reason, UNRESOLVED if getattr(result, "regulation", None) is None else MISSING)
        regulation = getattr(result, "regulation", None)
        regulation_id = getattr(regulation, "id", None)
        url = None
        if self.request is not None and regulation_id is not None:
            try:
                # a path, not a URL: the cache outlives the request (and its host name)
                url = self.request.route_path("regulations.article", id=regulation_id,
                                              n=article_slug(citation.article_number, citation.article_suffix),
                                              _query={"at": on.isoformat()})
            except KeyError:
                url = None
        successor = getattr(result, "replaced_by", None)
        return LegalBasis(
            citation=citation.render(),
            title=getattr(regulation, "title", None) or citation.regulation_title,
            article_number=citation.article_number,
            article_label=citation.article_label,
            paragraph=citation.paragraph,
            status=status,
            in_force=bool(getattr(result, "in_force", False)),
            regulation_id=regulation_id,
            text=_article_text(result),
            changed_on=getattr(result, "changed_on", None),
            url=url,
            replaced_by=CurrentArticle(successor.citation, article_path(
                successor.regulation_id, successor.number, successor.suffix)) if successor is not None else None,
        )


class LegalBasisCache:
    """Process-wide memo of resolved citations, dropped when the stamp moves."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self._stamp: int | None = None
        self._data: dict[tuple[str, dt.date], LegalBasis] = {}
        self._dicts: dict[tuple[str, dt.date], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def get(self, stamp: int, text: str, on: dt.date) -> LegalBasis | None:
        if stamp != self._stamp:
            return None
        return self._data.get((text, on))

    def put(self, stamp: int, text: str, on: dt.date, basis: LegalBasis) -> None:
        with self._lock:
            if stamp != self._stamp:
                self._data = {}
                self._dicts = {}
                self._stamp = stamp
            if len(self._data) >= self.max_entries:
                self._data.clear()
                self._dicts.clear()
            self._data[(text, on)] = basis

    def get_dict(self, stamp: int, text: str, on: dt.date) -> dict[str, Any] | None:
        if stamp != self._stamp:
            return None
        return self._dicts.get((text, on))

    def put_dict(self, stamp: int, text: str, on: dt.date, value: dict[str, Any]) -> None:
        with self._lock:
            if stamp == self._stamp:
                self._dicts[(text, on)] = value

    def clear(self) -> None:
        with self._lock:
            self._data = {}
            self._dicts = {}
            self._stamp = None


def article_lookup_for(request: Any) -> Any | None:
    """The regulations library's ``IArticleLookup`` service, or None when it is not available."""
    try:
        from portal.regulations.interfaces import IArticleLookup
    except ImportError:
        return None
    try:
        return request.find_service(IArticleLookup)
    except LookupError:  # not registered (library not configured)
        return None


def article_lookup_for_session(session: Any) -> Any | None:
    """The same outside a request (CLI, tests): the library's service class over ``session``."""
    try:
        from portal.regulations.services import ArticleLookupService
    except ImportError:
        return None
    return ArticleLookupService(session)
