"""Parsing statute texts: markdown corpus shape and plain official-database copies.

Every text here is invented for the tests.
"""

import datetime

import pytest

from portal.regulations.parsing import (
    RegulationParseError,
    parse_date,
    parse_history,
    parse_regulation_file,
    parse_regulation_text,
    split_article_body,
)

MARKDOWN = """\
# 青石市街巷井盖管理条例

2001年3月5日 青石市第九届人民代表大会常务委员会第七次会议通过　

2012年6月1日 《青石市人民代表大会常务委员会关于修改部分地方性法规的决定》第一次修正　

<!-- INFO END -->

## 第一章　总　　则

第一条 为了管好街巷井盖，保障行人安全，制定本条例。

第二条 本条例所称井盖，是指检查井、雨水口等地下设施的盖板。

本市行政区域内的井盖管理适用本条例。

## 第二章 责任

### 第一节 权属单位

第三条 井盖的权属单位应当履行下列职责：

（一）定期巡查；

（二）及时修复破损井盖；

1. 白天两小时内到场；

2. 夜间四小时内到场；

（三）设置警示标志。

权属单位不明的，由区市政部门先行处置。

第三条之一 权属单位应当在井盖上标注单位名称。

### 第二节 监督

第四条 城市管理部门负责监督检查。

## 第三章 附则

第五条 本条例自2013年1月1日起施行。
"""


def test_markdown_title_history_and_articles():
    reg = parse_regulation_text(MARKDOWN, source="qingshi.md")
    assert reg.format == "markdown"
    assert reg.title == "青石市街巷井盖管理条例"
    assert [a.label for a in reg.articles] == [
        "第一条", "第二条", "第三条", "第三条之一", "第四条", "第五条",
    ]
    assert [(a.number, a.suffix) for a in reg.articles] == [
        (1, 0), (2, 0), (3, 0), (3, 1), (4, 0), (5, 0),
    ]
    assert len(reg.header_lines) == 2
    assert [(e.date, e.kind) for e in reg.history] == [
        (datetime.date(2001, 3, 5), "adopted"),
        (datetime.date(2012, 6, 1), "amended"),
    ]
    assert reg.promulgation_date == datetime.date(2001, 3, 5)
    assert reg.version_date == datetime.date(2012, 6, 1)
    assert reg.amendment_dates == [datetime.date(2012, 6, 1)]
    assert reg.warnings == []


def test_markdown_chapter_paths_are_normalized():
    reg = parse_regulation_text(MARKDOWN)
    paths = {a.label: a.chapter_path for a in reg.articles}
    assert paths["第一条"] == ("第一章 总则",)
    assert paths["第三条"] == ("第二章 责任", "第一节 权属单位")
    assert paths["第三条之一"] == ("第二章 责任", "第一节 权属单位")
    assert paths["第四条"] == ("第二章 责任", "第二节 监督")
    # A new chapter clears the section.
    assert paths["第五条"] == ("第三章 附则",)


def test_paragraphs_items_and_subitems():
    reg = parse_regulation_text(MARKDOWN)
    second = reg.articles[1]
    assert second.paragraphs == [
        "本条例所称井盖，是指检查井、雨水口等地下设施的盖板。",
        "本市行政区域内的井盖管理适用本条例。",
    ]
    assert second.items == [[], []]
    third = reg.articles[2]
    assert third.paragraphs == ["井盖的权属单位应当履行下列职责：", "权属单位不明的，由区市政部门先行处置。"]
    assert third.items[0] == [
        "（一）定期巡查；",
        "（二）及时修复破损井盖；\n1. 白天两小时内到场；\n2. 夜间四小时内到场；",
        "（三）设置警示标志。",
    ]
    assert third.items[1] == []
    assert third.text.splitlines()[0] == "井盖的权属单位应当履行下列职责："
    assert third.line == MARKDOWN.splitlines().index("第三条 井盖的权属单位应当履行下列职责：") + 1


PLAIN = """\
\ufeff
　　青石市河道保洁办法（2019年修订）

（2015年4月2日青石市人民政府令第12号公布　根据2019年8月9日青石市人民政府令第31号修订）

目　　录

第一编　通　　则
第一章　总则
第二章　保洁责任
第二编　附　　则

第一编　通　　则
第一章　总　　则

第一条　为了保持河道整洁，制定本办法。
第二条　本办法适用于本市建成区内的河道。
　　第十条规定的情形除外。
第二章　保洁责任
第三条河道保洁实行分段负责。
第四条	河道管理单位应当每日巡查。
第5条 巡查记录保存一年。
第二编　附　　则
第六条　本办法自公布之日起施行。
"""


