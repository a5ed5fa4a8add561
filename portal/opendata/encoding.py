"""Row encoders for the bulk exports: CSV, JSON Lines and GeoJSON, as streams of byte chunks.

One function per format, fed by a dataset's row iterator. Values are written the way the
Frictionless Table Schema of the dataset declares them: dates and times in ISO 8601 with the
portal's UTC+8 offset, booleans as ``true`` / ``false``, arrays and objects as JSON (in CSV, the
JSON text in the cell), empty cells for nulls. The same code writes the live route and
``portal opendata build``'s files, which is what keeps them identical byte for byte.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import orjson

from portal.opendata.registry import Dataset

CHINA_TZ = dt.timezone(dt.timedelta(hours=8))
UTF8_BOM = "\ufeff".encode()
#: Rows per chunk: large enough that the WSGI server's writes are few, small enough to stay flat.
CHUNK_ROWS = 1000


def _datetime(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(CHINA_TZ).isoformat(timespec="seconds")


def json_value(value: Any) -> Any:
    """A value as JSON Lines and GeoJSON carry it."""
    if isinstance(value, dt.datetime):
        return _datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _plain(value: Any) -> Any:
    return "" if value is None else value


def _boolean(value: Any) -> str:
    return "" if value is None else ("true" if value else "false")


def _when(value: Any) -> str:
    return "" if value is None else _datetime(value)


def _day(value: Any) -> str:
    return "" if value is None else value.isoformat()


def _json(value: Any) -> str:
    return "" if value is None else orjson.dumps(value, default=json_value).decode()


# The declared type decides the conversion once per column, not once per cell (a million rows).
_CSV_BY_TYPE = {"string": _plain, "integer": _plain, "number": _plain, "boolean": _boolean, "datetime": _when,
                "date": _day, "array": _json, "object": _json}


def csv_chunks(dataset: Dataset, rows: Iterable[dict[str, Any]], *, bom: bool = False) -> Iterator[bytes]:
    names = dataset.field_names
    converters = [(f.name, _CSV_BY_TYPE[f.type]) for f in dataset.fields]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    head = buffer.getvalue().encode()
    yield (UTF8_BOM + head) if bom else head
    buffer.seek(0)
    buffer.truncate()
    pending = 0
    for row in rows:
        writer.writerow([convert(row.get(name)) for name, convert in converters])
        pending += 1
        if pending == CHUNK_ROWS:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if pending:
        yield buffer.getvalue().encode()


def _csv_ready_converters(dataset: Dataset) -> list[tuple[int, Callable[[Any], Any]]]:
    """What CSV still does to a JSON-ready value: booleans as words, arrays and objects as JSON
    text (everything else, times included, is written as it is; None is an empty cell)."""
    words = {True: "true", False: "false", None: ""}.get
    by_type: dict[str, Callable[[Any], Any]] = {"boolean": words, "array": _json, "object": _json}
    return [(index, by_type[f.type]) for index, f in enumerate(dataset.fields) if f.type in by_type]


def csv_batch_chunks(dataset: Dataset, batches: Iterable[Sequence[tuple[Any, ...]]], *,
                     bom: bool = False) -> Iterator[bytes]:
    """CSV of a dataset's tuple batches (``Dataset.batches``): the same bytes as :func:`csv_chunks`
    writes for the same rows, one ``writerows`` per batch."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(dataset.field_names)
    head = buffer.getvalue().encode()
    yield (UTF8_BOM + head) if bom else head
    buffer.seek(0)
    buffer.truncate()
    converters = _csv_ready_converters(dataset)
    for batch in batches:
        writer.writerows([_converted(row, converters) for row in batch] if converters else batch)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()


def _converted(row: tuple[Any, ...], converters: list[tuple[int, Callable[[Any], Any]]]) -> list[Any]:
    cells = list(row)
    for index, convert in converters:
        cells[index] = convert(cells[index])
    return cells


def jsonl_batch_chunks(dataset: Dataset, batches: Iterable[Sequence[tuple[Any, ...]]]) -> Iterator[bytes]:
    """JSON Lines of a dataset's tuple batches: the same bytes as :func:`jsonl_chunks`."""
    names = dataset.field_names
    dumps, option = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    for batch in batches:
        yield b"".join([dumps(dict(zip(names, row, strict=True)), option=option) for row in batch])


def iso_text_in_database(dialect: str) -> Callable[[Any], Any] | None:
    """The SQL that writes a timestamp column as :func:`json_value` writes it in Python (ISO 8601
    in UTC+8, whole seconds), for exports of a million rows: formatting six times a row in
    Python would cost more than everything else. None for a database without one."""
    from sqlalchemy import func, literal_column

    if dialect == "sqlite":
        # Stored as UTC text; strftime truncates the fraction as isoformat(timespec="seconds") does.
        return lambda column: func.strftime("%Y-%m-%dT%H:%M:%S+08:00", column, "+8 hours")
    if dialect == "postgresql":
        eight: Any = literal_column("INTERVAL '+08:00'")
        return lambda column: func.to_char(func.timezone(eight, column), 'YYYY-MM-DD"T"HH24:MI:SS"+08:00"')
    return None


def _json_line(names: tuple[str, ...], row: dict[str, Any]) -> bytes:
    return orjson.dumps({name: row.get(name) for name in names}, default=json_value,
                        option=orjson.OPT_NAIVE_UTC | orjson.OPT_APPEND_NEWLINE)


def _normalise(row: dict[str, Any]) -> dict[str, Any]:
    return {key: (_datetime(value) if isinstance(value, dt.datetime) else value) for key, value in row.items()}


def jsonl_chunks(dataset: Dataset, rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    names = dataset.field_names
    parts: list[bytes] = []
    for row in rows:
        parts.append(_json_line(names, _normalise(row)))
        if len(parts) == CHUNK_ROWS:
            yield b"".join(parts)
            parts = []
    if parts:
        yield b"".join(parts)


def geojson_chunks(dataset: Dataset, rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """A FeatureCollection, one feature per line (rows without geometry keep ``null``)."""
    assert dataset.geometry is not None
    names = dataset.field_names
    yield b'{"type":"FeatureCollection","name":' + orjson.dumps(dataset.name) + b',"features":[\n'
    first = True
    for row in rows:
        feature = {"type": "Feature", "id": row.get(dataset.primary_key), "geometry": dataset.geometry(row),
                   "properties": {name: row.get(name) for name in names}}
        line = orjson.dumps(_normalise(feature), default=json_value)
        yield line if first else b",\n" + line
        first = False
    yield b"\n]}\n"


#: zlib level of the on-the-fly gzip. Level 6 (zlib's default) cost more CPU than reading and
#: writing the rows: a million cases as CSV went from 11.5 to 18.3 s CPU (45,000 rows/s, under the
#: 50,000 of issue 16); level 1 compresses that CSV at ~230 MB/s instead of ~85 MB/s for a body a
#: third larger (ratio 4.9 instead of 6.6), as nginx's default gzip_comp_level 1 does. See
#: bench/RESULTS.md (open-data exports, PostgreSQL).
GZIP_LEVEL = 1


def gzip_chunks(chunks: Iterable[bytes], level: int = GZIP_LEVEL) -> Iterator[bytes]:
    """Gzip a stream as it goes (the header's mtime is 0: the same body always compresses alike)."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    for chunk in chunks:
        out = compressor.compress(chunk)
        if out:
            yield out
    yield compressor.flush()
