"""Chinese personal names in free text ("我叫王小明", "李四和王五占道"), for the privacy scrubber.

A name is a surname followed by one or two given-name characters. Free text is cut with the
search's jieba segmenter (its dictionary is loaded once per process anyway), and a word is taken
for a name when

- it follows a word that introduces a person (我叫, 本人, 联系人, 举报人, 邻居 …), whatever it is; or
- jieba's dictionary tags it a person name (``nr``), or jieba's HMM found it as a new word (names
  are the commonest unknown words), and it starts with a common surname,

unless it is part of a place or an organisation: a word ending in, or followed by, a place or
organisation word (路, 街道, 社区, 广场, 小学, 公司 …) is a name of a place (雷锋广场, 张家弄,
刘德华路), never of a person. Cutting is about 180k characters a second; jieba's part-of-speech
tagger would be ten times slower and tags domain words such as 井盖 as person names.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from portal.search import analysis

# The commonest surnames (about 95 % of the population), single and compound.
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃"
    "武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮"
    "柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉"
    "缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎"
    "甄丛仲虞敖巩明佘池查麻苑迟邝"
)
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 令狐 长孙 宇文 司徒 夏侯 轩辕 端木 独孤 南宫 西门 呼延 "
    "澹台 公冶 宗政 濮阳 淳于 单于 太叔 申屠 钟离 闾丘 百里 东郭 南门 万俟".split()
)
# Surnames that begin everyday words so often that an unknown word starting with one is rarely a
# name (路边摊, 时有, 和王五 → 和): those need a dictionary name tag or an introducing word.
_WEAK = frozenset("路时和单文明全应成高金石方白安常向于关管车连景宁阳师商沙华农司古吉简项麦党宫费冷席"
                  "边凌童符甘包尚柏宗易齐双解游尤米全龙江房谷")

# Words after which the next word is a person: self-introductions and the people of a complaint.
_INTRODUCERS = (
    "我叫", "我是", "名叫", "叫做", "本人", "姓名", "联系人", "举报人", "投诉人", "反映人", "报料人",
    "报告人", "当事人", "户主", "业主", "住户", "租户", "房东", "邻居", "店主", "摊主", "老板", "司机",
    "经办人", "处置人", "处理人", "负责人", "网格员", "监督员", "协管员", "队员", "市民", "居民",
)
_INTRODUCER = re.compile(
    "(?:" + "|".join(sorted(_INTRODUCERS, key=len, reverse=True)) + r")\s*(?:是|为|叫|:|：)?\s*$"
)

# Introducers that end a word whatever follows (no word begins with what they end in but 人丁, 人王…).
_STRONG_INTRODUCER = re.compile(
    "(?:" + "|".join(sorted(("我叫", "名叫", "叫做", "姓名", "联系人", "举报人", "投诉人", "反映人", "报料人", "报告人",
                             "当事人", "经办人", "处置人", "处理人", "负责人"), key=len, reverse=True))
    + r")(?:是|为|叫|:|：)?\s*"
)

# A word that ends in one of these, or is followed by one, names a place or an organisation.
_PLACE_WORDS = (
    "路", "街", "道", "巷", "弄", "里", "村", "区", "县", "市", "镇", "乡", "省", "桥", "园", "湖", "山", "河", "江",
    "港", "湾", "坊", "庄", "寺", "庙", "塔", "门", "楼", "厦", "苑", "府", "墅", "城", "场", "站", "局", "所",
    "院", "校", "馆", "店", "厂", "司", "行", "社", "委", "会", "队", "部", "处", "科", "组", "组织", "家",
    "社区", "街道", "广场", "公园", "小学", "中学", "大学", "学校", "医院", "公司", "集团", "中心", "大厦",
    "花园", "小区", "新村", "家园", "商场", "超市", "市场", "银行", "酒店", "宾馆", "饭店", "菜场",
    "片区", "网格", "单元", "中队", "大队", "支队", "分局", "站所",
)
_DIRECTIONS = frozenset("东西南北中")
# Forms of address and roles the dictionary tags as names (师傅 nr): they name nobody.
_NOT_NAMES = frozenset("谢谢 师傅 先生 女士 小姐 老师 阿姨 大爷 大妈 大姐 大哥 同志 主任 经理 老板 书记 队长 师父".split())
# Characters that begin the words after 本人 / 市民 far more often than any rare surname does.
_NEVER_FIRST = frozenset("也都就还又在是说已有没不的了和与及把被让给对从向到很太才刚正将会要能可这那我你他她它们请去来过"
                         "再即便因为所以但而或")
# Words that join two names (赵六和张三).
_CONNECTORS = frozenset("和与及跟同、")
_NAME_TAGS = frozenset({"nr", "nrfg", "nrt"})
_HAN = re.compile(r"^[\u4e00-\u9fff]+$")


@functools.lru_cache(maxsize=1)
def _word_tags() -> dict[str, str]:
    """jieba's dictionary tags (word → part of speech), read once."""
    import jieba.posseg

    return jieba.posseg.POSTokenizer(analysis.segmenter()).word_tag_tab


def warm_up() -> None:
    """Load the segmenter and the dictionary tags now (about 1.5 s), not in a request."""
    _word_tags()


def _unknown(word: str) -> bool:
    """A word jieba's HMM made up: in no dictionary, neither jieba's nor the portal's."""
    return not analysis.segmenter().FREQ.get(word)


