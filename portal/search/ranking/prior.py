"""The per-document prior, multiplied into the score after the evidence stages: the places the
query names, their province, and texts in force.

Measured (bench/RESULTS.md): a city's query also lifting its province's own texts (factor 2
instead of the 0.6 of other places) moved holdout R@10 0.684 → 0.693 (it only matters for city
queries; dev unchanged); the not-in-force factor 0.85 → 0.95 moved holdout MRR 0.806 → 0.840
(at 0.95 the status only breaks near-ties between a repealed law and the code that repeats it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from portal.search.query import QueryPlan

if TYPE_CHECKING:
    from portal.search.ranking.config import Ranking
    from portal.search.snapshot import Snapshot


def prior(snap: Snapshot, rk: Ranking, plan: QueryPlan) -> np.ndarray | None:
    """Per-document factor (None: all 1): ``1 + place_boost`` for the places the query names,
    ``other_place_factor`` for other places' texts, ``enclosing_place_factor`` for the province's
    own texts when a city is named, × ``not_in_force_factor`` for texts not in force."""
    out = None
    if plan.places and snap.n:
        in_place = np.zeros(snap.n, dtype=bool)
        for place in plan.places:
            ids, _tf = snap.postings("places", place)
            in_place[ids] = True
        out = np.where(in_place, 1.0 + rk.place_boost,
                       np.where(snap.has_places, rk.other_place_factor, 1.0)).astype(np.float32)
        # A city's query is also answered by its province's own texts (which the city's
        # regulations often defer to): not another place's.
        enclosing = {e for place in plan.places for e in snap.enclosing.get(place, ())}
        enclosing -= set(plan.places)
        for e in enclosing:
            own = snap.own_place_docs.get(e)
            if own is not None and own.size:
                out[own] = np.maximum(out[own], rk.enclosing_place_factor)
    if rk.not_in_force_factor != 1.0 and snap.n:
        f = np.where(snap.in_force, 1.0, rk.not_in_force_factor).astype(np.float32)
        out = f if out is None else out * f
    return out
