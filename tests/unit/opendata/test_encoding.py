"""The exports' fast path (tuple batches) writes the same bytes as the row-by-row encoders."""

from __future__ import annotations

import datetime as dt
from typing import Any

from portal.opendata.encoding import (
    csv_batch_chunks,
    csv_chunks,
    json_value,
    jsonl_batch_chunks,
    jsonl_chunks,
)
from portal.opendata.registry import Dataset, Field, Stamp

FIELDS = (Field("id", "integer", "序号"), Field("text", "string", "文本"), Field("ok", "boolean", "是否"),
          Field("at", "datetime", "时间"), Field("day", "date", "日期"), Field("share", "number", "比例"),
          Field("tags", "array", "标签"), Field("extra", "object", "附加"))
ROWS: list[dict[str, Any]] = [
    {"id": 1, "text": "含逗号，和,英文逗号", "ok": True, "at": dt.datetime(2026, 1, 1, 16, 30, 5, 999999, dt.UTC),
     "day": dt.date(2026, 1, 2), "share": 30.23361, "tags": ["甲", "乙"], "extra": {"k": "v"}},
    {"id": 2, "text": '引号"和\n换行', "ok": False, "at": None, "day": None, "share": None, "tags": None, "extra": None},
    {"id": 3, "text": "", "ok": None, "at": dt.datetime(1999, 12, 31, 23, 0, tzinfo=dt.UTC), "day": None,
     "share": 0.1, "tags": [], "extra": {}},
]


def dataset() -> Dataset:
    return Dataset(name="t", title="测试", description="测试", fields=FIELDS, rows=lambda ctx: iter(ROWS),
                   stamp=lambda session, registry: Stamp(0, None, ""))


def batches() -> list[list[tuple[Any, ...]]]:
    values = [tuple(json_value(row[f.name]) for f in FIELDS) for row in ROWS]
    return [values[:2], values[2:]]


def test_csv_batches_are_the_row_encoders_bytes() -> None:
    for bom in (False, True):
        assert b"".join(csv_batch_chunks(dataset(), batches(), bom=bom)) == b"".join(csv_chunks(dataset(), ROWS, bom=bom))


def test_jsonl_batches_are_the_row_encoders_bytes() -> None:
    assert b"".join(jsonl_batch_chunks(dataset(), batches())) == b"".join(jsonl_chunks(dataset(), ROWS))


def test_the_case_dataset_columns_are_the_public_view_in_order() -> None:
    from portal.cases.opendata import CASES
    from portal.cases.public import PUBLIC_FIELDS

    assert CASES.field_names == PUBLIC_FIELDS
