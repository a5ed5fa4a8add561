"""Citations of statute provisions: 《城市道路管理条例》第二十三条第一款.

:class:`Citation` renders the conventional Chinese form; :func:`parse_citation`
reads what staff type: with or without 《》, Chinese or Arabic numbers,
之一 articles, 款 and 项 (``行政处罚法第63条``, ``《城市道路管理条例》第二十三条第一款第（二）项``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from portal.numerals import (
    NUMERAL_CHARS,
    article_label,
    article_slug,
    format_chinese_number,
    parse_chinese_number,
)

__all__ = ["Citation", "parse_citation", "short_title"]

NATIONAL_PREFIX = "中华人民共和国"


def short_title(title: str) -> str:
    """The customary short title: 中华人民共和国行政处罚法 → 行政处罚法."""
    title = title.strip().strip("《》")
    if title.startswith(NATIONAL_PREFIX) and len(title) > len(NATIONAL_PREFIX) + 1:
        return title[len(NATIONAL_PREFIX):]
    return title


@dataclass(frozen=True, slots=True)
class Citation:
    """A reference to an article, optionally narrowed to a paragraph (款) and item (项)."""

    regulation_title: str
    article_number: int
    article_suffix: int = 0
    paragraph: int | None = None
    item: int | None = None

    @property
    def article_label(self) -> str:
        return article_label(self.article_number, self.article_suffix)

    def render(self) -> str:
        """《城市道路管理条例》第二十三条第一款第二项."""
        text = f"《{self.regulation_title}》{self.provision}"
        return text

    @property
    def provision(self) -> str:
        """The provision without the title: 第二十三条第一款."""
        text = self.article_label
        if self.paragraph:
            text += f"第{format_chinese_number(self.paragraph)}款"
        if self.item:
            text += f"第{format_chinese_number(self.item)}项"
        return text

    def __str__(self) -> str:
        return self.render()


_N = f"[{NUMERAL_CHARS}]+"
_CITATION = re.compile(
    rf"^\s*《?(?P<title>[^《》\s第]{{2,80}}?)》?\s*"
    # An edition note after the title is allowed and ignored: 《…》（2019年修订）第二十三条.
    r"(?:[（(][^（）()]{1,20}[）)]\s*)?"
    rf"第\s*(?P<article>{_N})\s*条(?:\s*之\s*(?P<suffix>{_N}))?"
    rf"(?:\s*第\s*(?P<paragraph>{_N})\s*款)?"
    rf"(?:\s*第\s*[（(]?\s*(?P<item>{_N})\s*[)）]?\s*项)?\s*$"
)


def parse_citation(text: str) -> Citation | None:
    """Read a citation, or return None when ``text`` is not one.

    >>> parse_citation("行政处罚法第63条").provision
    '第六十三条'
    """
    match = _CITATION.match(text or "")
    if not match:
        return None
    try:
        number = parse_chinese_number(match.group("article"))
        suffix = parse_chinese_number(match.group("suffix")) if match.group("suffix") else 0
        paragraph = parse_chinese_number(match.group("paragraph")) if match.group("paragraph") else None
        item = parse_chinese_number(match.group("item")) if match.group("item") else None
    except ValueError:
        return None
    if number < 1 or paragraph == 0 or item == 0:
        return None
    return Citation(match.group("title").strip(), number, suffix, paragraph, item)


def render_citations(texts: Iterable[Any] | None) -> tuple[list[str], list[str]]:
    """The citations among ``texts`` as the portal writes them (each once, in the order given),
    and the texts that are not citations. A blank entry (an empty line of a form) is skipped.

    Every place that takes citations from people (duty revisions, rulings, the knowledge base)
    reads them here, so all accept and refuse the same texts."""
    rendered: list[str] = []
    unreadable: list[str] = []
    for raw in texts or ():
        text = str(raw).strip()
        if not text:
            continue
        citation = parse_citation(text)
        if citation is None:
            unreadable.append(text)
        else:
            rendered.append(citation.render())
    return list(dict.fromkeys(rendered)), unreadable


def citation_path(request: Any, regulation_id: int, citation: Citation, at: dt.date) -> str:
    """The article page a citation points at, as it stood on ``at``, with the cited paragraph and
    item (款、项) picked out and scrolled to."""
    slug = article_slug(citation.article_number, citation.article_suffix)
    query: dict[str, Any] = {"at": at.isoformat()}
    if citation.paragraph:
        query["paragraph"] = citation.paragraph
    if citation.item:
        query["item"] = citation.item
    narrowed = citation.paragraph or citation.item
    return request.route_path("regulations.article", id=regulation_id, n=slug, _query=query,
                              _anchor="cited" if narrowed else "")
