"""Sidecar ``MANIFEST.tsv``: per-file metadata for a folder of statute texts.

The columns are those of the shared corpus manifest: ``file``, ``title``,
``level``, ``issuing_authority``, ``date``, …, ``article_count``, …,
``version_history_in_source``.  Only ``file`` is required; unknown columns are
kept in :attr:`ManifestEntry.extra`.
"""

from __future__ import annotations

import csv
import datetime
from dataclasses import dataclass, field
from pathlib import Path

from portal.regulations.parsing import HistoryEvent, parse_history

__all__ = ["MANIFEST_NAME", "ManifestEntry", "ManifestError", "find_manifest", "read_manifest"]

MANIFEST_NAME = "MANIFEST.tsv"

_KNOWN = {
    "file", "title", "level", "issuing_authority", "date", "article_count",
    "version_history_in_source",
}


class ManifestError(ValueError):
    """A manifest that cannot be read; names the file and the 1-based line."""

    def __init__(self, source: str, line: int, message: str) -> None:
        self.source = source
        self.line = line
        self.message = message
        super().__init__(f"{source}:{line}: {message}")


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    file: str
    title: str | None = None
    level: str | None = None
    issuing_authority: str | None = None
    #: The date of the text's version (for the corpus: its last amendment).
    date: datetime.date | None = None
    version_history: str | None = None
    article_count: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def history(self) -> list[HistoryEvent]:
        return parse_history(self.version_history or "")


def _optional(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def read_manifest(path: str | Path) -> dict[str, ManifestEntry]:
    """Read a manifest into ``{file name: entry}``."""
    path = Path(path)
    source = str(path)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        if not reader.fieldnames or "file" not in reader.fieldnames:
            raise ManifestError(source, 1, "缺少 file 列 / missing 'file' column")
        entries: dict[str, ManifestEntry] = {}
        for row in reader:
            line = reader.line_num
            name = _optional(row.get("file"))
            if not name:
                if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                    continue
                raise ManifestError(source, line, "file 列为空 / empty 'file' value")
            date_text = _optional(row.get("date"))
            try:
                date = datetime.date.fromisoformat(date_text) if date_text else None
            except ValueError:
                raise ManifestError(source, line, f"日期无效 / bad date: {date_text!r}") from None
            count_text = _optional(row.get("article_count"))
            try:
                count = int(count_text) if count_text else None
            except ValueError:
                raise ManifestError(
                    source, line, f"article_count 不是整数 / not an integer: {count_text!r}"
                ) from None
            if name in entries:
                raise ManifestError(source, line, f"文件重复 / duplicate file: {name}")
            entries[name] = ManifestEntry(
                file=name,
                title=_optional(row.get("title")),
                level=_optional(row.get("level")),
                issuing_authority=_optional(row.get("issuing_authority")),
                date=date,
                version_history=_optional(row.get("version_history_in_source")),
                article_count=count,
                extra={
                    k: v for k, v in row.items()
                    if k and k not in _KNOWN and isinstance(v, str) and v.strip()
                },
            )
    return entries


def find_manifest(text_path: str | Path) -> Path | None:
    """The sidecar manifest next to a statute file (or inside a folder), if any."""
    text_path = Path(text_path)
    folder = text_path if text_path.is_dir() else text_path.parent
    candidate = folder / MANIFEST_NAME
    return candidate if candidate.is_file() else None
