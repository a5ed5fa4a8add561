"""From a reporter's words to ranked item types.

Scoring (every constant is a class attribute, so ``portal eval-dispatch`` can measure a change):

``score(code) = vocabulary + LEXICAL_WEIGHT · lexical + evidence``

* **vocabulary**: the phrases of ``knowledge_base/dispatch/vocabulary.yaml`` (and the official
  names and catalogue aliases of the item type) found in the normalised text. Matching is on
  characters, longest first: a phrase lying inside a longer matched phrase does not count on its
  own (下水道盖子 is one piece of evidence, not also 下水道 and 盖子). A cue counts only where the
  search's segmenter starts a word (不亮 is not read inside 天不亮); a name may follow a modifier
  in the same word (栏杆 in 铁栏杆). Each distinct phrase adds
  ``role weight × specificity × length``:

  - role weight: ``NAME_WEIGHT`` for names, ``CUE_WEIGHT`` for cues;
  - specificity ``1/√df``, df = how many item types list the phrase (积水 says less than 雨水箅子);
  - length ``min(1 + LENGTH_BONUS·(len−2), LENGTH_CAP)``: longer phrases are more specific.

  A word of the search synonyms (``knowledge_base/synonyms.yaml``) found in the text also matches
  the vocabulary through its expansions, at ``SYNONYM_FACTOR`` of the weight. An ``unlike`` word
  (one that points to a close neighbour) subtracts ``UNLIKE_PENALTY``. A name followed by a
  locative (门口, 旁边, 里, 上, 的 …: ``LOCATIVES``) names where the thing is, not the thing, and
  counts ``LOCATIVE_FACTOR`` of its weight (菜场门口的台阶 is about the steps; 水塔外墙 is not a place:
  the segmenter reads 外墙 as one word). Cues shared by a class
  (the damage words of facilities, classes 01–05) add ``CLASS_CUE_WEIGHT`` to the item types of
  that class that already have evidence of their own.
* **lexical**: cosine similarity of the text and the item type's words (names and cues) over the
  search segmenter's terms (character bigrams plus jieba's longer words), tf-idf weighted: a soft
  back-off for wording the vocabulary does not list.
* **evidence**: dispatchers' confirmed texts (:class:`ExampleIndex`). The most similar confirmed
  text of each item type, when its cosine similarity reaches ``KNN_MIN_SIMILARITY``, adds
  ``KNN_WEIGHT × similarity``: a text close to one a dispatcher filed under a code leans to it.

``why`` lists the phrases found (as written in the text), the synonyms used and the examples that
counted, so a dispatcher sees what led to a suggestion.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Generic, TypeVar

from portal.dispatch.vocabulary import Vocabulary
from portal.search import analysis
from portal.search.query import SynonymTable


@dataclasses.dataclass(frozen=True)
class CodeInfo:
    """One five-digit code as the ranker sees it: the event, and the component of the same code."""

    code: str
    major_code: str
    event_name: str
    component_name: str = ""
    names: tuple[str, ...] = ()  # official names and catalogue aliases


@dataclasses.dataclass
class RankedCode:
    code: str
    score: float
    why: list[str]
    vocabulary: float = 0.0
    lexical: float = 0.0
    evidence: float = 0.0
    examples: list[int] = dataclasses.field(default_factory=list)
    #: the names (not cues) found as typed: what the thing is called
    named: list[str] = dataclasses.field(default_factory=list)


def terms(text: str) -> list[str]:
    """The search segmenter's index terms of a text (bigrams plus jieba's longer words)."""
    return analysis.index_terms(text)


#: what a tf-idf document is known by: an item code, an example id
_Key = TypeVar("_Key", bound=Hashable)


class _TfIdf(Generic[_Key]):
    """Sparse tf-idf vectors with an inverted index, for cosine similarity against many documents."""

    def __init__(self, documents: Mapping[_Key, Sequence[str]]) -> None:
        df: dict[str, int] = defaultdict(int)
        for words in documents.values():
            for term in set(words):
                df[term] += 1
        n = max(len(documents), 1)
        self.idf = {term: math.log(1 + n / count) for term, count in df.items()}
        self.postings: dict[str, list[tuple[_Key, float]]] = defaultdict(list)
        for key, words in documents.items():
            vector = self._vector(words)
            for term, weight in vector.items():
                self.postings[term].append((key, weight))

    def _vector(self, words: Sequence[str]) -> dict[str, float]:
        tf: dict[str, int] = defaultdict(int)
        for term in words:
            if term in self.idf:
                tf[term] += 1
        vector = {t: (1 + math.log(c)) * self.idf[t] for t, c in tf.items()}
        norm = math.sqrt(sum(w * w for w in vector.values())) or 1.0
        return {t: w / norm for t, w in vector.items()}

    def similarities(self, words: Sequence[str]) -> dict[_Key, float]:
        out: dict[_Key, float] = defaultdict(float)
        for term, weight in self._vector(words).items():
            for key, doc_weight in self.postings.get(term, ()):
                out[key] += weight * doc_weight
        return out


class ExampleIndex:
    """Nearest neighbours over dispatchers' confirmed texts: ``(example id, text, code)``."""

    def __init__(self, examples: Iterable[tuple[int, str, str]]) -> None:
        self.codes: dict[int, str] = {}
        documents: dict[int, list[str]] = {}
        for example_id, text, code in examples:
            self.codes[example_id] = code
            documents[example_id] = terms(text)
        self._index = _TfIdf(documents)

    def __len__(self) -> int:
        return len(self.codes)

    def nearest_by_code(self, words: Sequence[str]) -> dict[str, tuple[float, int]]:
        """code -> (best similarity, example id)."""
        best: dict[str, tuple[float, int]] = {}
        for example_id, sim in self._index.similarities(words).items():
            code = self.codes[example_id]
            if code not in best or sim > best[code][0]:
                best[code] = (sim, example_id)
        return best


