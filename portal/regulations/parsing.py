"""Parse one statute text into articles (条), paragraphs (款) and items (项).

Two input shapes are read:

* **markdown** as in the shared law corpus: a ``# 标题`` line, header lines of
  promulgation and revision (``2011年1月8日 《…》第一次修订``), an
  ``<!-- INFO END -->`` marker, ``## 第X章`` / ``### 第X节`` headings and one
  paragraph per line;
* **plain text** as copied from the official databases (国家法律法规数据库,
  北大法宝): the title on the first non-empty line, full-width spaces and
  indentation, 第X编 / 分编 / 章 / 节 headings on their own lines, an optional
  目录 block, ``【发布部门】…`` metadata lines, or no chapters at all.

A file that cannot be read as a statute raises :class:`RegulationParseError`
with the file and the 1-based line, so the importer can store nothing of it.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from portal.numerals import (
    NUMERAL_CHARS,
    article_label,
    format_chinese_number,
    parse_chinese_number,
)

__all__ = [
    "HistoryEvent",
    "ParsedArticle",
    "ParsedRegulation",
    "RegulationParseError",
    "clean_line",
    "decode_text",
    "normalize_heading",
    "parse_date",
    "parse_history",
    "parse_regulation_file",
    "parse_regulation_text",
    "split_article_body",
]


class RegulationParseError(ValueError):
    """A statute text that cannot be parsed; names the file and the 1-based line."""

    def __init__(self, source: str, line: int, message: str, code: str = "malformed") -> None:
        self.source = source
        self.line = line
        self.message = message
        self.code = code
        super().__init__(f"{source}:{line}: {message}")


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One step of a text's legislative history, from a header line."""

    date: datetime.date | None
    description: str
    #: adopted (通过) | promulgated (公布/发布) | approved (批准) | amended (修正)
    #: | revised (修订) | effective (施行) | other
    kind: str = "other"


@dataclass(slots=True)
class ParsedArticle:
    """One article: 第二十三条 → number 23; 第二十三条之一 → number 23, suffix 1."""

    number: int
    suffix: int
    label: str
    chapter_path: tuple[str, ...]
    #: The paragraphs (款), in order; the first is the text after the label.
    paragraphs: list[str]
    #: Items (项, lines such as （一）…) following each paragraph; parallel to ``paragraphs``.
    items: list[list[str]]
    line: int = 0

    @property
    def key(self) -> tuple[int, int]:
        return (self.number, self.suffix)

    @property
    def text(self) -> str:
        """The article body as plain text, one paragraph or item per line."""
        lines: list[str] = []
        for paragraph, items in zip(self.paragraphs, self.items, strict=True):
            if paragraph:
                lines.append(paragraph)
            lines.extend(items)
        return "\n".join(lines)


@dataclass(slots=True)
class ParsedRegulation:
    title: str
    header_lines: list[str]
    history: list[HistoryEvent]
    articles: list[ParsedArticle]
    source: str = "<string>"
    format: str = "plain"  # "markdown" | "plain"
    #: Text after the first heading but before the first article (序言, notes).
    preamble: list[str] = field(default_factory=list)
    #: Text after the last article introduced by 附： / 附件 / 附录.
    appendix: list[str] = field(default_factory=list)
    #: Metadata read from the header: issuing_authority, document_number,
    #: promulgation_date, effective_date, status, level (only those found).
    metadata: dict[str, str] = field(default_factory=dict)
    #: Oddities that did not stop the parse (gaps in numbering, missing title).
    warnings: list[str] = field(default_factory=list)

    @property
    def promulgation_date(self) -> datetime.date | None:
        """The first adoption or promulgation date in the history."""
        dates = [e.date for e in self.history if e.date and e.kind in ("adopted", "promulgated")]
        return min(dates) if dates else None

    @property
    def effective_date(self) -> datetime.date | None:
        """An explicit 施行 date of the header, if any."""
        dates = [e.date for e in self.history if e.date and e.kind == "effective"]
        return max(dates) if dates else None

    @property
    def amendment_dates(self) -> list[datetime.date]:
        return sorted(e.date for e in self.history if e.date and e.kind in ("amended", "revised"))

    @property
    def version_date(self) -> datetime.date | None:
        """The date the text last changed: the last amendment, else its adoption."""
        dates = [
            e.date for e in self.history
            if e.date and e.kind in ("adopted", "promulgated", "approved", "amended", "revised")
        ]
        return max(dates) if dates else None

    def content_hash(self) -> str:
        """A digest of the normative text: equal digests mean the same version.

        Only the articles' words count, not the layout: whitespace, full- or half-width
        forms, quote styles, the title and the chapter headings are ignored, so the same
        text copied from two sources (the law pack and a corpus file) is one version.
        """
        payload = [
            [
                a.number,
                a.suffix,
                [_normalize_for_hash(p) for p in a.paragraphs if p],
                [[_normalize_for_hash(i) for i in items] for items in a.items],
            ]
            for a in self.articles
        ]
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(data.encode("utf-8")).hexdigest()


