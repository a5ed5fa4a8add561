"""GET requests' parameters: spec defaults and limits, without a database."""

from __future__ import annotations

import datetime as dt

import pytest
from webob.multidict import MultiDict

from portal.errors import InvalidInput
from portal.open311.views import _attributes, requests_filters

NOW = dt.datetime(2026, 6, 30, 12, tzinfo=dt.UTC)


def filters(**params):
    return requests_filters(MultiDict(params), now=NOW)


def test_default_window_is_the_last_90_days_and_first_1000():
    result = filters()
    assert result["until"] == NOW and result["since"] == NOW - dt.timedelta(days=90)
    assert result["page"] == 1 and result["page_size"] == 1000 and result["with_events"] is False


def test_one_end_of_the_window_sets_the_other():
    start = filters(start_date="2026-01-01T00:00:00+08:00")
    assert start["until"] - start["since"] == dt.timedelta(days=90)
    end = filters(end_date="2026-03-01T00:00:00Z")
    assert end["until"] - end["since"] == dt.timedelta(days=90)


@pytest.mark.parametrize("params", [
    {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-04-02T00:00:00Z"},
    {"start_date": "2026-03-01T00:00:00Z", "end_date": "2026-02-01T00:00:00Z"},
    {"start_date": "2026-01-01T00:00:00"},
    {"status": "open,pending"}, {"page": "0"}, {"page_size": "1001"}, {"page": "x"},
    {"service_request_id": ",".join(str(i) for i in range(1001))},
])
def test_out_of_bounds_parameters_are_400(params):
    with pytest.raises(InvalidInput):
        filters(**params)


def test_ids_override_everything_else():
    result = filters(service_request_id="12, 13,abc,99999999999999", status="closed", service_code="0101",
                     start_date="garbage")
    assert result["ids"] == [12, 13] and "since" not in result and "statuses" not in result


def test_codes_statuses_and_extensions():
    result = filters(service_code="0101, 0102", status="open", extensions="true", page="2", page_size="100")
    assert result["service_codes"] == ["0101", "0102"] and result["statuses"] == "open"
    assert result["with_events"] is True and result["page"] == 2 and result["page_size"] == 100
    assert "statuses" not in filters(status="open,closed")


def test_attribute_arrays_in_both_spellings():
    params = MultiDict([("attribute[URGENCY]", "urgent"), ("attribute[TAGS][]", "a"), ("attribute[TAGS][]", "b"),
                        ("attribute[EMPTY]", " "), ("attributes", "x")])
    assert _attributes(params) == {"URGENCY": ["urgent"], "TAGS": ["a", "b"], "EMPTY": []}
