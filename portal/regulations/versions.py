"""Storing statute texts in the library: one parsed text becomes a regulation and a new version
when its text changed (amendments keep the earlier versions), with its metadata merged from the
file, a manifest and the text itself; submitted texts from the editing form; the national-law
pack; and repeals announced inside later texts.

Split from ``services.py`` (reading and legal-basis look-ups), which every request uses, while this
changes with the sources imported. ``importing.py`` walks folders and the pack and calls this.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from zope.interface import implementer

from portal import clock
from portal.errors import InvalidInput
from portal.regulations.citations import short_title
from portal.regulations.interfaces import IRegulationImporter
from portal.regulations.lawpack import LawPackRegulation
from portal.regulations.manifest import ManifestEntry
from portal.regulations.metadata import (
    LEVELS,
    NATIONAL,
    Status,
    authority_from_history,
    infer_level,
    infer_region,
    normalize_status,
)
from portal.regulations.models import Article, Regulation, RegulationVersion
from portal.regulations.parsing import (
    ParsedArticle,
    ParsedRegulation,
    RegulationParseError,
    parse_date,
    parse_regulation_text,
)
from portal.regulations.services import RegulationService, title_key
from portal.regulations.successors import record_successors


@dataclass
class ImportMetadata:
    """What is known about a text besides its articles; None means "not given"."""

    title: str | None = None
    short_title: str | None = None
    level: str | None = None
    doc_type: str | None = None
    issuing_authority: str | None = None
    region: str | None = None
    status: str | None = None
    document_number: str | None = None
    promulgation_date: dt.date | None = None
    #: When the regulation first took effect.
    effective_date: dt.date | None = None
    #: The date of the amendment that produced this text.
    version_date: dt.date | None = None
    #: When this text took effect (defaults from the dates above).
    valid_from: dt.date | None = None
    repealed_date: dt.date | None = None
    #: The manifest's article_count: a parse giving another count is refused.
    expected_article_count: int | None = None

    def merged(self, other: ImportMetadata) -> ImportMetadata:
        """``other``'s given values over this one's."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        for name in values:
            value = getattr(other, name)
            if value is not None:
                values[name] = value
        return ImportMetadata(**values)


_SELF_EFFECTIVE = re.compile(r"自(?P<when>[^，。；]{4,24}?)起(?:施行|生效)")


def _effective_from_articles(parsed: ParsedRegulation) -> dt.date | None:
    """The 施行 date the closing articles state (本条例自1996年10月1日起施行)."""
    for article in reversed(parsed.articles[-4:]):
        for match in _SELF_EFFECTIVE.finditer(article.text):
            when = match.group("when")
            date = parse_date(when)
            if date is not None:
                return date
            if "公布之日" in when or "发布之日" in when:
                return parsed.promulgation_date
    return None


