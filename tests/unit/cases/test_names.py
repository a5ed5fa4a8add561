"""Personal names in free text are masked; place and agency names are not."""

from __future__ import annotations

import csv

import pytest
import yaml

from portal.cases.names import person_names
from portal.cases.privacy import MASK, scrub
from tests.conftest import ROOT


@pytest.mark.parametrize("text,name", [
    ("我叫王小明，家住胜利社区，井盖丢了好几天了", "王小明"),
    ("李四和王五在文三路占道经营", "李四"),
    ("李四和王五在文三路占道经营", "王五"),
    ("李四和王五占道", "王五"),
    ("联系人张伟，电话稍后给", "张伟"),
    ("欧阳娜娜反映的问题已处理", "欧阳娜娜"),
    ("本人陈建国，反映楼下烧烤摊", "陈建国"),
    ("处置人员：周杰已现场处理", "周杰"),
    ("邻居赵小红天天在楼道堆东西", "赵小红"),
    ("业主周八反映水管漏水", "周八"),
    ("赵六乱扔垃圾", "赵六"),
    ("张先生说石材店占道", "张先生"),
    ("我叫诸葛明，住附近", "诸葛明"),
])
def test_personal_names_are_masked(text, name):
    assert name not in scrub(text)
    assert MASK in scrub(text) or "市民" in scrub(text)


@pytest.mark.parametrize("text", [
    "感谢杭州市城管局和王家井社区",
    "中山路路灯不亮",
    "雷锋广场有个井盖没了",
    "张家弄3号井盖缺失" .replace("3号", ""),
    "司马光小学门口垃圾满溢",
    "王府井大街人行道破损",
    "高架桥下有人摆摊",
    "林荫道上的树倒了",
    "隔壁老李家装修天天吵",
    "时有时无的噪音，处理及时，满意",
    "路灯不亮已经三天了",
    "金桥街道石桥社区门口积水",
])
def test_places_and_everyday_words_are_kept(text):
    assert scrub(text) == text


def _demo_names() -> list[str]:
    with open(ROOT / "knowledge_base" / "areas" / "areas.csv", encoding="utf-8") as handle:
        areas = [row["name"] for row in csv.DictReader(handle)]
    agencies = yaml.safe_load((ROOT / "knowledge_base" / "agencies.yaml").read_text(encoding="utf-8"))["agencies"]
    return sorted({*areas, *(a["name"] for a in agencies)})


def test_no_area_or_agency_of_the_demo_district_is_taken_for_a_person():
    names = _demo_names()
    assert len(names) > 500
    mistaken = [n for n in names if list(person_names(f"{n}已派人处理，感谢{n}"))]
    assert mistaken == []
