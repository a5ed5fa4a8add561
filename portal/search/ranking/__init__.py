"""Ranking: how a query's matches are scored and ordered.

One module per kind of evidence, each stage a small function whose docstring says what it adds
and what bench/RESULTS.md measured it to bring; :mod:`~portal.search.ranking.pipeline` applies
them in order. The knobs are :class:`Ranking`.
"""

from portal.search.ranking.config import Ranking
from portal.search.ranking.pipeline import Ranker, top_order

__all__ = ["Ranker", "Ranking", "top_order"]
