"""The pieces a backup's identity rests on: value normalisation, the content hash, safe paths."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import pytest
from sqlalchemy import JSON, Date, Float, Integer, LargeBinary, Numeric, String

from portal.backup import (
    DATA_DIRS,
    BackupError,
    TableDigest,
    backup_tables,
    canonical_line,
    content_hash,
    denormalise,
    normalise,
    safe_member_path,
)
from portal.db import AwareDateTime

CHINA = dt.timezone(dt.timedelta(hours=8))


def test_the_same_instant_normalises_alike_in_any_zone() -> None:
    # PostgreSQL hands back the session's zone, SQLite naive UTC turned aware: one text for both.
    in_china = dt.datetime(2026, 3, 1, 8, 30, 0, 123456, tzinfo=CHINA)
    in_utc = dt.datetime(2026, 3, 1, 0, 30, 0, 123456, tzinfo=dt.UTC)
    assert normalise(in_china, AwareDateTime()) == normalise(in_utc, AwareDateTime()) == \
        "2026-03-01T00:30:00.123456+00:00"
    assert denormalise(normalise(in_china, AwareDateTime()), AwareDateTime()) == in_utc


@pytest.mark.parametrize(("value", "type_"), [
    (b"\x00\xff%PDF\x80", LargeBinary()),
    (dt.date(2024, 2, 29), Date()),
    (decimal.Decimal("12.3400"), Numeric(10, 4)),
    (0.1 + 0.2, Float()),
    ("第三十六条\u0000\u200b", String()),
    (2**40, Integer()),
    (None, Integer()),
])
def test_values_survive_normalisation_and_back(value: Any, type_: Any) -> None:
    assert denormalise(normalise(value, type_), type_) == value


def test_json_columns_are_canonical_and_tell_json_null_from_sql_null() -> None:
    assert normalise({"b": [1, 2], "a": "井盖"}, JSON()) == normalise({"a": "井盖", "b": [1, 2]}, JSON())
    assert normalise(None, JSON()) == "null"  # JSON null; SQL NULL is written as a bare null
    assert denormalise("null", JSON()) is JSON.NULL
    assert denormalise(None, JSON()) is None
    assert denormalise('{"a":1}', JSON()) == {"a": 1}


def test_content_hash_changes_with_any_row_and_not_with_table_order() -> None:
    def digest(name: str, *rows: list[Any]) -> tuple[str, str]:
        table = TableDigest(name, ["id", "name"])
        for row in rows:
            table.add_line(canonical_line(row))
        return name, table.sha256

    cases = digest("cases", [1, "井盖"], [2, "路灯"])
    users = digest("users", [1, "ops"])
    assert content_hash([cases, users]) == content_hash([users, cases])
    assert content_hash([digest("cases", [1, "井盖"], [2, "路灯 "]), users]) != content_hash([cases, users])
    assert content_hash([digest("cases", [2, "路灯"], [1, "井盖"]), users]) != content_hash([cases, users])
    assert content_hash([cases]) != content_hash([cases, users])


def test_tables_come_parents_first() -> None:
    order = [table.name for table in backup_tables()]
    for table in backup_tables():
        for key in table.foreign_keys:
            if key.column.table is not table:
                assert order.index(key.column.table.name) < order.index(table.name), (table.name, key.target_fullname)
    assert {"cases", "case_events", "users", "bulletins", "catalogue_areas", "search_changes"} <= set(order)


@pytest.mark.parametrize("path", [
    "../portal.sqlite", "/etc/passwd", "arbitration/evidence/../../portal.sqlite", "index/CURRENT",
    "arbitration/evidence", "arbitration\\evidence\\1\\a.png", "arbitration/evidence/1/a\x00.png",
])
def test_restore_writes_files_only_inside_the_data_folders(path: str) -> None:
    with pytest.raises(BackupError):
        safe_member_path(path)


def test_a_data_file_path_is_accepted() -> None:
    assert str(safe_member_path("arbitration/evidence/12/0f3a-现场照片.png")) == "arbitration/evidence/12/0f3a-现场照片.png"
    assert "arbitration/evidence" in DATA_DIRS
