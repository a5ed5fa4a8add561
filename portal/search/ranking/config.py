"""The ranking knobs (one frozen dataclass, so a test or a benchmark can vary one at a time)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Ranking:
    """Ranking knobs.  Defaults chosen on the dev set and checked on the held-out set
    (bench/search_queries_holdout.tsv): a change is kept only when it helps one without hurting
    the other (see bench/RESULTS.md, which also lists the knobs tried and dropped)."""

    k1: float = 1.2
    # field -> (boost, BM25 b)
    fields: tuple[tuple[str, float, float], ...] = (
        ("title", 2.0, 0.5),
        ("regt", 0.3, 0.3),
        ("body", 1.0, 0.75),
        ("chapter", 0.3, 0.3),
    )
    place_boost: float = 2.0  # score x (1 + place_boost) for the places the query names
    other_place_factor: float = 0.6  # local texts of another place when the query names one
    enclosing_place_factor: float = 2.0  # the province's own texts when the query names its city
    # Repealed / historical versions rank below current ones when about as relevant; a tie-breaker,
    # not a penalty (the in-force filter is there for strict needs, and a status shows on each hit).
    not_in_force_factor: float = 0.95
    whole_word_weight: float = 1.0  # weight of a multi-character query word next to its bigrams
    group_sum_weight: float = 0.5  # credit for further members of a synonym group beyond the best
    coordination: float = 1.0  # exponent of the share of query words a document matches
    term_share: float = 0.5  # a word's weight is split over its n terms as 1 / n ** term_share
    common_term_ratio: float = 0.25  # terms in more than this share of documents are skipped
    cross_refs: int = 9  # related articles shown after a pinned citation
    reference_boost: float = 0.2  # share of a top match's score given to articles it cites / is cited by
    reference_top: int = 10  # how many top matches pass score along their references
    neighbour_boost: float = 0.1  # share of the better neighbouring article's score (n-1, n+1)
    neighbour_gate: bool = True  # only articles that match the query themselves gain
    loose_weight: float = 0.7  # weight of the words found for single / unknown characters
    loose_docs: int = 10  # top documents those words are taken from
    loose_terms: int = 1  # words per character
    loose_min_docs: int = 2  # a word must occur in this many of those documents
    loose_max_df: float = 0.02  # ... and in at most this share of all documents
    regulation_weight: float = 0.4  # boost from the text's own best few articles (see evidence.regulation_evidence)
    regulation_top: int = 3

    def field_conf(self, name: str) -> tuple[float, float]:
        """(boost, BM25 b) of a text field; fields not listed are not scored."""
        for fname, boost, b in self.fields:
            if fname == name:
                return boost, b
        return 0.0, 0.75
