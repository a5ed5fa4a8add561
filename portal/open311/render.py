"""Open311 GeoReport v2 wire formats: JSON and XML with the spec's names and roots.

The JSON form follows the spec's "Spark convention" mapping of the XML: the XML root
(``services``, ``service_requests``, ``errors``) becomes a bare array, and each of its children
(``service``, ``request``, ``error``) one object. Nested lists map the same way:
``attributes/attribute``, ``values/value``, ``endpoints/endpoint``, ``formats/format``,
``notes/note``. Dates are W3C datetimes in China time (``2026-03-02T09:00:00+08:00``).

Everything here is pure: data in, bytes out.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from xml.sax.saxutils import escape

from portal.clock import CHINA_TZ

JSON_CONTENT_TYPE = "application/json"
XML_CONTENT_TYPE = "text/xml"
FORMATS = ("json", "xml")

#: The element name of one item of each list, as the spec names them.
ITEM_NAMES: dict[str, str] = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "notes": "note",
}

# XML 1.0 forbids most control characters even when escaped.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def w3c_datetime(value: dt.datetime | None) -> str | None:
    """``2026-03-02T09:00:00+08:00``: seconds precision, the offset always present."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime: Open311 dates must carry their offset")
    return value.astimezone(CHINA_TZ).replace(microsecond=0).isoformat()


def parse_w3c_datetime(text: str) -> dt.datetime:
    """Parse a W3C datetime (``Z`` or ``±HH:MM``; a bare date is midnight China time).

    Raises ValueError for anything else, including a datetime without an offset: the spec
    requires one, and guessing would shift a client's window by hours.
    """
    value = text.strip()
    if not value:
        raise ValueError("empty datetime")
    # "+" in a query string is often decoded to a space by careless clients.
    value = re.sub(r" (\d{2}:?\d{2})$", r"+\1", value)
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return dt.datetime.fromisoformat(value).replace(tzinfo=CHINA_TZ)
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("datetime without a time zone offset")
    return parsed


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return w3c_datetime(value) or ""
    if isinstance(value, float):
        return repr(value)
    return _XML_INVALID.sub("", str(value))


def _element(name: str, value: Any, out: list[str], indent: int) -> None:
    pad = "  " * indent
    if value is None or value == "" or value == []:
        out.append(f"{pad}<{name}/>" if not isinstance(value, list) else f"{pad}<{name}></{name}>")
        return
    if isinstance(value, Mapping):
        out.append(f"{pad}<{name}>")
        for key, child in value.items():
            _element(key, child, out, indent + 1)
        out.append(f"{pad}</{name}>")
        return
    if isinstance(value, (list, tuple)):
        item = ITEM_NAMES.get(name, "item")
        out.append(f"{pad}<{name}>")
        for child in value:
            _element(item, child, out, indent + 1)
        out.append(f"{pad}</{name}>")
        return
    out.append(f"{pad}<{name}>{escape(_text(value))}</{name}>")


def to_xml(root: str, data: Any) -> bytes:
    """The XML document for ``data`` under ``root`` (a list or a mapping), UTF-8 with declaration."""
    out = ['<?xml version="1.0" encoding="utf-8"?>']
    _element(root, data, out, 0)
    return ("\n".join(out) + "\n").encode("utf-8")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return w3c_datetime(value)
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def to_json(data: Any) -> bytes:
    return json.dumps(_jsonable(data), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def render(fmt: str, root: str, data: Any) -> tuple[bytes, str]:
    """(body, content type) of ``data`` in ``fmt`` (``json`` or ``xml``)."""
    if fmt == "xml":
        return to_xml(root, data), XML_CONTENT_TYPE
    return to_json(data), JSON_CONTENT_TYPE


def errors_payload(errors: Iterable[tuple[int | str, str]]) -> list[dict[str, Any]]:
    """The spec's error array: ``[{"code", "description"}]``."""
    return [{"code": code, "description": description} for code, description in errors]


def format_of(path: str, default: str = "json") -> str:
    """The format a path asks for by its extension (``/requests.xml`` → ``xml``)."""
    lowered = path.lower()
    for fmt in FORMATS:
        if lowered.endswith("." + fmt):
            return fmt
    return default
