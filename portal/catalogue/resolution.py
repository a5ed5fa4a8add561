"""The decision rule of the dispatch lookup, free of any storage.

Given the duties that could apply to an item type at a place on a date (the *candidates*: every
duty for that item type whose area is the place or one of its ancestors and whose validity covers
the date), :func:`select_roles` decides, per role:

1. a published **ruling** outranks every general entry (regulation, agreement) within its scope,
   however specific that entry is;
2. among the remaining candidates of the best source class, the **most specific area** wins
   (grid > unit > zone > street > district);
3. if two or more candidates still tie and name **different agencies**, nothing is chosen:
   they come back as a conflict, never silently resolved. Ties naming the same agency are
   harmless duplicates; the one with the latest ``valid_from`` (then the smallest id) is used.

The database service feeds this function from SQL, the in-memory index from its arrays, the
knowledge-base tests from YAML: one rule everywhere.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

ROLES: tuple[str, ...] = ("owner", "maintainer", "supervisor", "enforcer")
ROLE_LABELS: dict[str, str] = {
    "owner": "权属",
    "maintainer": "养护",
    "supervisor": "主管",
    "enforcer": "执法",
}
#: for events, the maintainer is the unit that handles the case (处置), not a 养护 contractor
EVENT_ROLE_LABELS: dict[str, str] = {**ROLE_LABELS, "maintainer": "处置"}
SOURCE_KINDS: tuple[str, ...] = ("regulation", "ruling", "agreement")
#: crosswalk links along which one scheme's code answers for the other's (the same component)
CROSSWALK_ROUTE_LINKS: frozenset[str] = frozenset({"exact", "renamed"})
#: how an answer was reached (``RoleAnswer.route``); "ruling" when the deciding duty is a ruling's
ROUTE_LABELS: dict[str, str] = {
    "duty": "本类型权责条目",
    "crosswalk": "经编码对照",
    "component_relation": "经事件—部件关联",
    "ruling": "裁定",
}
SOURCE_LABELS: dict[str, str] = {"regulation": "法规规定", "ruling": "裁定", "agreement": "协议"}
LEVELS: tuple[str, ...] = ("district", "street", "zone", "unit", "grid")
LEVEL_DEPTH: dict[str, int] = {level: depth for depth, level in enumerate(LEVELS)}


@dataclasses.dataclass(slots=True)
class Candidate:
    """One duty that may answer a role. ``payload`` is whatever the caller wants back.

    Not frozen: candidates are built by the thousand when a snapshot is loaded, and a frozen
    dataclass pays for ``object.__setattr__`` on every field. Treat them as read-only.
    """

    duty_id: Hashable
    role: str
    agency: Hashable
    area_depth: int
    source_kind: str = "regulation"
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    payload: Any = None
    rank: tuple[int, int] = dataclasses.field(init=False, compare=False)

    def __post_init__(self) -> None:
        self.rank = (1 if self.source_kind == "ruling" else 0, self.area_depth)


@dataclasses.dataclass(frozen=True, slots=True)
class RoleDecision:
    role: str
    winner: Candidate | None
    conflicts: tuple[Candidate, ...] = ()


def is_valid_on(valid_from: dt.date | None, valid_to: dt.date | None, at: dt.date) -> bool:
    """Validity is inclusive at both ends; open ends mean "always"."""
    return (valid_from is None or valid_from <= at) and (valid_to is None or at <= valid_to)


def periods_overlap(
    a_from: dt.date | None, a_to: dt.date | None, b_from: dt.date | None, b_to: dt.date | None
) -> bool:
    lo_a = a_from or dt.date.min
    hi_a = a_to or dt.date.max
    lo_b = b_from or dt.date.min
    hi_b = b_to or dt.date.max
    return lo_a <= hi_b and lo_b <= hi_a


def _tie_break(c: Candidate) -> tuple:
    return (-(c.valid_from or dt.date.min).toordinal(), str(c.duty_id))


def decide_role(role: str, candidates: Sequence[Candidate]) -> RoleDecision:
    """Apply the rule to the candidates of one role (already filtered by date)."""
    if not candidates:
        return RoleDecision(role, None)
    best = max(c.rank for c in candidates)
    top = [c for c in candidates if c.rank == best]
    if len({c.agency for c in top}) > 1:
        return RoleDecision(role, None, tuple(sorted(top, key=_tie_break)))
    return RoleDecision(role, min(top, key=_tie_break))


def select_roles(
    candidates: Iterable[Candidate],
    *,
    at: dt.date | None = None,
    roles: Sequence[str] = ROLES,
) -> list[RoleDecision]:
    """Decide every role; candidates outside their validity on ``at`` are ignored."""
    by_role: dict[str, list[Candidate]] = {role: [] for role in roles}
    for candidate in candidates:
        if at is not None and not is_valid_on(candidate.valid_from, candidate.valid_to, at):
            continue
        bucket = by_role.get(candidate.role)
        if bucket is not None:
            bucket.append(candidate)
    return [decide_role(role, by_role[role]) for role in roles]


def collisions(
    new: Candidate, existing: Iterable[Candidate], *, same_area: bool = True
) -> list[Candidate]:
    """Existing candidates the ``new`` duty would collide with.

    Two duties collide when they answer the same role for the same item type and area (the
    caller pre-filters on item type and area), share a source class, overlap in time and name
    different agencies: at some date the lookup would have to return a conflict.
    """
    result = []
    for other in existing:
        if other.duty_id == new.duty_id or other.role != new.role:
            continue
        if same_area and other.area_depth != new.area_depth:
            continue
        if other.rank != new.rank or other.agency == new.agency:
            continue
        if periods_overlap(new.valid_from, new.valid_to, other.valid_from, other.valid_to):
            result.append(other)
    return result