_HASH_FOLD = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "〈": "<", "〉": ">"})


def _normalize_for_hash(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text).translate(_HASH_FOLD))


# --------------------------------------------------------------------------- lines

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_INVISIBLE[0xA0] = " "
_SPACES = re.compile(r"[\s\u3000]+")


def clean_line(raw: str) -> str:
    """Drop zero-width characters and surrounding (full-width) whitespace."""
    return raw.translate(_INVISIBLE).strip()


_NUM = NUMERAL_CHARS
_KIND_LEVEL = {"编": 0, "分编": 1, "章": 2, "节": 3}
_HEADING = re.compile(rf"^第\s*(?P<num>[{_NUM}]+)\s*(?P<kind>分编|编|章|节)(?:[\s\u3000]*(?P<title>.*))?$")
_UNNUMBERED_HEADINGS = {"总则", "分则", "附则", "序言"}
_SENTENCE_PUNCT = re.compile(r"[。；;，,：:！？!?]")
_ARTICLE = re.compile(rf"^第\s*(?P<num>[{_NUM}]+)\s*条(?:\s*之\s*(?P<suf>[{_NUM}]+))?")
# An article heading whose number is garbled: 第十O条 … (letter O for 〇).
_BAD_ARTICLE = re.compile(r"^第(?P<raw>[^\s\u3000条第，、。；,;：:（）()《》“”\"]{1,10})条(?:之\S{1,3})?[\s\u3000]+\S")
_ITEM = re.compile(r"^[（(]\s*[一二三四五六七八九十百零〇]+\s*[)）]")
_SUBITEM = re.compile(r"^(?:\d{1,3}|[０-９]{1,3})\s*[.．、]")
_APPENDIX = re.compile(r"^(?:附\s*[：:]?|附(?:件|录|表)\s*[一二三四五六七八九十\d]*\s*(?:[：:].*)?(?:[\s\u3000].*)?)$")
_TOC = re.compile(r"^目\s*录$")
_MD_HEADING = re.compile(r"^(?P<hashes>#{1,6})\s*(?P<text>.*?)\s*#*$")
_MD_BOLD = re.compile(r"^\*\*(?P<inner>第[^*]{1,20}?)\*\*")
_TITLE_NOTE = re.compile(r"^(?P<title>.+?)\s*[（(](?P<note>[^（）()]*\d{4}[^（）()]*)[)）]\s*$")


def normalize_heading(kind: str, number: int | None, title: str) -> str:
    """第一章　总　　则 → 第一章 总则 (Arabic numbers are written in Chinese)."""
    title = _SPACES.sub("", title)
    if number is None:
        return title
    prefix = f"第{format_chinese_number(number)}{kind}"
    return f"{prefix} {title}" if title else prefix


_TOC_LEADER = re.compile(r"[\s\u3000]*[.．。…·•\-—_]{2,}[\s\u3000]*\d*$|[\s\u3000]+\d{1,4}$")


