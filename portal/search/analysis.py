"""Chinese text analysis for the search index: jieba words, CJK bigrams, or both.

Dictionary segmentation alone is brittle for recall: jieba cuts the same characters differently
depending on their neighbours (窨井盖 / 检查井盖 / 井盖), so a query word can miss a document that
contains it.  Overlapping CJK bigrams never miss, but they are imprecise and blind to word
boundaries.  The ``combined`` mode indexes every bigram plus jieba's longer words, and queries with
the bigrams *inside* each query word (never across a word boundary), plus the longer words
themselves: bigrams give recall, whole words reward precise matches.

The jieba dictionary takes about a second to load; :func:`warm_up` loads it (and the field's
user dictionary) once at start-up so that no request pays for it.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from whoosh.analysis import Token, Tokenizer

MODES = ("combined", "jieba", "bigram")
DEFAULT_MODE = "combined"

# CJK unified ideographs (+ extension A and compatibility ideographs), and ASCII words/numbers.
_RUN_RE = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)|([0-9a-z]+(?:\.[0-9]+)?)")

# Domain words jieba's general dictionary does not know or splits badly.  They only steer
# segmentation (the bigrams are indexed anyway); the synonym file adds its own terms at warm-up.
DOMAIN_WORDS = (
    "窨井盖", "检查井", "井盖", "箱盖", "雨水箅子", "占道经营", "出店经营", "跨门营业", "设摊", "摊点",
    "渣土", "渣土车", "建筑垃圾", "工程渣土", "撒漏", "遗撒", "违法建筑", "违法建设", "违章建筑",
    "违建", "城管", "城管执法", "综合执法", "城市管理", "市容", "环境卫生", "市容环境卫生",
    "户外广告", "牌匾标识", "招牌", "门头", "店招", "生活垃圾", "厨余垃圾", "湿垃圾", "干垃圾",
    "可回收物", "有害垃圾", "垃圾分类", "噪声", "噪音", "广场舞", "排水管网", "雨水管网",
    "污水管网", "排水许可", "供水", "停水", "物业", "业主大会", "共用部位", "共有部分",
    "消防通道", "楼道", "绿地", "古树名木", "行道树", "查封", "扣押", "听证", "罚款决定书",
    "行政处罚", "行政强制", "行政许可", "信息公开", "个人信息", "人脸识别", "非现场执法",
)

_lock = threading.Lock()
_tokenizer = None  # jieba.Tokenizer, created by warm_up()
_added: list[str] = []  # words added beyond the domain words, in the order they were added


def normalize(text: str) -> str:
    """Full-width to half-width (NFKC) and lower case, so ６３ == 63 and Ａ == a."""
    return unicodedata.normalize("NFKC", text or "").lower()


def warm_up(extra_words: Iterable[str] = ()) -> None:
    """Load the jieba dictionary and the domain words.  Idempotent; call it from the app factory."""
    # Sorted: add_word's frequency depends on the words added before it, and a set's order
    # differs between processes, so the indexing and the serving process would otherwise cut
    # some words differently.
    _add_words(sorted(extra_words))


def segmenter_generation() -> int:
    """Changes whenever the segmenter learns words: cached segmentations are stale after it."""
    return len(_added)


def segmenter_words() -> list[str]:
    """The words this process's segmenter was taught beyond the domain words, in order."""
    with _lock:
        return list(_added)


def warm_up_as(words: Iterable[str]) -> None:
    """Teach this process's segmenter the words another one learnt (:func:`segmenter_words`), in
    the same order, so that both cut every text alike (the rebuild's worker processes)."""
    _add_words(words)


def _add_words(words: Iterable[str]) -> None:
    global _tokenizer
    with _lock:
        if _tokenizer is None:
            import logging

            import jieba

            jieba.setLogLevel(logging.WARNING)
            tok = jieba.Tokenizer()
            tok.initialize()
            for word in DOMAIN_WORDS:
                tok.add_word(word, freq=None)
            _tokenizer = tok
        for word in words:
            word = normalize(word).strip()
            # add_word only steers segmentation of CJK words; skip anything else.
            if len(word) >= 2 and all(_is_cjk(ch) for ch in word) and not _tokenizer.FREQ.get(word):
                _tokenizer.add_word(word, freq=None)
                _added.append(word)


def segmenter() -> Any:
    """This process's jieba tokenizer, with the domain words (for other modules that cut text)."""
    return _segmenter()


def _segmenter() -> Any:
    if _tokenizer is None:
        warm_up()
    return _tokenizer


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def is_cjk(text: str) -> bool:
    """True when every character of ``text`` is a CJK ideograph."""
    return bool(text) and all(_is_cjk(ch) for ch in text)


def runs(text: str) -> Iterator[tuple[str, bool]]:
    """Split normalized text into (run, is_cjk) pieces; punctuation and spaces separate runs."""
    for match in _RUN_RE.finditer(normalize(text)):
        if match.group(1):
            yield match.group(1), True
        else:
            yield match.group(2), False


def spans(text: str) -> Iterator[tuple[str, int, bool]]:
    """Like :func:`runs`, with each run's offset in the *normalized* text."""
    for match in _RUN_RE.finditer(text):
        if match.group(1):
            yield match.group(1), match.start(), True
        else:
            yield match.group(2), match.start(), False


