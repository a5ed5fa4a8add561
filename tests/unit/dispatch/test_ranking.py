"""The ranker and the place finder, on the knowledge base's own vocabulary and classification."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from portal.dispatch.places import PlaceFinder
from portal.dispatch.ranking import CodeInfo, ExampleIndex, ItemRanker
from portal.dispatch.vocabulary import Vocabulary
from portal.search import analysis
from portal.search.query import SynonymTable

KB = Path(__file__).resolve().parents[3] / "knowledge_base"


def kb_codes() -> list[CodeInfo]:
    with (KB / "classification" / "gb47678_components.csv").open(encoding="utf-8") as handle:
        components = {r["code"]: r["name"] for r in csv.DictReader(handle)}
    with (KB / "classification" / "gb47678_events.csv").open(encoding="utf-8") as handle:
        events = list(csv.DictReader(handle))
    return [CodeInfo(r["code"], r["major_code"], r["name"], components.get(r["code"], ""),
                     (r["name"], r["name"].removesuffix("异常"), components.get(r["code"], "")))
            for r in events]


@pytest.fixture(scope="module")
def vocabulary() -> Vocabulary:
    return Vocabulary.load(KB / "dispatch" / "vocabulary.yaml")


@pytest.fixture(scope="module")
def ranker(vocabulary: Vocabulary) -> ItemRanker:
    synonyms = SynonymTable.load(KB / "synonyms.yaml")
    # as the app does: the search teaches the segmenter the synonyms' words at start-up
    analysis.warm_up(synonyms.words())
    return ItemRanker(kb_codes(), vocabulary, synonyms)


def top(ranker: ItemRanker, text: str, examples: ExampleIndex | None = None) -> str:
    return ranker.rank(text, examples)[0].code


def test_every_item_type_has_everyday_names(vocabulary: Vocabulary) -> None:
    codes = {c.code for c in kb_codes()}
    assert codes == set(vocabulary.items)
    thin = [code for code, entry in vocabulary.items.items() if len(entry.names) < 2]
    assert not thin, f"item types with fewer than two everyday names: {thin}"


def test_four_digit_components_without_counterpart_have_entries(vocabulary: Vocabulary) -> None:
    with (KB / "classification" / "crosswalk.csv").open(encoding="utf-8") as handle:
        orphans = {r["from_code"] for r in csv.DictReader(handle) if r["kind"] == "none"}
    assert orphans and orphans <= set(vocabulary.legacy)


def test_everyday_words_lead_to_the_item_type_and_are_given_as_reasons(ranker: ItemRanker) -> None:
    best = ranker.rank("小区门口那个下水道盖子不见了，晚上很危险")[0]
    assert best.code == "01002"
    assert "下水道盖子" in best.why
    # 下水道盖子 counts once: its parts are not separate evidence
    assert "盖子" not in best.why


@pytest.mark.parametrize(("text", "code"), [
    ("楼下烧烤摊天天摆到半夜，烟熏得开不了窗", "06029"),
    ("多户从窗口吊线下楼给电动车充电", "06008"),
    ("电动车充电桩扫码以后不通电", "01054"),
    ("有辆车在路边停了大半年，轮胎都瘪了", "06034"),
    ("墙上贴满了牛皮癣", "07001"),
    # generic nouns (亭子, 机器, 杆子, 栏杆) with what the thing is for
    ("街边卖雪糕饮料的小亭子锁坏了", "01044"),
    ("小区门口交水电费的机器一直黑屏", "01053"),
    ("一根不知道干什么用的杆子立在人行道中间", "01034"),
    ("挂电线的水泥杆子被撞裂了", "01030"),
    ("绿化带四周的矮栏杆被踩坏了", "04008"),
])
def test_close_neighbours_are_told_apart(ranker: ItemRanker, text: str, code: str) -> None:
    assert top(ranker, text) == code


def test_an_unlike_word_moves_a_rain_cover_ahead_of_a_sewage_cover(ranker: ItemRanker) -> None:
    ranked = [r.code for r in ranker.rank("下雨天积水，雨水井盖翘起来了")]
    assert ranked[0] == "01003"
    assert "01002" not in ranked[:1]


def test_a_name_counts_after_a_modifier_in_the_same_word(ranker: ItemRanker) -> None:
    # the segmenter keeps 铁栏杆 whole; 栏杆 still names the railing
    best = ranker.rank("小区门口的铁栏杆又被车撞歪了")[0]
    assert best.code == "02017" and "栏杆" in best.why


def _two_item_ranker(first: tuple[str, str], second: tuple[str, str]) -> ItemRanker:
    """A ranker over two item types, each known by one name: the locative rule alone decides."""
    codes = [CodeInfo(code, code[:2], f"事件{code}") for code, _name in (first, second)]
    vocabulary = Vocabulary.from_mapping({"items": {code: {"names": name} for code, name in (first, second)}})
    return ItemRanker(codes, vocabulary)


def test_a_thing_at_the_foot_of_another_is_the_subject() -> None:
    # 脚下 is a locative: the cover at the foot of the lamp post is what is missing
    ranker = _two_item_ranker(("01037", "路灯杆"), ("01006", "井盖"))
    assert top(ranker, "路灯杆脚下那个井盖不见了") == "01006"


def test_a_locative_character_that_starts_a_longer_word_is_not_a_locative() -> None:
    # 外墙 is one word: the tower's wall, not "outside the tower"; 旁边 still is a locative
    ranker = _two_item_ranker(("01063", "水塔"), ("06004", "外墙"))
    scores = {r.code: r.vocabulary for r in ranker.rank("老水塔外墙一块块往下掉")}
    assert scores["01063"] == pytest.approx(scores["06004"])
    scores = {r.code: r.vocabulary for r in ranker.rank("老水塔旁边的外墙一块块往下掉")}
    assert scores["01063"] == pytest.approx(ranker.LOCATIVE_FACTOR * scores["06004"])


def test_a_confirmed_example_pulls_a_similar_text(ranker: ItemRanker) -> None:
    text = "河边的亲水平台木板烂了好几块"
    before = top(ranker, text)
    examples = ExampleIndex([(1, "河边亲水平台的木板烂了几块，差点踩空", "02029")])
    assert before != "02029"
    best = ranker.rank(text, examples)[0]
    assert best.code == "02029" and best.examples == [1]
    # an unrelated text is not pulled
    assert top(ranker, "路灯不亮了", examples) == "01037"


def test_nothing_recognisable_gives_no_suggestions(ranker: ItemRanker) -> None:
    assert ranker.rank("你好你好") == []


def test_unknown_vocabulary_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown keys"):
        Vocabulary.from_mapping({"items": {"01001": {"name": "typo"}}})


def test_places_named_in_a_text() -> None:
    finder = PlaceFinder([("330199001", "滨湖街道", "street"), ("33019900101001", "石桥社区", "unit")],
                         {"石桥路": ("road", "33019900101001"), "滨湖大道": ("road", "330199001")})
    text = "滨湖大道和石桥路交叉口的石桥栏杆断了"
    mentions = finder.mentions(text)
    assert [m.place.name for m in mentions] == ["滨湖大道", "石桥路"]
    # the community's road is more specific than the street's avenue… both are features: first wins
    assert finder.best(mentions).place.name == "滨湖大道"
    masked = finder.masked(text, mentions)
    assert "石桥路" not in masked and "石桥栏杆" in masked
    assert finder.best(finder.mentions("石桥社区门口")).place.kind == "unit"
    assert finder.mentions("我家楼下") == []
