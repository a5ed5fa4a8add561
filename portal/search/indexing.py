"""What a :class:`SearchDocument` becomes in the Whoosh index: the schema, the analysed text fields
and the stored record the ranker and the hits read back.

Text fields hold pre-analysed terms (jieba words and CJK bigrams, see :mod:`portal.search.analysis`)
joined by spaces; Whoosh only splits them again. The stored ``data`` record carries everything a hit
shows and everything the read snapshot turns into arrays (facets, dates, places, field lengths).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any

from whoosh import fields
from whoosh.analysis import RegexTokenizer

from portal.search import analysis
from portal.search.interfaces import SearchDocument

FACETS = ("doc_type", "level", "status", "region", "authority")
TEXT_FIELDS = ("title", "regt", "body", "chapter")
# Statuses whose text is not the one in force: ranked below current texts (not filtered out).
NOT_IN_FORCE_STATUSES = frozenset({"已废止", "废止", "失效", "已失效", "历史版本", "尚未生效", "repealed",
                                   "expired", "historical", "not_yet_effective"})
NO_DATE_FROM = 0
NO_DATE_TO = 99_999_999

_PRETOKENIZED = RegexTokenizer(r"[^ ]+")


def schema() -> fields.Schema:
    text: dict[str, Any] = dict(analyzer=_PRETOKENIZED, phrase=False)
    return fields.Schema(
        key=fields.ID(unique=True, stored=True),
        doc_type=fields.ID(),
        regulation=fields.ID(),
        title=fields.TEXT(**text),
        regt=fields.TEXT(**text),
        body=fields.TEXT(**text),
        chapter=fields.TEXT(**text),
        places=fields.KEYWORD(),
        data=fields.STORED(),
    )


_PLACE_PREFIX_RE = re.compile(r"^([\u4e00-\u9fff]{2,7}?)(?:省|市|自治区|特别行政区)")
_APPROVER_RE = re.compile(r"[（(]([\u4e00-\u9fff]{2,7}?)(?:省|自治区)")
_DISTRICT_RE = re.compile(r"^[\u4e00-\u9fff]{2,7}?市([\u4e00-\u9fff]{2,4}?)(?:新区|区|县)")
_NOT_PLACES = frozenset({"城市", "城乡", "全国", "本市", "本省", "各省", "直辖市", "设区的市", "中华人民共和国"})
_AUTONOMOUS = {"内蒙古": "内蒙古", "广西壮族": "广西", "西藏": "西藏", "宁夏回族": "宁夏", "新疆维吾尔": "新疆"}


def places_of(doc: SearchDocument) -> list[str]:
    """Place names a document belongs to: its region, the place of its issuing authority, the
    place its title starts with, and the province that approved a city's regulation."""
    found: list[str] = []

    def add(name: str | None) -> None:
        if not name:
            return
        name = _AUTONOMOUS.get(name, name)
        if name not in _NOT_PLACES and name not in found and len(name) >= 2:
            found.append(name)

    if doc.region:
        region = analysis.normalize(doc.region).strip()
        m = _PLACE_PREFIX_RE.match(region)
        add(m.group(1) if m else region)
    for text in (doc.authority, doc.regulation_title or doc.title):
        text = analysis.normalize(text or "").strip()
        m = _PLACE_PREFIX_RE.match(text)
        if m:
            add(m.group(1))
        d = _DISTRICT_RE.match(text)
        if d:
            add(d.group(1))
    m = _APPROVER_RE.search(analysis.normalize(doc.authority or ""))
    if m:
        add(m.group(1))
    return found


def _strip_title(doc: SearchDocument) -> str:
    """The title words of a document beyond its regulation title and article label: an article
    titled 《城市道路管理条例》第二十三条 has none; its regulation title is indexed on its own."""
    title = doc.title or ""
    if doc.doc_type != "regulation" and doc.regulation_title:
        for part in (doc.regulation_title, doc.regulation_short_title, doc.article_label):
            if part:
                title = title.replace(part, " ")
    return title


def date_int(value: dt.date | None, default: int) -> int:
    """A date as the int YYYYMMDD the stored record and the date filter compare."""
    if value is None:
        return default
    return value.year * 10_000 + value.month * 100 + value.day


@lru_cache(maxsize=4096)
def _cached_terms(text: str, mode: str, _generation: int) -> tuple[str, ...]:
    return tuple(analysis.index_terms(text, mode))


def doc_fields(doc: SearchDocument, mode: str) -> dict[str, Any]:
    """The keyword arguments of Whoosh's ``add_document`` / ``update_document`` for ``doc``."""
    texts = {
        "title": _strip_title(doc),
        "body": doc.body or "",
    }
    terms: dict[str, Sequence[str]] = {name: analysis.index_terms(value, mode) for name, value in texts.items()}
    # Every article repeats its regulation's title and often its chapter heading: analyse each once.
    generation = analysis.segmenter_generation()
    terms["regt"] = _cached_terms(" ".join(t for t in (doc.regulation_title, doc.regulation_short_title) if t)
                                  if doc.doc_type != "regulation" else "", mode, generation)
    terms["chapter"] = _cached_terms(doc.chapter or "", mode, generation)
    places = places_of(doc)
    data = {
        "key": doc.key,
        "doc_type": doc.doc_type,
        "doc_id": doc.doc_id,
        "title": doc.title,
        "body": doc.body,
        "url": doc.url,
        "regulation_id": doc.regulation_id,
        "regulation_title": doc.regulation_title,
        "regulation_short_title": doc.regulation_short_title,
        "article_number": doc.article_number,
        "article_label": doc.article_label,
        "chapter": doc.chapter,
        "level": doc.level,
        "status": doc.status,
        "region": doc.region,
        "authority": doc.authority,
        "valid_from": date_int(doc.valid_from, NO_DATE_FROM),
        "valid_to": date_int(doc.valid_to, NO_DATE_TO),
        "extra": dict(doc.extra or {}),
        "places": places,
        "lengths": [len(terms[f]) for f in TEXT_FIELDS],
    }
    out: dict[str, Any] = {name: " ".join(t.replace(" ", "") for t in value) for name, value in terms.items()}
    out.update(
        key=doc.key,
        doc_type=doc.doc_type,
        regulation="" if doc.regulation_id is None else str(doc.regulation_id),
        places=" ".join(places),
        data=data,
    )
    return out


def first_of_each_key(documents: Iterable[SearchDocument], repeated: list[SearchDocument]
                      ) -> Iterator[SearchDocument]:
    """The documents with a key not seen before; the others go to ``repeated`` (written after)."""
    seen: set[str] = set()
    for doc in documents:
        if doc.key in seen:
            repeated.append(doc)
        else:
            seen.add(doc.key)
            yield doc


def batches(items: Iterable[SearchDocument], size: int) -> Iterator[list[SearchDocument]]:
    batch: list[SearchDocument] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def analyse_batch(job: tuple[list[SearchDocument], str]) -> list[dict[str, Any]]:
    """In a rebuild worker process (its segmenter warmed with the same words)."""
    batch, mode = job
    return [doc_fields(doc, mode) for doc in batch]
