"""Open311 GeoReport v2 as third-party clients call it: JSON and XML, spec roots, filters, errors."""

from __future__ import annotations

import datetime as dt
import uuid
import xml.etree.ElementTree as ET

import pytest

from portal.catalogue.calendar import CHINA_TZ
from portal.open311.render import parse_w3c_datetime

BASE = "/open311/v2"
LAT, LON = 30.2336, 120.0860


@pytest.fixture
def dbsession(catalogue_session):
    """Every test of this module runs against the demo catalogue (tests/conftest.py)."""
    return catalogue_session


@pytest.fixture
def api_key(make_api_key, catalogue_connection):
    return make_api_key()  # any authenticated key may submit


@pytest.fixture
def dispatcher(make_api_key, catalogue_connection):
    return {"Authorization": f"Bearer {make_api_key('dispatcher')}"}


def xml(response):
    assert response.content_type == "text/xml" and response.charset.lower() == "utf-8"
    assert response.body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(response.body)


def post_request(testapp, api_key, status=200, **fields):
    data = {"api_key": api_key, "jurisdiction_id": "", "service_code": "0103", "lat": str(LAT), "long": str(LON),
            "description": "雨水井盖缺失", "first_name": "娜娜", "last_name": "欧阳", "phone": "13912345678",
            "email": "nana@example.com", **fields}
    return testapp.post(f"{BASE}/requests.json", data, status=status)


def test_discovery_in_both_formats(testapp, catalogue_connection):
    data = testapp.get(f"{BASE}/discovery.json").json
    assert {"changeset", "contact", "key_service", "endpoints"} <= set(data)
    changed = parse_w3c_datetime(data["changeset"])  # a W3C datetime, with its offset
    assert changed.tzinfo is not None and data["endpoints"][0]["changeset"] == data["changeset"]
    endpoint = data["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2") and "application/json" in endpoint["formats"]
    root = xml(testapp.get("/open311/discovery.xml"))
    assert root.tag == "discovery" and root.find("./endpoints/endpoint/formats/format") is not None


def test_services_list_and_definition(testapp, catalogue_connection):
    services = testapp.get(f"{BASE}/services.json").json
    assert isinstance(services, list) and len(services) > 50
    manhole = next(s for s in services if s["service_code"] == "0103")
    assert manhole["service_name"] == "雨水井盖" and manhole["group"] == "公用设施"
    assert manhole["type"] == "realtime" and manhole["metadata"] is True and "井盖" in manhole["keywords"]
    assert "0136" not in {s["service_code"] for s in services}  # not disclosable
    root = xml(testapp.get(f"{BASE}/services.xml", params={"jurisdiction_id": ""}))
    assert root.tag == "services" and root.find("./service/service_code") is not None
    definition = testapp.get(f"{BASE}/services/0103.json").json
    assert definition["service_code"] == "0103"
    assert [a["code"] for a in definition["attributes"]][:1] == ["URGENCY"]
    root = xml(testapp.get(f"{BASE}/service/0103.xml"))  # the singular alias some clients use
    assert root.tag == "service_definition"
    assert [v.findtext("key") for v in root.findall("./attributes/attribute/values/value")] == ["normal", "urgent"]
    missing = testapp.get(f"{BASE}/services/9999.json", status=404).json
    assert missing[0]["code"] == 404 and "service_code" in missing[0]["description"]


