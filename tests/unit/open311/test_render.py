"""Open311 wire formats: roots, item names, W3C dates, valid XML."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET

import pytest

from portal.open311.render import (
    errors_payload,
    format_of,
    parse_w3c_datetime,
    render,
    to_json,
    to_xml,
    w3c_datetime,
)

UTC = dt.UTC


def test_w3c_datetimes_are_china_time_with_offset():
    assert w3c_datetime(dt.datetime(2026, 3, 2, 1, 0, 0, 123456, tzinfo=UTC)) == "2026-03-02T09:00:00+08:00"
    assert w3c_datetime(None) is None
    with pytest.raises(ValueError):
        w3c_datetime(dt.datetime(2026, 3, 2))


@pytest.mark.parametrize("text,expected", [
    ("2026-03-02T01:00:00Z", dt.datetime(2026, 3, 2, 1, tzinfo=UTC)),
    ("2026-03-02T09:00:00+08:00", dt.datetime(2026, 3, 2, 1, tzinfo=UTC)),
    ("2026-03-02T09:00:00 08:00", dt.datetime(2026, 3, 2, 1, tzinfo=UTC)),  # "+" decoded as space
    ("2026-03-02", dt.datetime(2026, 3, 1, 16, tzinfo=UTC)),
])
def test_parse_w3c_datetimes(text, expected):
    assert parse_w3c_datetime(text) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2026-03-02T09:00:00", "2026-13-01T00:00:00Z"])
def test_parse_rejects_what_is_not_a_w3c_datetime(text):
    with pytest.raises(ValueError):
        parse_w3c_datetime(text)


def test_services_xml_uses_the_spec_root_and_item_names():
    data = [{"service_code": "0101", "service_name": "上水井盖", "metadata": True, "type": "realtime",
             "keywords": "井盖, 窨井盖", "group": "公用设施", "description": None}]
    body = to_xml("services", data)
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    root = ET.fromstring(body)
    assert root.tag == "services"
    service = root.find("service")
    assert service.findtext("service_code") == "0101"
    assert service.findtext("metadata") == "true"
    assert service.find("description").text is None


def test_nested_lists_follow_the_spark_convention():
    definition = {"service_code": "0101", "attributes": [
        {"variable": True, "code": "HAZARD", "datatype": "singlevaluelist", "required": False, "order": 1,
         "description": "是否有安全隐患", "datatype_description": None,
         "values": [{"key": "yes", "name": "是"}, {"key": "no", "name": "否"}]}]}
    root = ET.fromstring(to_xml("service_definition", definition))
    assert root.tag == "service_definition"
    values = root.findall("./attributes/attribute/values/value")
    assert [v.findtext("key") for v in values] == ["yes", "no"]
    assert json.loads(to_json(definition))["attributes"][0]["values"][1]["name"] == "否"


def test_requests_render_dates_and_escape_text():
    when = dt.datetime(2026, 3, 2, 1, tzinfo=UTC)
    data = [{"service_request_id": "A1", "description": "<b>井盖</b> & 路灯\x01", "requested_datetime": when,
             "lat": 30.2, "long": 120.1}]
    root = ET.fromstring(to_xml("service_requests", data))
    request = root.find("request")
    assert request.findtext("description") == "<b>井盖</b> & 路灯"
    assert request.findtext("requested_datetime") == "2026-03-02T09:00:00+08:00"
    assert json.loads(to_json(data))[0]["requested_datetime"] == "2026-03-02T09:00:00+08:00"


def test_errors_in_both_formats():
    payload = errors_payload([(403, "api_key 无效")])
    body, content_type = render("xml", "errors", payload)
    assert content_type == "text/xml"
    error = ET.fromstring(body).find("error")
    assert error.findtext("code") == "403" and error.findtext("description") == "api_key 无效"
    body, content_type = render("json", "errors", payload)
    assert content_type == "application/json" and json.loads(body) == [{"code": 403, "description": "api_key 无效"}]


def test_format_of_paths():
    assert format_of("/open311/v2/requests.xml") == "xml"
    assert format_of("/open311/v2/requests.JSON") == "json"
    assert format_of("/open311/v2/requests") == "json"
    assert format_of("/open311/v2/requests", default="xml") == "xml"