def _match_heading(text: str, *, markdown_heading: bool) -> tuple[int, str] | None:
    """(level, normalized heading) for a 编/分编/章/节 heading line, else None."""
    # Table-of-contents lines carry leader dots and page numbers: 第一章 总则……1.
    text = _TOC_LEADER.sub("", text)
    match = _HEADING.match(text)
    if match:
        title = (match.group("title") or "").strip()
        if not markdown_heading and (len(title) > 40 or _SENTENCE_PUNCT.search(title)):
            return None
        try:
            number = parse_chinese_number(match.group("num"))
        except ValueError:
            return None
        kind = match.group("kind")
        return _KIND_LEVEL[kind], normalize_heading(kind, number, title)
    squeezed = _SPACES.sub("", text)
    if squeezed in _UNNUMBERED_HEADINGS:
        return _KIND_LEVEL["章"], squeezed
    if markdown_heading and squeezed:
        # Any other markdown heading among the articles acts as a chapter heading.
        return _KIND_LEVEL["章"], squeezed
    return None


def split_article_body(lines: Iterable[str]) -> tuple[list[str], list[list[str]]]:
    """Split an article's lines into paragraphs (款) and the items (项) of each.

    Items such as （一）… belong to the paragraph before them; numbered sub-items
    (目, ``1.`` …) are kept with their item.
    """
    paragraphs: list[str] = []
    items: list[list[str]] = []
    for line in lines:
        if not line:
            continue
        if _ITEM.match(line):
            if not paragraphs:
                paragraphs.append("")
                items.append([])
            items[-1].append(line)
        elif _SUBITEM.match(line) and items and items[-1]:
            items[-1][-1] += "\n" + line
        else:
            paragraphs.append(line)
            items.append([])
    return paragraphs, items


# ------------------------------------------------------------------------- history

_DATE = re.compile(
    r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日"
    r"|(?P<cy>[〇零一二三四五六七八九○Ｏ]{4})\s*年\s*(?P<cm>[一二三四五六七八九十]{1,3})\s*月"
    r"\s*(?P<cd>[一二三四五六七八九十]{1,3})\s*日"
)
_STRIP_EDGES = " \u3000\t；;，,。、（）()【】[]:："


def _date_from_match(match: re.Match[str]) -> datetime.date | None:
    try:
        if match.group("y"):
            return datetime.date(int(match.group("y")), int(match.group("m")), int(match.group("d")))
        return datetime.date(
            parse_chinese_number(match.group("cy")),
            parse_chinese_number(match.group("cm")),
            parse_chinese_number(match.group("cd")),
        )
    except ValueError:
        return None


def parse_date(text: str) -> datetime.date | None:
    """The first date written in ``text`` (2019年3月24日, 二〇一九年三月二十四日), or None."""
    for match in _DATE.finditer(text or ""):
        date = _date_from_match(match)
        if date is not None:
            return date
    return None


def _event_kind(description: str) -> str:
    if "修订" in description:
        return "revised"
    if "修正" in description or ("修改" in description and description.endswith("决定")):
        return "amended"
    if description.endswith("施行") or description == "施行" or "起施行" in description:
        return "effective"
    if description.endswith(("批准", "批准通过")):
        return "approved"
    if "公布" in description or "发布" in description or "颁布" in description:
        return "promulgated"
    if "通过" in description:
        return "adopted"
    if "批准" in description:
        return "approved"
    return "other"


def _tidy_description(segment: str) -> str:
    text = _SPACES.sub(" ", segment).strip(_STRIP_EDGES)
    while True:
        before = text
        # “…发布　根据2011年…” and “自2014年1月1日起施行”: the connective words
        # belong to neither event.
        if text.endswith("根据"):
            text = text[:-2].strip(_STRIP_EDGES)
        if text[:1] in ("起", "经"):
            text = text[1:].strip(_STRIP_EDGES)
        if text == before:
            return text