def test_post_then_find_by_id_and_by_token(testapp, api_key):
    created = post_request(testapp, api_key, **{"attribute[URGENCY]": "urgent", "attribute[ASSET_ID]": "PS-0042"}).json
    assert isinstance(created, list) and len(created) == 1
    answer = created[0]
    assert answer["service_request_id"].isdigit() and answer["token"]
    assert "负责处置" in answer["service_notice"] and "处置时限" in answer["service_notice"]
    request_id = answer["service_request_id"]
    one = testapp.get(f"{BASE}/requests/{request_id}.json").json
    assert len(one) == 1 and one[0]["service_request_id"] == request_id and one[0]["status"] == "open"
    assert one[0]["service_code"] == "0103" and one[0]["requested_datetime"].endswith("+08:00")
    # Not dispatched yet, and still the agency the POST's answer named is responsible.
    assert one[0]["agency_responsible"] and one[0]["agency_responsible"] in answer["service_notice"]
    token = testapp.get(f"{BASE}/tokens/{answer['token']}.json").json
    assert token == [{"service_request_id": request_id, "token": answer["token"]}]
    root = xml(testapp.get(f"{BASE}/tokens/{answer['token']}.xml"))
    assert root.tag == "service_requests" and root.findtext("./request/service_request_id") == request_id
    root = xml(testapp.get(f"{BASE}/requests/{request_id}.xml"))
    assert root.tag == "service_requests" and len(root.findall("request")) == 1
    # The reporter's data went nowhere public; the attribute set the urgency.
    text = testapp.get(f"{BASE}/requests/{request_id}.json", params={"extensions": "true"}).text
    for secret in ("欧阳", "13912345678", "nana@example.com"):
        assert secret not in text
    assert testapp.get(f"/api/v1/cases/{request_id}").json["urgency"] == "urgent"


def test_post_with_an_address_only_and_json_body(testapp, api_key):
    created = post_request(testapp, api_key, lat="", long="", address_string="滨湖路与文昌路路口").json
    assert created[0]["service_request_id"]
    # Clients that post JSON send the key in the query string.
    as_json = testapp.post_json(f"{BASE}/requests.json?api_key={api_key}", {"service_code": "0103",
                                                                           "lat": LAT, "long": LON}).json
    assert as_json[0]["service_request_id"]


def test_post_errors_follow_the_spec(testapp, api_key):
    missing_key = testapp.post(f"{BASE}/requests.xml", {"service_code": "0103", "lat": str(LAT), "long": str(LON)},
                               status=403)
    root = xml(missing_key)
    assert root.tag == "errors" and root.findtext("./error/code") == "403"
    bad_key = testapp.post(f"{BASE}/requests.json", {"api_key": "cdp_wrong", "service_code": "0103",
                                                      "lat": str(LAT), "long": str(LON)}, status=403).json
    assert (bad_key[0]["code"] == 403 and "api_key" in bad_key[0]["description"]) or bad_key[0]["description"]
    no_place = post_request(testapp, api_key, status=400, lat="", long="").json
    assert no_place[0]["code"] == 400 and "address_string" in no_place[0]["description"]
    unknown = post_request(testapp, api_key, status=404, service_code="9999").json
    assert unknown[0]["code"] == 404
    no_code = post_request(testapp, api_key, status=400, service_code="").json
    assert "service_code" in no_code[0]["description"]
    outside = post_request(testapp, api_key, status=400, lat="39.9", long="116.4").json
    assert outside[0]["code"] == 400
    foreign = post_request(testapp, api_key, status=404, jurisdiction_id="sfgov.org").json
    assert "jurisdiction_id" in foreign[0]["description"]
    bad_attribute = post_request(testapp, api_key, status=400, **{"attribute[URGENCY]": "panic"}).json
    assert bad_attribute[0]["code"] == 400


def _case(testapp, dispatcher, reported, item="0103", steps=()):
    body = {"external_id": f"O311-{uuid.uuid4().hex[:10]}", "channel": "app", "item_type": item,
            "reported_at": reported.isoformat(), "lat": LAT, "lon": LON, "description": "test",
            "events": [{"kind": k, "at": (reported + dt.timedelta(hours=h)).isoformat()} for k, h in steps]}
    return testapp.post_json("/api/v1/cases", body, headers=dispatcher, status=201).json["id"]


