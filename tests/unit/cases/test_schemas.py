"""The bulk fast path answers exactly as the schema, and leaves anything unusual to it."""

from __future__ import annotations

import copy
import datetime as dt
import json
import sys
from pathlib import Path

import pytest
from marshmallow import ValidationError

from portal.cases import demo
from portal.cases.importer import normalise_record
from portal.cases.schemas import CaseRecord, fast_load

sys.path.insert(0, str(Path(__file__).parent))
from test_demo import world


def records(n=400):
    generated = [normalise_record(r) for r in demo.generate(world(), n, 5, end=dt.date(2026, 6, 30))]
    return json.loads(json.dumps(generated, ensure_ascii=False))


def test_fast_path_equals_the_schema_on_valid_records():
    schema = CaseRecord()
    for record in records():
        fast = fast_load(copy.deepcopy(record))
        assert fast is not None
        assert fast == schema.load(record)


@pytest.mark.parametrize("change", [
    {"reported_at": "2026-01-01T08:00:00"}, {"reported_at": 5}, {"channel": "pigeon"}, {"external_id": ""},
    {"lat": None, "lon": None, "grid_code": None}, {"lat": 95.0}, {"lat": True}, {"surprise": 1},
    {"events": [{"kind": "report", "at": "2026-01-01T08:00:00+08:00"}]},
    {"events": [{"kind": "dispatch", "at": "2026-01-01T08:00:00+08:00", "agency": ""}]},
    {"events": [{"kind": "dispatch", "at": "2026-01-01T08:00:00+08:00", "colour": "red"}]},
    {"feedback": {"rating": "meh"}}, {"reporter": {"name": "x" * 101}}, {"urgency": "asap"},
    {"description": "x" * 4001}, {"tracking_code": "short"},
])
def test_anything_unusual_goes_to_the_schema(change):
    record = {**records(1)[0], **change}
    assert fast_load(record) is None
    try:
        CaseRecord().load(record)
    except ValidationError:
        pass
