"""Query understanding: citations, law names, places, stopwords and synonym expansion.

A user query becomes a :class:`QueryPlan`: weighted *concepts* (each a query word or a synonym
of one, with the index terms that stand for it), the places it names, and, when it reads as an
exact citation (``行政处罚法第63条``), the law name and article number to pin.  Nothing here
touches the index; law names are resolved against a :class:`LawCatalogue` the engine builds from
the regulations it holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from portal.knowledge import read_yaml
from portal.numerals import NUMERAL_CHARS, chinese_to_int, format_chinese_number
from portal.search import analysis

# Words that carry no subject matter in a question: interrogatives, particles, pronouns and
# auxiliaries.  Content words (罚款, 违法, 没有, 期限 …) are never listed here.
STOPWORDS = frozenset("""
的 了 吗 呢 吧 啊 呀 嘛 哦 么 着 过 得 地 之 其 所 而 且 也 都 还 就 又 才 再 很 太 更 最 挺 蛮
我 你 他 她 它 我们 你们 他们 她们 咱 咱们 自己 人家 大家 别人 有人 谁 谁家 啥 什么 哪 哪个 哪些 哪里
哪儿 哪家 哪位 怎么 怎样 怎么样 怎么办 如何 为何 为什么 干嘛 多少 多少钱 多久 多长 几 几个 几天 是否 是不是
能否 可否 有没有 能不能 可不可以 会不会 要不要 算不算 请问 一下 一个 这个 那个 这种 那种 这样 那样
这 那 此 该 是 有 在 和 与 及 或 或者 跟 同 被 把 给 让 对 向 从 到 于 以 为 由 按 按照 根据 关于 如果 假如
要是 的话 但是 可是 不过 因为 所以 然后 应该 可以 能 会 要 想 需要 得 该不该 行不行 好不好 对不对 吗吗
呗 咋 咋办 啦 嗯 唉 哈 嘿 喂 请 问 了解 知道 告诉 一些 有些 所有 每个 任何 当时 现在 已经 正在 马上 一直
才 才能 就能 才会 都说 说 来 去 来定 搞 弄 干 做 办 还在 老是 总是 经常 一般 到底 究竟 真的 其实 比如
""".split())  # one readable block of words, as a dictionary lists them

# Question suffixes that ask *whether* something is lawful: they mean the subject matter is
# about prohibitions and their consequences, which the synonym file expresses as data.

_CITATION_RE = re.compile(
    rf"(?P<di>第)?\s*(?P<num>[0-9]+|[{NUMERAL_CHARS}]+)\s*条(?P<zhi>之[{NUMERAL_CHARS}]+)?(?![例款])"
)
_LAW_SUFFIXES = ("法", "条例", "规定", "办法", "细则", "规则", "决定", "法典", "纲要", "规范", "意见", "通知")
_TITLE_NOISE_RE = re.compile(r"[《》〈〉<>\"'“”‘’「」『』\s\u3000]|[（(][^）)]*[）)]")
_PRC = "中华人民共和国"


@dataclass(frozen=True)
class Concept:
    """One query word (or a synonym of one) and the index terms standing for it."""

    word: str
    weight: float
    terms: tuple[str, ...]
    synonym: bool = False


@dataclass
class ConceptGroup:
    """A query word with its synonyms: a document gets credit for the group once, from its best
    matching member, so a word with five synonyms does not outweigh a word with none."""

    members: list[Concept] = field(default_factory=list)

    def words(self) -> set[str]:
        return {m.word for m in self.members}


@dataclass(frozen=True)
class CitationRef:
    law_text: str  # the law name as typed (may be empty: "第23条" alone)
    number: int
    label: str  # 第六十三条, 第十条之一
    span: tuple[int, int]  # where law name + number sit in the normalized query
    number_start: int = -1  # where 第X条 itself starts


@dataclass
class QueryPlan:
    text: str  # normalized query
    groups: list[ConceptGroup] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    citation: CitationRef | None = None
    highlight: list[str] = field(default_factory=list)
    # Single characters the query words left over (扣 in 城管扣了我的货): no index term stands for
    # them alone; the engine may expand them to the words of its texts that contain them.
    loose: list[str] = field(default_factory=list)

    @property
    def concepts(self) -> list[Concept]:
        return [m for g in self.groups for m in g.members]

    @property
    def empty(self) -> bool:
        return not self.groups and self.citation is None


# --------------------------------------------------------------------------- synonyms


class SynonymTable:
    """Expansion of everyday / trade wording into the words legal texts use.

    Loaded from ``knowledge_base/synonyms.yaml``::

        expand:            # one way: a query word -> the words that texts use
          窨井盖: [检查井, 井盖, 箱盖]
        equivalent:        # both ways: any member expands to the others
          - [噪声, 噪音]

    Keys are matched as substrings of the normalized query (so 摆地摊 triggers 地摊), longest
    first.
    """

    def __init__(self, expand: Mapping[str, Sequence[str]] | None = None,
                 equivalent: Iterable[Sequence[str]] = ()):
        table: dict[str, list[str]] = {}
        for key, values in (expand or {}).items():
            key = analysis.normalize(str(key)).strip()
            if not key:
                continue
            bucket = table.setdefault(key, [])
            for v in values or ():
                v = analysis.normalize(str(v)).strip()
                if v and v != key and v not in bucket:
                    bucket.append(v)
        for group in equivalent:
            members = [analysis.normalize(str(m)).strip() for m in group or ()]
            members = [m for m in members if m]
            for m in members:
                bucket = table.setdefault(m, [])
                bucket.extend(o for o in members if o != m and o not in bucket)
        self._table = table
        self._keys = sorted(table, key=len, reverse=True)

    @classmethod
    def load(cls, path: str | Path | None) -> SynonymTable:
        if not path:
            return cls()
        path = Path(path)
        if not path.exists():
            return cls()
        if path.suffix in (".tsv", ".txt"):
            expand: dict[str, list[str]] = {}
            for line in path.read_text(encoding="utf-8").splitlines():
                line = line.split("#", 1)[0].strip()
                if not line:
                    continue
                key, _, rest = line.partition("\t")
                expand.setdefault(key, []).extend(w for w in re.split(r"[\t,，/;；\s]+", rest) if w)
            return cls(expand)

        data = read_yaml(path) or {}
        return cls(data.get("expand") or {}, data.get("equivalent") or ())

    def __len__(self) -> int:
        return len(self._table)

    def words(self) -> set[str]:
        out = set(self._table)
        for values in self._table.values():
            out.update(values)
        return out

    def expansions(self, text: str) -> list[tuple[str, list[str]]]:
        """(matched key, its expansions) for every key found in ``text``; a key inside a longer
        matched key is still used (摆地摊 -> 地摊 and 摆摊 rules may both apply)."""
        found = []
        for key in self._keys:
            if key in text:
                found.append((key, self._table[key]))
        return found


# --------------------------------------------------------------------------- citations


def normalize_title(title: str) -> str:
    """Law title for matching: no book-title marks, brackets, spaces or 中华人民共和国 prefix."""
    t = _TITLE_NOISE_RE.sub("", analysis.normalize(title))
    return t.removeprefix(_PRC) or t


def find_citation(text: str) -> CitationRef | None:
    """The article reference in a normalized query, with the text before it as the law name.

    ``第`` is optional only when a law name precedes the number (``行政处罚法63条``); a bare
    ``一条`` is not a citation.
    """
    best = None
    for m in _CITATION_RE.finditer(text):
        number = chinese_to_int(m.group("num"))
        if not number or number > 2000:
            continue
        before = text[: m.start()].rstrip()
        has_law_suffix = before.rstrip("》>\"”").endswith(_LAW_SUFFIXES)
        if not m.group("di") and not has_law_suffix:
            continue
        label = f"第{format_chinese_number(number)}条" + (m.group("zhi") or "")
        law_text = _law_text_before(before)
        best = CitationRef(law_text, number, label, (m.start() - (len(before) - len(law_text))
                                                    if law_text else m.start(), m.end()), m.start())
        if law_text:
            break
    return best


def _law_text_before(before: str) -> str:
    """The law name right before a 第X条: the last run of text (after spaces/punctuation)."""
    before = before.rstrip("》>\"” \u3000")
    m = re.search(r"[《<\"“]?([^\s,，。;；:：!！?？《<\"“]+)$", before)
    return m.group(1) if m else ""


@dataclass(frozen=True)
class LawEntry:
    regulation_id: int
    title: str
    short_title: str | None = None
    in_force: bool = True
    places: tuple[str, ...] = ()


class LawCatalogue:
    """Resolves law names as users type them against the indexed regulation titles.

    Matching, best first: the normalized title or short title itself; a title that contains
    the typed name (市容环境卫生管理条例); an abbreviation whose characters occur in the title in
    order, starting with its first character and ending with its kind (道交法 -> 道路交通安全法,
    个保法 -> 个人信息保护法).  Ties prefer in-force regulations, those of a place named in the
    query, national ones, then shorter titles.
    """

    def __init__(self, entries: Iterable[LawEntry] = ()):
        self.entries = list(entries)
        self._norm: list[tuple[LawEntry, tuple[str, ...]]] = []
        for e in self.entries:
            names = {normalize_title(e.title)}
            if e.short_title:
                names.add(normalize_title(e.short_title))
            self._norm.append((e, tuple(n for n in names if n)))

    def __len__(self) -> int:
        return len(self.entries)

    def resolve(self, law_text: str, places: Sequence[str] = ()) -> list[LawEntry]:
        """Entries the typed name may mean, best first (empty when none is plausible)."""
        name = normalize_title(law_text)
        if len(name) < 2:
            return []
        # The typed text may carry leading words ("查一下行政处罚法"): try suffixes, longest first.
        for start in range(len(name) - 1):
            cand = name[start:]
            found = self._match(cand, places)
            if found:
                return found
        return []

    def _match(self, cand: str, places: Sequence[str]) -> list[LawEntry]:
        scored: list[tuple[tuple, LawEntry]] = []
        for entry, names in self._norm:
            best = 0.0
            for n in names:
                if cand == n:
                    best = max(best, 3.0)
                elif len(cand) >= 3 and n.endswith(cand) and cand.endswith(_LAW_SUFFIXES):
                    best = max(best, 2.0 + len(cand) / len(n) / 2)  # 处罚法 for 行政处罚法
                elif len(cand) >= 4 and cand in n:
                    best = max(best, 2.0 + len(cand) / len(n) / 2)
                elif _is_abbreviation(cand, n):
                    best = max(best, 1.0 + len(cand) / len(n) / 2)
            if best:
                place_hit = any(p in entry.places for p in places)
                key = (best, entry.in_force, place_hit, not entry.places, -len(entry.title))
                scored.append((key, entry))
        if not scored:
            return []
        scored.sort(key=lambda x: x[0], reverse=True)
        top = scored[0][0][0]
        return [e for k, e in scored if k[0] == top]


def _is_abbreviation(abbr: str, title: str) -> bool:
    if len(abbr) < 2 or len(abbr) >= len(title) or abbr[0] != title[0]:
        return False
    kind = next((s for s in sorted(_LAW_SUFFIXES, key=len, reverse=True) if title.endswith(s)), None)
    if kind is None or not abbr.endswith(kind[-1]):
        return False
    it = iter(title)
    return all(ch in it for ch in abbr)


# --------------------------------------------------------------------------- planning


class QueryPlanner:
    """Turns query text into a :class:`QueryPlan` for one analysis mode."""

    SYNONYM_WEIGHT = 0.7

    def __init__(self, synonyms: SynonymTable | None = None, mode: str = analysis.DEFAULT_MODE):
        self.synonyms = synonyms or SynonymTable()
        self.mode = mode

    def plan(self, text: str, known_places: Iterable[str] = (), keep_law_words: bool = False) -> QueryPlan:
        """``keep_law_words``: search the words of a citation's law name too (used when the name
        resolves to no indexed regulation), only 第X条 itself is left out."""
        norm = analysis.normalize(text)[:500]  # a query is never a whole document
        plan = QueryPlan(text=norm)
        plan.citation = find_citation(norm)
        rest = norm
        if plan.citation:
            a, b = plan.citation.span
            if keep_law_words:
                a = plan.citation.number_start
            rest = norm[:a] + " " * (b - a) + norm[b:]
        places = [p for p in sorted(set(known_places), key=len, reverse=True) if p and p in rest]
        # Drop places nested in a longer place that matched (上海 in 上海浦东).
        plan.places = [p for p in places if not any(p != q and p in q for q in places)]
        for place in plan.places:
            rest = rest.replace(place, " " * len(place))
        # Groups: one per query word; synonym keys join the words they overlap.
        groups: list[tuple[set[int], ConceptGroup]] = []
        for word, start, end in self._words(rest):
            terms = tuple(analysis.word_terms(word, self.mode))
            if terms:
                groups.append(({*range(start, end)}, ConceptGroup([Concept(word, 1.0, terms)])))
        loose = [] if self.mode == "bigram" else self._loose(rest)
        typed = {g.members[0].word for _c, g in groups}
        for key, expansions in self.synonyms.expansions(rest):
            pos = rest.find(key)
            cover = {*range(pos, pos + len(key))}
            members = []
            for exp in expansions:
                if exp in typed:  # the user typed it: it already has a group of its own
                    continue
                terms = tuple(analysis.word_terms(exp, self.mode))
                if terms:
                    members.append(Concept(exp, self.SYNONYM_WEIGHT, terms, synonym=True))
            if not members:
                continue
            joined = [g for g in groups if g[0] & cover]
            if not joined:
                groups.append((cover, ConceptGroup(members)))
                continue
            target = joined[0]
            for other in joined[1:]:  # the key spans several words: one group for all of them
                target[0].update(other[0])
                target[1].members.extend(other[1].members)
                groups.remove(other)
            target[0].update(cover)
            target[1].members.extend(members)
        for _cover, group in groups:
            seen: dict[str, Concept] = {}
            for m in group.members:  # the same word twice: keep its higher weight
                if m.word not in seen or seen[m.word].weight < m.weight:
                    seen[m.word] = m
            group.members = list(seen.values())
        plan.groups = [g for _c, g in groups]
        covered = set().union(*(c for c, _g in groups)) if groups else set()
        plan.loose = [ch for ch, pos in loose if pos not in covered and ch not in plan.loose]
        highlight: set[str] = set()
        for c in plan.concepts:
            highlight.add(c.word)
            highlight.update(t for t in c.terms if len(t) >= 2)
        plan.highlight = sorted(highlight, key=len, reverse=True)
        return plan

    def _loose(self, text: str) -> list[tuple[str, int]]:
        """Content characters jieba cut off as words of one character (扣, 倒, 堵, 货)."""
        out = []
        for word, start, _end in analysis.word_spans(text):
            if len(word) == 1 and analysis.is_cjk(word) and word not in STOPWORDS \
                    and word not in LOOSE_STOP_CHARS:
                out.append((word, start))
        return out

    def _words(self, text: str) -> list[tuple[str, int, int]]:
        if self.mode == "bigram":
            # The pure bigram baseline queries every bigram of the text, as is.
            return [(run, off, off + len(run)) for run, off, _cjk in analysis.spans(text)
                    if len(run) >= 2 or run.isdigit()]
        words: list[tuple[str, int, int]] = []
        for word, start, end in analysis.word_spans(text):
            for piece, a, b in _split_on_stopwords(word, start, end):
                piece, a, b = _strip_stopwords(piece, a, b)
                if not piece or piece in STOPWORDS or (len(piece) < 2 and not piece.isdigit()):
                    continue
                words.append((piece, a, b))
        return words


# Characters that carry no subject of their own when they stand alone in a question: position
# and direction words, measure words, light verbs, negations, conjunctions.
LOOSE_STOP_CHARS = frozenset(
    "上下里内外前后中间旁边时候等个些点次回来去说做干搞弄找用没不别非未无就当先再已还也又都全"
    "多少大小高低长短新旧好坏真假第每各某另本该其"
    # administrative divisions and the parts of a law's name or structure
    "国省市区县镇乡村街法条款项章节"
    # numbers, time units, and characters that mostly stand for a person or thing in general
    "一二三四五六七八九十百千万两半日月年天人家子头员口们者"
)

_INNER_STOPWORDS = sorted((w for w in STOPWORDS if len(w) >= 2), key=len, reverse=True)


def _split_on_stopwords(word: str, start: int, end: int) -> list[tuple[str, int, int]]:
    """罚多少钱 -> 罚, 钱; 谁负责 stays whole (谁 is one character): a question word jieba glued
    inside a longer word cuts it, so no term straddles it."""
    if len(word) < 3 or word.isascii():
        return [(word, start, end)]
    for stop in _INNER_STOPWORDS:
        i = word.find(stop)
        if i > 0 and i + len(stop) < len(word):
            left = _split_on_stopwords(word[:i], start, start + i)
            right = _split_on_stopwords(word[i + len(stop):], start + i + len(stop), end)
            return left + right
    return [(word, start, end)]


_STOP_AFFIXES = sorted((w for w in STOPWORDS if len(w) >= 2), key=len, reverse=True)
_STOP_SUFFIX_CHARS = "吗呢吧啊呀嘛了"
# Question pronouns jieba glues to the verb after them (谁负责, 哪管): never part of a legal term.
_STOP_PREFIX_CHARS = "谁哪"


def _strip_stopwords(word: str, start: int, end: int) -> tuple[str, int, int]:
    """哪个部门 -> 部门, 违法吗 -> 违法: jieba sometimes glues a question word to a content word."""
    if len(word) < 3 or word.isascii():
        return word, start, end
    changed = True
    while changed and len(word) >= 3:
        changed = False
        for affix in _STOP_AFFIXES:
            if len(word) - len(affix) < 2:
                continue
            if word.startswith(affix):
                word, start, changed = word[len(affix):], start + len(affix), True
                break
            if word.endswith(affix):
                word, end, changed = word[: -len(affix)], end - len(affix), True
                break
        if not changed and word[-1] in _STOP_SUFFIX_CHARS:
            word, end, changed = word[:-1], end - 1, True
        if not changed and word[0] in _STOP_PREFIX_CHARS:
            word, start, changed = word[1:], start + 1, True
    return word, start, end
