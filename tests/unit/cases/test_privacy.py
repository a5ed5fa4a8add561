"""Privacy scrubbing: what must go, and what must stay readable."""

from __future__ import annotations

import pytest

from portal.cases.privacy import MASK, contains_personal_data, mask_name, mask_phone, scrub


@pytest.mark.parametrize("phone", [
    "13812345678",
    "138-1234-5678",
    "138 1234 5678",
    "+86 138 1234 5678",
    "+86-13812345678",
    "008613812345678",
    "１３８１２３４５６７８",
    "138－1234－5678",
    "199.1234.5678",
])
def test_mobile_numbers_in_any_spelling_are_removed(phone):
    text = f"请联系我{phone}，谢谢"
    result = scrub(text)
    assert "1234" not in result and "１２３４" not in result
    assert result.startswith("请联系我") and result.endswith("，谢谢")


@pytest.mark.parametrize("phone", [
    "0571-86900001", "0571 8690 0001", "(0571)86900001", "（0571）86900001", "010-65123456",
    "057186900001", "400-123-4567", "0571-86900001转123",
])
def test_landlines_are_removed(phone):
    result = scrub(f"单位电话{phone}。")
    assert "86900001" not in result and "65123456" not in result and "4567" not in result
    assert "转123" not in result


def test_bare_local_number_is_removed_only_after_a_phone_word():
    assert "86900001" not in scrub("联系电话：86900001")
    assert "86900001" not in scrub("手机 8690 0001 找王")
    # Counts and codes elsewhere are not phones.
    assert scrub("共清理垃圾 86900001 吨") == "共清理垃圾 86900001 吨"


@pytest.mark.parametrize("number", [
    "330106199001011234", "33010619900101123X", "33010619900101123x", "330106 19900101 1234",
    "330106900101123",  # the old 15-digit form
])
def test_id_numbers_are_removed(number):
    result = scrub(f"身份证号{number}的市民")
    assert "1990" not in result and "900101" not in result
    assert result.endswith("的市民")


@pytest.mark.parametrize("plate", ["浙A12345", "沪AD12345", "沪A12345D", "浙A·12345", "京A 12345", "粤B1234学", "浙a12345"])
def test_plates_are_removed(plate):
    result = scrub(f"车牌{plate}长期占用人行道")
    assert "12345" not in result and "1234" not in result
    assert result.endswith("长期占用人行道")


def test_province_names_are_not_mistaken_for_plates():
    text = "浙江省杭州市示例区，沪杭高速旁"
    assert scrub(text) == text


@pytest.mark.parametrize("email", ["zhang.san@example.com", "li_si+case@mail.example.cn", "wang ＠ example.org"])
def test_emails_are_removed(email):
    result = scrub(f"回复请发 {email} 即可")
    assert "@" not in result and "＠" not in result and "example" not in result


@pytest.mark.parametrize("text,kept,gone", [
    ("文三路138号3幢2单元501室门口井盖缺失", "文三路", "138"),
    ("滨湖路12-3号旁", "滨湖路", "12-3"),
    ("桂花小区5号楼302室楼道堆物", "桂花小区", "302"),
    ("学院路88弄7号", "学院路", "88"),
    ("人民路一百零八号门前", "人民路", "一百零八"),
])
def test_exact_addresses_keep_the_road_but_lose_the_numbers(text, kept, gone):
    result = scrub(text)
    assert kept in result and gone not in result and MASK in result


def test_ordinary_numbers_and_dates_survive():
    text = "3月5号上午，地铁1号线出口有2处井盖破损，长约3米"
    assert scrub(text) == text


def test_polite_forms_of_address_lose_the_surname():
    assert scrub("张先生反映路灯不亮，李阿姨也说过") == "市民反映路灯不亮，市民也说过"


def test_known_strings_are_removed_wherever_they_occur():
    result = scrub("欧阳娜娜说：欧阳娜娜家门口的树倒了", known=["欧阳娜娜", None, " "])
    assert "欧阳娜娜" not in result and "树倒了" in result


def test_several_items_together_and_idempotence():
    text = "王五（13812345678，身份证330106199001011234）称浙A12345停在文三路138号"
    once = scrub(text, known=["王五"])
    for secret in ("王五", "13812345678", "330106199001011234", "浙A12345", "138号"):
        assert secret not in once
    assert scrub(once) == once
    assert not contains_personal_data(once)
    assert contains_personal_data(text)


def test_empty_input():
    assert scrub(None) == "" and scrub("") == ""


def test_masks_for_staff_screens():
    assert mask_phone("138-1234-5678") == "138****5678"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_phone(None) == "" and mask_name("") == ""
