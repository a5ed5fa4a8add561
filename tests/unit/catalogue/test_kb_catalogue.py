"""The curated catalogue in knowledge_base/ is complete, consistent and cites real articles."""

import csv
import datetime as dt
import re
from collections import defaultdict
from pathlib import Path

import pytest

from portal.catalogue.kb import item_key, iter_citations, read_knowledge_base
from portal.catalogue.resolution import ROLES, Candidate, collisions, select_roles
from portal.regulations.citations import parse_citation

LAWS = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "laws"


@pytest.fixture(scope="module")
def kb():
    return read_knowledge_base(geometry=False)


@pytest.fixture(scope="module")
def index(kb):
    areas = {a.code: a for a in kb.areas}
    by_item = defaultdict(list)
    for d in kb.duties:
        by_item[d.item_key].append(d)
    return areas, by_item


def ancestors(areas, code):
    chain = []
    while code:
        chain.append(code)
        code = areas[code].parent_code
    return chain


def decide(areas, by_item, key, grid, at):
    chain = set(ancestors(areas, grid))
    cands = [
        Candidate(d.key, d.role, d.agency_code, areas[d.area_code].depth, d.source_kind,
                  d.valid_from, d.valid_to, d)
        for d in by_item[key] if d.area_code in chain
    ]
    return {r.role: r for r in select_roles(cands, at=at)}


def test_counts(kb):
    kinds = defaultdict(int)
    for it in kb.item_types:
        kinds[(it.scheme, it.kind)] += 1
    assert kinds == {("gbt30428", "component"): 85, ("gb47678", "component"): 153,
                     ("gb47678", "event"): 250}
    assert len([a for a in kb.areas if a.level == "grid"]) == 364


def test_agencies_cover_the_required_kinds(kb):
    names = " ".join(a.name for a in kb.agencies)
    for word in ["综合行政执法局", "市政道路养护", "排水", "自来水", "燃气", "供电", "电信", "移动",
                 "联通", "广电网络", "绿化和市容管理局", "交通警察大队", "房产管理局", "街道办事处",
                 "物业"]:
        assert word in names, word
    assert {a.kind for a in kb.agencies} == {
        "government", "street_office", "utility", "property_company", "enterprise"}
    offices = [a for a in kb.agencies if a.kind == "street_office"]
    assert len(offices) == 9
    for a in kb.agencies:
        assert re.fullmatch(r"0571-8\d{7}", a.supervision_phone), a.code


def test_every_component_has_a_duty_entry(kb):
    covered = {d.item_key for d in kb.duties}
    four = [it for it in kb.item_types if it.scheme == "gbt30428"]
    missing = [it.code for it in four if it.key not in covered]
    assert not missing
    assert {it.major_code for it in four} == {"01", "02", "03", "04", "05", "06"}


@pytest.mark.parametrize("at", [dt.date(2024, 6, 1), dt.date(2025, 7, 1)])
def test_every_component_resolves_all_roles_at_every_grid(kb, index, at):
    areas, by_item = index
    grids = [a.code for a in kb.areas if a.level == "grid"]
    four = [it.key for it in kb.item_types if it.scheme == "gbt30428"]
    for key in four:
        for grid in grids:
            decisions = decide(areas, by_item, key, grid, at)
            for role in ROLES:
                decision = decisions[role]
                assert not decision.conflicts, (key, grid, role)
                assert decision.winner is not None, (key, grid, role)
            with_basis = [r for r in ROLES if decisions[r].winner.payload.citations]
            assert "owner" in with_basis or len(with_basis) >= 3, (key, grid)


def test_catalogue_has_no_colliding_entries(kb, index):
    areas, by_item = index
    for _key, duties in by_item.items():
        by_area = defaultdict(list)
        for d in duties:
            by_area[d.area_code].append(
                Candidate(d.key, d.role, d.agency_code, areas[d.area_code].depth, d.source_kind,
                          d.valid_from, d.valid_to))
        for cands in by_area.values():
            for c in cands:
                assert not collisions(c, cands), c


def test_estates_are_run_by_their_property_company(kb, index):
    areas, by_item = index
    company = {u: a.code for a in kb.agencies if a.kind == "property_company" for u in a.unit_codes}
    unit = "33019900505003"  # 安居社区
    grid = next(a.code for a in kb.areas if a.parent_code == unit)
    d = decide(areas, by_item, item_key("gbt30428", "component", "0102"), grid, dt.date(2025, 1, 1))
    assert d["owner"].winner.agency == company[unit] == "WY01"
    assert d["enforcer"].winner.agency == "CGJ"
    # the utility keeps its own covers inside the estate
    d = decide(areas, by_item, item_key("gbt30428", "component", "0101"), grid, dt.date(2025, 1, 1))
    assert d["owner"].winner.agency == "GS"


def test_ruling_outranks_a_more_specific_general_entry(kb, index):
    areas, by_item = index
    key = item_key("gbt30428", "component", "0114")
    estate_grid = next(a.code for a in kb.areas if a.parent_code == "33019900305002")  # 嘉禾, 锦绣街道
    before = decide(areas, by_item, key, estate_grid, dt.date(2025, 5, 31))
    after = decide(areas, by_item, key, estate_grid, dt.date(2025, 6, 1))
    assert before["owner"].winner.agency == "WY03"
    assert after["owner"].winner.agency == "PS"
    assert after["owner"].winner.source_kind == "ruling"