def parse_history(lines: Iterable[str] | str) -> list[HistoryEvent]:
    """Read dated events from header lines or a version-history string.

    ``1996年6月4日 中华人民共和国国务院令第198号发布；2011年1月8日 《…》第一次修订``
    gives two events.  Text between two dates belongs to the earlier one.
    """
    text = lines if isinstance(lines, str) else " ".join(lines)
    matches = list(_DATE.finditer(text))
    events: list[HistoryEvent] = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        description = _tidy_description(text[match.end():end])
        if not description:
            continue
        events.append(HistoryEvent(_date_from_match(match), description, _event_kind(description)))
    return events


_FIELD_ALIASES = {
    "发布部门": "issuing_authority", "制定机关": "issuing_authority", "颁布机关": "issuing_authority",
    "发布机关": "issuing_authority", "制定部门": "issuing_authority",
    "发文字号": "document_number", "文号": "document_number", "发布文号": "document_number",
    "发布日期": "promulgation_date", "公布日期": "promulgation_date", "颁布日期": "promulgation_date",
    "实施日期": "effective_date", "施行日期": "effective_date", "生效日期": "effective_date",
    "时效性": "status", "效力状态": "status", "时效": "status",
    "效力级别": "level", "法规类别": "level", "效力位阶": "level",
}
_BRACKET_FIELD = re.compile(r"【(?P<key>[^】]{1,8})】\s*(?P<value>[^【]*)")
_COLON_FIELD = re.compile(r"^(?P<key>[\u4e00-\u9fa5]{2,6})\s*[：:]\s*(?P<value>.+)$")
_DOCUMENT_NUMBER = re.compile(
    rf"(?P<num>[\u4e00-\u9fa5]{{0,16}}令\s*第\s*[{_NUM}]+\s*号"
    r"|[\u4e00-\u9fa5]{1,12}[〔\[［(（]\s*\d{4}\s*[〕\]］)）]\s*\d+\s*号)"
)
_ISO_DATE = re.compile(r"(\d{4})\s*[-./年]\s*(\d{1,2})\s*[-./月]\s*(\d{1,2})")


def _normalize_date(value: str) -> str:
    match = _ISO_DATE.search(value)
    if not match:
        return value.strip()
    try:
        return datetime.date(*map(int, match.groups())).isoformat()
    except ValueError:
        return value.strip()


def _header_metadata(lines: Sequence[str]) -> dict[str, str]:
    metadata: dict[str, str] = {}
    for line in lines:
        pairs = [(m.group("key"), m.group("value")) for m in _BRACKET_FIELD.finditer(line)]
        if not pairs:
            match = _COLON_FIELD.match(line)
            if match:
                pairs = [(match.group("key"), match.group("value"))]
        for key, value in pairs:
            name = _FIELD_ALIASES.get(_SPACES.sub("", key))
            value = value.strip(_STRIP_EDGES)
            if name and value:
                if name.endswith("_date"):
                    value = _normalize_date(value)
                metadata.setdefault(name, value)
    if "document_number" not in metadata:
        # Dates run straight into the issuer in official headers (…2日青石市人民政府令…).
        undated = [_DATE.sub(" ", line) for line in lines]
        numbers = [m.group("num") for line in undated for m in _DOCUMENT_NUMBER.finditer(line)]
        if numbers:
            metadata["document_number"] = _SPACES.sub("", numbers[-1])
    return metadata


# -------------------------------------------------------------------------- parser


def _looks_like_markdown(lines: Sequence[str]) -> bool:
    head = [clean_line(line) for line in lines[:40]]
    head = [line for line in head if line]
    if any(line.startswith("<!--") for line in head):
        return True
    if head and head[0].startswith("# "):
        return True
    return any(re.match(r"^#{2,4}\s*第", line) for line in head)


