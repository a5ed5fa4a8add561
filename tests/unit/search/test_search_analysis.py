"""Chinese analysis, numerals and query understanding (no index involved)."""

from __future__ import annotations

from pathlib import Path

import pytest

from portal.numerals import chinese_to_int, format_chinese_number
from portal.search import analysis
from portal.search.query import (
    LawCatalogue,
    LawEntry,
    QueryPlanner,
    SynonymTable,
    find_citation,
    normalize_title,
)


def test_normalize_folds_width_and_case():
    assert analysis.normalize("ＡＢＣ６３") == "abc63"


def test_bigrams_and_runs():
    assert analysis.bigrams("窨井盖") == ["窨井", "井盖"]
    assert analysis.bigrams("井") == ["井"]
    assert list(analysis.runs("第63条，井盖！")) == [("第", True), ("63", False), ("条", True), ("井盖", True)]


def test_index_terms_per_mode():
    bigram = analysis.index_terms("检查井盖", "bigram")
    assert bigram == ["检查", "查井", "井盖"]
    jieba_terms = analysis.index_terms("城市道路管理", "jieba")
    assert "城市道路" in jieba_terms or "道路" in jieba_terms
    combined = analysis.index_terms("城市道路管理", "combined")
    assert {"城市", "道路", "管理"} <= set(combined)
    assert any(len(t) > 2 for t in combined)  # jieba's longer words ride along


def test_domain_words_steer_segmentation():
    analysis.warm_up()
    assert "窨井盖" in analysis.cut_words("马路上窨井盖丢了")
    assert "占道经营" in analysis.cut_words("禁止占道经营")


def test_query_terms_never_straddle_words():
    # Combined query terms are the bigrams inside a word plus the word itself.
    assert analysis.word_terms("窨井盖") == ["窨井", "井盖", "窨井盖"]
    assert analysis.word_terms("井盖") == ["井盖"]


@pytest.mark.parametrize("text, value", [
    ("二十三", 23), ("一百零五", 105), ("十", 10), ("十一", 11), ("一千零一", 1001), ("两百", 200),
    ("63", 63), ("６３", 63), ("一百一十", 110), ("廿三", 23), ("二〇一九", 2019), ("井", None), ("", None),
])
def test_chinese_numerals(text, value):
    assert chinese_to_int(text) == value


def test_numerals_round_trip():
    assert all(chinese_to_int(format_chinese_number(n)) == n for n in range(1, 3000))
    assert format_chinese_number(105) == "一百零五" and format_chinese_number(10) == "十" and format_chinese_number(110) == "一百一十"


@pytest.mark.parametrize("query, law, number, label", [
    ("城市道路管理条例 第二十三条", "城市道路管理条例", 23, "第二十三条"),
    ("行政处罚法第63条", "行政处罚法", 63, "第六十三条"),
    ("《上海市市容环境卫生管理条例》第二十八条", "上海市市容环境卫生管理条例", 28, "第二十八条"),
    ("行政处罚法 63条", "行政处罚法", 63, "第六十三条"),
    ("第十条之一", "", 10, "第十条之一"),
    ("请问行政强制法第十八条怎么理解", "请问行政强制法", 18, "第十八条"),
])
def test_find_citation(query, law, number, label):
    ref = find_citation(analysis.normalize(query))
    assert ref is not None
    assert (ref.law_text, ref.number, ref.label) == (law, number, label)


@pytest.mark.parametrize("query", ["一条马路", "管理条例", "城管罚多少钱", "这条规定", "第条"])
def test_not_a_citation(query):
    assert find_citation(analysis.normalize(query)) is None


CATALOGUE = LawCatalogue([
    LawEntry(1, "中华人民共和国行政处罚法", "行政处罚法"),
    LawEntry(2, "中华人民共和国道路交通安全法"),
    LawEntry(3, "中华人民共和国道路交通安全法实施条例"),
    LawEntry(4, "上海市市容环境卫生管理条例", places=("上海",)),
    LawEntry(5, "北京市市容环境卫生条例", places=("北京",)),
    LawEntry(6, "城市市容和环境卫生管理条例"),
    LawEntry(7, "中华人民共和国个人信息保护法"),
    LawEntry(8, "中华人民共和国行政处罚法", in_force=False),
])


