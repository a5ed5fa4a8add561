"""The ranking pipeline: the stages in the order they apply, and the order of the results.

1. :mod:`~portal.search.ranking.bm25`: BM25 over the query's concepts (deleted copies and, for
   an undated search, older texts are zeroed: they neither answer nor lend evidence);
2. :func:`~portal.search.ranking.evidence.expand_characters`: loose characters matched through
   the words of the best matches (a second, smaller scoring pass);
3. coordination;
4. :func:`~portal.search.ranking.evidence.neighbours`, then
   :func:`~portal.search.ranking.evidence.propagate_references`;
5. :func:`~portal.search.ranking.prior.prior` (places, texts in force);
6. :func:`~portal.search.ranking.evidence.regulation_evidence`.

Tried and dropped (bench/RESULTS.md): pseudo-relevance feedback (RM3-like; weight 0.2: dev
0.927 / 0.802 / 0.819 against 0.958 / 0.823 / 0.827; 0.1: still below on dev). It had stayed in
the code switched off (weight 0) and was removed in the 2026-12-06 split, with identical eval
figures. Also tried, never kept in the code: a per-regulation cap, definition articles, sibling
wording, an answer-type prior, near-duplicate collapsing, dense retrieval.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from portal.search.query import QueryPlan
from portal.search.ranking import evidence
from portal.search.ranking.bm25 import ConceptMatcher, common_terms, coordinate
from portal.search.ranking.config import Ranking
from portal.search.ranking.prior import prior as prior_of

if TYPE_CHECKING:
    from portal.search.snapshot import Snapshot


class Ranker:
    """Scores every document of a snapshot for a query plan (numpy arrays, one per query)."""

    def __init__(self, ranking: Ranking, analysis_mode: str) -> None:
        self.ranking = ranking
        self.analysis_mode = analysis_mode
        self.doc_terms = evidence.DocTerms(analysis_mode)

    def score(self, snap: Snapshot, plan: QueryPlan, dated: bool = False) -> np.ndarray:
        """``dated``: a search for a past date, which older texts take part in."""
        rk = self.ranking
        all_terms = {t for c in plan.concepts for t in c.terms}
        matcher = ConceptMatcher(snap, rk, common_terms(snap, rk, all_terms))
        score, matched_groups, n_groups, dead = matcher.match(plan.groups)
        # Deleted documents (still in their segment until a merge) and, for a search of the law as
        # it stands, older texts neither answer nor lend evidence (neighbours, references, the
        # regulation's best articles, the words found for loose characters).
        hidden = snap.hidden_dated if dated else snap.hidden_undated
        if hidden is not None:
            score[hidden] = 0.0
        prior = prior_of(snap, rk, plan)
        if rk.loose_weight:
            chars = evidence.loose_characters(plan.loose, dead)
            if chars:
                prelim = coordinate(score, matched_groups, n_groups, rk)
                extra = evidence.expand_characters(snap, rk, self.doc_terms, chars,
                                                   prelim * prior if prior is not None else prelim, all_terms)
                if extra:
                    more, more_matched, more_n, _dead = matcher.match(extra)
                    score += more
                    matched_groups += more_matched
                    n_groups += more_n
        score = coordinate(score, matched_groups, n_groups, rk)
        if rk.neighbour_boost and score.size:
            score = evidence.neighbours(snap, rk, score)
        if rk.reference_boost and snap.ref_src.size and score.size:
            score = evidence.propagate_references(snap, rk, score)
        if prior is not None:
            score *= prior
        if rk.regulation_weight and score.size:
            score = evidence.regulation_evidence(snap, rk, score)
        return score


def top_order(score: np.ndarray, matched: np.ndarray, pinned: list[int], need: int) -> list[int]:
    """The first ``need`` documents: the pinned ones in their order, then the matches by score
    (ties by docnum, so that pagination is deterministic)."""
    order: list[int] = list(pinned)
    if len(order) >= need:
        return order
    candidates = np.flatnonzero(matched)
    if pinned:
        candidates = candidates[~np.isin(candidates, pinned)]
    k = min(need - len(order), candidates.size)
    if k:
        cand_scores = score[candidates]
        if k < candidates.size:
            # Keep every document tied with the k-th so that the docnum tie-break below
            # decides, the same way for every page.
            kth = -np.partition(-cand_scores, k - 1)[k - 1]
            keep = cand_scores >= kth
            candidates, cand_scores = candidates[keep], cand_scores[keep]
        idx = np.lexsort((candidates, -cand_scores))[:k]
        order.extend(int(c) for c in candidates[idx])
    return order