class _Parser:
    def __init__(self, source: str, lines: Sequence[str]) -> None:
        self.source = source
        self.lines = lines
        self.markdown = _looks_like_markdown(lines)
        self.title: str = ""
        self.title_line = 0
        self.header_lines: list[str] = []
        self.preamble: list[str] = []
        self.appendix: list[str] = []
        self.warnings: list[str] = []
        self.articles: list[ParsedArticle] = []
        self.seen: dict[tuple[int, int], int] = {}
        self.levels: list[str | None] = [None, None, None, None]
        self.header_open = True  # still reading header lines
        self.in_appendix = False
        self.toc_state: str | None = None  # None | "open"
        self.toc_entries: list[tuple[int, str]] = []
        self.body: list[str] = []
        self.current: tuple[int, int, str, int, tuple[str, ...]] | None = None

    def error(self, line: int, message: str, code: str) -> RegulationParseError:
        return RegulationParseError(self.source, line, message, code)

    # The main loop: one decision per non-empty line.
    def run(self) -> ParsedRegulation:
        for lineno, raw in enumerate(self.lines, start=1):
            line = clean_line(raw)
            if not line:
                continue
            self.handle(lineno, line)
        self.close_article()
        if not self.articles:
            raise self.error(
                self.title_line or 1,
                "未找到任何条文（以“第X条”开头的行）/ no articles found",
                "no_articles",
            )
        if not self.title:
            self.warnings.append("缺少标题 / no title line")
        header_text = self.header_lines
        history = parse_history(header_text)
        return ParsedRegulation(
            title=self.title,
            header_lines=list(self.header_lines),
            history=history,
            articles=self.articles,
            source=self.source,
            format="markdown" if self.markdown else "plain",
            preamble=self.preamble,
            appendix=self.appendix,
            metadata=_header_metadata(self.header_lines),
            warnings=self.warnings,
        )

    def handle(self, lineno: int, line: str) -> None:
        if self.in_appendix:
            if self.markdown:
                md = _MD_HEADING.match(line)
                line = md.group("text") if md else line
            if line:
                self.appendix.append(line)
            return
        markdown_heading = False
        if self.markdown:
            if line.startswith("<!--"):
                if "INFO END" in line.upper():
                    self.header_open = False
                return
            md = _MD_HEADING.match(line)
            if md:
                markdown_heading = True
                line = md.group("text")
                if not line:
                    return
                if len(md.group("hashes")) == 1 and not self.title and not self.articles:
                    self.set_title(lineno, line)
                    return
            bold = _MD_BOLD.match(line)
            if bold:
                line = bold.group("inner") + line[bold.end():]
        if (not self.title and not self.articles and not markdown_heading
                and not (_ARTICLE.match(line) or _HEADING.match(line))):
            self.set_title(lineno, line)
            return
        if (self.articles or self.current) and _APPENDIX.match(line):
            self.close_article()
            self.in_appendix = True
            self.appendix.append(line)
            return
        if not self.articles and self.current is None and _TOC.match(_SPACES.sub("", line)):
            self.toc_state = "open"
            self.header_open = False
            return
        heading = _match_heading(line, markdown_heading=markdown_heading)
        if heading:
            if self.toc_state == "open":
                # The table of contents lists each heading once; the first one met again
                # is the body's.
                if all(heading[1] != entry for _, entry in self.toc_entries):
                    self.toc_entries.append(heading)
                    return
                self.toc_state = None
                # Higher headings just before it that the contents did not list (a 编 above
                # the first 章) already belong to the body.
                parents: list[tuple[int, str]] = []
                for level, entry in reversed(self.toc_entries):
                    if level >= heading[0]:
                        break
                    parents.insert(0, (level, entry))
                for parent in parents:
                    self.set_heading(*parent)
            self.close_article()
            self.set_heading(*heading)
            self.header_open = False
            return
        if self.try_article(lineno, line):
            self.toc_state = None
            self.header_open = False
            return
        if self.toc_state == "open":
            return
        if self.current is not None:
            self.body.append(line)
        elif not self.articles and self.header_open and all(level is None for level in self.levels):
            self.header_lines.append(line)
        else:
            self.preamble.append(line)

    def set_title(self, lineno: int, text: str) -> None:
        text = _SPACES.sub(" ", text).strip()
        note = _TITLE_NOTE.match(text)
        if note and re.search(r"修订|修正|年|\d{4}-", note.group("note")):
            text = note.group("title").strip()
            self.header_lines.append(f"（{note.group('note').strip()}）")
        self.title = text.replace(" ", "")
        self.title_line = lineno

    def set_heading(self, level: int, heading: str) -> None:
        self.levels[level] = heading
        for deeper in range(level + 1, len(self.levels)):
            self.levels[deeper] = None

    def try_article(self, lineno: int, line: str) -> bool:
        match = _ARTICLE.match(line)
        if not match:
            bad = _BAD_ARTICLE.match(line)
            if bad and any(ch in _NUM for ch in bad.group("raw")):
                raise self.error(
                    lineno,
                    f"无法识别的条文编号“第{bad.group('raw')}条” / unparseable article number",
                    "bad_article_number",
                )
            return False
        rest = line[match.end():]
        separated = not rest or rest[0].isspace()
        try:
            number = parse_chinese_number(match.group("num"))
            suffix = parse_chinese_number(match.group("suf")) if match.group("suf") else 0
        except ValueError:
            if separated:
                raise self.error(
                    lineno,
                    f"无法识别的条文编号“{match.group(0)}” / unparseable article number",
                    "bad_article_number",
                ) from None
            return False
        if number < 1:
            if separated:
                raise self.error(lineno, f"条文编号无效“{match.group(0)}”", "bad_article_number")
            return False
        key = (number, suffix)
        previous = self.articles[-1].key if self.articles else None
        if self.current is not None:
            previous = (self.current[0], self.current[1])
        if not separated:
            # “第十条规定的…” at the start of a paragraph is a cross-reference; only
            # the next expected number counts as an unspaced article heading.
            expected = {(1, 0)} if previous is None else {
                (previous[0] + 1, 0), (previous[0], previous[1] + 1)
            }
            if key not in expected:
                return False
        label = article_label(number, suffix)
        if key in self.seen:
            raise self.error(
                lineno,
                f"条文编号重复：{label} 已在第 {self.seen[key]} 行出现 / duplicate article number",
                "duplicate_article",
            )
        if previous is not None and key < previous:
            raise self.error(
                lineno,
                f"条文编号倒退：{label} 出现在 {article_label(*previous)} 之后"
                " / article numbers go backwards",
                "article_order",
            )
        if previous is not None and suffix == 0 and number > previous[0] + 1:
            self.warnings.append(
                f"第 {lineno} 行：{article_label(*previous)} 之后直接是 {label}（缺少中间条文）"
            )
        self.close_article()
        self.seen[key] = lineno
        self.current = (number, suffix, label, lineno, self.chapter_path())
        first = rest.strip()
        self.body = [first] if first else []
        return True

    def chapter_path(self) -> tuple[str, ...]:
        return tuple(level for level in self.levels if level)

    def close_article(self) -> None:
        if self.current is None:
            return
        number, suffix, label, lineno, path = self.current
        paragraphs, items = split_article_body(self.body)
        if not any(paragraphs) and not any(items):
            raise self.error(lineno, f"{label} 没有正文 / article has no text", "empty_article")
        self.articles.append(ParsedArticle(number, suffix, label, path, paragraphs, items, lineno))
        self.current = None
        self.body = []


def parse_regulation_text(text: str, *, source: str = "<string>") -> ParsedRegulation:
    """Parse a statute given as a string; ``source`` names it in errors."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not any(clean_line(line) for line in lines):
        raise RegulationParseError(source, 1, "文件为空 / empty file", "empty_file")
    return _Parser(source, lines).run()


def decode_text(data: bytes, source: str) -> str:
    """A statute file's bytes as text: UTF-8 (with or without BOM), else GB18030, the encoding
    of texts saved from many official databases on Chinese Windows."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise RegulationParseError(source, 1, "无法解码文件 / cannot decode file", "encoding")
    if "\x00" in text:
        raise RegulationParseError(source, 1, "不是文本文件 / not a text file", "binary")
    return text


def parse_regulation_file(path: str | Path) -> ParsedRegulation:
    """Read and parse one file (see :func:`decode_text` for the encodings)."""
    path = Path(path)
    return parse_regulation_text(decode_text(path.read_bytes(), str(path)), source=str(path))