def test_get_requests_filters(testapp, dispatcher):
    now = dt.datetime.now(CHINA_TZ).replace(microsecond=0)
    recent_open = _case(testapp, dispatcher, now - dt.timedelta(days=3), steps=[("dispatch", 1)])
    recent_closed = _case(testapp, dispatcher, now - dt.timedelta(days=4), item="0102",
                          steps=[("dispatch", 1), ("handle", 2), ("verify", 3), ("close", 4)])
    old = _case(testapp, dispatcher, now - dt.timedelta(days=200))

    default = {r["service_request_id"] for r in testapp.get(f"{BASE}/requests.json").json}
    assert {str(recent_open), str(recent_closed)} <= default and str(old) not in default

    by_ids = testapp.get(f"{BASE}/requests.json", params={
        "service_request_id": f"{old},{recent_open}", "status": "closed", "service_code": "0999"}).json
    assert {r["service_request_id"] for r in by_ids} == {str(old), str(recent_open)}  # ids override the rest

    closed = testapp.get(f"{BASE}/requests.json", params={"status": "closed", "service_code": "0102,0103"}).json
    assert str(recent_closed) in {r["service_request_id"] for r in closed}
    assert all(r["status"] == "closed" for r in closed)
    only_0103 = testapp.get(f"{BASE}/requests.json", params={"service_code": "0103"}).json
    assert all(r["service_code"] == "0103" for r in only_0103)

    window = {"start_date": (now - dt.timedelta(days=230)).isoformat(), "end_date": (now - dt.timedelta(days=150)).isoformat()}
    assert str(old) in {r["service_request_id"] for r in testapp.get(f"{BASE}/requests.json", params=window).json}
    utc_window = {"start_date": (now - dt.timedelta(days=5)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    assert str(recent_open) in {r["service_request_id"] for r in testapp.get(f"{BASE}/requests.json", params=utc_window).json}

    too_long = testapp.get(f"{BASE}/requests.xml", params={"start_date": "2026-01-01T00:00:00Z",
                                                           "end_date": "2026-06-01T00:00:00Z"}, status=400)
    assert xml(too_long).tag == "errors" and "90" in xml(too_long).findtext("./error/description")
    bad = testapp.get(f"{BASE}/requests.json", params={"start_date": "last week"}, status=400).json
    assert bad[0]["code"] == 400
    testapp.get(f"{BASE}/requests.json", params={"status": "pending"}, status=400)
    testapp.get(f"{BASE}/requests.json", params={"jurisdiction_id": "elsewhere.gov"}, status=404)


def test_pages_and_extensions(testapp, dispatcher):
    now = dt.datetime.now(CHINA_TZ).replace(microsecond=0)
    ids = [_case(testapp, dispatcher, now - dt.timedelta(days=1, minutes=i), steps=[("dispatch", 1)]) for i in range(3)]
    first = testapp.get(f"{BASE}/requests.json", params={"page_size": 2, "page": 1}).json
    second = testapp.get(f"{BASE}/requests.json", params={"page_size": 2, "page": 2}).json
    assert len(first) == 2 and not {r["service_request_id"] for r in first} & {r["service_request_id"] for r in second}
    testapp.get(f"{BASE}/requests.json", params={"page_size": 0}, status=400)
    plain = testapp.get(f"{BASE}/requests/{ids[0]}.json").json[0]
    assert "notes" not in plain and plain["status_notes"].startswith("已派遣")
    extended = testapp.get(f"{BASE}/requests/{ids[0]}.json", params={"extensions": "true"}).json[0]
    assert [n["type"] for n in extended["notes"]] == ["report", "dispatch"]
    assert extended["notes"][1]["description"].startswith("指挥派遣")
    assert extended["notes"][0]["datetime"].endswith("+08:00")
    root = xml(testapp.get(f"{BASE}/requests/{ids[0]}.xml", params={"extensions": "true"}))
    assert [n.findtext("type") for n in root.findall("./request/notes/note")] == ["report", "dispatch"]
    assert root.findtext("./request/expected_datetime").endswith("+08:00")


def test_unknown_requests_and_tokens_are_404_in_the_asked_format(testapp, catalogue_connection):
    assert xml(testapp.get(f"{BASE}/requests/99999999.xml", status=404)).findtext("./error/code") == "404"
    assert testapp.get(f"{BASE}/tokens/NOPE-NOPE-NOPE.json", status=404).json[0]["code"] == 404
    assert testapp.get(f"{BASE}/requests/abc.json", status=404).json[0]["code"] == 404
    assert testapp.get(f"{BASE}/nothing-here.xml", status=404).content_type == "text/xml"