class ItemRanker:
    NAME_WEIGHT = 1.0
    CUE_WEIGHT = 0.45
    LENGTH_BONUS = 0.15
    LENGTH_CAP = 1.6
    UNLIKE_PENALTY = 0.6
    CLASS_CUE_WEIGHT = 0.25
    SYNONYM_FACTOR = 0.35
    LEXICAL_WEIGHT = 0.6
    KNN_WEIGHT = 3.0
    KNN_MIN_SIMILARITY = 0.35

    def __init__(self, codes: Sequence[CodeInfo], vocabulary: Vocabulary, synonyms: SynonymTable | None = None) -> None:
        self.codes = {c.code: c for c in codes}
        self.vocabulary = vocabulary
        self.synonyms = synonyms or SynonymTable()
        # phrase -> [(code, role)]
        self._phrases: dict[str, list[tuple[str, str]]] = defaultdict(list)
        documents: dict[str, list[str]] = {}
        for info in codes:
            entry = vocabulary.items.get(info.code)
            names = [analysis.normalize(n) for n in info.names] + list(entry.names if entry else ())
            cues = list(entry.cues if entry else ())
            for role, words in (("name", names), ("cue", cues), ("unlike", entry.unlike if entry else ())):
                for word in dict.fromkeys(words):
                    if len(word) >= 2 and (info.code, role) not in self._phrases[word]:
                        self._phrases[word].append((info.code, role))
            documents[info.code] = [t for w in (*names, *names, *cues) for t in terms(w)]
        self._df = {p: len({c for c, role in uses if role != "unlike"}) or 1 for p, uses in self._phrases.items()}
        self._max_len = max((len(p) for p in self._phrases), default=2)
        self._lexical = _TfIdf(documents)
        self._class_cues = [(frozenset(c.cues), c.major_codes) for c in vocabulary.classes]
        self._class_cue_max = max((len(w) for c in vocabulary.classes for w in c.cues), default=2)

    # -- matching -----------------------------------------------------------------------

    def phrases_in(self, text: str, table: Mapping[str, object] | frozenset[str], max_len: int,
                   starts: set[int] | None = None) -> list[tuple[int, int, str]]:
        """Occurrences (start, end, phrase) of the table's phrases in ``text``; an occurrence
        inside a longer one is dropped. With ``starts`` (the segmenter's word starts), a phrase
        must begin where a word begins: 不亮 is not read inside 天不亮."""
        found = []
        n = len(text)
        for start in range(n):
            if starts is not None and start not in starts:
                continue
            for length in range(min(max_len, n - start), 1, -1):
                piece = text[start:start + length]
                if piece in table:
                    found.append((start, start + length, piece))
        kept = []
        for occ in found:
            if not any(o is not occ and o[0] <= occ[0] and occ[1] <= o[1] and (o[1] - o[0]) > (occ[1] - occ[0])
                       for o in found):
                kept.append(occ)
        return kept

    # Words after a name that make it a place, not the subject: 菜场门口的台阶, 天桥边上的电梯,
    # 垃圾桶里的针头. The thing complained about is the head noun that follows.
    LOCATIVES = ("门口", "旁边", "边上", "附近", "对面", "后面", "前面", "里面", "外面", "下面", "上面", "底下",
                 "脚下", "周边", "周围", "出口", "入口", "里", "内", "外", "上", "下", "旁", "边", "的")
    LOCATIVE_FACTOR = 0.4

    def _is_locative(self, text: str, end: int, words_at: Mapping[int, str]) -> bool:
        """Does a locative follow position ``end``? Not when the segmenter reads the locative's
        characters as the start of a longer word: 水塔外墙 is the tower's wall (外墙), not a place
        outside the tower; 井盖上面 still is (上面 is the word)."""
        locative = next((w for w in self.LOCATIVES if text.startswith(w, end)), None)
        if locative is None:
            return False
        word = words_at.get(end, locative)
        return len(word) <= len(locative) or word in self.LOCATIVES

    def _weight(self, phrase: str, role: str) -> float:
        role_weight = self.NAME_WEIGHT if role == "name" else self.CUE_WEIGHT
        length = min(1 + self.LENGTH_BONUS * (len(phrase) - 2), self.LENGTH_CAP)
        return role_weight * length / math.sqrt(self._df[phrase])

    def rank(self, text: str, examples: ExampleIndex | None = None, limit: int = 5) -> list[RankedCode]:
        text = analysis.normalize(text)
        results: dict[str, RankedCode] = {}

        def entry(code: str) -> RankedCode:
            if code not in results:
                results[code] = RankedCode(code, 0.0, [])
            return results[code]

        # Vocabulary: phrases as typed, then the synonyms' expansions of words found in the text.
        # Names of things may follow a modifier inside one segmenter word (铁栏杆, 大树); cues are
        # states and verbs, read only where a word begins (不亮 is not a cue inside 天不亮).
        spans = analysis.word_spans(text)
        starts = {start for _w, start, _e in spans}
        words_at = {start: word for word, start, _e in spans}

        def begins_word(start: int, _end: int) -> bool:
            return start in starts

        occurrences = self.phrases_in(text, self._phrases, self._max_len)
        names_only = {p for s, e, p in occurrences if not begins_word(s, e)}
        names_only -= {p for s, e, p in occurrences if begins_word(s, e)}
        # A phrase used as a place everywhere it occurs counts as a name at LOCATIVE_FACTOR.
        located = {p for _s, e, p in occurrences if self._is_locative(text, e, words_at)}
        located -= {p for _s, e, p in occurrences if not self._is_locative(text, e, words_at)}
        matched: list[tuple[str, str, float]] = [(p, p, 1.0) for p in dict.fromkeys(p for _s, _e, p in occurrences)]
        typed = {p for p, _, _ in matched}
        skip: dict[str, set[str]] = {}
        # Codes the typed words already credit: a synonym of the same words adds nothing to them
        # (招牌 found as typed must not count again as 招牌→牌匾标识).
        credited: dict[str, set[str]] = {
            p: {code for code, role in self._phrases[p] if role != "unlike"} for p in typed}
        for key, expansions in self.synonyms.expansions(text):
            already = set().union(*(codes for p, codes in credited.items() if key in p or p in key))
            for expansion in expansions:
                if expansion in self._phrases and expansion not in typed:
                    matched.append((expansion, f"{key}→{expansion}", self.SYNONYM_FACTOR))
                    typed.add(expansion)
                    credited.setdefault(f"{key}→{expansion}", set())
                    skip[f"{key}→{expansion}"] = already
        penalised: set[tuple[str, str]] = set()
        for phrase, shown, factor in matched:
            for code, role in self._phrases[phrase]:
                if code in skip.get(shown, ()) or (role != "name" and phrase in names_only):
                    continue
                item = entry(code)
                if role == "unlike":
                    if (code, phrase) not in penalised:
                        penalised.add((code, phrase))
                        item.vocabulary -= self.UNLIKE_PENALTY * factor
                    continue
                weight = self._weight(phrase, role) * factor
                if role == "name" and phrase in located:
                    weight *= self.LOCATIVE_FACTOR
                item.vocabulary += weight
                if role == "name" and factor == 1.0 and phrase not in item.named:
                    item.named.append(phrase)
                if shown not in item.why:
                    item.why.append(shown)
        if self._class_cues:
            found = {p for s, e, p in self.phrases_in(text, frozenset().union(*(c for c, _ in self._class_cues)),
                                                      self._class_cue_max) if begins_word(s, e)}
            for cues, majors in self._class_cues:
                hits = sorted(found & cues)
                if not hits:
                    continue
                for code, item in results.items():
                    if code[:2] in majors and item.vocabulary > 0:
                        item.vocabulary += self.CLASS_CUE_WEIGHT
                        item.why.extend(h for h in hits if h not in item.why)

        words = terms(text)
        for code, sim in self._lexical.similarities(words).items():
            entry(code).lexical = sim
        if examples is not None and len(examples):
            for code, (sim, example_id) in examples.nearest_by_code(words).items():
                if sim >= self.KNN_MIN_SIMILARITY and code in self.codes:
                    item = entry(code)
                    item.evidence = self.KNN_WEIGHT * sim
                    item.examples.append(example_id)
                    item.why.append(f"相似的已确认案例 #{example_id}（相似度 {sim:.2f}）")

        for item in results.values():
            item.score = item.vocabulary + self.LEXICAL_WEIGHT * item.lexical + item.evidence
        ranked = sorted((r for r in results.values() if r.score > 0 and r.code in self.codes),
                        key=lambda r: (-r.score, r.code))
        return ranked[:limit]

    def related_component(self, ranked: RankedCode, text: str) -> str | None:
        """For an event of classes 06–10: the component (classes 01–05) the text names, if any."""
        if ranked.code[:2] <= "05":
            return ranked.code if self.codes[ranked.code].component_name else None
        text = analysis.normalize(text)
        best: tuple[float, str] | None = None
        for _s, _e, phrase in self.phrases_in(text, self._phrases, self._max_len):
            for code, role in self._phrases[phrase]:
                if role == "name" and code[:2] <= "05" and self.codes.get(code) and self.codes[code].component_name:
                    weight = self._weight(phrase, role)
                    if best is None or weight > best[0]:
                        best = (weight, code)
        return best[1] if best else None
