"""Chinese numerals in article labels."""

import pytest

from portal.numerals import (
    article_label,
    format_chinese_number,
    parse_article_label,
    parse_chinese_number,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("一", 1),
        ("十", 10),
        ("十五", 15),
        ("二十", 20),
        ("二十三", 23),
        ("一百", 100),
        ("一百零五", 105),
        ("一百一十", 110),
        ("一百十", 110),
        ("一百一", 110),  # colloquial omission of the lower unit
        ("两千零三", 2003),
        ("一千零一十", 1010),
        ("三千五", 3500),
        ("一万", 10000),
        ("一万零一", 10001),
        ("两万五", 25000),
        ("十万", 100000),
        ("十万零一十", 100010),
        ("一亿二千万", 120000000),
        ("一亿零一", 100000001),
        ("一万亿", 10**12),
        ("〇", 0),
        ("零", 0),
        ("二〇二一", 2021),
        ("一九九六", 1996),
        ("壹佰零伍", 105),
        ("105", 105),
        ("１０５", 105),
        ("12万", 120000),
        (" 二十\u3000三 ", 23),
    ],
)
def test_parse_chinese_number(text, expected):
    assert parse_chinese_number(text) == expected


@pytest.mark.parametrize(
    "junk",
    ["", "  ", "abc", "第十", "十十", "百", "万", "一二百", "十一十", "一千二千", "零零百", "三点五", "一万万"],
)
def test_parse_chinese_number_rejects_junk(junk):
    with pytest.raises(ValueError):
        parse_chinese_number(junk)


def test_parse_chinese_number_rejects_non_strings():
    with pytest.raises(ValueError):
        parse_chinese_number(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (0, "零"),
        (1, "一"),
        (10, "十"),
        (11, "十一"),
        (20, "二十"),
        (23, "二十三"),
        (100, "一百"),
        (101, "一百零一"),
        (105, "一百零五"),
        (110, "一百一十"),
        (119, "一百一十九"),
        (200, "二百"),
        (1001, "一千零一"),
        (1010, "一千零一十"),
        (1100, "一千一百"),
        (10000, "一万"),
        (10001, "一万零一"),
        (11000, "一万一千"),
        (100010, "十万零一十"),
        (20000000, "二千万"),
        (100000001, "一亿零一"),
    ],
)
def test_format_chinese_number(number, expected):
    assert format_chinese_number(number) == expected


def test_format_and_parse_round_trip():
    for number in list(range(3000)) + [9999, 10000, 10101, 99999, 100000, 1234567, 10**8 + 7]:
        assert parse_chinese_number(format_chinese_number(number)) == number


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_format_chinese_number_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        format_chinese_number(bad)


def test_article_label():
    assert article_label(1) == "第一条"
    assert article_label(23) == "第二十三条"
    assert article_label(23, 1) == "第二十三条之一"
    assert article_label(120, 6) == "第一百二十条之六"
    with pytest.raises(ValueError):
        article_label(0)


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("第二十三条", (23, 0)),
        ("第二十三条之一", (23, 1)),
        ("第63条", (63, 0)),
        ("第 63 条", (63, 0)),
        ("第一百零五条之二", (105, 2)),
    ],
)
def test_parse_article_label(label, expected):
    assert parse_article_label(label) == expected


@pytest.mark.parametrize("label", ["第零条", "二十三条", "第二十三款", "第X条"])
def test_parse_article_label_rejects(label):
    with pytest.raises(ValueError):
        parse_article_label(label)