@pytest.mark.parametrize("typed, expected", [
    ("行政处罚法", 1),  # short name, the in-force one first
    ("中华人民共和国行政处罚法", 1),
    ("《行政处罚法》", 1),
    ("道交法", 2),  # abbreviation: first char, kind, characters in order
    ("道路交通安全法实施条例", 3),
    ("个保法", 7),
    ("上海市市容环境卫生管理条例", 4),
    ("查一下行政处罚法", 1),  # leading words are skipped
    ("处罚法", 1),  # the end of a title
])
def test_law_names_resolve(typed, expected):
    assert CATALOGUE.resolve(typed)[0].regulation_id == expected


def test_ambiguous_name_prefers_the_place_named():
    assert CATALOGUE.resolve("市容环境卫生管理条例", places=["上海"])[0].regulation_id == 4


def test_unknown_law_resolves_to_nothing():
    assert CATALOGUE.resolve("民法典") == []
    assert CATALOGUE.resolve("法") == []


def test_normalize_title():
    assert normalize_title("《中华人民共和国行政处罚法（2021修订）》") == "行政处罚法"


def test_synonyms_yaml_and_tsv(tmp_path: Path):
    yaml_file = tmp_path / "s.yaml"
    yaml_file.write_text("expand:\n  违建: [违法建筑, 违法建设]\nequivalent:\n  - [噪声, 噪音]\n", encoding="utf-8")
    table = SynonymTable.load(yaml_file)
    assert dict(table.expansions("上海违建")) == {"违建": ["违法建筑", "违法建设"]}
    assert dict(table.expansions("噪音扰民")) == {"噪音": ["噪声"]}
    tsv = tmp_path / "s.tsv"
    tsv.write_text("# comment\n摆摊\t设摊, 占道经营\n", encoding="utf-8")
    assert dict(SynonymTable.load(tsv).expansions("摆摊")) == {"摆摊": ["设摊", "占道经营"]}
    assert len(SynonymTable.load(tmp_path / "missing.yaml")) == 0


def test_repository_synonyms_load():
    path = Path(__file__).resolve().parents[3] / "knowledge_base" / "synonyms.yaml"
    table = SynonymTable.load(path)
    assert len(table) >= 50
    assert "检查井" in dict(table.expansions("窨井盖"))["窨井盖"]


def test_planner_groups_synonyms_with_their_word():
    planner = QueryPlanner(SynonymTable({"窨井盖": ["检查井", "井盖"]}))
    plan = planner.plan("马路上窨井盖丢了谁负责", known_places=[])
    groups = [[m.word for m in g.members] for g in plan.groups]
    assert ["窨井盖", "检查井", "井盖"] in groups
    assert all("谁" not in w for g in groups for w in g)


def test_planner_drops_question_words_and_finds_places():
    planner = QueryPlanner(SynonymTable())
    plan = planner.plan("上海罚多少钱？怎么办呢", known_places=["上海", "北京"])
    assert plan.places == ["上海"]
    words = {m.word for m in plan.concepts}
    assert not words & {"多少钱", "怎么办", "多少", "怎么", "呢", "上海"}


def test_planner_survives_junk():
    planner = QueryPlanner(SynonymTable())
    for text in ["", "？？？", '"((', "井" * 10_000, "\x00"]:
        plan = planner.plan(text)
        assert len(plan.text) <= 500


def test_jieba_never_sees_a_run_longer_than_the_bound(monkeypatch):
    """jieba's HMM is quadratic in a run of unknown characters: an editor's 340,000-character
    article once held a search for nine minutes. Every cut goes through bounded pieces."""
    from portal.cases.names import person_names
    from portal.search import analysis

    analysis.warm_up()
    seg = analysis.segmenter()
    longest = [0]
    real_lcut, real_tokenize = seg.lcut, seg.tokenize

    def lcut(text, *args, **kwargs):
        longest[0] = max(longest[0], len(text))
        return real_lcut(text, *args, **kwargs)

    def tokenize(text, *args, **kwargs):
        longest[0] = max(longest[0], len(text))
        return real_tokenize(text, *args, **kwargs)

    monkeypatch.setattr(seg, "lcut", lcut)
    monkeypatch.setattr(seg, "tokenize", tokenize)
    text = "龘" * 5_000 + "井盖缺失" + "龘" * 5_000
    assert "井盖" in analysis.index_terms(text)
    analysis.word_spans(analysis.normalize(text))
    analysis.jieba_words(text)
    analysis.cut_words(text)
    list(person_names(text))
    assert 0 < longest[0] <= analysis.MAX_RUN


def test_bounded_pieces_keep_every_character_in_place():
    from portal.search import analysis

    text = "龘" * 600 + "窨井盖"
    spans = analysis.word_spans(text)
    assert "".join(word for word, _s, _e in spans) == text
    assert all(text[start:end] == word for word, start, end in spans)
