"""The decision rule of the look-up, without any storage."""

import datetime as dt

from portal.catalogue.resolution import Candidate, collisions, is_valid_on, periods_overlap, select_roles

D = dt.date


def c(duty, role, agency, depth, source="regulation", start=None, end=None):
    return Candidate(duty, role, agency, depth, source, start, end)


def by_role(decisions):
    return {d.role: d for d in decisions}


def test_most_specific_area_wins():
    decisions = by_role(select_roles([c(1, "owner", "A", 0), c(2, "owner", "B", 3), c(3, "owner", "C", 1)]))
    assert decisions["owner"].winner.duty_id == 2
    assert decisions["maintainer"].winner is None and not decisions["maintainer"].conflicts


def test_ruling_outranks_more_specific_general_entry():
    decisions = by_role(select_roles([c(1, "owner", "A", 4), c(2, "owner", "B", 1, "ruling")]))
    assert decisions["owner"].winner.agency == "B"
    # among rulings, the most specific wins again
    decisions = by_role(select_roles([c(1, "owner", "A", 2, "ruling"), c(2, "owner", "B", 1, "ruling")]))
    assert decisions["owner"].winner.agency == "A"


def test_agreement_is_a_general_entry():
    decisions = by_role(select_roles([c(1, "owner", "A", 1, "agreement"), c(2, "owner", "B", 2)]))
    assert decisions["owner"].winner.agency == "B"


def test_ties_with_different_agencies_are_conflicts_never_resolved():
    decisions = by_role(select_roles([c(1, "owner", "A", 2), c(2, "owner", "B", 2), c(3, "owner", "Z", 0)]))
    owner = decisions["owner"]
    assert owner.winner is None
    assert {x.agency for x in owner.conflicts} == {"A", "B"}


def test_ties_with_the_same_agency_are_harmless():
    decisions = by_role(select_roles([c(1, "owner", "A", 2, start=D(2024, 1, 1)),
                                      c(2, "owner", "A", 2, start=D(2025, 1, 1))]))
    assert decisions["owner"].winner.duty_id == 2 and not decisions["owner"].conflicts


def test_dates_filter_candidates():
    cands = [c(1, "maintainer", "OLD", 0, end=D(2024, 12, 31)), c(2, "maintainer", "NEW", 0, start=D(2025, 1, 1))]
    assert by_role(select_roles(cands, at=D(2024, 12, 31)))["maintainer"].winner.agency == "OLD"
    assert by_role(select_roles(cands, at=D(2025, 1, 1)))["maintainer"].winner.agency == "NEW"
    # a more specific duty not yet valid does not hide the general one
    cands = [c(1, "owner", "GEN", 0), c(2, "owner", "SPEC", 4, start=D(2026, 1, 1))]
    assert by_role(select_roles(cands, at=D(2025, 6, 1)))["owner"].winner.agency == "GEN"


def test_validity_and_overlap_helpers():
    assert is_valid_on(None, None, D(2000, 1, 1))
    assert is_valid_on(D(2024, 1, 1), D(2024, 1, 1), D(2024, 1, 1))
    assert not is_valid_on(D(2024, 1, 2), None, D(2024, 1, 1))
    assert periods_overlap(None, None, D(2024, 1, 1), None)
    assert not periods_overlap(None, D(2024, 6, 30), D(2024, 7, 1), None)
    assert periods_overlap(D(2024, 1, 1), D(2024, 7, 1), D(2024, 7, 1), None)


def test_collisions():
    existing = [c(1, "owner", "A", 2), c(2, "owner", "A", 2), c(3, "enforcer", "X", 2),
                c(4, "owner", "B", 2, "ruling"), c(5, "owner", "C", 2, end=D(2023, 12, 31))]
    new = c(9, "owner", "N", 2, start=D(2024, 1, 1))
    assert [x.duty_id for x in collisions(new, existing)] == [1, 2]
    assert [x.duty_id for x in collisions(c(9, "owner", "A", 2), existing)] == [5]
