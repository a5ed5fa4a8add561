"""Stage 1, the base score: BM25 per field (title, regulation title, body, chapter), summed over
the query's concepts (a query word and its synonyms form a group: the best member counts in full,
the others at ``group_sum_weight``), then Lucene's coordination (documents that answer more of
the query's words rank higher).

Measured (bench/RESULTS.md "Tried and dropped"): coordination exponent 0.5 / 1.5 / 2.0 instead of
1 lost recall on dev (0.846 → 0.814 … 0.778); k1 0.9 / 1.6 within noise; body length
normalisation b 0.5 / 0.6 / 0.9 instead of 0.75 hurt one set or the other; coordination by idf
mass lost MRR on both sets.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from portal.search.query import ConceptGroup

if TYPE_CHECKING:
    from portal.search.ranking.config import Ranking
    from portal.search.snapshot import Snapshot

Contribution = list[tuple[np.ndarray, np.ndarray]]


def common_terms(snap: Snapshot, rk: Ranking, terms: set[str]) -> set[str]:
    """Very common terms (bigrams such as 应当, 规定) have near-zero idf and huge postings: they
    are skipped, unless the query has nothing else. The skip only pays off on big postings; in a
    small index every present term would count as "common" and real matches would be dropped."""
    limit = max(rk.common_term_ratio * max(1, snap.counted_count), 1000)
    common = {t for t in terms if snap.doc_frequency("body", t) > limit}
    return set() if common == terms else common


class ConceptMatcher:
    """Scores concept groups over one snapshot; a term's per-field BM25 contributions are
    computed once per query."""

    def __init__(self, snap: Snapshot, rk: Ranking, common: set[str]) -> None:
        self.snap = snap
        self.rk = rk
        self.common = common
        self.n_docs = max(1, snap.counted_count)
        self._contributions: dict[str, Contribution] = {}

    def contribution(self, term: str) -> Contribution:
        got = self._contributions.get(term)
        if got is None:
            rk, snap = self.rk, self.snap
            got = []
            for fname, boost, _b in rk.fields:
                if not boost:
                    continue
                ids, tf = snap.postings(fname, term)
                # Postings still list deleted documents; n_docs counts live ones only, so the
                # document frequency must too (else idf turns negative after deletions).
                df = int(np.count_nonzero(snap.counted[ids])) if ids.size else 0
                if not df:
                    continue
                idf = math.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5))
                got.append((ids, (boost * idf * (rk.k1 + 1.0)) * tf / (tf + snap.norms[fname][ids])))
            self._contributions[term] = got
        return got

    def match(self, groups: Iterable[ConceptGroup]) -> tuple[np.ndarray, np.ndarray, int, list[ConceptGroup]]:
        """(raw score, number of groups each document matches, number of groups, groups that
        matched nothing)."""
        rk, n = self.rk, self.snap.n
        raw = np.zeros(n, dtype=np.float32)
        matched = np.zeros(n, dtype=np.float32)
        count = 0
        dead: list[ConceptGroup] = []
        for group in groups:
            best: np.ndarray | None = None
            total: np.ndarray | None = None
            for member in group.members:
                terms = [t for t in member.terms if t not in self.common]
                if not terms:
                    continue
                m = np.zeros(n, dtype=np.float32)
                # A long word stands for several bigrams: share the word's weight among them.
                share = member.weight / len(terms) ** rk.term_share
                for term in terms:
                    w = share * (rk.whole_word_weight if len(term) > 2 and not term.isascii() else 1.0)
                    for ids, contrib in self.contribution(term):
                        m[ids] += w * contrib
                if best is None or total is None:
                    best, total = m, m.copy()
                else:
                    np.maximum(best, m, out=best)
                    total += m
            if best is not None and total is not None:
                raw += best + rk.group_sum_weight * (total - best)
                if rk.coordination:
                    matched += best > 0
                    count += 1
                if not best.any():
                    dead.append(group)
        return raw, matched, count, dead


def coordinate(score: np.ndarray, matched_groups: np.ndarray, n_groups: int, rk: Ranking) -> np.ndarray:
    """Score × (share of the query's groups a document matches) ** coordination."""
    if rk.coordination and n_groups > 1:
        return score * (matched_groups / n_groups) ** rk.coordination
    return score