#: jieba's HMM is quadratic in a run of characters it knows no word for (20,000 × 龘: 5 s; an
#: editor's 340,000-character upload took 9 minutes). Runs are cut into pieces of at most this
#: many characters first: linear, and a word cut at a piece's edge is still found by its bigrams.
MAX_RUN = 256


def pieces(run: str) -> Iterator[tuple[str, int]]:
    """``run`` in consecutive pieces of at most :data:`MAX_RUN` characters, with their offsets."""
    for start in range(0, len(run), MAX_RUN):
        yield run[start:start + MAX_RUN], start


def cut_bounded(text: str, hmm: bool = True) -> list[str]:
    """jieba's plain cut of any text, at a cost linear in its length (see :data:`MAX_RUN`)."""
    seg = _segmenter()
    return [word for piece, _ in pieces(text) for word in seg.lcut(piece, HMM=hmm)]


def word_spans(text: str) -> list[tuple[str, int, int]]:
    """jieba words (default mode) of an already normalized text, with offsets; non-CJK runs whole."""
    seg = _segmenter()
    out: list[tuple[str, int, int]] = []
    for run, offset, cjk in spans(text):
        if not cjk:
            out.append((run, offset, offset + len(run)))
            continue
        for piece, at in pieces(run):
            for word, start, end in seg.tokenize(piece, mode="default"):
                out.append((word, offset + at + start, offset + at + end))
    return out


def dictionary_words() -> Callable[[str], bool]:
    """A predicate: is this string a word of the segmenter's dictionary (domain words included)?"""
    freq = _segmenter().FREQ
    return lambda w: bool(freq.get(w))


def bigrams(run: str) -> list[str]:
    if len(run) < 2:
        return [run] if run else []
    return [run[i : i + 2] for i in range(len(run) - 1)]


def jieba_words(run: str, search_mode: bool = True) -> list[str]:
    """jieba segmentation of one CJK run; search mode adds the 2/3-grams jieba knows as words."""
    seg = _segmenter()
    if search_mode:
        return [w for piece, _ in pieces(run) for w, _s, _e in seg.tokenize(piece, mode="search")]
    return cut_bounded(run)


def cut_words(text: str) -> list[str]:
    """Plain jieba words of a text (default mode) with non-CJK runs kept whole."""
    out: list[str] = []
    for run, cjk in runs(text):
        out.extend(jieba_words(run, search_mode=False) if cjk else [run])
    return out


def index_terms(text: str, mode: str = DEFAULT_MODE) -> list[str]:
    """The terms a document text is indexed under."""
    out: list[str] = []
    for run, cjk in runs(text):
        if not cjk:
            out.append(run)
        elif mode == "bigram":
            out.extend(bigrams(run))
        elif mode == "jieba":
            out.extend(jieba_words(run))
        else:
            out.extend(bigrams(run))
            # Bigrams already cover jieba's two-character words.
            out.extend(w for w in jieba_words(run) if len(w) > 2)
    return out


def word_terms(word: str, mode: str = DEFAULT_MODE) -> list[str]:
    """Index terms that stand for one query word (a jieba word, a synonym, a phrase)."""
    word = normalize(word)
    out: list[str] = []
    for run, cjk in runs(word):
        if not cjk:
            out.append(run)
        elif mode == "bigram":
            out.extend(bigrams(run))
        elif mode == "jieba":
            out.extend(jieba_words(run))
        elif len(run) <= 2:
            out.append(run)
        else:
            out.extend(_inner_terms(run))
            out.append(run)
    return out


INNER_TERMS = "words"  # or "bigrams": every bigram of a long query word


def _inner_terms(run: str) -> list[str]:
    """The parts of a long query word to match as bigrams: every bigram, or (``words``) only the
    two-character dictionary words inside it, so 违法建筑 asks for 违法 and 建筑 but not 法建."""
    if INNER_TERMS == "words":
        inner = [w for w in jieba_words(run) if len(w) == 2]
        if inner:
            return inner
    return bigrams(run)


class ChineseTokenizer(Tokenizer):
    """Whoosh tokenizer emitting :func:`index_terms`.  Positions are counted, offsets are not kept
    (snippets are highlighted by the service itself, on the stored text).

    Only the mode is pickled with the index schema; the jieba dictionary is process-wide.
    """

    def __init__(self, mode: str = DEFAULT_MODE):
        if mode not in MODES:
            raise ValueError(f"unknown analysis mode {mode!r}; expected one of {MODES}")
        self.mode = mode

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.mode == self.mode

    def __call__(self, value: str, positions: bool = False, chars: bool = False, keeporiginal: bool = False,
                 removestops: bool = True, start_pos: int = 0, start_char: int = 0, tokenize: bool = True,
                 mode: str = "", **kwargs: Any) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        terms = index_terms(value, self.mode) if tokenize else [normalize(value)]
        for pos, term in enumerate(terms, start_pos):
            token.text = term
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = term
            if positions:
                token.pos = pos
            if chars:
                token.startchar = token.endchar = start_char
            yield token


def chinese_analyzer(mode: str = DEFAULT_MODE) -> ChineseTokenizer:
    return ChineseTokenizer(mode)