def test_past_dates_answer_as_of_that_date(kb, index):
    areas, by_item = index
    key = item_key("gbt30428", "component", "0118")
    grid = "3301990010100101"
    assert decide(areas, by_item, key, grid, dt.date(2024, 12, 31))["maintainer"].winner.agency == "SZYH"
    assert decide(areas, by_item, key, grid, dt.date(2025, 1, 1))["maintainer"].winner.agency == "ZMGS"


def test_street_overrides_pick_the_street_squadron(kb, index):
    areas, by_item = index
    key = item_key("gbt30428", "component", "0307")
    for street in range(1, 10):
        grid = next(a.code for a in kb.areas if a.level == "grid" and a.code.startswith(f"330199{street:03d}"))
        d = decide(areas, by_item, key, grid, dt.date(2025, 1, 1))
        assert d["enforcer"].winner.agency == f"CGJ-ZD{street:03d}"
        assert d["owner"].winner.agency == f"JD{street:03d}"


def test_powers(kb):
    assert {p.category for p in kb.powers} == {"行政处罚", "行政强制", "行政检查", "行政许可", "其他"}
    for p in kb.powers:
        assert p.citations and p.responsibilities and p.accountability


# ---------------------------------------------------------------- citations against the corpus

def _lawpack_articles(title):
    """article number -> paragraphs (lists of lines) of the law pack's current text, or None."""
    import sqlite3

    from portal.regulations.lawpack import find_lawpack_db

    path = find_lawpack_db(None)
    if path is None:
        return None
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            "SELECT a.article_no_arabic, a.article_text FROM articles a JOIN laws l ON a.law_id = l.law_id "
            "WHERE l.law_name = ? AND l.status IN ('现行有效', '已被修改', '尚未生效')", (title,)).fetchall()
    finally:
        connection.close()
    result = {}
    for number, text in rows:
        paragraphs = []
        for line in (text or "").splitlines():
            line = line.strip()
            if not line:
                continue
            if re.match(r"^[（(][一二三四五六七八九十]+[)）]", line) and paragraphs:
                paragraphs[-1].append(line)
            else:
                paragraphs.append([line])
        result[number] = paragraphs
    return result


def _corpus():
    titles = {}
    with (LAWS / "MANIFEST.tsv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            titles[row["title"]] = LAWS / row["file"]
    return titles


def _articles(path):
    """article number -> list of paragraphs (each a list of item lines)."""
    from portal.numerals import parse_chinese_number

    result = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        m = re.match(r"^第([零一二三四五六七八九十百]+)条[\s　]+(.*)$", line)
        if m:
            current = parse_chinese_number(m.group(1))
            result[current] = [[m.group(2)]]
        elif line.startswith("#"):
            current = None if line.startswith(("## ", "### ")) else current
        elif line and current is not None and not line.startswith("<!--"):
            if re.match(r"^[（(][一二三四五六七八九十]+[)）]", line):
                result[current][-1].append(line)
            else:
                result[current].append([line])
    return result


@pytest.mark.skipif(not LAWS.exists(), reason="shared law corpus not available")
def test_every_citation_names_a_real_article(kb):
    """Every citation names an existing article (paragraph, item) of a text the portal loads: the
    shared corpus or, for national laws it does not hold, the national-law pack. Nothing cited is
    left unresolvable (issue 11: zero unresolved citations)."""
    titles = _corpus()
    cache = {}
    seen = set()
    for where, text in iter_citations(kb):
        if text in seen:
            continue
        seen.add(text)
        c = parse_citation(text)
        if c.regulation_title not in cache:
            if c.regulation_title in titles:
                cache[c.regulation_title] = _articles(titles[c.regulation_title])
            else:
                pack = _lawpack_articles(c.regulation_title)
                if pack is None:
                    pytest.skip("national-law pack not installed")
                cache[c.regulation_title] = pack
        articles = cache[c.regulation_title]
        assert articles, (where, text, "regulation held by neither the corpus nor the law pack")
        assert c.article_number in articles, (where, text)
        paragraphs = articles[c.article_number]
        if c.paragraph:
            assert c.paragraph <= len(paragraphs), (where, text, len(paragraphs))
        if c.item:
            para = paragraphs[(c.paragraph or 1) - 1] if c.paragraph else [
                line for p in paragraphs for line in p]
            items = list(para[1:]) if c.paragraph else [
                line for line in para if re.match(r"^[（(]", line)]
            assert c.item <= len(items), (where, text, items)


def test_every_five_digit_component_is_answered_directly_or_through_the_crosswalk(kb, index):
    areas, by_item = index
    linked = defaultdict(set)
    for cw in kb.crosswalk:
        if cw.to_code and cw.kind != "none":
            linked[item_key("gb47678", "component", cw.to_code)].add(item_key("gbt30428", "component", cw.from_code))
    grids = [a.code for a in kb.areas if a.level == "grid"][::7]
    for item in (it for it in kb.item_types if it.scheme == "gb47678" and it.kind == "component"):
        keys = [item.key] if by_item.get(item.key) else sorted(linked[item.key])
        assert keys, item.key
        for grid in grids:
            decisions = decide(areas, by_item, keys[0], grid, dt.date(2025, 7, 1))
            assert all(decisions[r].winner is not None for r in ROLES), (item.key, keys[0], grid)
