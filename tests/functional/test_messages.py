"""Every message a user sees is Chinese (issue 10, defect 12): field errors, the API envelope
(with English beside it for developers) and the API documentation."""

from __future__ import annotations

import inspect
import re

import pytest
from marshmallow import Schema, fields, validate

import portal  # noqa: F401 - importing the package sets the messages

CJK = re.compile(r"[\u4e00-\u9fff]")


def _field_messages(field_class: type) -> dict[str, str]:
    messages: dict[str, str] = {}
    for cls in reversed(field_class.__mro__):
        messages.update(getattr(cls, "default_error_messages", {}) or {})
    return messages


@pytest.mark.parametrize("field_class", [c for _, c in inspect.getmembers(fields, inspect.isclass)
                                         if issubclass(c, fields.Field)], ids=lambda c: c.__name__)
def test_every_marshmallow_field_message_is_chinese(field_class):
    for key, message in _field_messages(field_class).items():
        assert CJK.search(message), (field_class.__name__, key, message)


def test_every_validator_and_schema_message_is_chinese():
    for _, cls in inspect.getmembers(validate, inspect.isclass):
        for name, value in vars(cls).items():
            if name.startswith(("message", "default_message")) and isinstance(value, str):
                assert CJK.search(value), (cls.__name__, name, value)
    for _message in {**Schema._default_error_messages, **Schema.error_messages}.values():
        assert Schema().error_messages  # instances merge the class messages
    assert all(CJK.search(m) for m in Schema().error_messages.values())
    # formatted messages keep their values
    assert validate.Range(1, 100)(50) == 50
    with pytest.raises(Exception) as exc:
        validate.Range(1, 100)(1000)
    assert str(exc.value.messages[0]) == "须大于或等于 1且小于或等于 100。"


def _all_messages(value):
    if isinstance(value, dict):
        return [m for v in value.values() for m in _all_messages(v)]
    if isinstance(value, list):
        return [m for v in value for m in _all_messages(v)]
    return [str(value)]


def test_api_field_errors_are_chinese_with_english_beside(testapp, make_api_key):
    headers = {"Authorization": f"Bearer {make_api_key('dispatcher')}"}
    body = testapp.post_json("/api/v1/cases", {"unexpected": 1, "lat": "north"}, headers=headers, status=400).json
    error = body["error"]
    assert error["code"] == "validation_failed" and error["message_en"].startswith("Validation failed")
    assert "必填字段，不能缺少。" in error["fields"]["external_id"]
    assert error["fields"]["unexpected"] == ["未知字段。"]
    for message in _all_messages(error["fields"]):
        assert CJK.search(message), message
        assert "Missing data" not in message and "Not a valid" not in message
    query = testapp.get("/api/v1/cases", params={"page_size": 1000, "status": "exploded", "from": "x"},
                        status=400).json["error"]
    assert query["fields"]["page_size"] == ["须大于或等于 1且小于或等于 100。"]
    assert query["fields"]["status"][0].startswith("须为以下之一：")
    assert query["fields"]["from"] == ["不是有效的日期（YYYY-MM-DD）。"]
    # every other error carries English for developers too
    missing = testapp.get("/api/v1/nothing-here", status=404).json["error"]
    assert CJK.search(missing["message"]) and missing["message_en"] == "Not found."


def test_html_form_errors_are_chinese(testapp):
    page = testapp.get("/cases", params={"from": "yesterday", "status": "exploded"})
    errors = [li.text for li in page.html.select(".field-errors li")]
    assert "不是有效的日期（YYYY-MM-DD）。" in errors and any(e.startswith("须为以下之一：") for e in errors)
    assert "Must be one of" not in page.text and "Not a valid" not in page.text


def test_api_documentation_is_chinese(testapp):
    spec = testapp.get("/api/v1/openapi.json").json
    assert CJK.search(spec["info"]["description"])
    texts = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("description", "summary") and isinstance(value, str):
                    texts.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    english = [t for t in texts if not CJK.search(t)]
    assert texts and english == []
    page = testapp.get("/api/docs")
    intro = page.html.find("h1").find_next("p").text
    assert CJK.search(intro) and "Open data" not in page.text