def _surname_of(word: str) -> str | None:
    if word[:2] in COMPOUND_SURNAMES:
        return word[:2]
    if word[:1] in SURNAMES:
        return word[:1]
    return None


def _is_place(word: str, next_word: str, then: str = "") -> bool:
    """``word`` names a place or an organisation: it ends in a place word (张家弄), or the word
    after it is one (雷锋|广场, 刘德华|路), perhaps after a direction (安澜|东|片区)."""
    return (word.endswith(_PLACE_WORDS) or next_word in _PLACE_WORDS
            or (next_word in _DIRECTIONS and then in _PLACE_WORDS))


def _introduced_name(words: list[str], index: int, tags: dict[str, str]) -> int:
    """The length of the name that starts at ``words[index]`` right after an introducing word,
    or 0: a made-up or name-tagged word of two to four characters (乜琳辉), or a single character
    and what follows, up to three (禤|欣|晨, 仉|洋洋). A dictionary word there (我是|环卫工人) is no name."""
    word = words[index]
    if word[:1] in _NEVER_FIRST:
        return 0
    if len(word) >= 2:
        named = tags.get(word) in _NAME_TAGS or _unknown(word)
        return len(word) if named and len(word) <= 4 and word not in _NOT_NAMES else 0
    run = word
    for following in words[index + 1:index + 3]:
        if not _HAN.match(following) or len(run) + len(following) > 3:
            break
        run += following
    return len(run) if len(run) >= 2 and run not in _NOT_NAMES else 0


def _words(text: str) -> list[str]:
    """``text`` cut into words, with a cut forced after each strong introducing word followed by
    a surname: jieba would otherwise glue the surname to the introducer (联系|人丁|博勇)."""
    cuts = [match.end() for match in _STRONG_INTRODUCER.finditer(text)
            if _surname_of(text[match.end():match.end() + 2])]
    if not cuts:
        return analysis.cut_bounded(text)
    words: list[str] = []
    previous = 0
    for cut in [*cuts, len(text)]:
        if cut > previous:
            words += analysis.cut_bounded(text[previous:cut])
            previous = cut
    return words


def person_names(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each personal name found in ``text``."""
    if not text:
        return
    tags = _word_tags()
    words = _words(text)
    offsets = []
    position = 0
    for word in words:
        offsets.append(position)
        position += len(word)
    skip_to = 0
    found: list[tuple[int, int]] = []
    for index, word in enumerate(words):
        start = offsets[index]
        if start < skip_to or not _HAN.match(word):
            continue
        end = start + len(word)
        next_word = words[index + 1] if index + 1 < len(words) else ""
        then = words[index + 2] if index + 2 < len(words) else ""
        # A name right after another one and a connector (李四和|张|三) is introduced by it.
        joined = bool(found) and text[found[-1][1]:start] in _CONNECTORS
        introduced = joined or bool(_INTRODUCER.search(text[max(0, start - 8):start]))
        # A compound surname cut off its given name (欧阳 | 娜娜), or a surname cut alone (王 | 小明).
        if (word in COMPOUND_SURNAMES or (len(word) == 1 and word in SURNAMES and introduced)) \
                and index + 1 < len(words):
            given = next_word
            if 1 <= len(given) <= 2 and _HAN.match(given) and (introduced or tags.get(given) in _NAME_TAGS
                                                                or _unknown(given)):
                combined_end = end + len(given)
                if not _is_place(word + given, then):
                    skip_to = combined_end
                    found.append((start, combined_end))
                    continue
        surname = _surname_of(word)
        if surname is None and introduced:
            # A surname outside the list (禤, 乜, 佴): the introducing word says it is a name.
            span = _introduced_name(words, index, tags)
            if span and not _is_place(text[start:start + span], text[start + span:start + span + 2]):
                skip_to = start + span
                found.append((start, start + span))
            continue
        if surname is None or len(word) < 2 or word in _NOT_NAMES:
            continue
        tag = tags.get(word)
        if not (introduced or tag in _NAME_TAGS or (_unknown(word) and surname not in _WEAK)):
            continue
        name, after = word, next_word
        if len(word) > len(surname) + 2:
            # The HMM glued the name to what follows (王五占道, 赵六乱扔): keep the known word.
            if not _unknown(word):
                continue
            joint = next((k for k in (len(surname) + 1, len(surname) + 2)
                          if word[k:k + 1] in _CONNECTORS and len(word) > k + 1), None)
            if joint is not None:
                # Two names glued over 和 (赵六和张|三): the first, and the one after the connector.
                if not _is_place(word[:joint], word[joint:]):
                    found.append((start, start + joint))
                rest = word[joint + 1:]
                rest_surname = _surname_of(rest)
                if rest_surname is not None:
                    if len(rest) > len(rest_surname):
                        length = min(len(rest), len(rest_surname) + 2)
                    elif 1 <= len(next_word) <= 2 and _HAN.match(next_word):
                        length = len(rest) + len(next_word)
                    else:
                        length = 0
                    if length:
                        rest_start = start + joint + 1
                        skip_to = rest_start + length
                        found.append((rest_start, skip_to))
                continue
            cut = next((k for k in (len(surname) + 1, len(surname) + 2) if not _unknown(word[k:])),
                       len(surname) + 2)
            name, after = word[:cut], word[cut:]
        if not _is_place(name, after, then if after == next_word else ""):
            found.append((start, start + len(name)))
    yield from found