def test_plain_text_with_toc_parts_and_odd_separators():
    reg = parse_regulation_text(PLAIN, source="river.txt")
    assert reg.format == "plain"
    assert reg.title == "青石市河道保洁办法"
    assert "（2019年修订）" in reg.header_lines
    assert [a.number for a in reg.articles] == [1, 2, 3, 4, 5, 6]
    assert reg.articles[0].chapter_path == ("第一编 通则", "第一章 总则")
    assert reg.articles[2].chapter_path == ("第一编 通则", "第二章 保洁责任")
    # A new 编 clears the chapter below it.
    assert reg.articles[5].chapter_path == ("第二编 附则",)
    # “第十条规定的…” at the start of a line is a cross-reference, not an article.
    assert reg.articles[1].paragraphs == ["本办法适用于本市建成区内的河道。", "第十条规定的情形除外。"]
    # No separator after the label; a tab; Arabic digits.
    assert reg.articles[2].paragraphs == ["河道保洁实行分段负责。"]
    assert reg.articles[3].paragraphs == ["河道管理单位应当每日巡查。"]
    assert reg.articles[4].label == "第五条"


def test_toc_with_page_numbers_and_parts_missing_from_it():
    text = (
        "某某条例\n目　录\n第一章　总　　则……………………1\n第二章　管理 ........ 3\n附　　则\t9\n"
        "第一编 通则\n第一章　总　　则\n第一条　甲。\n第二章　管理\n第二条　乙。\n"
    )
    reg = parse_regulation_text(text)
    # 第一编 is not in the contents; the body starts where a listed heading comes back.
    assert [a.chapter_path for a in reg.articles] == [
        ("第一编 通则", "第一章 总则"), ("第一编 通则", "第二章 管理"),
    ]


def test_plain_text_history_and_document_number():
    reg = parse_regulation_text(PLAIN)
    assert [(e.date, e.kind) for e in reg.history] == [
        (datetime.date(2015, 4, 2), "promulgated"),
        (datetime.date(2019, 8, 9), "revised"),
    ]
    assert reg.history[0].description == "青石市人民政府令第12号公布"
    assert reg.metadata["document_number"] == "青石市人民政府令第31号"


def test_plain_text_without_chapters():
    text = "青石市门前三包规定\n\n第一条　临街单位负责门前清扫。\n第二条　本规定自发布之日起施行。\n"
    reg = parse_regulation_text(text)
    assert reg.title == "青石市门前三包规定"
    assert [a.chapter_path for a in reg.articles] == [(), ()]
    assert reg.header_lines == []


def test_bracketed_metadata_lines():
    text = (
        "青石市占道经营管理办法\n"
        "【发布部门】青石市人民政府　【发文字号】青政发〔2020〕8号\n"
        "【发布日期】2020.03.15　【实施日期】2020.05.01\n"
        "【时效性】现行有效　【效力级别】地方政府规章\n"
        "第一条　占道经营应当经过许可。\n"
    )
    reg = parse_regulation_text(text)
    assert reg.metadata == {
        "issuing_authority": "青石市人民政府",
        "document_number": "青政发〔2020〕8号",
        "promulgation_date": "2020-03-15",
        "effective_date": "2020-05-01",
        "status": "现行有效",
        "level": "地方政府规章",
    }


def test_appendix_after_last_article_is_kept_apart():
    text = (
        "# 青石市摊点目录规定\n\n<!-- INFO END -->\n\n"
        "第一条 摊点按目录管理。\n\n第二条 本规定自发布之日起施行。\n\n"
        "附：\n\n摊点分类目录\n\n## 一、食品类\n\n(一)早点；\n"
    )
    reg = parse_regulation_text(text)
    assert len(reg.articles) == 2
    assert reg.articles[-1].paragraphs == ["本规定自发布之日起施行。"]
    assert reg.appendix == ["附：", "摊点分类目录", "一、食品类", "(一)早点；"]


def test_invisible_characters_and_bold_labels():
    text = "# 测试条例\n\n\u200b\n\n## 第一章 总则\n\n\u200b\n**第一条** 第一条的内容。\n\n第二条\u00a0第二条的内容。\n"
    reg = parse_regulation_text(text)
    assert [a.paragraphs for a in reg.articles] == [["第一条的内容。"], ["第二条的内容。"]]


def test_heading_alone_then_text_on_next_line():
    reg = parse_regulation_text("某办法\n第一条\n正文在下一行。\n第二条\n（一）直接是项；\n")
    assert reg.articles[0].paragraphs == ["正文在下一行。"]
    assert reg.articles[1].paragraphs == [""]
    assert reg.articles[1].items == [["（一）直接是项；"]]


def test_gap_in_numbering_is_a_warning_not_an_error():
    reg = parse_regulation_text("某办法\n第一条 甲。\n第三条 丙。\n")
    assert [a.number for a in reg.articles] == [1, 3]
    assert len(reg.warnings) == 1 and "第一条" in reg.warnings[0]


