"""Evidence beyond an article's own words: each stage gives a small share of another score.

Figures are those of bench/RESULTS.md ("What changed, one step at a time", portal index; dev and
holdout as MRR / nDCG / R@10; the step before them measured dev 0.958 / 0.823 / 0.827, holdout
hold-01..37 0.722 / 0.660 / 0.684). The four evidence steps together brought holdout R@10
0.684 → 0.720 without hurting dev.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from portal.search import analysis
from portal.search.query import LOOSE_STOP_CHARS, STOPWORDS, Concept, ConceptGroup

if TYPE_CHECKING:
    from portal.search.ranking.config import Ranking
    from portal.search.snapshot import Snapshot


class DocTerms:
    """Term counts of a document's body, analysed on demand and cached per (generation, docnum)."""

    def __init__(self, analysis_mode: str) -> None:
        self.analysis_mode = analysis_mode
        self._cache: dict[tuple[str, int], dict[str, int]] = {}

    def __call__(self, snap: Snapshot, docnum: int) -> dict[str, int]:
        key = (snap.generation, docnum)
        got = self._cache.get(key)
        if got is None:
            counts: dict[str, int] = {}
            for t in analysis.index_terms(snap.stored[docnum].get("body") or "", self.analysis_mode):
                counts[t] = counts.get(t, 0) + 1
            if len(self._cache) > 20000:
                self._cache.clear()
            self._cache[key] = got = counts
        return got


def loose_characters(loose: tuple[str, ...] | list[str], dead: list[ConceptGroup]) -> list[str]:
    """Characters jieba cut off alone (扣 in 城管扣了我的货), and the characters of single words no
    text uses (删掉, 挖走), content characters only."""
    chars = list(loose)
    for group in dead:
        word = group.members[0].word
        if len(group.members) == 1 and analysis.is_cjk(word):
            chars.extend(ch for ch in word if ch not in LOOSE_STOP_CHARS and ch not in STOPWORDS and ch not in chars)
    return chars


def expand_characters(snap: Snapshot, rk: Ranking, doc_terms: DocTerms, chars: list[str], ranked: np.ndarray,
                      query_terms: set[str]) -> list[ConceptGroup]:
    """For each loose character, the dictionary word containing it that the best matches of the
    rest of the query use most (in at least two of them), as a weak extra concept (扣 → 扣押,
    删 → 删除).

    Measured alone: dev 0.958 / 0.822 / 0.827 (unchanged), holdout 0.717 / 0.664 / 0.702 (R +0.018;
    the weakest evidence: one holdout query clearly helped, 声 → 噪声). Two words per character:
    dev 0.946 / 0.811 / 0.822, more noise (人 → 人民政府, 管 → 管理): dropped."""
    k = min(rk.loose_docs, ranked.size)
    if not k:
        return []
    top = np.argpartition(-ranked, k - 1)[:k]
    top = top[ranked[top] > 0]
    if top.size < 2:
        return []
    w_doc = ranked[top] / ranked[top].sum()
    known = analysis.dictionary_words()
    # Words as common as 管理, 部门, 进行 say nothing about the character's meaning.
    limit = max(rk.loose_max_df * snap.doc_count, 100)  # (no limit in a small index)
    groups = []
    for ch in chars:
        votes: dict[str, list[float]] = {}
        for d, wd in zip(top.tolist(), w_doc.tolist(), strict=True):
            for t in doc_terms(snap, d):
                if ch in t and 2 <= len(t) <= 4 and t not in query_terms and known(t) \
                        and snap.doc_frequency("body", t) <= limit:
                    v = votes.setdefault(t, [0.0, 0])
                    v[0] += wd
                    v[1] += 1
        best = sorted(((v[0], t) for t, v in votes.items() if v[1] >= rk.loose_min_docs), reverse=True)
        members = [Concept(t, rk.loose_weight, tuple(analysis.word_terms(t, doc_terms.analysis_mode)), True)
                   for _w, t in best[: rk.loose_terms]]
        if members:
            groups.append(ConceptGroup(members))
    return groups


def neighbours(snap: Snapshot, rk: Ranking, score: np.ndarray) -> np.ndarray:
    """An article next to a good match (n-1, n+1 of the same text) usually continues its topic
    (the duty, then its exceptions, the time limit, the penalty): it gains ``neighbour_boost`` of
    the better neighbour's score, if it matches the query itself.

    Measured alone at 0.1: dev 0.958 / 0.822 / 0.840 (R +0.013), holdout 0.723 / 0.668 / 0.693.
    Shares 0.2 / 0.3 / 0.5: MRR falls on both sets (dev 0.942 … 0.926)."""
    bonus = np.zeros_like(score)
    for nb in (snap.prev_doc, snap.next_doc):
        has = nb >= 0
        np.maximum(bonus, np.where(has, score[np.where(has, nb, 0)], 0.0), out=bonus)
    gate = score > 0 if rk.neighbour_gate else np.ones(score.size, dtype=bool)
    return score + rk.neighbour_boost * bonus * gate


def propagate_references(snap: Snapshot, rk: Ranking, score: np.ndarray) -> np.ndarray:
    """Articles cited by (or citing) the ``reference_top`` best matches gain ``reference_boost``
    of their score: a penalty article and the duty it enforces, a rule and its definition, answer
    the same question. Only documents that match the query themselves move up.

    Measured: share 0 instead of 0.2 gives dev 0.958 / 0.811 / 0.827 and holdout 0.724 / 0.651 /
    0.675 (both worse); 0.4 gives dev 0.946 / 0.820 / 0.827. reference_top 5 / 20: no gain."""
    k = min(rk.reference_top, score.size)
    top = np.argpartition(-score, k - 1)[:k]
    top = top[score[top] > 0]
    if not top.size:
        return score
    in_top = np.zeros(score.size, dtype=bool)
    in_top[top] = True
    bonus = np.zeros_like(score)
    fwd = in_top[snap.ref_src]
    np.maximum.at(bonus, snap.ref_dst[fwd], score[snap.ref_src[fwd]])
    back = in_top[snap.ref_dst]
    np.maximum.at(bonus, snap.ref_src[back], score[snap.ref_dst[back]])
    return score + rk.reference_boost * bonus * (score > 0)


def regulation_evidence(snap: Snapshot, rk: Ranking, score: np.ndarray) -> np.ndarray:
    """Articles of a text that answers the query in several places rank above equally good single
    matches in texts about something else: each article × (1 + ``regulation_weight`` × the sum of
    its text's ``regulation_top`` best scores, normalised).

    Measured alone at 0.4: dev 0.963 / 0.826 / 0.840 (MRR +0.005, R +0.013), holdout 0.724 /
    0.669 / 0.702. Weights 0.6–1.0: dev MRR falls (0.950); regulation_top 2 / 5: no gain."""
    docs = np.flatnonzero((score > 0) & (snap.regulation >= 0))
    if docs.size < 2:
        return score
    regs = snap.regulation[docs]
    order = np.lexsort((-score[docs], regs))
    docs, regs = docs[order], regs[order]
    starts = np.r_[0, np.flatnonzero(regs[1:] != regs[:-1]) + 1]
    rank_in = np.arange(docs.size) - np.repeat(starts, np.diff(np.r_[starts, docs.size]))
    keep = rank_in < rk.regulation_top
    _uniq, inverse = np.unique(regs, return_inverse=True)
    evidence = np.bincount(inverse, weights=np.where(keep, score[docs], 0.0)).astype(np.float32)
    evidence /= max(float(evidence.max()), 1e-9)
    out = score.copy()
    out[docs] *= 1.0 + rk.regulation_weight * evidence[inverse]
    return out