def _date_or_none(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def build_metadata(parsed: ParsedRegulation, manifest: ManifestEntry | None = None,
                   options: ImportMetadata | None = None) -> ImportMetadata:
    """Combine what the header lines, a manifest row and command options say (options win)."""
    header = parsed.metadata
    authority = header.get("issuing_authority")
    if not authority:
        authority = authority_from_history(
            [e.description for e in parsed.history if e.kind in ("adopted", "promulgated")])
        approver = authority_from_history([e.description for e in parsed.history if e.kind == "approved"])
        if authority and approver and approver != authority:
            # A city's regulation approved by its province, written as the corpus manifest does.
            authority = f"{authority}（{approver}批准）"
    from_header = ImportMetadata(
        title=parsed.title or None,
        level=header.get("level"),
        issuing_authority=authority,
        status=normalize_status(header.get("status")),
        document_number=header.get("document_number"),
        promulgation_date=_date_or_none(header.get("promulgation_date")) or parsed.promulgation_date,
        effective_date=_date_or_none(header.get("effective_date")),
        version_date=parsed.version_date,
    )
    metadata = from_header
    if manifest is not None:
        history = manifest.history
        amendment = max((e.date for e in history if e.date and e.kind in ("amended", "revised")), default=None)
        metadata = metadata.merged(ImportMetadata(
            title=manifest.title,
            level=manifest.level,
            issuing_authority=manifest.issuing_authority,
            version_date=manifest.date or amendment,
            expected_article_count=manifest.article_count,
        ))
    if options is not None:
        metadata = metadata.merged(options)
    return metadata


@dataclass
class ImportOutcome:
    #: created | new_version | unchanged | updated
    action: str
    regulation: Regulation
    version: RegulationVersion
    articles: int
    warnings: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return {"created": "新建", "new_version": "新版本", "unchanged": "未变化", "updated": "已更新"}[self.action]


class ImportRefused(InvalidInput):
    """A text that parsed but must not be stored (wrong article count, no title)."""

    code = "import_refused"


def _article_row(article: ParsedArticle, regulation_id: int, position: int) -> Article:
    return Article(
        regulation_id=regulation_id,
        number=article.number,
        suffix=article.suffix,
        label=article.label,
        position=position,
        chapter_path=list(article.chapter_path),
        paragraphs=list(article.paragraphs),
        items=[list(items) for items in article.items],
        text=article.text,
    )


def _history_json(parsed: ParsedRegulation) -> list[dict[str, Any]]:
    return [
        {"date": e.date.isoformat() if e.date else None, "kind": e.kind, "description": e.description}
        for e in parsed.history
    ]


@dataclass(frozen=True)
class SubmittedImport:
    """What importing an editor's text did, or for a dry run (预览) would do."""

    action: str  # created | new_version | updated | unchanged
    label: str
    dry_run: bool
    regulation_id: int | None  # None on a dry run of a text the library does not hold yet
    title: str
    level: str | None
    region: str | None
    issuing_authority: str | None
    status: str | None
    version_no: int
    valid_from: dt.date | None
    articles: int
    chapters: list[str]
    first_articles: list[dict[str, str]]
    warnings: list[str]
    repeals: list[str]  # 《…》自 date 起废止: the texts this one's 同时废止 clause ends


@implementer(IRegulationImporter)
class RegulationImporter:
    """Stores parsed texts. Callers decide the transaction: one file, one savepoint or commit."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _find(self, title: str) -> Regulation | None:
        return self.session.scalars(
            select(Regulation).where(Regulation.title == title).options(selectinload(Regulation.versions))
        ).first()

    def import_text(self, parsed: ParsedRegulation, metadata: ImportMetadata | None = None,
                    source: str = "file", source_ref: str | None = None) -> ImportOutcome:
        metadata = metadata or build_metadata(parsed)
        title = title_key(metadata.title or parsed.title)
        if not title:
            raise ImportRefused(f"{parsed.source}：缺少法规标题（请在清单、--title 或导入表单的“标题”中给出）。",
                                fields={"title": ["必填"]})
        if metadata.expected_article_count is not None and metadata.expected_article_count != len(parsed.articles):
            raise ImportRefused(
                f"{parsed.source}：解析出 {len(parsed.articles)} 条，清单记载 {metadata.expected_article_count} 条，未导入。",
                fields={"article_count": [str(len(parsed.articles))]},
            )
        content_hash = parsed.content_hash()
        article_effective = _effective_from_articles(parsed)
        amended = bool(parsed.amendment_dates) or (
            metadata.version_date is not None and metadata.promulgation_date is not None
            and metadata.version_date > metadata.promulgation_date
        )
        version_date = metadata.version_date or parsed.version_date
        stated = article_effective or parsed.effective_date
        effective_date = metadata.effective_date or stated or metadata.promulgation_date
        valid_from: dt.date | None
        if metadata.valid_from:
            valid_from = metadata.valid_from
        elif amended:
            # The amended text applies from the amendment, or from a later 施行 date it states
            # (a revised law names its own start: 本法自2021年7月15日起施行).
            candidates = [d for d in (version_date, parsed.effective_date, article_effective) if d]
            valid_from = max(candidates) if candidates else effective_date
            if metadata.effective_date is None and stated and version_date and stated >= version_date:
                # That date belongs to the revision; the statute itself is older.
                effective_date = metadata.promulgation_date or effective_date
        else:
            valid_from = effective_date or version_date

        regulation = self._find(title)
        action = "created"
        if regulation is None:
            regulation = Regulation(title=title, source=source, source_ref=source_ref)
            self.session.add(regulation)
        else:
            action = "updated"
        # The pack is the fallback: once a curated file (corpus, an operator's text) described
        # the regulation, the pack only fills gaps, so loading both twice changes nothing.
        fill_only = source == "lawpack" and action != "created" and regulation.source != "lawpack"
        if source != "lawpack" and regulation.source != source:
            regulation.source, regulation.source_ref = source, source_ref
        self._apply_metadata(regulation, metadata, title, effective_date, parsed,
                             is_new=action == "created", fill_only=fill_only)

        existing = next((v for v in regulation.versions if v.content_hash == content_hash), None)
        if existing is not None:
            if not self.session.is_modified(regulation):
                action = "unchanged"
            self.session.flush()
            return ImportOutcome(action, regulation, existing, len(parsed.articles), list(parsed.warnings))

        if action == "updated":
            action = "new_version"
        self.session.flush()  # the regulation's id
        version = RegulationVersion(
            regulation_id=regulation.id,
            version_no=max((v.version_no for v in regulation.versions), default=0) + 1,
            title=parsed.title or title,
            valid_from=valid_from,
            version_date=version_date,
            content_hash=content_hash,
            history=_history_json(parsed),
            header_lines=list(parsed.header_lines),
            preamble=list(parsed.preamble),
            appendix=list(parsed.appendix),
            source=source,
            source_ref=source_ref,
        )
        version.articles = [
            _article_row(article, regulation.id, position)
            for position, article in enumerate(parsed.articles, start=1)
        ]
        regulation.versions.append(version)
        self._rechain(regulation)
        self.session.flush()
        return ImportOutcome(action, regulation, version, len(parsed.articles), list(parsed.warnings))

    def _apply_metadata(self, regulation: Regulation, metadata: ImportMetadata, title: str,
                        effective_date: dt.date | None, parsed: ParsedRegulation, *, is_new: bool,
                        fill_only: bool = False) -> None:
        def put(name: str, value: Any, *, only_if_empty: bool = False) -> None:
            if value is None:
                return
            if (only_if_empty or fill_only) and getattr(regulation, name) is not None:
                return
            if getattr(regulation, name) != value:
                setattr(regulation, name, value)

        authority = metadata.issuing_authority
        put("short_title", metadata.short_title or (short_title(title) if short_title(title) != title else None),
            only_if_empty=metadata.short_title is None)
        put("issuing_authority", authority)
        put("level", metadata.level or infer_level(title, authority, metadata.document_number, metadata.doc_type),
            only_if_empty=metadata.level is None)
        put("region", metadata.region or infer_region(title, authority) or None,
            only_if_empty=metadata.region is None)
        put("doc_type", metadata.doc_type)
        put("document_number", metadata.document_number)
        if metadata.promulgation_date and (
            regulation.promulgation_date is None or metadata.promulgation_date < regulation.promulgation_date
        ):
            put("promulgation_date", metadata.promulgation_date)
        # The regulation took effect when its earliest text did; later texts do not move it.
        if effective_date is not None and (regulation.effective_date is None or effective_date < regulation.effective_date):
            put("effective_date", effective_date)
        amended_on = max(parsed.amendment_dates, default=None)
        if metadata.version_date and metadata.promulgation_date and metadata.version_date > metadata.promulgation_date:
            amended_on = max(filter(None, (amended_on, metadata.version_date)))
        if amended_on and (regulation.amended_date is None or amended_on > regulation.amended_date):
            put("amended_date", amended_on)
        put("repealed_date", metadata.repealed_date)
        status = normalize_status(metadata.status) if metadata.status else None
        if metadata.repealed_date and status is None:
            status = Status.REPEALED.value
        if status is not None:
            put("status", status)
        elif is_new:
            regulation.status = Status.IN_FORCE.value

    def _rechain(self, regulation: Regulation) -> None:
        """Order versions by start; each ends where the next begins; the last is current."""
        versions = sorted(regulation.versions, key=lambda v: (v.valid_from or dt.date.min, v.version_no))
        for earlier, later in pairwise(versions):
            earlier.valid_to = later.valid_from
            earlier.is_current = False
        versions[-1].valid_to = None
        versions[-1].is_current = True

    def import_submitted(self, text: str, name: str, options: ImportMetadata | None = None,
                         dry_run: bool = False) -> SubmittedImport:
        """One text an editor pasted or uploaded, through the same parser and rules as
        ``portal import-regulations``, inside a SAVEPOINT: a dry run rolls it back, so the
        preview shows exactly what the import would do.  A malformed text raises
        :class:`InvalidInput` naming the line, and nothing of it is stored."""
        try:
            parsed = parse_regulation_text(text, source=name)
        except RegulationParseError as exc:
            raise InvalidInput(f"{name} 第 {exc.line} 行：{exc.message}", code=f"regulation_{exc.code}",
                               fields={"text": [f"第 {exc.line} 行：{exc.message}"]}) from exc
        savepoint = self.session.begin_nested()
        try:
            outcome = self.import_text(parsed, build_metadata(parsed, None, options), source="manual",
                                       source_ref=f"web:{name}")
            repeals = apply_repeals(self.session)
            regulation, version = outcome.regulation, outcome.version
            warnings = list(outcome.warnings)
            start = version.valid_from or dt.date.min
            if outcome.action == "new_version" and any(
                    (v.valid_from or dt.date.min) >= start for v in regulation.versions if v is not version):
                warnings.append(f"新文本自 {version.valid_from or '日期不详'} 起有效，不晚于已有文本：已有文本将不再在任何日期有效。"
                                "若是修正录入错误可以忽略；若是修改后的新文本，请填写“本次修改日期”或“本文本有效自”。")
            chapters: list[str] = []
            for article in parsed.articles:
                chapters.extend(h for h in article.chapter_path if h not in chapters)
            # Read everything now: a rolled-back savepoint expires these objects.
            result = SubmittedImport(
                action=outcome.action, label=outcome.label, dry_run=dry_run,
                regulation_id=None if dry_run and outcome.action == "created" else regulation.id,
                title=regulation.title, level=regulation.level, region=regulation.region,
                issuing_authority=regulation.issuing_authority, status=regulation.status,
                version_no=version.version_no, valid_from=version.valid_from, articles=outcome.articles,
                chapters=chapters,
                first_articles=[{"label": a.label, "text": a.text[:120]} for a in parsed.articles[:5]],
                warnings=warnings,
                repeals=[f"《{r.repealed.title}》自 {r.on.isoformat()} 起废止" for r in repeals],
            )
        except BaseException:
            savepoint.rollback()
            raise
        if dry_run:
            savepoint.rollback()
        else:
            savepoint.commit()
        return result

    # -- the national-law pack ---------------------------------------------------------
    def import_lawpack_regulation(self, pack: LawPackRegulation) -> list[ImportOutcome]:
        """Store every version of a pack law (oldest first); unchanged versions are skipped."""
        outcomes: list[ImportOutcome] = []
        first_effective = min((v.effective_date for v in pack.versions if v.effective_date), default=None)
        first_published = min((v.publish_date for v in pack.versions if v.publish_date), default=None)
        if first_published and first_effective and first_published > first_effective:
            # The pack's publish date is then an amendment's; the original one is unknown.
            first_published = None
        current = pack.current
        for version in pack.versions:
            parsed = ParsedRegulation(
                title=pack.title,
                header_lines=[],
                history=[],
                articles=version.articles,
                source=f"lawpack:{version.law_id}",
                format="lawpack",
            )
            if not parsed.articles:
                continue
            is_current = version is current
            status = pack.status if is_current else None
            metadata = ImportMetadata(
                title=pack.title,
                level=version.level if version.level in LEVELS else ("宪法" if version.doc_type == "宪法" else None),
                doc_type=version.doc_type if version.doc_type not in (None, "法律") else None,
                issuing_authority=version.issuing_authority,
                region=NATIONAL,
                status=status,
                promulgation_date=first_published,
                effective_date=first_effective,
                version_date=version.version_date,
                valid_from=version.in_force_from,
            )
            outcomes.append(self.import_text(parsed, metadata, source="lawpack", source_ref=version.law_id))
        return outcomes


_REPEAL_SENTENCE = re.compile(r"[^。；]*同时废止")
_QUOTED_TITLE = re.compile(r"《(?P<title>[^《》]{2,80})》")


@dataclass(frozen=True)
class Repeal:
    repealed: Regulation
    by: Regulation
    on: dt.date


def announced_repeals(session: Session) -> Iterator[Repeal]:
    """Every repeal that a closing article of a text in the library announces: "本法自2026年8月15日
    起施行。《甲法》、《乙法》同时废止。" names 甲 and 乙, repealed on that date by this text."""
    rows = session.execute(
        select(Article, Regulation)
        .join(RegulationVersion, Article.version_id == RegulationVersion.id)
        .join(Regulation, Article.regulation_id == Regulation.id)
        .where(RegulationVersion.is_current.is_(True), Article.text.like("%同时废止%"))
    ).all()
    reader = RegulationService(session)
    for article, regulation in rows:
        text = article.text
        start = _SELF_EFFECTIVE.search(text)
        if start is None:
            continue
        date = parse_date(start.group("when"))
        if date is None and ("公布之日" in start.group("when") or "发布之日" in start.group("when")):
            date = regulation.promulgation_date
        if date is None:
            continue
        for sentence in _REPEAL_SENTENCE.finditer(text[start.end():]):
            # Only the outermost titles: 《关于修改〈甲〉的决定》 names the decision, not 甲.
            for match in _QUOTED_TITLE.finditer(sentence.group(0)):
                target = reader.by_title(match.group("title"))
                if target is not None and target.id != regulation.id:
                    yield Repeal(target, regulation, date)


def apply_repeals(session: Session, on: dt.date | None = None) -> list[Repeal]:
    """Date the repeals that closing articles announce (:func:`announced_repeals`), and match
    the repealed texts' articles to their successors (:func:`record_successors`). Every import
    path ends here (web and API imports, ``portal import-regulations``, the knowledge-base loader
    of ``portal init`` / ``load-kb``), so what a repeal implies is kept in one place.

    The statutes named there stop being in force on that date. Their ``repealed_date`` is set
    (when unknown) so that the status on any date, and point-in-time look-ups, are right.
    Returns the repeals dated now.
    """
    when = on or clock.today()
    announced = list(announced_repeals(session))
    repeals: list[Repeal] = []
    for repeal in announced:
        target = repeal.repealed
        if target.repealed_date is not None:
            continue
        target.repealed_date = repeal.on
        if repeal.on <= when:
            target.status = Status.REPEALED.value
        repeals.append(repeal)
    if repeals:
        session.flush()
    # Also when nothing was newly dated: a new text of a code, or of a law it had repealed
    # before, changes which article took over which.
    record_successors(session, announced)
    return repeals


def regulation_importer_factory(context: Any, request: Any) -> RegulationImporter:
    return RegulationImporter(request.dbsession)
