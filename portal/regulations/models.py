"""Regulations, their versions and their articles.

A :class:`Regulation` is the statute as a work (城市道路管理条例): title, level,
authority, region, dates, status.  Each text of it is a
:class:`RegulationVersion` valid over ``[valid_from, valid_to)``; re-importing a
changed text adds a version and closes the previous one, so "the text in force
on a date" is one indexed lookup.  :class:`Article` rows belong to a version.
:class:`ArticleSuccessor` records which article of a repealing text took over each
article of the text it repealed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.audit import Audited
from portal.db import Base, TimestampMixin, utcnow
from portal.numerals import article_label, article_slug
from portal.regulations.metadata import effective_status


class Regulation(Audited, TimestampMixin, Base):
    __tablename__ = "regulations"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), unique=True)
    short_title: Mapped[str | None] = mapped_column(String(200), index=True)
    document_number: Mapped[str | None] = mapped_column(String(100))
    #: 宪法 / 法律 / 行政法规 / 部门规章 / 地方性法规 / 地方政府规章 / 规范性文件
    level: Mapped[str | None] = mapped_column(String(16), index=True)
    #: The pack's 法律 / 修正案 / 立法解释 / 修改决定 …; None for ordinary texts.
    doc_type: Mapped[str | None] = mapped_column(String(16))
    issuing_authority: Mapped[str | None] = mapped_column(String(200), index=True)
    #: 全国, or the place of the issuing body (上海市, 浙江省杭州市).
    region: Mapped[str | None] = mapped_column(String(50), index=True)
    #: The declared status: 现行有效 / 已修改 / 已废止 / 尚未生效.
    status: Mapped[str] = mapped_column(String(16), default="现行有效", index=True)
    promulgation_date: Mapped[dt.date | None] = mapped_column(Date)
    effective_date: Mapped[dt.date | None] = mapped_column(Date)
    amended_date: Mapped[dt.date | None] = mapped_column(Date)
    repealed_date: Mapped[dt.date | None] = mapped_column(Date)
    #: corpus | lawpack | file | manual
    source: Mapped[str] = mapped_column(String(32), default="file")
    source_ref: Mapped[str | None] = mapped_column(String(500))

    versions: Mapped[list[RegulationVersion]] = relationship(
        back_populates="regulation",
        order_by="RegulationVersion.version_no",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    def status_on(self, on: dt.date) -> str:
        """The status on a date (尚未生效 before it took effect, 已废止 after repeal)."""
        return effective_status(self.status, self.effective_date, self.repealed_date, on)

    def in_force_on(self, on: dt.date) -> bool:
        return self.status_on(on) in ("现行有效", "已修改")

    @property
    def current_version(self) -> RegulationVersion | None:
        current = [v for v in self.versions if v.is_current]
        return current[-1] if current else (self.versions[-1] if self.versions else None)

    def version_on(self, on: dt.date) -> RegulationVersion | None:
        """The version whose validity covers ``on`` (loads all versions; see the service for SQL)."""
        for version in reversed(self.versions):
            if version.covers(on):
                return version
        return None

    def __repr__(self) -> str:
        return f"<Regulation {self.id} {self.title}>"


class RegulationVersion(Audited, Base):
    __tablename__ = "regulation_versions"
    __table_args__ = (
        UniqueConstraint("regulation_id", "version_no"),
        Index("ix_regulation_versions_validity", "regulation_id", "valid_from", "valid_to"),
    )
    # The header, preamble and appendix lines are bulky and change with the text anyway.
    __audit_exclude__ = frozenset({"header_lines", "preamble", "appendix", "history"})

    id: Mapped[int] = mapped_column(primary_key=True)
    regulation_id: Mapped[int] = mapped_column(ForeignKey("regulations.id", ondelete="CASCADE"))
    version_no: Mapped[int] = mapped_column(Integer)
    #: The title this text carries (a renamed statute keeps one Regulation).
    title: Mapped[str] = mapped_column(String(200))
    #: The text is in force from ``valid_from`` (inclusive) to ``valid_to`` (exclusive);
    #: None means open-ended.
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    #: The date of the amendment (or adoption) that produced this text.
    version_date: Mapped[dt.date | None] = mapped_column(Date)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    #: [{"date": "2011-01-08", "kind": "revised", "description": "…"}]
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    header_lines: Mapped[list[str]] = mapped_column(JSON, default=list)
    preamble: Mapped[list[str]] = mapped_column(JSON, default=list)
    appendix: Mapped[list[str]] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(32), default="file")
    source_ref: Mapped[str | None] = mapped_column(String(500))
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    regulation: Mapped[Regulation] = relationship(back_populates="versions")
    articles: Mapped[list[Article]] = relationship(
        back_populates="version",
        order_by="Article.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    def covers(self, on: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= on) and (
            self.valid_to is None or on < self.valid_to
        )

    @property
    def label(self) -> str:
        when = self.valid_from.isoformat() if self.valid_from else "起始"
        return f"第{self.version_no}版（{when}起）"


class Article(Base):
    __tablename__ = "regulation_articles"
    __table_args__ = (
        UniqueConstraint("version_id", "number", "suffix"),
        Index("ix_regulation_articles_number", "regulation_id", "number", "suffix"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("regulation_versions.id", ondelete="CASCADE"))
    # Denormalised so that "article n of regulation r" needs no join.
    regulation_id: Mapped[int] = mapped_column(ForeignKey("regulations.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    suffix: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)
    chapter_path: Mapped[list[str]] = mapped_column(JSON, default=list)
    paragraphs: Mapped[list[str]] = mapped_column(JSON, default=list)
    items: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    #: The whole body as plain text, for search and plain display.
    text: Mapped[str] = mapped_column(Text, default="")

    version: Mapped[RegulationVersion] = relationship(back_populates="articles")

    @property
    def slug(self) -> str:
        """The URL form of the number: 23, or 23-1 for 第二十三条之一."""
        return article_slug(self.number, self.suffix)

    @property
    def anchor(self) -> str:
        return f"art-{self.slug}"

    @property
    def chapter(self) -> str | None:
        return " / ".join(self.chapter_path) if self.chapter_path else None

    @property
    def standard_label(self) -> str:
        return article_label(self.number, self.suffix)

    def __repr__(self) -> str:
        return f"<Article {self.regulation_id}:{self.label}>"


class ArticleSuccessor(Base):
    """An article of a repealed text and the article of the repealing text that took it over.

    Derived data (``portal.regulations.successors``): matching costs seconds per repealing code,
    so it is done when repeals are applied, not per page. Every article of the repealed text has
    a row, with no successor when none is close enough: the rows say the matching was done, and
    the two version ids say against which texts, so a new text of either side is noticed.
    """

    __tablename__ = "article_successors"
    __table_args__ = (UniqueConstraint("regulation_id", "number", "suffix"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    regulation_id: Mapped[int] = mapped_column(ForeignKey("regulations.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    suffix: Mapped[int] = mapped_column(Integer, default=0)
    #: The texts matched: the repealed one's current version and the repealing one's.
    repealed_version_id: Mapped[int] = mapped_column(
        ForeignKey("regulation_versions.id", ondelete="CASCADE"), index=True)
    repealing_version_id: Mapped[int] = mapped_column(
        ForeignKey("regulation_versions.id", ondelete="CASCADE"), index=True)
    successor_regulation_id: Mapped[int | None] = mapped_column(
        ForeignKey("regulations.id", ondelete="CASCADE"), index=True)
    successor_number: Mapped[int | None] = mapped_column(Integer)
    successor_suffix: Mapped[int | None] = mapped_column(Integer)
    #: Cosine over character bigrams, ≥ ``successors.MIN_SIMILARITY`` when there is a successor.
    similarity: Mapped[float | None] = mapped_column(Float)

    def __repr__(self) -> str:
        return f"<ArticleSuccessor {self.regulation_id}:{self.number}-{self.suffix} → {self.successor_regulation_id}>"
