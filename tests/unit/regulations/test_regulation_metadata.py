"""Inferring level, region and status (invented bodies and titles)."""

import datetime

import pytest

from portal.regulations.metadata import (
    LEVELS,
    effective_status,
    infer_level,
    infer_region,
    normalize_status,
)


@pytest.mark.parametrize(
    ("title", "authority", "number", "expected"),
    [
        ("中华人民共和国宪法", "全国人民代表大会", None, "宪法"),
        ("中华人民共和国某某法", None, None, "法律"),
        ("某某条例", "全国人民代表大会常务委员会", None, "法律"),
        ("某某管理条例", "国务院", "国务院令第1号", "行政法规"),
        ("国务院关于某事的通知", "国务院", "国发〔2016〕12号", "规范性文件"),
        ("某部门规定", "住房和城乡建设部", "住房和城乡建设部令第9号", "部门规章"),
        ("青石市井盖条例", "青石市人民代表大会常务委员会", None, "地方性法规"),
        ("青石市占道办法", "青石市人民政府", "青石市人民政府令第3号", "地方政府规章"),
        ("青石市关于某事的通知", "青石市人民政府", "青政发〔2020〕8号", "规范性文件"),
        ("无从判断的文件", None, None, None),
    ],
)
def test_infer_level(title, authority, number, expected):
    assert infer_level(title, authority, number) == expected


def test_levels_are_ordered_by_authority():
    assert LEVELS[:3] == ("宪法", "法律", "行政法规")
    assert LEVELS[-1] == "规范性文件"


@pytest.mark.parametrize(
    ("title", "authority", "expected"),
    [
        ("中华人民共和国某某法", "全国人民代表大会常务委员会", "全国"),
        ("某某管理条例", "国务院", "全国"),
        ("某部门规定", "住房和城乡建设部", "全国"),
        ("青石市井盖条例", "青石市人民代表大会常务委员会", "青石市"),
        ("某省条例", "云岭省人民代表大会常务委员会", "云岭省"),
        ("青石市井盖条例", "青石市人民代表大会常务委员会（云岭省人民代表大会常务委员会批准）", "云岭省青石市"),
        ("云岭省青石市新区办法", "云岭省青石市新区人民政府", "云岭省青石市新区"),
        ("青石市井盖条例", None, "青石市"),
    ],
)
def test_infer_region(title, authority, expected):
    assert infer_region(title, authority) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("现行有效", "现行有效"), ("已被修改", "已修改"), ("失效", "已废止"), ("未生效", "尚未生效"), ("历史版本", None), ("", None)],
)
def test_normalize_status(raw, expected):
    assert normalize_status(raw) == expected


def test_effective_status_on_a_date():
    start = datetime.date(2020, 1, 1)
    end = datetime.date(2024, 1, 1)
    assert effective_status("现行有效", start, None, datetime.date(2019, 12, 31)) == "尚未生效"
    assert effective_status("现行有效", start, None, start) == "现行有效"
    assert effective_status("已废止", start, end, datetime.date(2023, 12, 31)) == "现行有效"
    assert effective_status("已废止", start, end, end) == "已废止"
    assert effective_status("已废止", start, None, datetime.date(2030, 1, 1)) == "已废止"
    assert effective_status("已修改", start, None, datetime.date(2030, 1, 1)) == "已修改"