def test_preamble_text_after_heading_before_first_article():
    reg = parse_regulation_text("某章程\n序言\n这是一段序言。\n第一章 总则\n第一条 正文。\n")
    assert reg.preamble == ["这是一段序言。"]
    assert reg.articles[0].chapter_path == ("第一章 总则",)


def test_content_hash_tracks_the_normative_text():
    first = parse_regulation_text("某办法\n第一条 甲。\n")
    same = parse_regulation_text("某办法\n\n第一条　甲。\n")
    changed = parse_regulation_text("某办法\n第一条 乙。\n")
    assert first.content_hash() == same.content_hash()
    assert first.content_hash() != changed.content_hash()


def test_content_hash_ignores_layout_quotes_and_headings():
    one = parse_regulation_text("# 某办法\n\n## 第一章 总则\n\n第一条 所称“井盖”（含箅子）。\n")
    other = parse_regulation_text("某办法（2020年修订）\n第一条　所称\"井盖\"(含箅子)。\n")
    assert one.content_hash() == other.content_hash()


# ---------------------------------------------------------------- errors


def _error(text, source="bad.txt"):
    with pytest.raises(RegulationParseError) as info:
        parse_regulation_text(text, source=source)
    return info.value


def test_error_no_articles():
    err = _error("某办法\n这里没有任何条文。\n")
    assert err.code == "no_articles"
    assert str(err).startswith("bad.txt:1:")


def test_error_empty_file():
    err = _error("\n \u3000\n")
    assert err.code == "empty_file"
    assert err.line == 1


def test_error_numbers_go_backwards():
    err = _error("某办法\n第一条 甲。\n第三条 丙。\n第二条 乙。\n")
    assert err.code == "article_order"
    assert err.line == 4
    assert "第二条" in err.message and "第三条" in err.message


def test_error_duplicate_number():
    err = _error("某办法\n第一条 甲。\n第二条 乙。\n\n第二条 又一个乙。\n")
    assert err.code == "duplicate_article"
    assert err.line == 5
    assert "第 3 行" in err.message


def test_error_unparseable_number():
    err = _error("某办法\n第一条 甲。\n第十O条 字母O不是数字。\n")
    assert err.code == "bad_article_number"
    assert err.line == 3


def test_error_article_without_text():
    err = _error("某办法\n第一条\n第二条 乙。\n")
    assert err.code == "empty_article"
    assert err.line == 2


def test_error_names_the_file(tmp_path):
    path = tmp_path / "坏文件.md"
    path.write_text("# 某条例\n\n第二条 乙。\n\n第一条 甲。\n", encoding="utf-8")
    with pytest.raises(RegulationParseError) as info:
        parse_regulation_file(path)
    assert str(info.value).startswith(f"{path}:5:")


def test_file_encodings(tmp_path):
    path = tmp_path / "gbk.txt"
    path.write_bytes("某办法\r\n第一条　甲。\r\n".encode("gb18030"))
    assert parse_regulation_file(path).articles[0].paragraphs == ["甲。"]
    bom = tmp_path / "bom.txt"
    bom.write_bytes("\ufeff某办法\n第一条 甲。\n".encode())
    assert parse_regulation_file(bom).title == "某办法"


def test_binary_file_is_rejected(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"\x00\x01\x02")
    with pytest.raises(RegulationParseError):
        parse_regulation_file(path)


# ---------------------------------------------------------------- helpers


def test_parse_history_from_a_manifest_string():
    events = parse_history(
        "1990年5月1日 某市人民政府令第3号发布；2000年7月1日 《某市人民政府关于修改部分规章的决定》"
        "第一次修订；2001年1月1日 施行"
    )
    assert [e.kind for e in events] == ["promulgated", "revised", "effective"]
    assert events[2].description == "施行"


def test_parse_date():
    assert parse_date("自2014年1月1日起施行") == datetime.date(2014, 1, 1)
    assert parse_date("二〇一九年三月二十四日") == datetime.date(2019, 3, 24)
    assert parse_date("2月30日无年份") is None


def test_parse_history_chinese_digit_dates_and_bad_dates():
    events = parse_history(["二〇一〇年十二月三日通过", "2011年2月30日公布"])
    assert events[0].date == datetime.date(2010, 12, 3)
    assert events[1].date is None and events[1].kind == "promulgated"


def test_split_article_body_half_width_items():
    paragraphs, items = split_article_body(["下列业务：", "(一)甲；", "(二)乙。", "前款以外的。"])
    assert paragraphs == ["下列业务：", "前款以外的。"]
    assert items == [["(一)甲；", "(二)乙。"], []]
